# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""backup: the role's templates and configuration files, rendered with the defaults, with
inventories/local, with an offsite repository, with Redis and NATS off and with other
paths and limits, checked by the programs that read them.

- compose.yml: `docker compose config` accepts it; the services follow the enabled kinds
  (the one-shots in profile oneshot, restore in profile restore: `up` starts barman
  alone); every service runs as the image's user 999:999, read-only, without capability,
  no-new-privileges, limited, except `platform`: 0:999 with DAC_READ_SEARCH alone; only
  barman has a healthcheck and a restart policy; the data is mounted read-only where a
  service only reads it; no secret value in it (the secrets are files);
- the files of tasks/configure.yml's one `files` call (_backup_config_files,
  _backup_secret_files): Barman's server and global files accepted by Barman itself with
  the role's own validate commands (_backup_barman_check, _backup_barman_global_check,
  from commandcenter/backup:1.0), a file that does not parse or names no server `cc`
  refused; the runner's configuration (runner.json) matching the variables and the
  containers' paths; the secret files (pgpass's line, the offsite environment's JSON);
- the systemd units: every enabled kind's timer persistent with the randomised delay and
  its schedule, the service running `docker compose run` of the kind; `systemd-analyze
  verify` (commandcenter/molecule-platform:trixie, no running systemd needed, with a
  stand-in for docker and docker.service, which a Docker host has) accepts them and
  refuses a timer whose OnCalendar does not parse.

Faults found while writing these tests are fixed and pinned here (Barman's `show-servers`
check, exits 0 on a bad option value; pgpass is written unescaped; a "false" string for
backup_redis_enabled leaves the service in compose.yml).

Needs Docker and the images `make images` builds; skipped with the reason without them.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import COMPOSE_IMAGE, JSON_FILE_LOGGING, compose_config, needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "backup"
RUNNER = ROLE / "files" / "cc_backup.py"
BACKUP_IMAGE = "commandcenter/backup:1.0"
# systemd 257 (Debian 13), for systemd-analyze.
SYSTEMD_IMAGE = "commandcenter/molecule-platform:trixie"
STACK = "/opt/commandcenter/backup"
SERVER = "cc"
UID = 999

# Test-only sentinel secrets (the role's defaults leave them empty): none may appear in
# compose.yml, runner.json, Barman's files or the units.
TEST_SECRETS = {
    "backup_postgres_password": "S3ntinel-pg-Aq7wE2rT9yKx",
    "backup_redis_password": "S3ntinel-redis-Bq7wE2rT9y",
    "backup_nats_password": "S3ntinel-nats-Cq7wE2rT9y",
    "backup_restic_password": "S3ntinel-restic-Dq7wE2rT9y",
}
OFFSITE = {
    "backup_offsite_repository": "rest:https://backup.example.test:8000/commandcenter",
    "backup_offsite_password": "S3ntinel-offsite-Eq7wE2rT9y",
    "backup_offsite_environment": {"RESTIC_REST_USERNAME": "commandcenter",
                                   "RESTIC_REST_PASSWORD": "S3ntinel-rest-Fq7wE2rT9y"},
}
SENTINELS = [*TEST_SECRETS.values(), OFFSITE["backup_offsite_password"],
             OFFSITE["backup_offsite_environment"]["RESTIC_REST_PASSWORD"]]
LOCAL_INVENTORY = [ROOT / "inventories/local/group_vars/all/main.yml",
                   ROOT / "inventories/local/group_vars/all/backup.yml"]
SCHEDULE = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["backup_schedule"]

pytestmark = needs_images(BACKUP_IMAGE)

# Every rendering the tests use, made by ONE ansible-playbook run (a play each):
# name -> (with inventories/local?, extra variables).
VARIANTS = {
    "defaults": (False, None),
    "local": (True, None),
    "offsite": (False, OFFSITE),
    "no-redis-nats": (True, {"backup_redis_enabled": False, "backup_nats_enabled": False}),
    "elsewhere": (False, {
        **OFFSITE, "backup_root": "/srv/backups", "backup_metrics_dir": "/srv/textfile/backup.d",
        "backup_platform_paths": ["/opt/commandcenter", "/etc/commandcenter"], "backup_postgres_host": "db.internal",
        "backup_postgres_port": 5433, "backup_postgres_slot": "barman_cc", "backup_postgres_retention": "REDUNDANCY 3",
        "backup_postgres_dump_exclude": ["scratch"], "backup_randomized_delay": "30s", "backup_memory_limit": "1g",
        "backup_cpus": 0.5, "backup_pids_limit": 128, "backup_check_read_data_subset": "1/5",
        "backup_local_keep_daily": 3, "backup_local_keep_weekly": 2,
        "backup_schedule": {**SCHEDULE, "redis": {"on_calendar": "*-*-* *:15,45:00", "max_age_hours": 2},
                            "check": {"on_calendar": "Sat *-*-1..7 05:00", "max_age_hours": 800}}}),
    # What preflight stops, rendered anyway: Barman and systemd see it too.
    "bad-retention": (False, {"backup_postgres_retention": "FOREVER"}),
    "bad-slot": (False, {"backup_postgres_slot": "Bad Slot"}),
    "bad-calendar": (False, {"backup_schedule": {**SCHEDULE, "check": {"on_calendar": "every tuesday-ish",
                                                                       "max_age_hours": 192}}}),
    # What a password manager may generate: pgpass needs : and \ escaped.
    "pgpass-escapes": (False, {"backup_postgres_password": "S3ntinel:pg\\Aq7wE2rT9y"}),
    # -e backup_redis_enabled=false passes a string (argument_specs accepts it as a bool).
    "redis-off-as-string": (True, {"backup_redis_enabled": "false"}),
}
GOOD = ["defaults", "local", "offsite", "no-redis-nats", "elsewhere"]

# The variables each rendering's expectations are derived from (as the play resolved them).
VARIABLES = ["backup_image", "backup_root", "backup_metrics_dir", "backup_platform_paths", "backup_postgres_host",
             "backup_postgres_port", "backup_postgres_user", "backup_postgres_slot", "backup_postgres_retention",
             "backup_postgres_dump_exclude", "backup_redis_enabled", "backup_redis_host", "backup_redis_port",
             "backup_redis_user", "backup_nats_enabled", "backup_nats_url", "backup_nats_user",
             "backup_offsite_repository", "backup_offsite_environment", "backup_schedule", "backup_randomized_delay",
             "backup_memory_limit", "backup_cpus", "backup_pids_limit", "backup_check_read_data_subset",
             "backup_local_keep_daily", "backup_local_keep_weekly", "backup_local_keep_monthly",
             "backup_offsite_keep_daily", "backup_offsite_keep_weekly", "backup_offsite_keep_monthly"]

# What each play hands back: the compose file as deploy.yml renders it, and the one `files`
# call of configure.yml (its own expressions: Barman's files, runner.json, the units, the
# secret files and their values).
RENDERED = {
    "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
    "files.json": "{{ {'config': _backup_config_files, 'secret_files': _backup_secret_files,"
                  " 'absent': _backup_absent_secret_files, 'secrets': _backup_secrets,"
                  " 'redacted': _backup_secret_values,"
                  " 'kinds': _backup_kinds, 'enabled': _backup_enabled_kinds, 'config_hash': _backup_config_hash,"
                  " 'vars': dict(" + repr(VARIABLES) + " | zip(" + "[" + ", ".join(VARIABLES) + "]))} | to_json }}",
}


def _unpack(out: Path) -> None:
    """The configuration files where a check mounts them: config/barman.conf, config/barman.d/cc.conf,
    config/runner.json, systemd/<unit>; readable by the containers' users."""
    files = json.loads((out / "files.json").read_text())
    for item in files["config"]:
        dest = item["dest"]
        if dest.startswith("/etc/systemd/system/"):
            path = out / "systemd" / Path(dest).name
        else:
            assert dest.startswith(f"{STACK}/config/"), dest
            path = out / "config" / dest.removeprefix(f"{STACK}/config/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item["text"])
        path.chmod(0o644)
    for directory in (out, out / "config", out / "config" / "barman.d", out / "systemd"):
        directory.chmod(0o755)


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    """Render the role's files for every variant into <tmp>/<variant>/ (one ansible-playbook run).

    _backup_config_hash reads files/cc_backup.py with the file lookup: the play's files/ is the role's."""
    tmp = tmp_path_factory.mktemp("backup-render")
    (tmp / "files").symlink_to(ROLE / "files")
    outs = render_variants(tmp, "backup", VARIANTS, RENDERED, LOCAL_INVENTORY, TEST_SECRETS)
    for out in outs.values():
        _unpack(out)
    return outs


def files(out: Path) -> dict:
    return json.loads((out / "files.json").read_text())


def variables(out: Path) -> dict:
    return files(out)["vars"]


def secret_values(found: dict) -> list[str]:
    """The rendering's secrets (the local inventory's are generated), the offsite backend's password included."""
    values = [str(value) for value in found["secrets"].values() if value]
    values += [str(value) for key, value in found["vars"]["backup_offsite_environment"].items() if "PASSWORD" in key]
    assert values, "no secret rendered"
    # The role redacts every one of them from the modules' output.
    assert set(values) <= set(found["redacted"])
    return values


def compose_json(project_dir: Path) -> dict:
    """The effective compose model of every profile (`docker compose config --format json`): anchors merged."""
    project_dir = Path(project_dir).resolve()
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{project_dir}:{project_dir}:ro", COMPOSE_IMAGE,
         "--project-directory", str(project_dir), "-f", str(project_dir / "compose.yml"), "--profile", "*",
         "config", "--format", "json"],
        capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def models(renders) -> dict[str, dict]:
    return {name: compose_json(renders[name]) for name in GOOD}


@pytest.fixture(params=GOOD)
def variant(request) -> str:
    return request.param


# --- compose.yml ---------------------------------------------------------------------------

def test_docker_compose_accepts_the_compose_file(renders, variant):
    proc = compose_config(renders[variant])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_up_starts_the_streaming_service_alone(renders):
    """Without a profile (what `docker compose up` and the deploy's health gate see): barman only."""
    out = renders["local"].resolve()
    proc = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{out}:{out}:ro", COMPOSE_IMAGE,
                           "--project-directory", str(out), "-f", str(out / "compose.yml"), "config", "--services"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["barman"]


def _runner_subcommands() -> set[str]:
    """The runner's subcommands, from its own --help (run here: it needs nothing of the image for that)."""
    usage = subprocess.run([sys.executable, str(RUNNER), "--help"], capture_output=True, text=True, check=True,
                           timeout=60).stdout
    return set(re.search(r"\{([a-z_,-]+)\}", usage).group(1).split(","))


def test_services_follow_the_enabled_kinds(renders, models, variant):
    found = files(renders[variant])
    v = found["vars"]
    expected = [k for k in found["kinds"] if (k != "redis" or v["backup_redis_enabled"])
                and (k != "nats" or v["backup_nats_enabled"])]
    assert found["enabled"] == expected
    services = models[variant]["services"]
    assert set(services) == {"barman", "restore", *expected}
    # `docker compose run <kind>` (the service unit's %i) runs the runner's subcommand of that name.
    subcommands = _runner_subcommands()
    for kind in expected:
        assert services[kind]["command"] == [kind] and kind in subcommands, kind
    assert services["barman"]["command"] == ["wal-loop"] and "wal-loop" in subcommands
    assert set(found["kinds"]) <= subcommands


def test_every_service_is_hardened(renders, models, variant):
    v = variables(renders[variant])
    services = models[variant]["services"]
    mem = {"512m": str(512 * 1024 * 1024), "1g": str(1024 ** 3)}[v["backup_memory_limit"]]
    hashes = set()
    for name, service in services.items():
        if name == "platform":
            # The platform's files belong to many users: root, with the one capability that reads them all.
            assert service["user"] == f"0:{UID}"
            assert service["cap_add"] == ["DAC_READ_SEARCH"]
        else:
            assert service["user"] == f"{UID}:{UID}", name
            assert "cap_add" not in service, name
        assert service["image"] == v["backup_image"], name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert service["security_opt"] == ["no-new-privileges:true"], name
        assert service["mem_limit"] == mem and service["memswap_limit"] == mem, name
        assert service["pids_limit"] == v["backup_pids_limit"], name
        assert float(service["cpus"]) == float(v["backup_cpus"]), name
        assert service["logging"] == JSON_FILE_LOGGING, name
        assert service["tmpfs"] == [f"/tmp:uid={UID},gid={UID},mode=0700"], name
        # The data services' network only (backup_data_network).
        assert list(service["networks"]) == ["data"], name
        assert "ports" not in service and "privileged" not in service, name
        assert service["entrypoint"] == ["python3", "/cc/bin/cc_backup.py"], name
        hashes.add(service["labels"]["com.commandcenter.config-hash"])
    assert {key: (n["name"], n["external"]) for key, n in models[variant]["networks"].items()} == {"data": ("data", True)}
    (label,) = hashes
    assert re.fullmatch(r"[0-9a-f]{64}", label) and label == files(renders[variant])["config_hash"]


def test_profiles_healthcheck_and_restart(models, variant):
    """`up` starts barman alone, restarts it and gates on its health; the one-shots are run by the timers,
    restore by playbooks/restore.yml: no restart policy, no healthcheck."""
    services = dict(models[variant]["services"])
    barman = services.pop("barman")
    assert "profiles" not in barman
    assert barman["restart"] == "unless-stopped"
    assert barman["healthcheck"]["test"] == ["CMD", "python3", "/cc/bin/cc_backup.py", "healthy"]
    assert services.pop("restore")["profiles"] == ["restore"]
    for name, service in services.items():
        assert service["profiles"] == ["oneshot"], name
    for name, service in models[variant]["services"].items():
        if name != "barman":
            assert "healthcheck" not in service, name
            assert service.get("restart", "no") == "no", name


def test_data_is_mounted_read_only_where_it_is_only_read(renders, models, variant):
    v = variables(renders[variant])
    root = v["backup_root"]
    config = ("/etc/cc-backup", f"{STACK}/config", True)
    bin_dir = ("/cc/bin", f"{STACK}/bin", True)
    metrics = ("/metrics", v["backup_metrics_dir"], False)
    barman = ("/var/lib/barman", f"{root}/barman", False)
    staging = ("/backup/staging", f"{root}/staging", False)
    repository = ("/backup/restic", f"{root}/restic", False)
    restore = ("/restore", f"{root}/restore", False)

    def ro(mount):
        return (mount[0], mount[1], True)

    platform = [(f"/platform{path}", path, True) for path in v["backup_platform_paths"]]
    expected = {
        "barman": [config, bin_dir, metrics, barman],
        "postgres_base": [config, bin_dir, metrics, barman],
        "postgres_dump": [config, bin_dir, metrics, staging],
        "redis": [config, bin_dir, metrics, staging],
        "nats": [config, bin_dir, metrics, staging],
        "platform": [config, bin_dir, metrics, staging, *platform],
        # restic reads Barman's home and the staging area, writes only its repository (and locks in it).
        "offsite": [config, bin_dir, metrics, ro(barman), ro(staging), repository],
        "check": [config, bin_dir, metrics, repository],
        # Barman's locks in its home; the staging area read; the repository's locks; the scratch space.
        "restore": [config, bin_dir, metrics, barman, ro(staging), repository, restore],
    }
    for name, service in models[variant]["services"].items():
        got = [(m["target"], m["source"], m.get("read_only", False) is True) for m in service["volumes"]]
        assert all(m["type"] == "bind" for m in service["volumes"]), name
        assert got == expected[name], name


def test_secrets_are_files_and_no_secret_value_is_in_the_compose_file(renders, models, variant):
    out = renders[variant]
    text = (out / "compose.yml").read_text()
    found = files(out)
    for value in secret_values(found) + SENTINELS:
        assert value not in text
    names = [f["name"] for f in found["secret_files"]]
    model = models[variant]
    assert {k: s["file"] for k, s in model["secrets"].items()} == {n: f"{STACK}/secrets/{n}" for n in names}
    for name, service in model["services"].items():
        assert [s["source"] for s in service["secrets"]] == names, name
        assert all(s["target"] == f"/run/secrets/{s['source']}" for s in service["secrets"]), name
        assert service["environment"] == {"PGPASSFILE": "/run/secrets/pgpass",
                                          "RESTIC_PASSWORD_FILE": "/run/secrets/restic_password",
                                          "RESTIC_CACHE_DIR": "/tmp/restic-cache", "HOME": "/var/lib/barman"}, name


# --- the secret files and runner.json ----------------------------------------------------------

def test_secret_files_are_the_backup_users_and_follow_the_switches(renders, variant):
    found = files(renders[variant])
    v = found["vars"]
    secret_files = {f["name"]: f for f in found["secret_files"]}
    offsite = bool(v["backup_offsite_repository"])
    expected = ["pgpass", "restic_password"] + (["redis_password"] if v["backup_redis_enabled"] else []) \
        + (["nats_password"] if v["backup_nats_enabled"] else []) \
        + (["offsite_password", "offsite_environment"] if offsite else [])
    assert list(secret_files) == expected
    assert all((f["owner"], f["mode"]) == (str(UID), "0400") for f in secret_files.values())
    postgres_password = found["secrets"]["backup_postgres_password"]
    assert secret_files["pgpass"]["content"] == f"*:*:*:{v['backup_postgres_user']}:{postgres_password}"
    if offsite:
        assert json.loads(secret_files["offsite_environment"]["content"]) == v["backup_offsite_environment"]
    optional = ("redis_password", "nats_password", "offsite_password", "offsite_environment")
    absent = {f"{STACK}/secrets/{n}" for n in optional if n not in secret_files}
    assert set(found["absent"]) == absent


def test_runner_config_matches_the_variables_and_the_mounts(renders, models, variant):
    found = files(renders[variant])
    v = found["vars"]
    (runner_json,) = [f["text"] for f in found["config"] if f["dest"] == f"{STACK}/config/runner.json"]
    for value in secret_values(found) + SENTINELS:
        assert value not in runner_json
    keep = {where: {period: int(v[f"backup_{where}_keep_{period}"]) for period in ("daily", "weekly", "monthly")}
            for where in ("local", "offsite")}
    assert json.loads(runner_json) == {
        "server": SERVER, "barman_config": "/etc/cc-backup/barman.conf",
        "postgres": {"host": v["backup_postgres_host"], "port": int(v["backup_postgres_port"]),
                     "user": v["backup_postgres_user"], "slot": v["backup_postgres_slot"],
                     "exclude": v["backup_postgres_dump_exclude"]},
        "redis": {"enabled": v["backup_redis_enabled"], "host": v["backup_redis_host"],
                  "port": int(v["backup_redis_port"]), "user": v["backup_redis_user"]},
        "nats": {"enabled": v["backup_nats_enabled"], "url": v["backup_nats_url"], "user": v["backup_nats_user"]},
        "platform_paths": v["backup_platform_paths"], "staging": "/backup/staging", "barman_home": "/var/lib/barman",
        "local_repository": "/backup/restic", "offsite_repository": v["backup_offsite_repository"], "keep": keep,
        "check_subset": v["backup_check_read_data_subset"], "metrics_dir": "/metrics",
        "schedule": v["backup_schedule"],
    }
    # The runner's paths are the containers' mount targets.
    targets = {m["target"] for s in models[variant]["services"].values() for m in s["volumes"]}
    assert {"/backup/staging", "/var/lib/barman", "/backup/restic", "/metrics", "/etc/cc-backup"} <= targets
    # The restic metrics' maximum age comes from the offsite and check schedules: both are there.
    assert {"offsite", "check"} <= set(v["backup_schedule"])


def test_pgpass_escapes_colon_and_backslash(renders):
    (pgpass,) = [f["content"] for f in files(renders["pgpass-escapes"])["secret_files"] if f["name"] == "pgpass"]
    assert pgpass == "*:*:*:cc_backup:S3ntinel\\:pg\\\\Aq7wE2rT9y"


def test_a_false_string_switches_the_service_off_too(renders):
    found = files(renders["redis-off-as-string"])
    assert "redis" not in found["enabled"]
    compose = yaml.safe_load((renders["redis-off-as-string"] / "compose.yml").read_text())
    assert "redis" not in compose["services"]
    assert "redis_password" not in compose["secrets"]


# --- Barman's files, checked by Barman with the role's own commands ------------------------------------

def config_item(out: Path, name: str) -> dict:
    (item,) = [f for f in files(out)["config"] if f["dest"] == f"{STACK}/config/{name}"]
    return item


def role_check(out: Path, name: str, candidate: Path | None = None, barman_d: Path | None = None
               ) -> subprocess.CompletedProcess:
    """The validate command of config/<name> as commandcenter.infra.file_set runs it (%s: the candidate file),
    with the configuration directory's barman.d at this rendering's (or barman_d), and the image of the local
    registry replaced by the same image's local name."""
    item = config_item(out, name)
    candidate = candidate or out / "config" / name
    image = variables(out)["backup_image"]
    argv = []
    for word in shlex.split(item["validate"]):
        word = candidate.as_posix() if word == "%s" else word.replace("%s", candidate.as_posix())
        word = word.replace(f"{STACK}/config/barman.d:", f"{(barman_d or out / 'config' / 'barman.d').as_posix()}:")
        # The checker the role installs into its bin directory: the role's own file.
        word = word.replace(f"{STACK}/bin/barman-check.sh:", f"{(ROLE / 'files' / 'barman-check.sh').as_posix()}:")
        argv.append(BACKUP_IMAGE if word == image else word)
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


# What Barman says about a configuration it does not take as written (it goes on: show-servers exits 0).
COMPLAINTS = re.compile(r"Ignoring invalid configuration value|Invalid configuration option|\bERROR\b|Traceback"
                        r"|WARNING: disabled|Forcing")


def test_the_checks_are_the_roles(renders):
    """The server file is checked alone (a minimal global file in the container), then the global file with
    the server files written before it; both in the backup image, without network."""
    out = renders["defaults"]
    server, main = config_item(out, f"barman.d/{SERVER}.conf")["validate"], config_item(out, "barman.conf")["validate"]
    checker = f"-v {STACK}/bin/barman-check.sh:/cc-check/barman-check.sh:ro"
    assert server.startswith("docker run --rm --network none --pull missing --entrypoint sh ")
    assert f"-v %s:/etc/cc-backup/barman.d/{SERVER}.conf:ro {checker} {BACKUP_IMAGE} -c " in server
    assert server.endswith(f"sh /cc-check/barman-check.sh /tmp/barman.conf {SERVER}'")
    assert main == (f"docker run --rm --network none --pull missing --entrypoint sh"
                    f" -v %s:/etc/cc-backup/barman.conf:ro"
                    f" -v {STACK}/config/barman.d:/etc/cc-backup/barman.d:ro {checker} {BACKUP_IMAGE}"
                    f" /cc-check/barman-check.sh /etc/cc-backup/barman.conf {SERVER}")
    # The order of the file_set call: the server file lands before the global file reads it.
    dests = [f["dest"] for f in files(out)["config"]]
    assert dests.index(f"{STACK}/config/barman.d/{SERVER}.conf") < dests.index(f"{STACK}/config/barman.conf")


def _shown(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """`barman show-servers`' settings: key -> value."""
    assert proc.stdout.startswith(f"Server {SERVER}:\n"), proc.stdout[:300]  # not "(WARNING: disabled)"
    return dict(line.strip().split(": ", 1) for line in proc.stdout.splitlines()[1:] if ": " in line)


def test_barman_accepts_the_configuration(renders, variant):
    out = renders[variant]
    v = variables(out)
    for name in (f"barman.d/{SERVER}.conf", "barman.conf"):
        proc = role_check(out, name)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # The only warning: PostgreSQL is not reachable from --network none.
        assert not COMPLAINTS.search(proc.stderr), proc.stderr
    shown = _shown(role_check(out, "barman.conf"))
    host, port = v["backup_postgres_host"], v["backup_postgres_port"]
    assert {k: shown[k] for k in ("backup_method", "streaming_archiver", "archiver", "slot_name", "create_slot",
                                  "retention_policy", "barman_home", "path_prefix", "immediate_checkpoint",
                                  "minimum_redundancy", "disabled", "streaming_conninfo", "compression")} == {
        "backup_method": "postgres", "streaming_archiver": "True", "archiver": "False",
        "slot_name": v["backup_postgres_slot"], "create_slot": "auto",
        "retention_policy": v["backup_postgres_retention"], "barman_home": "/var/lib/barman",
        "path_prefix": "/usr/lib/postgresql/17/bin", "immediate_checkpoint": "True", "minimum_redundancy": "1",
        "disabled": "False", "compression": "gzip",
        "streaming_conninfo": f"host={host} port={port} user={v['backup_postgres_user']} connect_timeout=10"}
    for name in ("barman.conf", f"barman.d/{SERVER}.conf"):
        text = (out / "config" / name).read_text()
        for value in secret_values(files(out)) + SENTINELS:
            assert value not in text


def _broken(renders, tmp_path: Path, old: str, new: str) -> Path:
    """A barman.d holding the local rendering's server file with one line changed."""
    text = (renders["local"] / "config" / "barman.d" / f"{SERVER}.conf").read_text()
    assert old in text
    barman_d = tmp_path / "barman.d"
    barman_d.mkdir()
    barman_d.chmod(0o755)
    (barman_d / f"{SERVER}.conf").write_text(text.replace(old, new))
    (barman_d / f"{SERVER}.conf").chmod(0o644)
    return barman_d


@pytest.mark.parametrize(("old", "new", "message"), [
    ("archiver = off\n", "archiver off\n", "Source contains parsing errors"),
    (f"[{SERVER}]\n", "[commandcenter]\n", f"Unknown server '{SERVER}'"),
], ids=["not-ini", "other-server"])
def test_the_roles_checks_refuse_a_broken_server_file(renders, tmp_path, old, new, message):
    barman_d = _broken(renders, tmp_path, old, new)
    candidate = barman_d / f"{SERVER}.conf"
    for proc in (role_check(renders["local"], f"barman.d/{SERVER}.conf", candidate=candidate),
                 role_check(renders["local"], "barman.conf", barman_d=barman_d)):
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert message in proc.stderr, proc.stderr


# Bad option values: Barman notices each (a warning, an error in its log, the server disabled)
# and goes on with a default.
BAD_VALUES = {
    "backup-method": ("backup_method = postgres\n", "backup_method = nonsense\n",
                      "Ignoring invalid configuration value 'nonsense' for key backup_method"),
    "boolean": ("immediate_checkpoint = true\n", "immediate_checkpoint = maybe\n",
                "Ignoring invalid configuration value 'maybe' for key immediate_checkpoint"),
    "unknown-option": ("archiver = off\n", "archiver = off\nbackup_mehtod = postgres\n",
                       'Invalid configuration option "backup_mehtod"'),
}


def _bad_value_check(renders, tmp_path, case: str) -> tuple[subprocess.CompletedProcess, str]:
    if case in BAD_VALUES:
        old, new, message = BAD_VALUES[case]
        barman_d = _broken(renders, tmp_path, old, new)
        return role_check(renders["local"], "barman.conf", barman_d=barman_d), message
    message = {"bad-retention": 'Invalid retention_policy setting "FOREVER"',
               "bad-slot": "Ignoring invalid configuration value 'Bad Slot' for key slot_name"}[case]
    return role_check(renders[case], "barman.conf"), message


BAD_VALUE_CASES = [*BAD_VALUES, "bad-retention", "bad-slot"]


@pytest.mark.parametrize("case", BAD_VALUE_CASES)
def test_barman_notices_a_bad_option_value(renders, tmp_path, case):
    proc, message = _bad_value_check(renders, tmp_path, case)
    assert message in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", BAD_VALUE_CASES)
def test_the_roles_checks_refuse_a_bad_option_value(renders, tmp_path, case):
    proc, message = _bad_value_check(renders, tmp_path, case)
    assert proc.returncode != 0, proc.stderr


# --- the systemd units ---------------------------------------------------------------------------------

def unit_keys(text: str) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        section.setdefault(key, []).append(value)
    return sections


def test_every_enabled_kind_has_a_persistent_randomised_timer(renders, variant):
    out = renders[variant]
    found = files(out)
    v = found["vars"]
    timers = sorted(p.name for p in (out / "systemd").glob("*.timer"))
    assert timers == sorted(f"cc-backup-{kind}.timer" for kind in found["enabled"])
    for kind in found["enabled"]:
        unit = unit_keys((out / "systemd" / f"cc-backup-{kind}.timer").read_text())
        assert unit["Timer"] == {"OnCalendar": [v["backup_schedule"][kind]["on_calendar"]], "Persistent": ["true"],
                                 "RandomizedDelaySec": [v["backup_randomized_delay"]],
                                 "Unit": [f"cc-backup@{kind}.service"]}, kind
        assert unit["Install"] == {"WantedBy": ["timers.target"]}, kind


def test_the_service_runs_the_kinds_one_shot_container(renders, variant):
    unit = unit_keys((renders[variant] / "systemd" / "cc-backup@.service").read_text())
    assert unit["Unit"]["Requires"] == ["docker.service"] and unit["Unit"]["After"] == ["docker.service"]
    assert unit["Service"]["Type"] == ["oneshot"]
    assert unit["Service"]["ExecStart"] == [
        f"/usr/bin/docker compose --project-name cc-backup --file {STACK}/compose.yml"
        " run --rm --no-deps --quiet-pull %i"]
    assert "Install" not in unit  # started by its timers only


# A Docker host has both; this image has neither: a stand-in for each, so that verify checks the backup units.
_VERIFY = """set -e
printf '#!/bin/sh\\nexit 0\\n' > /usr/bin/docker && chmod 755 /usr/bin/docker
printf '[Unit]\\nDescription=docker stand-in\\n[Service]\\nExecStart=/usr/bin/docker\\n' \\
  > /etc/systemd/system/docker.service
cp /units/* /etc/systemd/system/
cd /etc/systemd/system
systemd-analyze verify "$@"
"""


def systemd_verify(out: Path, units: list[str]) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` of the rendered units, copied into /etc/systemd/system (no systemd running)."""
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh", "-v", f"{out / 'systemd'}:/units:ro",
         SYSTEMD_IMAGE, "-c", _VERIFY, "verify", *units],
        capture_output=True, text=True, check=False, timeout=120)


@needs_images(SYSTEMD_IMAGE)
@pytest.mark.parametrize("name", ["local", "no-redis-nats", "elsewhere"])
def test_systemd_accepts_the_units(renders, name):
    out = renders[name]
    kinds = files(out)["enabled"]
    units = [f"cc-backup-{kind}.timer" for kind in kinds] + [f"cc-backup@{kind}.service" for kind in kinds]
    proc = systemd_verify(out, units)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


@needs_images(SYSTEMD_IMAGE)
def test_systemd_refuses_a_timer_whose_calendar_does_not_parse(renders):
    proc = systemd_verify(renders["bad-calendar"], ["cc-backup-check.timer"])
    assert proc.returncode != 0
    assert "Failed to parse calendar specification, ignoring: every tuesday-ish" in proc.stderr, proc.stderr
    assert "Timer unit lacks value setting. Refusing." in proc.stderr, proc.stderr
