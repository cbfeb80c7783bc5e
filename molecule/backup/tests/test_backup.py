# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""backup: every backup is proven by a restore.

The tests run in this file's order on one converged host (PostgreSQL, Redis, NATS and
the backup role; a restic REST server beside the platform is the offsite repository):
WAL streaming and its metrics, every backup kind through its systemd unit
(playbooks/backup.yml), a point-in-time recovery (row A before T present, row B after T
absent), the latest state, a table dropped and brought back from the logical dump, a
Redis key and a NATS message brought back, restic's check, retention and encryption, a
backup-service outage with no gap in the WAL, the WAL cap on the database host, and last
the disaster: PostgreSQL's volume, Barman's home and the local repository gone, the data
back from the offsite repository alone.

Not here: the alert rules (BackupTooOld, BackupFailed, WalStreamingStalled,
WalRetentionNearCap, RestoreDrillFailed) are proven by promtool unit tests
(tests/render/test_monitoring_rules.py), and BackupTooOld on a live Prometheus up to
Alertmanager's webhook by the monitoring scenario; this scenario deploys no Prometheus.
The whole cluster restored in place behind Traefik's maintenance page needs the app and
Traefik: the default scenario proves it (tests/test_restore_in_place.py).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import time
from pathlib import Path

import pytest
from conftest import docker_json, host_var, inventory_hostvars, platform_name, put_root_file, run_playbook, sh, wait_for

PLAYBOOKS = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / "playbooks"
HOSTVARS = inventory_hostvars()
POSTGRES = "cc-postgres-postgres-1"
REDIS = "cc-redis-redis-1"
BARMAN = "cc-backup-barman-1"
ROOT = "/var/backups/commandcenter"
METRICS = "/opt/commandcenter/node/textfile/backup.d"
APP_DB = HOSTVARS.get("postgres_pgvector_app_db", "commandcenter")
APP_USER = HOSTVARS.get("postgres_pgvector_app_user", "commandcenter")
OFFSITE = "cc-backup-offsite"  # on this machine's engine, not the platform's
MARKER = secrets.token_hex(16)
REDIS_PASSWORD_FILE = "/root/.cc-test-redis-app-password"
NATS_PASSWORD_FILE = "/root/.cc-test-nats-app-password"
BACKUP_IMAGE = host_var("backup_image")
HOST = platform_name()
KINDS = ["postgres_base", "postgres_dump", "redis", "nats", "platform", "restic_local", "restic_offsite",
         "restic_check"]


def sql(host, statement: str, db: str = APP_DB, container: str = POSTGRES) -> str:
    """A statement as the superuser over the container's socket; the rows' text."""
    return sh(host, "docker exec -i %s psql -X -q -At -v ON_ERROR_STOP=1 -U postgres -d %s -f - <<'SQL'\n"
              + statement + "\nSQL", container, db)


def metrics(host, name: str) -> dict[str, float]:
    """A textfile-collector file of the backup role, as {series: value}."""
    text = sh(host, "cat %s", f"{METRICS}/{name}.prom")
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def restore(*args: str, **extra) -> str:
    """playbooks/restore.yml with extra variables; its output (it must pass)."""
    run = run_playbook(PLAYBOOKS / "restore.yml", *args, extra_vars=extra or None)
    assert run.returncode == 0, run.output[-4000:]
    return run.output


def backup(*kinds: str) -> None:
    """playbooks/backup.yml for these kinds (all when none)."""
    run = run_playbook(PLAYBOOKS / "backup.yml", extra_vars={"backup_run_kinds": list(kinds)} if kinds else None)
    assert run.returncode == 0, run.output[-4000:]


def archive_wal(host) -> None:
    """Switch to a new WAL segment and wait until Barman has archived it."""
    sh(host, "docker exec %s barman -c /etc/cc-backup/barman.conf switch-wal --force --archive "
       "--archive-timeout 120 cc", BARMAN)


def drop_scratch(host) -> None:
    host.run("docker rm -f cc-backup-drill-postgres cc-backup-drill-redis cc-backup-drill-nats")


def test_wal_streams_through_the_slot_and_the_service_is_locked_down(host):
    container = docker_json(host, "inspect", BARMAN)
    config, hostconfig = container["Config"], container["HostConfig"]
    assert config["User"] == "999:999"
    assert hostconfig["ReadonlyRootfs"] is True
    assert hostconfig["CapDrop"] == ["ALL"] and not hostconfig["CapAdd"]
    assert "no-new-privileges:true" in hostconfig["SecurityOpt"]
    assert container["State"]["Health"]["Status"] == "healthy"
    slot = sql(host, "SELECT slot_type, active, wal_status FROM pg_replication_slots WHERE slot_name = 'barman'",
               db="postgres")
    assert slot == "physical|t|reserved"
    assert sql(host, "SELECT application_name, state FROM pg_stat_replication", db="postgres") == \
        "barman_receive_wal|streaming"
    cap = HOSTVARS["postgres_pgvector_max_slot_wal_keep_size"]
    assert sql(host, "SHOW max_slot_wal_keep_size", db="postgres") == cap
    wal = metrics(host, "cc_backup_wal")
    assert wal["cc_backup_wal_streaming_up"] == 1
    # pg_receivewal (no --synchronous) reports its flush position when it closes a segment, so right after a
    # segment switch the lag reads one whole segment (16 MiB) plus what was written since: bound it at two.
    assert 0 <= wal["cc_backup_wal_streaming_lag_bytes"] < 2 * 16 * 1024 * 1024
    assert wal["cc_backup_wal_slot_limit_bytes"] == int(cap.removesuffix("MB")) * 1024 * 1024
    assert time.time() - wal["cc_backup_wal_metrics_timestamp_seconds"] < 60


def test_every_kind_has_a_persistent_randomised_timer(host):
    for kind in ["postgres_base", "postgres_dump", "redis", "nats", "platform", "offsite", "check"]:
        unit = f"cc-backup-{kind}.timer"
        assert host.service(unit).is_enabled and host.service(unit).is_running, unit
        text = host.file(f"/etc/systemd/system/{unit}").content_string
        assert "Persistent=true" in text and "RandomizedDelaySec=" in text
    assert sh(host, "systemctl show -p NextElapseUSecRealtime --value cc-backup-postgres_base.timer")


@pytest.fixture(scope="module")
def seeded(host):
    """Rows, a Redis key and a NATS stream message, then every backup kind now."""
    sql(host, f"""
CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, note text, embedding vector(3));
CREATE INDEX IF NOT EXISTS items_embedding ON items USING hnsw (embedding vector_l2_ops);
CREATE TABLE IF NOT EXISTS dropme (id int PRIMARY KEY, note text);
INSERT INTO items SELECT g, 'seed', ARRAY[g, g, g]::vector FROM generate_series(1, 200) g ON CONFLICT DO NOTHING;
DELETE FROM dropme;
INSERT INTO dropme SELECT g, '{MARKER}' FROM generate_series(1, 25) g;
ALTER TABLE items OWNER TO {APP_USER};
ALTER TABLE dropme OWNER TO {APP_USER};
""")
    put_root_file(REDIS_PASSWORD_FILE, HOSTVARS["redis_app_password"])
    put_root_file(NATS_PASSWORD_FILE, HOSTVARS["nats_app_password"])
    redis_cli(host, "SET", "cc:test:marker", MARKER)
    nats_client(host, "seed")
    backup()
    return True


def redis_cli(host, *args: str) -> str:
    """redis-cli as the application user; the password travels as a root-only file on stdin."""
    return sh(host, "docker exec -i " + REDIS + " sh -c "
              + shlex.quote('REDISCLI_AUTH="$(cat)" redis-cli --no-auth-warning --user "$0" "$@"')
              + " " + " ".join(shlex.quote(a) for a in (HOSTVARS.get("redis_app_user", "commandcenter"), *args))
              + " < " + REDIS_PASSWORD_FILE)


NATS_CLIENT = r"""
import asyncio, json, sys
import nats

async def main(action, password):
    nc = await nats.connect("nats://nats:4222", user=sys.argv[2], password=password)
    js = nc.jetstream()
    if action == "seed":
        try:
            await js.delete_stream("CCTEST")
        except Exception:
            pass
        await js.add_stream(name="CCTEST", subjects=["cctest.>"])
        await js.publish("cctest.one", sys.argv[3].encode())
    elif action == "delete":
        await js.delete_stream("CCTEST")
    else:
        try:
            msg = await js.get_msg("CCTEST", 1)
            print(json.dumps({"data": msg.data.decode()}))
        except Exception as exc:
            print(json.dumps({"error": type(exc).__name__}))
    await nc.close()

asyncio.run(main(sys.argv[1], sys.stdin.read().strip()))
"""


def nats_client(host, action: str, server: str = "nats") -> dict | None:
    """A nats-py client (the backup image's) as the application user, on the data network."""
    script = NATS_CLIENT.replace("nats://nats:4222", f"nats://{server}:4222")
    out = sh(host, "docker run --rm -i --network data --entrypoint python3 %s -c %s %s %s %s < "
             + NATS_PASSWORD_FILE, BACKUP_IMAGE, script, action, HOSTVARS.get("nats_app_user", "commandcenter"), MARKER)
    return json.loads(out) if out else None


def test_backup_playbook_runs_every_kind_and_records_it(host, seeded):
    now = time.time()
    for kind in KINDS:
        values = metrics(host, f"cc_backup_{kind}")
        label = f'{{kind="{kind}"}}'
        assert values[f"cc_backup_last_result{label}"] == 1, kind
        assert now - values[f"cc_backup_last_success_timestamp_seconds{label}"] < 900, kind
        assert values[f"cc_backup_max_age_seconds{label}"] > 0, kind
        if kind != "restic_check":
            assert values[f"cc_backup_last_size_bytes{label}"] > 0, kind
    # The logical dumps: one per database and the globals, custom format, made by pg_dump 17.
    dumps = sh(host, "ls %s", f"{ROOT}/staging/postgres").split()
    assert {f"{APP_DB}.dump", "postgres.dump", "globals.sql"} <= set(dumps)
    assert sh(host, "head -c 5 %s", f"{ROOT}/staging/postgres/{APP_DB}.dump") == "PGDMP"
    # The platform archive keeps owners and modes of the secret files.
    listing = sh(host, "tar -tvzf %s", f"{ROOT}/staging/platform/platform.tar.gz")
    assert re.search(r"^-r-------- 999/999 .* opt/commandcenter/backup/secrets/pgpass$", listing, re.M), listing[:2000]


def test_point_in_time_recovery_restores_exactly_the_state_at_t(host, seeded):
    sql(host, "DELETE FROM items WHERE id > 1000")
    sql(host, "INSERT INTO items VALUES (1001, 'row A', '[1,0,0]')")
    time.sleep(1.5)
    target = sql(host, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')")
    time.sleep(1.5)
    sql(host, "INSERT INTO items VALUES (1002, 'row B', '[0,1,0]')")
    archive_wal(host)
    output = restore(restore_target_time=target, restore_kinds=["postgres"], restore_keep_scratch=True)
    assert "restore drill passed" in output
    rows = sql(host, "SELECT id FROM items WHERE id > 1000 ORDER BY id", container="cc-backup-drill-postgres")
    assert rows == "1001", f"PITR to {target}: expected row A only, got {rows!r}"
    drop_scratch(host)
    restore(restore_kinds=["postgres"], restore_keep_scratch=True)
    rows = sql(host, "SELECT id FROM items WHERE id > 1000 ORDER BY id", container="cc-backup-drill-postgres")
    assert rows.split() == ["1001", "1002"]
    nearest = sql(host, "SET enable_seqscan = off; SELECT id FROM items ORDER BY embedding <-> '[0,1,0]' LIMIT 1",
                  container="cc-backup-drill-postgres")
    assert nearest == "1002"
    drop_scratch(host)
    drill = metrics(host, "cc_backup_restore_drill")
    assert drill["cc_backup_restore_drill_last_result"] == 1
    print(f"PITR restore drill: {drill['cc_backup_restore_drill_duration_seconds']} s")


def test_a_dropped_table_comes_back_from_the_logical_dump(host, seeded):
    sql(host, "DROP TABLE dropme")
    refused = run_playbook(PLAYBOOKS / "restore.yml", extra_vars={
        "restore_mode": "in_place", "restore_kinds": ["postgres_tables"], "restore_tables": ["dropme"]})
    assert refused.returncode != 0 and "restore_confirm=" in refused.output
    restore(restore_mode="in_place", restore_kinds=["postgres_tables"], restore_tables=["dropme"],
            restore_confirm=HOST)
    assert sql(host, "SELECT count(*), min(note) FROM dropme") == f"25|{MARKER}"
    assert sql(host, "SELECT tableowner FROM pg_tables WHERE tablename = 'dropme'") == \
        APP_USER


def test_a_nats_message_comes_back(host, seeded):
    nats_client(host, "delete")
    assert nats_client(host, "get") == {"error": "NotFoundError"}
    restore(restore_mode="in_place", restore_kinds=["nats"], restore_confirm=HOST)
    assert nats_client(host, "get") == {"data": MARKER}


def test_a_redis_key_comes_back(host, seeded):
    redis_cli(host, "DEL", "cc:test:marker")
    redis_cli(host, "SET", "cc:test:after-backup", "gone after the restore")
    restore(restore_mode="in_place", restore_kinds=["redis"], restore_confirm=HOST)
    assert redis_cli(host, "GET", "cc:test:marker") == MARKER
    assert redis_cli(host, "EXISTS", "cc:test:after-backup") == "0"
    # The dataset survives a restart: the AOF took the snapshot as its base.
    sh(host, "docker restart %s", REDIS)
    wait_for("Redis healthy", lambda: docker_json(host, "inspect", REDIS)["State"]["Health"]["Status"] == "healthy")
    assert redis_cli(host, "GET", "cc:test:marker") == MARKER


def test_the_drill_restores_redis_and_nats_into_scratch_instances(host, seeded):
    output = restore(restore_kinds=["redis", "nats"], restore_keep_scratch=True)
    assert "restore drill passed" in output
    assert sh(host, "docker exec cc-backup-drill-redis redis-cli GET cc:test:marker") == MARKER
    drop_scratch(host)


def test_restic_repositories_check_and_hold_no_plaintext(host, seeded):
    backup("check")
    assert metrics(host, "cc_backup_restic_check")['cc_backup_last_result{kind="restic_check"}'] == 1
    # The marker is in the staging area in plain text (the RDB keeps short strings raw) ...
    assert host.run("grep -rlF %s %s", MARKER, f"{ROOT}/staging").rc == 0
    # ... and in neither repository.
    assert host.run("grep -rlF %s %s", MARKER, f"{ROOT}/restic").rc == 1
    offsite = os.popen(f"docker exec {OFFSITE} grep -rlF {MARKER} /data; echo rc=$?").read()
    assert offsite.strip().endswith("rc=1"), offsite


def test_retention_prunes_dated_snapshots(host, seeded):
    restic = ("docker compose --project-name cc-backup --file /opt/commandcenter/backup/compose.yml run --rm "
              "--no-deps --entrypoint restic restore --repo /backup/restic --no-cache")
    for days in range(20, 8, -1):
        day = time.strftime("%Y-%m-%d 12:00:00", time.gmtime(time.time() - days * 86400))
        # The same host, tag and paths as the scheduled snapshots: forget groups by host and paths.
        sh(host, restic + " backup --host commandcenter --tag commandcenter --time %s /var/lib/barman /backup/staging", day)
    paths = ["/backup/staging", "/var/lib/barman"]
    before = [s for s in json.loads(sh(host, restic + " snapshots --json")) if sorted(s["paths"]) == paths]
    backup("offsite")
    after = [s for s in json.loads(sh(host, restic + " snapshots --json")) if sorted(s["paths"]) == paths]
    days_after = sorted({s["time"][:10] for s in after})
    keep = int(HOSTVARS.get("backup_local_keep_daily", 7))
    assert len(days_after) == keep, (len(before), days_after)
    assert len(after) < len(before)
    print(f"retention: {len(before)} snapshots over {len({s['time'][:10] for s in before})} days -> "
          f"{len(after)} over {len(days_after)} days (keep-daily {keep})")


def test_a_backup_service_outage_leaves_no_gap(host, seeded):
    sh(host, "docker stop %s", BARMAN)
    try:
        sql(host, "DELETE FROM items WHERE id > 2000")
        sql(host, "INSERT INTO items VALUES (2001, 'during the outage, before T', '[0,0,1]')")
        time.sleep(1.5)
        target = sql(host, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')")
        time.sleep(1.5)
        sql(host, "INSERT INTO items VALUES (2002, 'during the outage, after T', '[0,0,2]')")
        sql(host, "SELECT pg_switch_wal()", db="postgres")
        assert sql(host, "SELECT active, wal_status FROM pg_replication_slots WHERE slot_name = 'barman'",
                   db="postgres") == "f|reserved"
    finally:
        sh(host, "docker start %s", BARMAN)
    wait_for("WAL streaming again", lambda: metrics(host, "cc_backup_wal")["cc_backup_wal_streaming_up"] == 1,
             timeout=120)
    archive_wal(host)
    restore(restore_target_time=target, restore_kinds=["postgres"], restore_keep_scratch=True)
    rows = sql(host, "SELECT id FROM items WHERE id > 2000 ORDER BY id", container="cc-backup-drill-postgres")
    assert rows == "2001", f"PITR into the outage ({target}): {rows!r}"
    drop_scratch(host)


def test_disaster_the_offsite_copy_alone_brings_the_data_back(host, seeded):
    sql(host, "INSERT INTO items VALUES (4001, 'just before the disaster', '[4,0,1]')")
    archive_wal(host)
    backup("offsite")
    # The host's PostgreSQL data, Barman's home and the local repository are gone.
    sh(host, "docker compose --project-name cc-postgres --file /opt/commandcenter/postgres/compose.yml down --volumes")
    sh(host, "docker stop %s", BARMAN)
    sh(host, "find %s %s -mindepth 1 -delete", f"{ROOT}/barman", f"{ROOT}/restic")
    assert host.run("docker volume inspect cc-postgres-data").rc != 0
    started = time.monotonic()
    output = restore(restore_source="offsite", restore_kinds=["postgres"], restore_keep_scratch=True)
    seconds = time.monotonic() - started
    assert "restore drill passed" in output
    assert sql(host, "SELECT note FROM items WHERE id = 4001", container="cc-backup-drill-postgres") == \
        "just before the disaster"
    assert sql(host, "SELECT count(*) FROM items WHERE id <= 200", container="cc-backup-drill-postgres") == "200"
    nearest = sql(host, "SET enable_seqscan = off; SELECT id FROM items ORDER BY embedding <-> '[4,0,1]' LIMIT 1",
                  container="cc-backup-drill-postgres")
    assert nearest == "4001"
    print(f"disaster: restored from the offsite repository alone in {seconds:.1f} s (playbook, checks included)")
    drop_scratch(host)
    # Production back (an empty database), with WAL streaming on a new slot.
    converge = run_playbook(os.environ["CC_CONVERGE_PLAYBOOK"])
    assert converge.returncode == 0, converge.output[-3000:]
    wait_for("WAL streaming again", lambda: metrics(host, "cc_backup_wal")["cc_backup_wal_streaming_up"] == 1,
             timeout=180)


def test_the_wal_cap_holds_when_the_backup_service_stays_down(host, seeded):
    cap_mb = int(HOSTVARS["postgres_pgvector_max_slot_wal_keep_size"].removesuffix("MB"))
    assert sql(host, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'barman'", db="postgres") == \
        "reserved"
    sql(host, "CREATE TABLE IF NOT EXISTS walfill (id int, note text)")
    sh(host, "docker stop %s", BARMAN)
    try:
        for _ in range(cap_mb // 16 + 4):
            sql(host, "INSERT INTO walfill SELECT g, repeat('x', 100) FROM generate_series(1, 100) g; "
                "SELECT pg_switch_wal();")
        sql(host, "CHECKPOINT", db="postgres")
        status = sql(host, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'barman'", db="postgres")
        pg_wal = int(sh(host, "docker exec %s du -sb /var/lib/postgresql/data/pg_wal", POSTGRES).split()[0])
        print(f"WAL cap {cap_mb} MB: slot {status}, pg_wal {pg_wal // 1048576} MB")
        assert status in ("unreserved", "lost"), status
        # What is left in pg_wal is PostgreSQL's own recycling (max_wal_size), not the slot's hold.
        max_wal_mb = int(sql(host, "SELECT setting FROM pg_settings WHERE name = 'max_wal_size'", db="postgres"))
        assert pg_wal < (max_wal_mb + cap_mb) * 1048576, (pg_wal, max_wal_mb, cap_mb)
    finally:
        sh(host, "docker start %s", BARMAN)
