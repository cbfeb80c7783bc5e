# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""postgres_pgvector: the database WORKS as deployed, not merely runs.

Clients are containers on the nested engine's shared networks, from the same image
the role deployed (psql) or the exporter's image (busybox wget), as an application
or Prometheus would reach them.
"""
from __future__ import annotations

import os
import re
import shlex
import time
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from conftest import BoundedLoad, HostVars, container_run_id, docker_json, inventory_hostvars, put_root_file, sh

PROJECT = "cc-postgres"
STACK_DIR = "/opt/commandcenter/postgres"
POSTGRES = f"{PROJECT}-postgres-1"
EXPORTER = f"{PROJECT}-postgres-exporter-1"
TABLE = "cc_probe_items"
# Re-converges apply this role alone: docker_host is converged already (and proven elsewhere).
ONLY_THIS_ROLE = {"cc_molecule_roles": ["postgres_pgvector"]}


@lru_cache(maxsize=1)
def hostvars() -> dict:
    """The role's defaults overlaid with the scenario host's variables (local group_vars + host_vars)."""
    defaults = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "roles/postgres_pgvector/defaults/main.yml"
    return HostVars({**yaml.safe_load(defaults.read_text()), **inventory_hostvars()})


def var(name: str):
    return hostvars()[name]


def image(host, container: str) -> str:
    return docker_json(host, "inspect", container)["Config"]["Image"]


def container_id(host, container: str) -> str:
    return sh(host, f"docker inspect --format '{{{{.Id}}}}' {container}")


def psql(host, sql: str, *, user: str | None = None, password: str | None = None, db: str | None = None):
    """psql from another container on the data network, over TCP, as a client application."""
    user = user or var("postgres_pgvector_app_user")
    password = var("postgres_pgvector_app_password") if password is None else password
    db = db or var("postgres_pgvector_app_db")
    return host.run(
        f"printf '%s' {shlex.quote(sql)} | docker run --rm -i --network data -e PGPASSWORD={shlex.quote(password)}"
        f" --entrypoint psql {image(host, POSTGRES)} -X -q -At -v ON_ERROR_STOP=1 -h postgres -U {user} -d {db}")


def superuser_sql(host, sql: str, db: str = "postgres") -> str:
    """psql as the superuser inside the postgres container (unix socket, peer authentication)."""
    return sh(host, f"printf '%s' {shlex.quote(sql)} | docker exec -i {POSTGRES} psql -X -q -At -v ON_ERROR_STOP=1"
                    f" -U postgres -d {db}")


def wait_healthy(host, container: str, timeout: int = 120) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = host.run(f"docker inspect --format '{{{{.State.Health.Status}}}}' {container}").stdout.strip()
        if status == "healthy":
            return
        time.sleep(1)
    raise AssertionError(f"{container} not healthy after {timeout} s: {status}")


def count_rows(host) -> int:
    result = psql(host, f"SELECT count(*) FROM {TABLE};")
    assert result.rc == 0, result.stderr
    return int(result.stdout.strip())


@pytest.fixture(scope="module")
def items(host):
    """A table with a vector(3) column and an HNSW index, created by the application role over the network."""
    result = psql(host, f"""
        DROP TABLE IF EXISTS {TABLE};
        CREATE TABLE {TABLE} (id int PRIMARY KEY, name text NOT NULL, embedding vector(3) NOT NULL);
        INSERT INTO {TABLE} VALUES (1, 'north', '[0,1,0]'), (2, 'east', '[1,0,0]'), (3, 'up', '[0,0,1]'),
                                   (4, 'north-east', '[0.7,0.7,0]');
        CREATE INDEX {TABLE}_embedding_idx ON {TABLE} USING hnsw (embedding vector_l2_ops);
        SELECT count(*) FROM {TABLE};
    """)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "4"
    return TABLE


# --- the stack as deployed ------------------------------------------------------------

def test_containers_are_healthy_and_hardened(host):
    for name, user, networks in ((POSTGRES, "999:999", {"data"}),
                                 (EXPORTER, "65534:65534", {"data", "monitoring"})):
        info = docker_json(host, "inspect", name)
        assert info["State"]["Health"]["Status"] == "healthy", name
        assert info["Config"]["User"] == user, name
        hc = info["HostConfig"]
        assert hc["ReadonlyRootfs"] is True, name
        assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"], name
        assert "no-new-privileges:true" in hc["SecurityOpt"], name
        assert hc["Memory"] > 0 and hc["NanoCpus"] > 0, name
        assert hc["LogConfig"]["Type"] == "json-file" and hc["LogConfig"]["Config"]["max-size"] == "10m", name
        assert hc["RestartPolicy"]["Name"] == "unless-stopped", name
        assert set(info["NetworkSettings"]["Networks"]) == networks, name
        assert not hc["PortBindings"], f"{name} publishes {hc['PortBindings']}"
        assert info["Config"]["Labels"]["com.commandcenter.config-hash"], name
    assert docker_json(host, "inspect", POSTGRES)["HostConfig"]["Memory"] == 1024 ** 3
    mounts = {m["Destination"]: m for m in docker_json(host, "inspect", POSTGRES)["Mounts"]}
    assert mounts["/var/lib/postgresql/data"]["Type"] == "volume"
    assert mounts["/var/lib/postgresql/data"]["Name"] == "cc-postgres-data"


def test_secret_files_belong_to_their_readers(host):
    superuser = host.file(f"{STACK_DIR}/secrets/superuser_password")
    monitor = host.file(f"{STACK_DIR}/secrets/monitor_password")
    assert (superuser.uid, superuser.mode) == (999, 0o400)
    assert (monitor.uid, monitor.mode) == (65534, 0o400)
    assert not host.file(f"{STACK_DIR}/secrets/app_password").exists, "no container reads the app password"
    assert host.file(f"{STACK_DIR}/secrets").mode == 0o700


# --- vectors ----------------------------------------------------------------------------

def test_nearest_neighbour_query_uses_the_hnsw_index(host, items):
    result = psql(host, f"""
        SET enable_seqscan = off;
        SELECT name FROM {items} ORDER BY embedding <-> '[0.9,0.8,0.1]' LIMIT 1;
        SELECT name FROM {items} ORDER BY embedding <-> '[0.1,0.1,0.9]' LIMIT 1;
        EXPLAIN (COSTS OFF) SELECT name FROM {items} ORDER BY embedding <-> '[1,1,1]' LIMIT 1;
    """)
    assert result.rc == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["north-east", "up"], result.stdout
    assert any(f"Index Scan using {items}_embedding_idx" in line for line in lines), result.stdout


def test_vector_extension_is_the_image_version(host):
    installed, available = superuser_sql(host, """
        SELECT extversion FROM pg_extension WHERE extname = 'vector';
        SELECT default_version FROM pg_available_extensions WHERE name = 'vector';
    """, db=var("postgres_pgvector_app_db")).splitlines()
    assert installed == available == "0.8.0"


def test_pgvector_setting_from_the_inventory_is_active(host):
    result = psql(host, "SHOW hnsw.ef_search; SHOW log_min_duration_statement;")
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == ["100", "2s"]


# --- authentication and roles -------------------------------------------------------------

def test_wrong_password_is_refused(host):
    result = psql(host, "SELECT 1;", password="not-the-password-at-all")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr, result.stderr


def test_tcp_clients_need_scram_never_trust(host):
    rules = superuser_sql(host, """
        SELECT type || ' ' || auth_method FROM pg_hba_file_rules WHERE error IS NULL ORDER BY rule_number;
        SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL;
    """).splitlines()
    host_rules = [r for r in rules[:-1] if r.startswith("host")]
    assert host_rules and all(r.endswith(" scram-sha-256") for r in host_rules), rules
    assert rules[-1] == "0"
    assert superuser_sql(host, "SHOW password_encryption;") == "scram-sha-256"
    verifiers = superuser_sql(host, "SELECT rolpassword FROM pg_authid WHERE rolcanlogin ORDER BY rolname;")
    assert verifiers and all(v.startswith("SCRAM-SHA-256$") for v in verifiers.splitlines())


def test_app_role_owns_its_database_but_is_not_superuser(host):
    user, db = var("postgres_pgvector_app_user"), var("postgres_pgvector_app_db")
    attributes = superuser_sql(host, f"""
        SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = '{user}';
        SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}';
    """).splitlines()
    assert attributes == ["f|f|f|t", user]
    for statement, refusal in (("CREATE DATABASE cc_probe_forbidden;", "permission denied to create database"),
                               ("CREATE ROLE cc_probe_forbidden;", "permission denied to create role"),
                               ("ALTER SYSTEM SET work_mem = '1GB';", "permission denied")):
        result = psql(host, statement)
        assert result.rc != 0 and refusal in result.stderr, (statement, result.stderr)


def test_monitor_role_is_pg_monitor_only(host):
    user = var("postgres_pgvector_monitor_user")
    assert superuser_sql(host, f"""
        SELECT rolsuper, pg_has_role('{user}', 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = '{user}';
    """) == "f|t"


# --- the backup service's role ----------------------------------------------------------------

BACKUP_GRANTS = ("pg_backup_start(text, boolean)", "pg_backup_stop(boolean)", "pg_switch_wal()",
                 "pg_create_restore_point(text)")
BACKUP_ROLES = ("pg_read_all_settings", "pg_read_all_stats", "pg_checkpoint", "pg_read_all_data")


def backup_state(host) -> list[str]:
    """The backup role's attributes, then t/f for each function it may execute and each role it uses."""
    user = var("postgres_pgvector_backup_user")
    checks = [f"has_function_privilege('{user}', '{fn}', 'EXECUTE')" for fn in BACKUP_GRANTS]
    checks += [f"pg_has_role('{user}', '{role}', 'USAGE')" for role in BACKUP_ROLES]
    return superuser_sql(host, f"""
        SELECT concat_ws('|', rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls)
        FROM pg_roles WHERE rolname = '{user}';
        SELECT {", ".join(checks)};
    """).splitlines()


@pytest.fixture(scope="module")
def backup_pgpass(host):
    """A libpq password file for the backup role on the platform host (root-only, written via stdin),
    mounted into the client containers: the password is on no command line."""
    path = "/root/.cc-test-postgres-backup-pgpass"
    password = var("postgres_pgvector_backup_password").replace("\\", "\\\\").replace(":", "\\:")
    put_root_file(path, f"*:*:*:{var('postgres_pgvector_backup_user')}:{password}\n")
    yield path
    host.run(f"rm -f {path}")


def backup_client(host, script: str, *, pgpass: str | None = None, password: str | None = None):
    """A shell script in a container of the postgres image on the data network, as the backup
    service would run its client tools: the password from a mounted PGPASSFILE (or a test's wrong one)."""
    auth = (f"-v {pgpass}:/run/secrets/pgpass:ro -e PGPASSFILE=/run/secrets/pgpass" if pgpass
            else f"-e PGPASSWORD={shlex.quote(password or '')}")
    return host.run(f"docker run --rm --user 0:0 --network data {auth} -e PGCONNECT_TIMEOUT=10"
                    f" --entrypoint sh {image(host, POSTGRES)} -ec {shlex.quote(script)}")


def test_backup_role_replicates_without_superuser(host):
    """LOGIN REPLICATION, nothing else, and Barman's grants for a non-superuser (not pg_monitor)."""
    attributes, grants = backup_state(host)
    assert attributes == "f|f|f|t|t|f"
    assert grants == "|".join("t" * (len(BACKUP_GRANTS) + len(BACKUP_ROLES)))
    user = var("postgres_pgvector_backup_user")
    assert superuser_sql(host, f"SELECT pg_has_role('{user}', 'pg_monitor', 'MEMBER');") == "f"
    rules = superuser_sql(host, """
        SELECT array_to_string(database, ',') || ' ' || array_to_string(user_name, ',') || ' ' || auth_method
        FROM pg_hba_file_rules WHERE 'replication' = ANY(database) ORDER BY rule_number;
    """).splitlines()
    assert rules and set(rules) == {f"replication {user} scram-sha-256"}, rules


def test_backup_role_streams_and_takes_a_base_backup_over_tcp(host, backup_pgpass):
    """What Barman's streaming mode runs, from another container on the data network:
    IDENTIFY_SYSTEM, pg_basebackup, a physical slot with pg_receivewal, and, on its ordinary
    connection, backup start and stop, a WAL switch, a restore point and a checkpoint."""
    user = var("postgres_pgvector_backup_user")
    conn = f"-h postgres -U {user} -w"
    result = backup_client(host, f"""
        psql -X -At "host=postgres user={user} replication=true" -c IDENTIFY_SYSTEM
        pg_basebackup {conn} -D /tmp/base -X none -c fast
        test -s /tmp/base/PG_VERSION && test -s /tmp/base/backup_label && echo base backup ok
        pg_receivewal {conn} --create-slot -S cc_probe_backup
        psql -X -At {conn} -d postgres -c "SELECT pg_create_restore_point('cc-probe-slot')" >/dev/null  # a WAL record
        endpos=$(psql -X -At "host=postgres user={user} replication=true" -c IDENTIFY_SYSTEM | cut -d'|' -f3)
        mkdir /tmp/wal
        pg_receivewal {conn} -S cc_probe_backup -D /tmp/wal -n --endpos="$endpos" 2>/dev/null
        ls /tmp/wal | grep -q . && echo wal streamed
        pg_receivewal {conn} --drop-slot -S cc_probe_backup
        psql -X -At {conn} -d postgres -v ON_ERROR_STOP=1 \
          -c "SELECT pg_backup_start('cc-probe', true) IS NOT NULL" -c "SELECT lsn IS NOT NULL FROM pg_backup_stop(false)" \
          -c "SELECT pg_switch_wal() IS NOT NULL" -c "SELECT pg_create_restore_point('cc-probe') IS NOT NULL" \
          -c CHECKPOINT -c "SELECT current_setting('data_directory') <> ''"
    """, pgpass=backup_pgpass)
    assert result.rc == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"[0-9]+\|1\|[0-9A-F]+/[0-9A-F]+\|", lines[0]), lines
    assert "base backup ok" in lines and "wal streamed" in lines, lines
    assert lines[-6:] == ["t", "t", "t", "t", "CHECKPOINT", "t"], lines
    assert var("postgres_pgvector_backup_password") not in result.stdout + result.stderr
    assert superuser_sql(host, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cc_probe_backup';") == "0"


def test_backup_role_needs_its_password_and_others_cannot_replicate(host):
    user, app_user = var("postgres_pgvector_backup_user"), var("postgres_pgvector_app_user")
    wrong = backup_client(host, f'psql -X -At "host=postgres user={user} replication=true" -c IDENTIFY_SYSTEM',
                          password="not-the-backup-password")
    assert wrong.rc != 0 and f'password authentication failed for user "{user}"' in wrong.stderr, wrong.stderr
    # No pg_hba.conf line admits another role's replication connection, whatever its password.
    other = backup_client(host, f'psql -X -At "host=postgres user={app_user} replication=true" -c IDENTIFY_SYSTEM',
                          password="refused-before-any-password")
    assert other.rc != 0 and "no pg_hba.conf entry for replication connection" in other.stderr, other.stderr


def test_wal_caps_for_the_backup_service_are_active(host):
    assert superuser_sql(host, "SHOW max_slot_wal_keep_size;") == var("postgres_pgvector_max_slot_wal_keep_size")
    assert superuser_sql(host, "SELECT setting || unit FROM pg_settings WHERE name = 'archive_timeout';") == "60s"
    assert superuser_sql(host, "SHOW wal_level;") == "replica"


# --- network exposure ---------------------------------------------------------------------

def test_nothing_listens_on_the_host_port(host):
    listeners = sh(host, "ss -Hltn")
    assert not [line for line in listeners.splitlines() if line.split()[3].endswith(":5432")], listeners
    assert host.run("ss -Hltn 'sport = :5432'").stdout.strip() == ""


# --- exporter -------------------------------------------------------------------------------

def test_exporter_reports_the_database_up(host):
    exporter_image = image(host, EXPORTER)
    metrics = ""
    for _ in range(20):
        metrics = host.run(f"docker run --rm --network monitoring --entrypoint wget {exporter_image}"
                           " -qO- http://postgres-exporter:9187/metrics").stdout
        if "\npg_up 1" in metrics:
            break
        time.sleep(1)
    assert "\npg_up 1" in metrics, metrics[-2000:]
    # pg_monitor lets it read the statistics views, e.g. per-database backends.
    db = var("postgres_pgvector_app_db")
    assert [line for line in metrics.splitlines()
            if line.startswith("pg_stat_database_numbackends{") and f'datname="{db}"' in line], metrics[-2000:]


# --- lifecycle ------------------------------------------------------------------------------

def test_data_survives_a_forced_recreate(host, items):
    before = container_id(host, POSTGRES)
    rows = count_rows(host)
    sh(host, f"docker compose --project-directory {STACK_DIR} -p {PROJECT} up -d --no-deps --force-recreate postgres")
    assert container_id(host, POSTGRES) != before
    wait_healthy(host, POSTGRES)
    assert count_rows(host) == rows == 4


@pytest.fixture(scope="module")
def app_password_file(host):
    """The application password as a root-only file on the platform host, written via stdin."""
    path = "/root/.cc-test-postgres-app-password"
    put_root_file(path, var("postgres_pgvector_app_password"))
    yield path
    host.run(f"rm -f {path}")


def test_live_settable_change_under_load_keeps_the_containers(host, converge, items, app_password_file):
    """work_mem, a logging setting and a pg_hba.conf rule: a reload, no restart.

    psql as the application (a new connection and a query each time, 20 a second) runs
    through the converge: not one fails, neither container is recreated or restarted
    (same Id and StartedAt), and the play names what the server took live.
    """
    before = container_run_id(host, POSTGRES), container_run_id(host, EXPORTER)
    live = {**ONLY_THIS_ROLE, "postgres_pgvector_work_mem": "8MB",
            "postgres_pgvector_settings": {**var("postgres_pgvector_settings"), "log_min_duration_statement": "500ms"},
            "postgres_pgvector_client_networks": [*var("postgres_pgvector_client_networks"), "10.254.0.0/16"],
            "postgres_pgvector_max_slot_wal_keep_size": "1GB", "postgres_pgvector_archive_timeout": "30s"}
    user, db = var("postgres_pgvector_app_user"), var("postgres_pgvector_app_db")
    probe = (f'PGPASSWORD="$(cat /run/secrets/pw)" psql -X -At -h postgres -U {shlex.quote(user)} -d {shlex.quote(db)}'
             f" -c 'SELECT count(*) FROM {TABLE}' | grep -qx 4")
    load = BoundedLoad(host, image(host, POSTGRES), "data", probe,
                       mounts=(f"{app_password_file}:/run/secrets/pw:ro",))
    try:
        run = converge(extra_vars=live)
    finally:
        ok, failed, log = load.stop()
    print(f"live change under load: {ok} queries ok, {failed} failed")
    assert run.returncode == 0, run.output[-4000:]
    output = " ".join(run.output.split())
    match = re.search(r"cc-postgres: applied live, no restart: postgres \(([^)]*)\)", output)
    assert match, output[-4000:]
    assert {"work_mem", "log_min_duration_statement", "max_slot_wal_keep_size", "archive_timeout",
            "pg_hba.conf"} <= set(match[1].split(", ")), match[0]
    assert "a restart is needed" not in output
    assert failed == 0 and ok > 100, log[-2000:]
    assert (container_run_id(host, POSTGRES), container_run_id(host, EXPORTER)) == before, "a container was restarted"
    assert psql(host, "SHOW work_mem;").stdout.strip() == "8MB"
    assert superuser_sql(host, "SHOW max_slot_wal_keep_size; SHOW archive_timeout;").split() == ["1GB", "30s"]
    # The client network, and the backup role's replication and postgres lines (backup networks: the client networks).
    assert superuser_sql(host, "SELECT count(*) FROM pg_hba_file_rules WHERE address = '10.254.0.0';") == "3"
    again = converge(extra_vars=live)
    assert again.returncode == 0 and again.changed == 0, again.output[-4000:]


def test_restart_only_change_is_reported_and_recreates_postgres_only(host, converge, items):
    """max_connections is a postmaster setting: postgres is recreated, and the play says why."""
    postgres_before, exporter_before = container_id(host, POSTGRES), container_id(host, EXPORTER)
    run = converge(extra_vars={**ONLY_THIS_ROLE, "postgres_pgvector_max_connections": 120})
    assert run.returncode == 0, run.output[-4000:]
    output = " ".join(run.output.split())
    match = re.search(r"cc-postgres: a restart is needed for ([^']*)", output)
    assert match and "postgres: max_connections 100 -> 120" in match[1].split("; "), output[-4000:]
    assert container_id(host, POSTGRES) != postgres_before, "postgres kept its container after a restart-only change"
    assert container_id(host, EXPORTER) == exporter_before, "the exporter was recreated by a postgres setting"
    assert psql(host, "SHOW max_connections;").stdout.strip() == "120"
    assert count_rows(host) == 4
    # The next converge (test_existing_database_...) goes back to the inventory's values.


def test_a_config_postgres_refuses_never_lands(host, converge):
    conf = host.file(f"{STACK_DIR}/config/postgresql.conf").content_string
    postgres_before = container_id(host, POSTGRES)
    run = converge(extra_vars={**ONLY_THIS_ROLE, "postgres_pgvector_settings": {"wrok_mem": "8MB"}})
    assert run.returncode != 0
    assert 'unrecognized configuration parameter "wrok_mem"' in run.output, run.output[-4000:]
    assert host.file(f"{STACK_DIR}/config/postgresql.conf").content_string == conf
    assert container_id(host, POSTGRES) == postgres_before


def test_existing_database_and_drifted_password_are_brought_into_shape(host, converge):
    """A database created by hand before the role ran gets the extension and its owner;
    an application password changed behind the role's back is re-applied. (This converge
    also restores the inventory's max_connections: postgres alone is recreated.)"""
    user, password = var("postgres_pgvector_app_user"), var("postgres_pgvector_app_password")
    exporter_before = container_id(host, EXPORTER)
    superuser_sql(host, "DROP DATABASE IF EXISTS cc_legacy;")
    superuser_sql(host, "CREATE DATABASE cc_legacy;")
    assert superuser_sql(host, "SELECT count(*) FROM pg_extension WHERE extname = 'vector';", db="cc_legacy") == "0"
    superuser_sql(host, f"ALTER ROLE {user} PASSWORD 'drifted-password-123';")
    assert psql(host, "SELECT 1;").rc != 0

    run = converge(extra_vars={**ONLY_THIS_ROLE, "postgres_pgvector_app_db": "cc_legacy"})
    assert run.returncode == 0, run.output[-4000:]
    for change in (f"password of role {user}", f"owner of database cc_legacy: postgres -> {user}",
                   "extension vector 0.8.0 created in cc_legacy"):
        assert change in run.output, run.output[-4000:]
    assert password not in run.output
    assert superuser_sql(host, "SELECT extversion FROM pg_extension WHERE extname = 'vector';", db="cc_legacy") == "0.8.0"
    result = psql(host, "CREATE TABLE t (v vector(3)); INSERT INTO t VALUES ('[1,2,3]'); SELECT v FROM t;",
                  db="cc_legacy")
    assert result.rc == 0 and result.stdout.strip() == "[1,2,3]", result.stderr
    assert psql(host, "SELECT current_user;").stdout.strip() == user
    assert psql(host, "SHOW work_mem;").stdout.strip() == "4MB"
    assert container_id(host, EXPORTER) == exporter_before


def test_backup_role_drift_is_reported_in_check_mode_and_repaired(host, converge):
    """Grants revoked and REPLICATION taken behind the role's back: --check names each change and makes
    none; the next converge restores them, and reports only those."""
    user = var("postgres_pgvector_backup_user")
    superuser_sql(host, f"ALTER ROLE {user} NOREPLICATION; REVOKE pg_checkpoint FROM {user};"
                        f" REVOKE EXECUTE ON FUNCTION pg_switch_wal() FROM {user};")
    drifted = backup_state(host)
    expected = [f"attributes of role {user} (LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION NOBYPASSRLS)",
                f"role {user} granted EXECUTE on pg_switch_wal()", f"role {user} granted pg_checkpoint"]

    check = converge("--check", extra_vars=ONLY_THIS_ROLE)
    assert check.returncode == 0, check.output[-4000:]
    reported = " ".join(check.output.split())
    assert all(change in reported for change in expected), check.output[-4000:]
    assert backup_state(host) == drifted, "check mode changed the backup role"

    run = converge(extra_vars=ONLY_THIS_ROLE)
    assert run.returncode == 0, run.output[-4000:]
    reported = " ".join(run.output.split())
    assert all(change in reported for change in expected), run.output[-4000:]
    assert f"role {user} granted pg_read_all_stats" not in reported
    assert f"password of role {user}" not in reported
    assert backup_state(host) == ["f|f|f|t|t|f", "|".join("t" * (len(BACKUP_GRANTS) + len(BACKUP_ROLES)))]
