# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""postgres_pgvector: the role's templates, rendered with the defaults and with inventories/local,
checked by the programs that read them.

- postgresql.conf: `postgres -C ... -c config_file=<file>` from the offline image, the very check
  the role's `validate:` runs (the server's own parser and value checks);
- pg_hba.conf: loaded by a throwaway postgres, the role's files/pg-hba-check.sh (mounted as its validate: does);
- compose.yml: `docker compose config -q` (this machine's compose plugin, else the offline image
  commandcenter/docker-compose; skipped, saying so, without either), and its security settings
  read from the YAML;
- the offline images' contract (entrypoint, uid 999, *_FILE, init scripts, pgvector; exporter).

Needs Docker and the images `make images` builds; skipped with the reason without them.
"""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import compose_config, needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "postgres_pgvector"
PG_IMAGE = "commandcenter/postgres-pgvector:17"
EXPORTER_IMAGE = "commandcenter/postgres-exporter:0.17"
LOCAL_INVENTORY = [ROOT / "inventories/local/group_vars/all/main.yml",
                   ROOT / "inventories/local/group_vars/all/postgres_pgvector.yml"]
# Test-only secrets for the "defaults" rendering (the role's defaults leave them empty).
TEST_SECRETS = {"postgres_pgvector_superuser_password": "r3nder-su-Vq8mX2pL7k",
                "postgres_pgvector_app_password": "r3nder-app-Hw4zN8cT1q",
                "postgres_pgvector_monitor_password": "r3nder-mon-Bk6yR3dJ9s"}
HBA_CHECK = ROLE / "files" / "pg-hba-check.sh"
BACKUP_SECRET = "r3nder-backup-Jt5wQ2vX8n"


pytestmark = needs_images(PG_IMAGE, EXPORTER_IMAGE)

# name -> (with inventories/local?, extra variables)
VARIANTS = {
    "defaults": (False, None),
    "local-inventory": (True, None),
    "published-no-exporter": (True, {
        "postgres_pgvector_publish_port": True, "postgres_pgvector_publish_address": "::1",
        "postgres_pgvector_host_port": 15432, "postgres_pgvector_exporter_enabled": False,
        "postgres_pgvector_client_networks": ["10.20.0.0/16", "fd00::/8"],
        "postgres_pgvector_settings": {"hnsw.ef_search": 100, "jit": False, "statement_timeout": 30000,
                                       "log_line_prefix": "it's %m [%p] "}}),
    "big-host-overrides": (True, {
        "postgres_pgvector_memory_limit": "16g", "postgres_pgvector_work_mem": "32MB",
        "postgres_pgvector_max_connections": 200}),
    "bad-parameter": (True, {"postgres_pgvector_settings": {"wrok_mem": "8MB"}}),
    "bad-value": (True, {"postgres_pgvector_settings": {"random_page_cost": "cheap"}}),
    "bad-network": (True, {"postgres_pgvector_client_networks": ["10.0.0.0/33"]}),
    # The backup service's role: its replication lines from the client networks (the default) ...
    "backup": (True, {
        "postgres_pgvector_backup_password": BACKUP_SECRET,
        "postgres_pgvector_max_slot_wal_keep_size": "512MB", "postgres_pgvector_archive_timeout": "5min"}),
    # ... or from networks of its own; no cap on slots (-1), no forced segment switch (0).
    "backup-networks": (True, {
        "postgres_pgvector_backup_password": BACKUP_SECRET, "postgres_pgvector_backup_user": "cc_barman",
        "postgres_pgvector_client_networks": ["10.20.0.0/16"],
        "postgres_pgvector_backup_networks": ["10.30.0.0/24", "fd00:30::/64"],
        "postgres_pgvector_max_slot_wal_keep_size": -1, "postgres_pgvector_archive_timeout": 0}),
}
RENDERED = {
    "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
    "postgresql.conf": "{{ lookup('ansible.builtin.template', 'postgresql.conf.j2') }}",
    "pg_hba.conf": "{{ lookup('ansible.builtin.template', 'pg_hba.conf.j2') }}",
    "derived.json": "{{ {'memory': _postgres_pgvector_memory, 'shm_size': _postgres_pgvector_shm_size,"
                    " 'config_hash': _postgres_pgvector_config_hash,"
                    " 'exporter_hash': _postgres_pgvector_exporter_hash} | to_json }}",
    "hba-check": "{{ _postgres_pgvector_hba_check }}",
}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    """Render every variant into <tmp>/<variant>/ with ONE ansible-playbook run (a play each).

    Precedence as in a real run: role defaults, then the inventory (when asked), then the
    variant's variables, with the role's vars/main.yml for the internal variables. No facts:
    the host memory falls back to the container limit, so the derived values are fixed.
    """
    return render_variants(tmp_path_factory.mktemp("postgres-render"), "postgres_pgvector", VARIANTS, RENDERED, LOCAL_INVENTORY,
                           TEST_SECRETS)


def postgres_conf_check(out: Path, *params: str) -> subprocess.CompletedProcess:
    """The role's validate (postgres -C ... -c config_file=) on the rendered file, root-owned 0600 like
    Ansible's temporary file."""
    conf = out / "postgresql.conf"
    conf.chmod(0o600)
    # postgres -C prints one parameter per run: one container, one run per parameter.
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--log-driver", "none",
                           "--entrypoint", "sh", "-v", f"{conf}:/tmp/check.conf:ro", PG_IMAGE, "-ec",
                           'for p; do postgres -C "$p" -c config_file=/tmp/check.conf; done', "check",
                           *(params or ("max_connections",))],
                          capture_output=True, text=True, check=False, timeout=120)


def hba_check(out: Path) -> subprocess.CompletedProcess:
    """The role's validate: a throwaway cluster started with the rendered pg_hba.conf."""
    hba = out / "pg_hba.conf"
    hba.chmod(0o600)
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--log-driver", "none",
                           "--entrypoint", "sh", "-v", f"{hba}:/check/pg_hba.conf:ro",
                           "-v", f"{HBA_CHECK}:/cc-check/pg-hba-check.sh:ro", PG_IMAGE, "/cc-check/pg-hba-check.sh"],
                          capture_output=True, text=True, check=False, timeout=120)


GOOD = ["defaults", "local-inventory", "published-no-exporter", "big-host-overrides", "backup", "backup-networks"]


def test_the_hba_check_is_the_roles(renders):
    """The validate: command mounts files/pg-hba-check.sh and runs it as hba_check() does."""
    command = (renders["local-inventory"] / "hba-check").read_text()
    assert command.startswith(
        "docker run --rm --network none --pull missing --entrypoint sh -v %s:/check/pg_hba.conf:ro ")
    assert "-v /opt/commandcenter/postgres/checks/pg-hba-check.sh:/cc-check/pg-hba-check.sh:ro " in command
    assert command.endswith(" /cc-check/pg-hba-check.sh")


@pytest.mark.parametrize("variant", GOOD)
def test_postgres_accepts_postgresql_conf(renders, variant):
    proc = postgres_conf_check(renders[variant])
    assert proc.returncode == 0, proc.stderr
    assert "contains errors" not in proc.stderr


@pytest.mark.parametrize("variant", GOOD)
def test_postgres_loads_pg_hba_conf(renders, variant):
    proc = hba_check(renders[variant])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pg_hba.conf loads" in proc.stdout


@pytest.mark.parametrize(("variant", "message"), [
    ("bad-parameter", 'unrecognized configuration parameter "wrok_mem"'),
    ("bad-value", 'invalid value for parameter "random_page_cost": "cheap"'),
])
def test_postgres_refuses_a_bad_postgresql_conf(renders, variant, message):
    proc = postgres_conf_check(renders[variant])
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def test_postgres_refuses_a_bad_pg_hba_conf(renders):
    proc = hba_check(renders["bad-network"])
    assert proc.returncode != 0
    assert 'invalid CIDR mask in address "10.0.0.0/33"' in proc.stderr, proc.stderr


@pytest.mark.parametrize(("variant", "expected"), [
    # 2g (defaults and the local inventory): 512MB, 1536MB, (2048-512)/300 = 5MB, 2048/16 = 128MB
    ("local-inventory", {"shared_buffers": "65536", "effective_cache_size": "196608", "work_mem": "5120",
                         "maintenance_work_mem": "131072", "max_connections": "100"}),
    # 16g with overrides: 4GB, 12GB, work_mem as set, 1GB
    ("big-host-overrides", {"shared_buffers": "524288", "effective_cache_size": "1572864", "work_mem": "32768",
                            "maintenance_work_mem": "1048576", "max_connections": "200"}),
])
def test_memory_settings_are_derived_as_postgres_reads_them(renders, variant, expected):
    """postgres -C prints each value in its base unit (8kB pages, kB)."""
    proc = postgres_conf_check(renders[variant], *expected)
    assert proc.returncode == 0, proc.stderr
    assert dict(zip(expected, proc.stdout.splitlines(), strict=False)) == expected


def test_settings_are_rendered_typed_and_quoted(renders):
    out = renders["published-no-exporter"]
    proc = postgres_conf_check(out, "jit", "statement_timeout", "log_line_prefix", "hnsw.ef_search")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["off", "30000", "it's %m [%p] ", "100"]  # statement_timeout in ms


def test_pg_hba_is_scram_only_over_tcp(renders):
    for variant in GOOD:
        rules = [line.split() for line in (renders[variant] / "pg_hba.conf").read_text().splitlines()
                 if line and not line.startswith("#")]
        assert rules[0] == ["local", "all", "postgres", "peer"]
        assert all(rule[-1] == "scram-sha-256" for rule in rules[1:]), rules
        assert not any("trust" in rule for rule in rules)
    custom = (renders["published-no-exporter"] / "pg_hba.conf").read_text()
    assert "10.20.0.0/16" in custom and "fd00::/8" in custom and "0.0.0.0/0" not in custom


@pytest.mark.parametrize(("variant", "expected"), [
    # postgres -C prints each in its base unit: MB and seconds.
    ("defaults", {"max_slot_wal_keep_size": "2048", "archive_timeout": "60"}),
    ("backup", {"max_slot_wal_keep_size": "512", "archive_timeout": "300"}),
    ("backup-networks", {"max_slot_wal_keep_size": "-1", "archive_timeout": "0"}),
    # The streaming replication the backup service needs: PostgreSQL's defaults, not overridden.
    ("backup", {"wal_level": "replica", "max_wal_senders": "10", "max_replication_slots": "10"}),
])
def test_replication_settings_are_rendered_as_postgres_reads_them(renders, variant, expected):
    proc = postgres_conf_check(renders[variant], *expected)
    assert proc.returncode == 0, proc.stderr
    assert dict(zip(expected, proc.stdout.splitlines(), strict=False)) == expected


def _hba_rules(out: Path) -> list[list[str]]:
    return [line.split() for line in (out / "pg_hba.conf").read_text().splitlines() if line and not line.startswith("#")]


def test_pg_hba_admits_no_replication_without_a_backup_password(renders):
    for variant in ("defaults", "local-inventory", "published-no-exporter", "big-host-overrides"):
        rules = _hba_rules(renders[variant])
        assert not [rule for rule in rules if "replication" in rule or "cc_backup" in rule], (variant, rules)


@pytest.mark.parametrize(("variant", "user", "replication", "postgres"), [
    ("backup", "cc_backup", ["127.0.0.1/32", "::1/128", "0.0.0.0/0", "::/0"], ["0.0.0.0/0", "::/0"]),
    ("backup-networks", "cc_barman", ["127.0.0.1/32", "::1/128", "10.30.0.0/24", "fd00:30::/64"],
     ["10.30.0.0/24", "fd00:30::/64"]),
])
def test_pg_hba_admits_the_backup_role_for_replication(renders, variant, user, replication, postgres):
    """Its role only, by SCRAM, from loopback and the backup networks: replication connections (they match
    only lines whose database is `replication`) and its ordinary connection to `postgres`. The file loads
    (test_postgres_loads_pg_hba_conf runs the checker on both variants)."""
    rules = _hba_rules(renders[variant])
    assert [rule[3] for rule in rules if rule[1] == "replication"] == replication, rules
    assert [rule[3] for rule in rules if rule[1] == "postgres"] == postgres, rules
    for rule in rules:
        if rule[1] in ("replication", "postgres"):
            assert rule[0] == "host" and rule[2] == user and rule[4] == "scram-sha-256", rule
    # The application's rules are unchanged: every role from the client networks, never replication.
    assert [rule[3] for rule in rules if rule[:3] == ["host", "all", "all"]][2:] == (
        ["10.20.0.0/16"] if variant == "backup-networks" else ["0.0.0.0/0", "::/0"])


def test_backup_settings_need_no_restart_and_hold_no_secret(renders):
    """max_slot_wal_keep_size and archive_timeout are reload settings: not in the restart hash. The backup
    password is written nowhere (only the provisioning step reads it, on stdin)."""
    derived = {v: json.loads((renders[v] / "derived.json").read_text()) for v in ("local-inventory", "backup")}
    assert derived["backup"]["config_hash"] == derived["local-inventory"]["config_hash"]
    for variant in ("backup", "backup-networks"):
        for name in ("compose.yml", "postgresql.conf", "pg_hba.conf", "derived.json"):
            assert BACKUP_SECRET not in (renders[variant] / name).read_text(), (variant, name)


# --- compose.yml -----------------------------------------------------------------------

def _compose(out: Path) -> dict:
    return yaml.safe_load((out / "compose.yml").read_text())


@pytest.mark.parametrize("variant", GOOD)
def test_docker_compose_accepts_compose_yml(renders, variant):
    proc = compose_config(renders[variant])
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("variant", ["defaults", "local-inventory"])
def test_compose_services_are_hardened_and_unpublished(renders, variant):
    compose = _compose(renders[variant])
    assert sorted(compose["services"]) == ["postgres", "postgres-exporter"]
    for name, user in (("postgres", "999:999"), ("postgres-exporter", "65534:65534")):
        service = compose["services"][name]
        assert service["user"] == user
        assert service["cap_drop"] == ["ALL"] and "cap_add" not in service
        assert service["security_opt"] == ["no-new-privileges:true"]
        assert service["read_only"] is True
        assert service["mem_limit"] and service["cpus"] > 0
        assert service["memswap_limit"] == service["mem_limit"], f"{name} may swap"
        assert service["restart"] == "unless-stopped"
        assert service["logging"]["driver"] == "json-file"
        assert service["healthcheck"]["test"][0] == "CMD"
        assert "ports" not in service, f"{name} publishes a port by default"
        assert len(service["labels"]["com.commandcenter.config-hash"]) == 64
    postgres, exporter = compose["services"]["postgres"], compose["services"]["postgres-exporter"]
    # PostgreSQL on the data network alone (never monitoring, where Traefik is); its exporter on both.
    assert postgres["networks"] == ["data"]
    assert exporter["networks"] == ["data", "monitoring"]
    assert postgres["healthcheck"]["test"][1] == "pg_isready"
    assert (postgres["pids_limit"], exporter["pids_limit"]) == (100 + 128, 256)
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_superuser_password"
    assert exporter["environment"]["DATA_SOURCE_PASS_FILE"] == "/run/secrets/postgres_monitor_password"
    assert compose["volumes"]["data"]["name"] == "cc-postgres-data"
    assert compose["networks"] == {"data": {"name": "data", "external": True}, "monitoring": {"name": "monitoring", "external": True}}


def test_compose_holds_no_secret(renders):
    local = yaml.safe_load(LOCAL_INVENTORY[1].read_text())
    for variant, values in (("defaults", TEST_SECRETS),
                            ("local-inventory", {k: local[k] for k in TEST_SECRETS})):
        text = (renders[variant] / "compose.yml").read_text()
        assert not [k for k, v in values.items() if v in text]


def test_local_inventory_points_at_the_offline_images(renders):
    compose = _compose(renders["local-inventory"])
    assert compose["services"]["postgres"]["image"] == f"172.17.0.1:5000/{PG_IMAGE}"
    assert compose["services"]["postgres-exporter"]["image"] == f"172.17.0.1:5000/{EXPORTER_IMAGE}"
    defaults = _compose(renders["defaults"])
    assert defaults["services"]["postgres"]["image"] == "pgvector/pgvector:0.8.0-pg17"
    assert defaults["services"]["postgres-exporter"]["image"] == "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"


def test_publishing_is_loopback_only_and_exporter_optional(renders):
    compose = _compose(renders["published-no-exporter"])
    assert compose["services"]["postgres"]["ports"] == [
        {"target": 5432, "published": "15432", "host_ip": "::1", "protocol": "tcp"}]
    assert sorted(compose["services"]) == ["postgres"]
    assert "postgres_monitor_password" not in compose["secrets"]
    assert compose["networks"] == {"data": {"name": "data", "external": True}}


def test_config_hash_follows_configs_not_exporter_secret(renders):
    derived = {v: json.loads((renders[v] / "derived.json").read_text()) for v in VARIANTS}
    assert derived["local-inventory"]["config_hash"] != derived["big-host-overrides"]["config_hash"]
    assert derived["local-inventory"]["exporter_hash"] == derived["big-host-overrides"]["exporter_hash"]
    assert derived["defaults"]["exporter_hash"] != derived["local-inventory"]["exporter_hash"]
    assert derived["local-inventory"]["shm_size"] == "192m"  # maintenance_work_mem 128MB + 64m


# --- the offline images' contract ---------------------------------------------------------

@pytest.fixture()
def workdir(tmp_path):
    (tmp_path / "initdb.d").mkdir()
    (tmp_path / "pw").write_text("c0ntract-test-password\n")
    (tmp_path / "pw").chmod(0o644)
    (tmp_path / "initdb.d" / "01-table.sql").write_text(
        "CREATE EXTENSION vector; CREATE TABLE seed (v vector(2)); INSERT INTO seed VALUES ('[1,2]');\n")
    (tmp_path / "initdb.d" / "02-note.sh").write_text("echo \"init script saw POSTGRES_DB=$POSTGRES_DB\"\n")
    for path in (tmp_path / "initdb.d").iterdir():
        path.chmod(0o644)
    return tmp_path


def test_postgres_image_config_matches_the_official_contract():
    config = json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config}}", PG_IMAGE],
                                       capture_output=True, text=True, check=True).stdout)
    assert config["Entrypoint"] == ["docker-entrypoint.sh"] and config["Cmd"] == ["postgres"]
    assert "5432/tcp" in config["ExposedPorts"] and "/var/lib/postgresql/data" in config["Volumes"]
    assert "PGDATA=/var/lib/postgresql/data" in config["Env"] and config["StopSignal"] == "SIGINT"
    ids = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", PG_IMAGE, "-c",
                          "id -u postgres; id -g postgres; command -v pg_isready"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert ids[:2] == ["999", "999"] and ids[2].endswith("/pg_isready")


def test_postgres_image_initialises_as_uid_999_read_only(workdir):
    """Started directly as 999 on a read-only root: *_FILE, POSTGRES_DB, init scripts, pgvector, scram."""
    name = f"cc-render-pg-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--user", "999:999", "--read-only",
                    "--tmpfs", "/var/run/postgresql:uid=999,gid=999", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                    "-v", f"{workdir / 'pw'}:/run/secrets/pw:ro", "-v", f"{workdir / 'initdb.d'}:/docker-entrypoint-initdb.d:ro",
                    "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/pw", "-e", "POSTGRES_DB=app",
                    "-e", "POSTGRES_INITDB_ARGS=--data-checksums", PG_IMAGE], check=True, capture_output=True)
    try:
        for _ in range(60):
            if subprocess.run(["docker", "exec", name, "pg_isready", "-q", "-h", "127.0.0.1"],
                              check=False, capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        query = subprocess.run(["docker", "exec", "-e", "PGPASSWORD=c0ntract-test-password", name, "psql", "-X", "-At",
                                "-h", "127.0.0.1", "-U", "postgres", "-d", "app", "-c", "SELECT v FROM seed",
                                "-c", "SHOW data_checksums", "-c", "SHOW password_encryption"],
                               capture_output=True, text=True, check=False)
        assert query.returncode == 0, query.stderr
        assert query.stdout.split() == ["[1,2]", "on", "scram-sha-256"]
        wrong = subprocess.run(["docker", "exec", "-e", "PGPASSWORD=wrong", name, "psql", "-X", "-h", "127.0.0.1",
                                "-U", "postgres", "-c", "SELECT 1"], capture_output=True, text=True, check=False)
        assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
        assert "init script saw POSTGRES_DB=app" in logs.stdout + logs.stderr
        assert "c0ntract-test-password" not in logs.stdout + logs.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], check=False, capture_output=True)


def test_postgres_image_refuses_to_initialise_without_a_password():
    proc = subprocess.run(["docker", "run", "--rm", PG_IMAGE], capture_output=True, text=True, check=False,
                          timeout=60)
    assert proc.returncode != 0 and "superuser password is not specified" in proc.stderr


def test_exporter_image_matches_the_upstream_contract():
    config = json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config}}",
                                        EXPORTER_IMAGE], capture_output=True, text=True, check=True).stdout)
    assert config["Entrypoint"] == ["/bin/postgres_exporter"]
    assert config["User"] == "65534:65534" and "9187/tcp" in config["ExposedPorts"]
    version = subprocess.run(["docker", "run", "--rm", EXPORTER_IMAGE, "--version"],
                             capture_output=True, text=True, check=False)
    assert "0.17" in version.stdout + version.stderr
    assert subprocess.run(["docker", "run", "--rm", "--entrypoint", "wget", EXPORTER_IMAGE, "--help"],
                          capture_output=True, text=True, check=False).returncode in (0, 1)
