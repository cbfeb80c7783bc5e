# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The whole PostgreSQL cluster restored in place, to a point in time, on the full site.

playbooks/restore.yml with restore_mode=in_place and restore_kinds [postgres]: the
cluster is recovered and checked in a scratch instance while the app serves, then
Traefik answers the app's routes with the maintenance responder (503, never a 502), the
app stops, the restored data replaces production's, the app starts behind its health
gate and the routes come back. A client sends requests through Traefik all along.
Also: playbooks/maintenance.yml (the traefik role's `maintenance` entry point) on its
own, and the refusal of an in-place restore without the confirmation (nothing stops).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from app_client import Client, app_projects, host_load
from conftest import inventory_hostvars, platform_name, run_playbook, sh, wait_for

PLAYBOOKS = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / "playbooks"
HOSTVARS = inventory_hostvars()
POSTGRES = "cc-postgres-postgres-1"
BARMAN = "cc-backup-barman-1"
APP_DB = HOSTVARS.get("postgres_pgvector_app_db", "commandcenter")
DYNAMIC_DIR = HOSTVARS.get("traefik_dynamic_dir", "/opt/commandcenter/traefik/dynamic")
RESTORE_DIR = f"{HOSTVARS.get('backup_root', '/var/backups/commandcenter')}/restore"
METRICS = "/opt/commandcenter/node/textfile/backup.d"
HOST = platform_name()


def sql(host, statement: str, db: str = APP_DB) -> str:
    """A statement as the superuser over the container's socket; the rows' text."""
    return sh(host, "docker exec -i %s psql -X -q -At -v ON_ERROR_STOP=1 -U postgres -d %s -f - <<'SQL'\n"
              + statement + "\nSQL", POSTGRES, db)


def maintenance(on: bool):
    """playbooks/maintenance.yml -e maintenance=on|off; it must pass."""
    run = run_playbook(PLAYBOOKS / "maintenance.yml", extra_vars={"maintenance": "on" if on else "off"})
    assert run.returncode == 0, run.output[-3000:]
    return run


def headers_and_body(client: Client, name: str, path: str, *args: str) -> tuple[int, dict, str]:
    status, out = client.curl(name, path, "-D", "-", *args)
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip()
               for line in head.splitlines()[1:] if ":" in line}
    return status, headers, body


@pytest.fixture(scope="module")
def client(host):
    return Client(host)


def test_maintenance_entry_point_answers_503_with_the_page_then_gives_the_routes_back(host, client):
    assert client.api("GET", "/health")[0] == 200
    on = maintenance(True)
    try:
        assert on.changed > 0
        assert host.file(f"{DYNAMIC_DIR}/maintenance.yml").exists
        status, headers, body = headers_and_body(client, f"api.{client.domain}", "/health",
                                                 "-H", "Accept: application/json")
        assert status == 503, body
        assert json.loads(body)["status"] == "maintenance"
        assert headers["retry-after"] == str(HOSTVARS.get("traefik_maintenance_retry_after", 120))
        assert headers["cache-control"] == "no-store"
        # The security headers of the route stay on the maintenance answer.
        assert "strict-transport-security" in headers
        status, headers, body = headers_and_body(client, client.domain, "/")
        assert status == 503 and headers["content-type"].startswith("text/html")
        assert "down for maintenance" in body
        # A route not in traefik_maintenance_routes is untouched: the dashboard still asks for its login.
        assert client.curl(f"traefik.{client.domain}", "/dashboard/")[0] == 401
        assert maintenance(True).changed == 0
    finally:
        off = maintenance(False)
    assert off.changed > 0
    assert not host.file(f"{DYNAMIC_DIR}/maintenance.yml").exists
    assert client.api("GET", "/health")[0] == 200
    assert client.curl(client.domain, "/")[0] == 200
    assert maintenance(False).changed == 0


def test_in_place_restore_is_refused_without_the_confirmation_and_nothing_stops(host, client):
    run = run_playbook(PLAYBOOKS / "restore.yml", extra_vars={
        "restore_mode": "in_place", "restore_kinds": ["postgres"], "restore_confirm": "some-other-host"})
    assert run.returncode != 0
    assert f"-e restore_confirm={HOST} to confirm" in run.output
    assert "Put the app's routes in maintenance" not in run.output
    assert not host.file(f"{DYNAMIC_DIR}/maintenance.yml").exists
    assert client.api("GET", "/health")[0] == 200


def test_whole_cluster_restored_in_place_to_a_point_in_time_behind_a_maintenance_page(host, client, converge):
    # A base backup to restore from, then row A before T and row B after it.
    sh(host, "systemctl start cc-backup@postgres_base.service")
    sql(host, "CREATE TABLE IF NOT EXISTS restore_probe (id int PRIMARY KEY, note text); DELETE FROM restore_probe;"
              "INSERT INTO restore_probe VALUES (1, 'A before T');")
    time.sleep(2)
    target = sql(host, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
    time.sleep(2)
    sql(host, "INSERT INTO restore_probe VALUES (2, 'B after T');")
    timeline_before = int(sql(host, "SELECT timeline_id FROM pg_control_checkpoint()", db="postgres"))
    release = sorted(app_projects(host))
    assert len(release) == 1

    started = time.monotonic()
    with host_load(host, client, rate=10) as load:
        run = run_playbook(PLAYBOOKS / "restore.yml", extra_vars={
            "restore_mode": "in_place", "restore_kinds": ["postgres"], "restore_target_time": target,
            "restore_confirm": HOST})
        summary = load.stop()
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.output[-5000:]
    statuses = summary["statuses"]
    print(f"in-place PITR to {target}: {seconds:.0f} s; requests through Traefik meanwhile: {statuses}")

    # Users saw the app, then the maintenance page, then the app: never a 502 or no answer.
    assert set(statuses) <= {"200", "503"}, summary["failures"]
    assert statuses.get("503", 0) > 0, "the maintenance page was never served"
    assert statuses.get("200", 0) > 0
    assert client.api("GET", "/health")[0] == 200
    assert not host.file(f"{DYNAMIC_DIR}/maintenance.yml").exists

    # The data is the state at T: row A, not row B, on a new timeline.
    assert sql(host, "SELECT string_agg(note, ',' ORDER BY id) FROM restore_probe") == "A before T"
    assert int(sql(host, "SELECT timeline_id FROM pg_control_checkpoint()", db="postgres")) > timeline_before
    assert sql(host, "SELECT count(*) FROM pg_extension WHERE extname = 'vector'") == "1"

    # The app is the same release, every service (the scheduler too) running again.
    assert sorted(app_projects(host)) == release
    for name in app_projects(host)[release[0]]:
        assert host.docker(name).is_running, name
    assert "Ensure every service, the scheduler included, runs healthy" in run.output

    # WAL streaming follows the new timeline through a new slot; a base backup of it was started and succeeds.
    wait_for("WAL streaming healthy again",
             lambda: sh(host, "docker inspect --format '{{.State.Health.Status}}' %s", BARMAN) == "healthy")
    assert sql(host, "SELECT active FROM pg_replication_slots WHERE slot_name = 'barman'", db="postgres") == "t"
    wait_for("the base backup of the new timeline",
             lambda: host.run("systemctl is-active cc-backup@postgres_base.service").stdout.strip() != "activating",
             timeout=600)
    text = sh(host, "cat %s/cc_backup_postgres_base.prom", METRICS)
    assert 'cc_backup_last_result{kind="postgres_base"} 1' in text

    # The replaced data directory is kept; the test removes it (its space).
    kept = sh(host, "ls -d %s/replaced-*", RESTORE_DIR).split()
    assert len(kept) == 1 and host.file(f"{kept[0]}/PG_VERSION").exists
    sh(host, "rm -rf %s", kept[0])

    # The platform is as the inventory describes it: a converge changes nothing.
    again = converge()
    assert again.returncode == 0, again.output[-3000:]
    assert again.changed == 0, [line for line in again.output.splitlines() if line.startswith("changed:")]
