# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The backup runner of commandcenter.infra.backup, run inside the backup image.

One subcommand per backup kind (the compose services of project cc-backup run them as
one-shots; systemd timers start those), the WAL streaming loop of the long-running
`barman` service, and the restore steps playbooks/restore.yml calls:

  wal-loop        barman cron every pass (it starts and keeps pg_receivewal running and
                  files the streamed WAL), then the WAL metrics
  healthy         exit 0 when the last pass of wal-loop found WAL streaming
  postgres_base   barman backup (pg_basebackup over the replication protocol)
  postgres_dump   pg_dump -Fc of every database and pg_dumpall --globals-only, made with
                  the client of the server's own major version (refused otherwise)
  redis           an RDB snapshot over the replication protocol (redis-cli --rdb)
  nats            a snapshot of every JetStream stream (cc_nats_snapshot.py)
  platform        a tar archive of the platform's own state (owners and modes kept)
  offsite         restic backup of Barman's home and the staging area into the local
                  repository, then the offsite one; forget --prune in each
  check           restic check --read-data-subset in each repository
  recover         barman recover into /restore/pgdata (latest or --target-time), from
                  the local Barman home or from a repository (--source local|offsite)
  fetch           copy the latest staging area (dumps, RDB, NATS snapshots) of a
                  repository into /restore/staging
  drill-metrics   record a restore drill's result

Every kind writes <metrics dir>/cc_backup_<kind>.prom for node-exporter's textfile
collector: last run and success times, result, duration, size and the kind's maximum
age. Secrets are files under /run/secrets; none is ever printed or put on a command line.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

CONFIG_FILE = Path(os.environ.get("CC_BACKUP_CONFIG", "/etc/cc-backup/runner.json"))
SECRETS = Path("/run/secrets")
HEALTH_FILE = Path("/tmp/cc-backup-healthy")
# Where the restore steps put what they bring back (the drill's and restore.yml's volume).
RESTORE = Path("/restore")
PG_MAJOR = 17
# Which schedule entry sets the maximum age of each metric kind.
SCHEDULE_OF = {
    "restic_local": "offsite",
    "restic_offsite": "offsite",
    "restic_check": "check",
}


class BackupError(Exception):
    """A backup step failed: the message says which and why (no secret in it)."""


def load_config() -> dict:
    """The runner's configuration, rendered by the role (no secret in it)."""
    return json.loads(CONFIG_FILE.read_text(encoding="utf-8"))


def secret(name: str) -> str:
    """The content of a secret file, without a trailing line break."""
    return (SECRETS / name).read_text(encoding="utf-8").rstrip("\n")


def run(argv: list[str], env: dict | None = None, capture: bool = False, check: bool = True,
        stdout=None) -> subprocess.CompletedProcess:
    """Run a program; on failure raise BackupError with its (secret-free) stderr tail."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(argv, env=full_env, text=True, check=False,
                          stdout=stdout if stdout is not None else (subprocess.PIPE if capture else None),
                          stderr=subprocess.PIPE)
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    if check and proc.returncode != 0:
        tail = " ".join((proc.stderr or "").strip().splitlines()[-3:])
        raise BackupError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} exited {proc.returncode}: {tail}")
    return proc


@contextlib.contextmanager
def staged_dir(dest: Path) -> Iterator[Path]:
    """A fresh temporary directory beside dest (hidden: .<name>.*) to write into. When the
    block succeeds it takes dest's place (the old dest removed, the new one renamed in);
    when it fails it is removed and dest stays as it was."""
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        yield work
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def dir_size(path: Path) -> int:
    """Bytes in the regular files under path."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# -- metrics -------------------------------------------------------------------------

def write_prom(metrics_dir: Path, name: str, lines: list[str]) -> None:
    """Write a textfile-collector file atomically (node-exporter never reads half a file)."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=metrics_dir, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, metrics_dir / f"{name}.prom")


def previous_success(metrics_dir: Path, kind: str) -> float:
    """The last success time recorded for kind (0 when none)."""
    path = metrics_dir / f"cc_backup_{kind}.prom"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("cc_backup_last_success_timestamp_seconds{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def record(config: dict, kind: str, started: float, ok: bool, size: int) -> None:
    """The metrics of one run of one kind."""
    metrics_dir = Path(config["metrics_dir"])
    now = time.time()
    success = now if ok else previous_success(metrics_dir, kind)
    schedule = config["schedule"].get(SCHEDULE_OF.get(kind, kind), {})
    max_age = int(schedule.get("max_age_hours", 26)) * 3600
    label = f'{{kind="{kind}"}}'
    lines = []
    for metric, help_text, value in (
        ("cc_backup_last_run_timestamp_seconds", "When the backup last ran (unix time).", now),
        ("cc_backup_last_success_timestamp_seconds", "When the backup last succeeded (0: never).", success),
        ("cc_backup_last_result", "1 if the last run succeeded, 0 if it failed.", 1 if ok else 0),
        ("cc_backup_last_duration_seconds", "How long the last run took.", round(now - started, 3)),
        ("cc_backup_last_size_bytes", "Size of what the last successful run produced.", size),
        ("cc_backup_max_age_seconds", "Age of the last success after which the backup is too old.", max_age),
    ):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge", f"{metric}{label} {value}"]
    write_prom(metrics_dir, f"cc_backup_{kind}", lines)


def timed(config: dict, kind: str, step) -> int:
    """Run step() -> size in bytes, record its metrics, report, return the exit code."""
    started = time.time()
    try:
        size = step()
    except (BackupError, OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError, IndexError) as exc:
        # Anything that goes wrong is a failed run, recorded as such (never a bare traceback).
        record(config, kind, started, False, 0)
        print(f"cc-backup: {kind} FAILED after {time.time() - started:.1f} s: {exc}", file=sys.stderr)
        return 1
    record(config, kind, started, True, size)
    print(f"cc-backup: {kind} done in {time.time() - started:.1f} s, {size} bytes", flush=True)
    return 0


# -- PostgreSQL ----------------------------------------------------------------------

def barman(config: dict, *args: str, capture: bool = False, barman_config: str | None = None):
    """Run barman with the role's configuration (or another, for a restored home)."""
    return run(["barman", "-c", barman_config or config["barman_config"], *args], capture=capture)


def psql(config: dict, sql: str, dbname: str = "postgres") -> str:
    """One query as the backup role over TCP; rows as lines of |-separated values."""
    pg = config["postgres"]
    proc = run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", pg["host"], "-p", str(pg["port"]),
                "-U", pg["user"], "-d", dbname, "-c", sql], capture=True, env={"PGCONNECT_TIMEOUT": "10"})
    return proc.stdout.strip()


WAL_SQL = """
SELECT coalesce((SELECT max(CASE WHEN state = 'streaming' THEN 1 ELSE 0 END) FROM pg_stat_replication
                 WHERE application_name = 'barman_receive_wal'), 0),
       coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint FROM pg_stat_replication
                 WHERE application_name = 'barman_receive_wal' ORDER BY backend_start DESC LIMIT 1), -1),
       coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots
                 WHERE slot_name = '{slot}'), 0),
       coalesce((SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{slot}'), 'none'),
       (SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size')
"""


def wal_metrics(config: dict) -> bool:
    """Write the WAL streaming metrics; True when pg_receivewal is streaming."""
    slot = config["postgres"]["slot"].replace("'", "")
    try:
        up, lag, retained, status, limit_mb = psql(config, WAL_SQL.format(slot=slot)).split("|")
    except (BackupError, ValueError) as exc:
        print(f"cc-backup: wal metrics: PostgreSQL did not answer: {exc}", file=sys.stderr)
        up, lag, retained, status, limit_mb = "0", "-1", "0", "unknown", "-1"
    limit = int(limit_mb) * 1024 * 1024 if int(limit_mb) > 0 else 0
    lines = []
    for metric, help_text, value in (
        ("cc_backup_wal_streaming_up", "1 when pg_receivewal streams WAL from PostgreSQL.", up),
        ("cc_backup_wal_streaming_lag_bytes", "WAL PostgreSQL wrote that the backup has not flushed (-1: unknown).", lag),
        ("cc_backup_wal_slot_retained_bytes", "WAL the replication slot holds back on the database host.", retained),
        ("cc_backup_wal_slot_limit_bytes", "max_slot_wal_keep_size in bytes (0: no cap).", limit),
        ("cc_backup_wal_metrics_timestamp_seconds", "When the WAL streaming service last wrote these metrics.",
         round(time.time(), 3)),
    ):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge", f"{metric} {value}"]
    lines += ["# HELP cc_backup_wal_slot_status The replication slot's wal_status (1 for the current one).",
              "# TYPE cc_backup_wal_slot_status gauge", f'cc_backup_wal_slot_status{{status="{status}"}} 1']
    write_prom(Path(config["metrics_dir"]), "cc_backup_wal", lines)
    return up == "1"


def wal_loop(config: dict) -> int:
    """The streaming service: barman cron, metrics, health file; forever."""
    interval = int(os.environ.get("CC_BACKUP_WAL_INTERVAL", "15"))
    while True:
        try:
            barman(config, "cron")
        except BackupError as exc:
            print(f"cc-backup: barman cron: {exc}", file=sys.stderr)
        # barman cron starts pg_receivewal detached: this process (PID 1) reaps what exits.
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if wal_metrics(config):
            HEALTH_FILE.touch()
        time.sleep(interval)


def healthy() -> int:
    """The streaming service's healthcheck: a recent pass found WAL streaming."""
    try:
        return 0 if time.time() - HEALTH_FILE.stat().st_mtime < 90 else 1
    except FileNotFoundError:
        return 1


def postgres_base(config: dict) -> int:
    """A base backup with pg_basebackup, done when the WAL it needs is archived."""
    def step() -> int:
        server = config["server"]
        # A segment switch first, archived by the streaming service's barman cron: Barman
        # refuses a backup while no WAL was ever archived (a new server).
        barman(config, "switch-wal", "--force", "--archive", "--archive-timeout", "120", server)
        barman(config, "backup", server)
        # The backup ends inside a segment that only completes at the next switch: force
        # it, then wait until the streaming service's cron has marked the backup DONE.
        barman(config, "switch-wal", "--force", "--archive", "--archive-timeout", "120", server)
        deadline = time.monotonic() + 600
        while True:
            listing = json.loads(barman(config, "-f", "json", "list-backups", server, capture=True).stdout)
            latest = (listing.get(server) or [{}])[0]
            if latest.get("status") == "DONE":
                break
            if time.monotonic() > deadline:
                raise BackupError(f"backup {latest.get('backup_id')} is still {latest.get('status')} after 600 s")
            time.sleep(2)
        return dir_size(Path(config["barman_home"]) / server / "base" / latest["backup_id"])
    return timed(config, "postgres_base", step)


def server_major(config: dict) -> int:
    """The server's major version (SHOW server_version_num: 170004 -> 17)."""
    return int(psql(config, "SHOW server_version_num")) // 10000


def postgres_dump(config: dict) -> int:
    """pg_dump -Fc of every database, plus the globals, with the server's major's client."""
    def step() -> int:
        major = server_major(config)
        if major != PG_MAJOR:
            raise BackupError(f"the server runs PostgreSQL {major} and this image's pg_dump is {PG_MAJOR}: a dump must be "
                              "made with the client of the server's own major version (set backup_image to one built "
                              f"for PostgreSQL {major})")
        pg = config["postgres"]
        conn = ["-h", pg["host"], "-p", str(pg["port"]), "-U", pg["user"]]
        exclude = set(pg.get("exclude", []))
        names = [n for n in psql(config, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate "
                                 "ORDER BY 1").splitlines() if n and n not in exclude]
        dest = Path(config["staging"]) / "postgres"
        with staged_dir(dest) as work:
            for name in names:
                run(["pg_dump", *conn, "-Fc", "-f", str(work / f"{name}.dump"), "-d", name])
            with open(work / "globals.sql", "w", encoding="utf-8") as out:
                run(["pg_dumpall", *conn, "--globals-only", "--no-role-passwords", "-l", "postgres"], stdout=out)
            (work / "databases.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
        return dir_size(dest)
    return timed(config, "postgres_dump", step)


# -- Redis, NATS, the platform ---------------------------------------------------------

def redis(config: dict) -> int:
    """An RDB snapshot streamed over the replication protocol: consistent, no data volume needed."""
    def step() -> int:
        rd = config["redis"]
        dest = Path(config["staging"]) / "redis"
        dest.mkdir(exist_ok=True)
        tmp = dest / ".dump.rdb.tmp"
        run(["redis-cli", "-h", rd["host"], "-p", str(rd["port"]), "--user", rd["user"], "--no-auth-warning",
             "--rdb", str(tmp)], env={"REDISCLI_AUTH": secret("redis_password")})
        if tmp.stat().st_size == 0 or not tmp.read_bytes()[:5] == b"REDIS":
            raise BackupError("redis-cli --rdb wrote no RDB file")
        tmp.replace(dest / "dump.rdb")
        return (dest / "dump.rdb").stat().st_size
    return timed(config, "redis", step)


def nats(config: dict) -> int:
    """A snapshot of every JetStream stream of the application account."""
    def step() -> int:
        nt = config["nats"]
        dest = Path(config["staging"]) / "nats"
        with staged_dir(dest) as work:
            run(["python3", "/cc/bin/cc_nats_snapshot.py", "backup", "--server", nt["url"], "--user", nt["user"],
                 "--password-file", str(SECRETS / "nats_password"), "--dest", str(work / "streams")])
        return dir_size(dest)
    return timed(config, "nats", step)


def platform(config: dict) -> int:
    """/opt/commandcenter (and the other platform paths), owners and modes kept."""
    def step() -> int:
        dest = Path(config["staging"]) / "platform"
        dest.mkdir(exist_ok=True)
        tmp = dest / ".platform.tar.gz.tmp"
        paths = [p.lstrip("/") for p in config["platform_paths"]]
        os.umask(0o027)
        run(["tar", "--create", "--gzip", "--numeric-owner", "--acls", "--xattrs", "--one-file-system",
             "--file", str(tmp), "--directory", "/platform", *paths])
        tmp.replace(dest / "platform.tar.gz")
        return (dest / "platform.tar.gz").stat().st_size
    return timed(config, "platform", step)


# -- restic ---------------------------------------------------------------------------

def repositories(config: dict) -> list[tuple[str, str, dict]]:
    """(metric kind suffix, repository, environment) of the local and the offsite repository."""
    repos = [("local", config["local_repository"], {"RESTIC_PASSWORD_FILE": str(SECRETS / "restic_password")})]
    if config["offsite_repository"]:
        env = {"RESTIC_PASSWORD_FILE": str(SECRETS / "offsite_password")}
        # The backend's credentials: a JSON object of environment variables.
        env.update({str(k): str(v) for k, v in json.loads(secret("offsite_environment") or "{}").items()})
        repos.append(("offsite", config["offsite_repository"], env))
    return repos


def restic(repo: str, env: dict, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    """restic against one repository (its password and credentials from files)."""
    return run(["restic", "--repo", repo, "--no-cache", *args], env=env, capture=capture)


def ensure_repository(repo: str, env: dict) -> None:
    """Initialise the repository on first use."""
    probe = run(["restic", "--repo", repo, "--no-cache", "cat", "config"], env=env, capture=True, check=False)
    if probe.returncode != 0:
        restic(repo, env, "init")


def copy_step(config: dict, where: str, repo: str, env: dict):
    """The restic backup and retention of one repository, as a step for timed()."""
    def step() -> int:
        ensure_repository(repo, env)
        out = restic(repo, env, "backup", "--json", "--host", "commandcenter", "--tag", "commandcenter",
                     config["barman_home"], config["staging"], capture=True).stdout
        summary = [json.loads(x) for x in out.splitlines() if '"message_type":"summary"' in x.replace(" ", "")]
        keep = config["keep"][where]
        policy = [arg for name in ("daily", "weekly", "monthly") if int(keep[name]) > 0
                  for arg in (f"--keep-{name}", str(keep[name]))]
        restic(repo, env, "forget", "--prune", "--host", "commandcenter", "--tag", "commandcenter", *policy)
        return int(summary[-1].get("total_bytes_processed", 0)) if summary else 0
    return step


def offsite(config: dict) -> int:
    """Barman's home and the staging area into each repository; retention in each."""
    try:
        repos = repositories(config)
    except (OSError, ValueError, AttributeError) as exc:
        # The offsite settings are unreadable: the local copy still runs, the offsite one fails.
        reason = type(exc).__name__

        def unreadable() -> int:
            raise BackupError(f"the offsite repository's secrets cannot be read: {reason}")
        repos = [("local", config["local_repository"], {"RESTIC_PASSWORD_FILE": str(SECRETS / "restic_password")})]
        code = timed(config, "restic_offsite", unreadable)
    else:
        code = 0
    for where, repo, env in repos:
        code |= timed(config, f"restic_{where}", copy_step(config, where, repo, env))
    return code


def check(config: dict) -> int:
    """restic check, reading a share of the data, in each repository."""
    def step() -> int:
        for _where, repo, env in repositories(config):
            restic(repo, env, "check", f"--read-data-subset={config['check_subset']}")
        return 0
    return timed(config, "restic_check", step)


# -- restore ---------------------------------------------------------------------------

def restic_restore(config: dict, source: str, include: str, target: Path, snapshot: str = "latest") -> Path:
    """Restore `include` of a snapshot of the local or offsite repository under target."""
    repos = {where: (repo, env) for where, repo, env in repositories(config)}
    if source not in repos:
        raise BackupError(f"no {source} repository is configured")
    repo, env = repos[source]
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    restic(repo, env, "restore", snapshot, "--host", "commandcenter", "--include", include, "--target", str(target))
    return target / include.lstrip("/")


def choose_backup(config: dict, target_time: str | None, barman_config: str) -> str:
    """The newest base backup that ended before the target time (or the newest of all)."""
    listing = json.loads(barman(config, "-f", "json", "list-backups", config["server"], capture=True,
                                barman_config=barman_config).stdout)
    backups = [b for b in listing.get(config["server"], []) if b.get("status") == "DONE"]
    if not backups:
        raise BackupError("Barman has no completed base backup")
    if target_time:
        target = run(["date", "-u", "-d", target_time, "+%s"], capture=True).stdout.strip()
        earlier = [b for b in backups if int(b.get("end_time_timestamp", "0")) <= int(target)]
        if not earlier:
            raise BackupError(f"no base backup ended before the target time {target_time}: the oldest ended at "
                              f"{backups[-1].get('end_time')}")
        return earlier[0]["backup_id"]
    return backups[0]["backup_id"]


def recover(config: dict, args: argparse.Namespace) -> int:
    """barman recover into /restore/pgdata, latest or to a point in time."""
    started = time.time()
    barman_config = config["barman_config"]
    if args.source != "barman":
        home = restic_restore(config, args.source, config["barman_home"], Path("/restore/src"))
        conf_dir = Path("/restore/barman.d")
        conf_dir.mkdir(exist_ok=True)
        for conf in Path("/etc/cc-backup/barman.d").glob("*.conf"):
            shutil.copy(conf, conf_dir / conf.name)
        text = Path(barman_config).read_text(encoding="utf-8")
        text = text.replace("barman_home = /var/lib/barman", f"barman_home = {home}")
        text = text.replace("configuration_files_directory = /etc/cc-backup/barman.d",
                            f"configuration_files_directory = {conf_dir}")
        barman_config = "/restore/barman.conf"
        Path(barman_config).write_text(text, encoding="utf-8")
    backup_id = choose_backup(config, args.target_time, barman_config)
    dest = Path("/restore/pgdata")
    if dest.exists():
        shutil.rmtree(dest)
    options = ["--target-time", args.target_time, "--target-action", "promote"] if args.target_time else []
    barman(config, "recover", *options, config["server"], backup_id, str(dest), barman_config=barman_config)
    print(json.dumps({"backup_id": backup_id, "source": args.source, "target_time": args.target_time,
                      "seconds": round(time.time() - started, 1), "bytes": dir_size(dest)}))
    return 0


def fetch(config: dict, args: argparse.Namespace) -> int:
    """The staging area (dumps, RDB, NATS snapshots) from a repository, or the local one."""
    dest = RESTORE / "staging"
    with staged_dir(dest) as work:
        if args.source == "staging":
            shutil.copytree(config["staging"], work, ignore=shutil.ignore_patterns(".*"), dirs_exist_ok=True)
        else:
            fetched = RESTORE / "fetched"
            # The staging area's own directory, restored under its path: it replaces the
            # empty work directory (a rename onto an empty directory), then the rest goes.
            restic_restore(config, args.source, config["staging"], fetched).rename(work)
            shutil.rmtree(fetched, ignore_errors=True)
    print(json.dumps({"source": args.source, "bytes": dir_size(dest)}))
    return 0


def drill_metrics(config: dict, args: argparse.Namespace) -> int:
    """Record a restore drill's outcome (written by playbooks/restore.yml)."""
    lines = []
    for metric, help_text, value in (
        ("cc_backup_restore_drill_last_result", "1 if the last restore drill passed, 0 if it failed.",
         1 if args.result == "passed" else 0),
        ("cc_backup_restore_drill_last_timestamp_seconds", "When the last restore drill ran.", round(time.time(), 3)),
        ("cc_backup_restore_drill_duration_seconds", "How long the last restore drill's restore took.", args.seconds),
    ):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge", f"{metric} {value}"]
    write_prom(Path(config["metrics_dir"]), "cc_backup_restore_drill", lines)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch the subcommand."""
    parser = argparse.ArgumentParser(prog="cc_backup.py", description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("wal-loop", "healthy", "postgres_base", "postgres_dump", "redis", "nats", "platform", "offsite",
                 "check"):
        sub.add_parser(name)
    rec = sub.add_parser("recover")
    rec.add_argument("--source", choices=["barman", "local", "offsite"], default="barman")
    rec.add_argument("--target-time", default=None)
    fet = sub.add_parser("fetch")
    fet.add_argument("--source", choices=["staging", "local", "offsite"], default="staging")
    drill = sub.add_parser("drill-metrics")
    drill.add_argument("--result", choices=["passed", "failed"], required=True)
    drill.add_argument("--seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.command == "healthy":
        return healthy()
    config = load_config()
    commands = {"wal-loop": wal_loop, "postgres_base": postgres_base, "postgres_dump": postgres_dump,
                "redis": redis, "nats": nats, "platform": platform, "offsite": offsite, "check": check}
    try:
        if args.command in commands:
            return commands[args.command](config)
        return {"recover": recover, "fetch": fetch, "drill-metrics": drill_metrics}[args.command](config, args)
    except BackupError as exc:
        print(f"cc-backup: {args.command} failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
