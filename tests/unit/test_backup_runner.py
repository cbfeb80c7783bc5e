# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""backup: the runner roles/backup/files/cc_backup.py, imported from its path and tested
without Docker (every program it would run is replaced; files go to tmp_path).

- write_prom: the textfile-collector file appears whole (written beside it under a name
  node-exporter does not read, then renamed), and parses as Prometheus text;
- record: per kind the last run, last success, result, duration, size and maximum age,
  the previous success kept on a failure, the maximum age taken from the kind's schedule
  (restic_local and restic_offsite from `offsite`, restic_check from `check`);
- timed: the exit code and the metrics of a step that fails;
- staged_dir, and through it postgres_dump, nats and fetch: what a step writes goes into a
  hidden directory beside its destination, which replaces the destination only when the
  step succeeded; a failure leaves the previous copy whole and no temporary directory;
- choose_backup: the newest DONE base backup that ended before the target time, refused
  when there is none;
- repositories: the local and the offsite repository with their password files and the
  offsite backend's environment (a JSON secret);
- the drill-metrics subcommand: its three metrics;
- healthy: the streaming service's healthcheck reads the health file's age.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "roles" / "backup" / "files" / "cc_backup.py"
# A fixed "now" for the metrics' timestamps.
NOW = 1_767_225_600.0


def _load_runner():
    """files/cc_backup.py, by file path: it is a script the role mounts into the containers, not a package."""
    spec = importlib.util.spec_from_file_location("cc_backup_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()

# The role's schedule (defaults/main.yml), with distinct ages where the kinds share one, so
# that a kind reading the wrong entry shows.
SCHEDULE = {
    "postgres_base": {"on_calendar": "*-*-* 01:00:00", "max_age_hours": 27},
    "postgres_dump": {"on_calendar": "*-*-* 01:30:00", "max_age_hours": 28},
    "redis": {"on_calendar": "hourly", "max_age_hours": 3},
    "nats": {"on_calendar": "hourly", "max_age_hours": 4},
    "platform": {"on_calendar": "*-*-* 02:00:00", "max_age_hours": 29},
    "offsite": {"on_calendar": "*-*-* 03:00:00", "max_age_hours": 30},
    "check": {"on_calendar": "Sun *-*-* 04:00:00", "max_age_hours": 192},
}

# One line of the Prometheus text format as node-exporter's textfile collector reads it.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABELS = r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\}'
_SAMPLE = re.compile(rf"^(?P<name>{_NAME})(?P<labels>{_LABELS})? (?P<value>\S+)$")
_HELP = re.compile(rf"^# HELP (?P<name>{_NAME}) \S.*$")
_TYPE = re.compile(rf"^# TYPE (?P<name>{_NAME}) (?:counter|gauge|histogram|summary|untyped)$")


def parse_prom(text: str) -> dict[str, tuple[str, float]]:
    """The samples of a textfile-collector file: name -> (labels, value). Fails on any line that is neither a
    sample nor a HELP/TYPE comment, on a sample whose value is not a number, and on a sample without its
    HELP and TYPE lines before it."""
    assert text.endswith("\n"), "the file must end with a line break"
    samples: dict[str, tuple[str, float]] = {}
    described: dict[str, set[str]] = {}
    for line in text.splitlines():
        comment = _HELP.match(line) or _TYPE.match(line)
        if comment:
            described.setdefault(comment["name"], set()).add(line.split()[1])
            continue
        sample = _SAMPLE.match(line)
        assert sample, f"not Prometheus text: {line!r}"
        value = float(sample["value"])  # ValueError: not a number
        assert described.get(sample["name"]) == {"HELP", "TYPE"}, f"{sample['name']} lacks its HELP or TYPE line"
        assert sample["name"] not in samples, f"{sample['name']} twice"
        samples[sample["name"]] = (sample["labels"] or "", value)
    return samples


@pytest.fixture
def clock(monkeypatch):
    """The runner's clock (its module global `time`), set to NOW; advance with clock.now = ..."""
    fake = SimpleNamespace(now=NOW)
    monkeypatch.setattr(runner, "time", SimpleNamespace(time=lambda: fake.now, monotonic=lambda: fake.now,
                                                        sleep=lambda seconds: None))
    return fake


@pytest.fixture
def config(tmp_path) -> dict:
    """The runner's configuration as the role renders it, with the metrics under tmp_path."""
    return {"server": "cc", "barman_config": "/etc/cc-backup/barman.conf", "metrics_dir": str(tmp_path / "metrics"),
            "local_repository": "/backup/restic", "offsite_repository": "", "schedule": SCHEDULE,
            "check_subset": "10%", "staging": str(tmp_path / "staging"), "barman_home": str(tmp_path / "barman")}


def metrics(config: dict, kind: str) -> dict[str, tuple[str, float]]:
    return parse_prom((Path(config["metrics_dir"]) / f"cc_backup_{kind}.prom").read_text(encoding="utf-8"))


# --- write_prom ---------------------------------------------------------------------------

LINES = ["# HELP cc_test_value A test value.", "# TYPE cc_test_value gauge", 'cc_test_value{kind="x"} 2']


def test_write_prom_writes_a_whole_file_beside_it_then_renames_it(tmp_path, monkeypatch):
    """The content is complete before the rename; the temporary file is in the same directory (a rename, not a
    copy across file systems) under a name the textfile collector skips (not *.prom); the old file stays whole
    until the rename."""
    target = tmp_path / "cc_test.prom"
    target.write_text("old\n", encoding="utf-8")
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        src, dst = Path(src), Path(dst)
        seen.append((src.name, src.parent, dst, src.read_text(encoding="utf-8"), target.read_text(encoding="utf-8"),
                     src.stat().st_mode & 0o777))
        real_replace(src, dst)

    monkeypatch.setattr(runner.os, "replace", spy)
    runner.write_prom(tmp_path, "cc_test", LINES)
    ((name, parent, dst, content, old_at_rename, mode),) = seen
    assert parent == tmp_path and dst == target
    assert name.startswith(".cc_test.") and name.endswith(".tmp") and not name.endswith(".prom")
    assert content == "\n".join(LINES) + "\n"
    assert old_at_rename == "old\n"
    assert mode == 0o644  # node-exporter (another user) reads it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cc_test.prom"]
    assert target.read_text(encoding="utf-8") == content
    assert parse_prom(content) == {"cc_test_value": ('{kind="x"}', 2.0)}


def test_write_prom_leaves_the_old_file_whole_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "cc_test.prom"
    target.write_text("# HELP cc_old Old.\n# TYPE cc_old gauge\ncc_old 1\n", encoding="utf-8")

    def refuse(src, dst):
        raise OSError("no space left on device")

    monkeypatch.setattr(runner.os, "replace", refuse)
    with pytest.raises(OSError):
        runner.write_prom(tmp_path, "cc_test", LINES)
    assert parse_prom(target.read_text(encoding="utf-8")) == {"cc_old": ("", 1.0)}
    assert [p.name for p in tmp_path.glob("*.prom")] == ["cc_test.prom"]


def test_write_prom_creates_the_metrics_directory(tmp_path):
    runner.write_prom(tmp_path / "a" / "backup.d", "cc_test", LINES)
    assert (tmp_path / "a" / "backup.d" / "cc_test.prom").is_file()


# --- record and timed ------------------------------------------------------------------------

def test_record_writes_every_metric_of_a_success(config, clock):
    runner.record(config, "redis", NOW - 12.5, True, 4096)
    assert metrics(config, "redis") == {
        "cc_backup_last_run_timestamp_seconds": ('{kind="redis"}', NOW),
        "cc_backup_last_success_timestamp_seconds": ('{kind="redis"}', NOW),
        "cc_backup_last_result": ('{kind="redis"}', 1.0),
        "cc_backup_last_duration_seconds": ('{kind="redis"}', 12.5),
        "cc_backup_last_size_bytes": ('{kind="redis"}', 4096.0),
        "cc_backup_max_age_seconds": ('{kind="redis"}', 3 * 3600.0),
    }


def test_record_keeps_the_previous_success_on_a_failure(config, clock):
    runner.record(config, "postgres_dump", NOW - 60, True, 1000)
    clock.now = NOW + 86400
    runner.record(config, "postgres_dump", NOW + 86400 - 5, False, 0)
    got = {name: value for name, (labels, value) in metrics(config, "postgres_dump").items()}
    assert got["cc_backup_last_run_timestamp_seconds"] == NOW + 86400
    assert got["cc_backup_last_success_timestamp_seconds"] == NOW
    assert got["cc_backup_last_result"] == 0
    assert got["cc_backup_last_duration_seconds"] == 5
    # A second failure still keeps it.
    clock.now = NOW + 2 * 86400
    runner.record(config, "postgres_dump", NOW + 2 * 86400 - 1, False, 0)
    assert metrics(config, "postgres_dump")["cc_backup_last_success_timestamp_seconds"][1] == NOW
    # The other kinds' files are their own.
    assert sorted(p.name for p in Path(config["metrics_dir"]).iterdir()) == ["cc_backup_postgres_dump.prom"]


def test_record_of_a_first_failure_says_never(config, clock):
    runner.record(config, "nats", NOW - 1, False, 0)
    got = metrics(config, "nats")
    assert got["cc_backup_last_success_timestamp_seconds"] == ('{kind="nats"}', 0.0)
    assert got["cc_backup_last_result"] == ('{kind="nats"}', 0.0)


@pytest.mark.parametrize(("kind", "hours"), [
    ("postgres_base", 27), ("postgres_dump", 28), ("redis", 3), ("nats", 4), ("platform", 29),
    # offsite() records restic_local and restic_offsite, check() restic_check: their limits are those schedules'.
    ("restic_local", 30), ("restic_offsite", 30), ("restic_check", 192),
])
def test_max_age_comes_from_the_kinds_schedule(config, clock, kind, hours):
    runner.record(config, kind, NOW, True, 0)
    assert metrics(config, kind)["cc_backup_max_age_seconds"] == (f'{{kind="{kind}"}}', hours * 3600.0)


def test_max_age_of_a_kind_without_a_schedule_is_26_hours(config, clock):
    runner.record(config, "elsewhere", NOW, True, 0)
    assert metrics(config, "elsewhere")["cc_backup_max_age_seconds"][1] == 26 * 3600


def test_timed_records_a_success_and_returns_0(config, clock, capsys):
    def step():
        clock.now = NOW + 3
        return 2048

    assert runner.timed(config, "platform", step) == 0
    got = {name: value for name, (labels, value) in metrics(config, "platform").items()}
    assert got["cc_backup_last_result"] == 1 and got["cc_backup_last_size_bytes"] == 2048
    assert got["cc_backup_last_duration_seconds"] == 3 and got["cc_backup_last_success_timestamp_seconds"] == NOW + 3
    assert "cc-backup: platform done in 3.0 s, 2048 bytes" in capsys.readouterr().out


@pytest.mark.parametrize("error", [
    runner.BackupError("pg_dump -h exited 1: connection refused"),
    OSError(28, "No space left on device"),
    subprocess.TimeoutExpired(["restic"], 60),
], ids=["BackupError", "OSError", "SubprocessError"])
def test_timed_records_a_failure_and_returns_1(config, clock, capsys, error):
    clock.now = NOW - 86400
    runner.record(config, "postgres_dump", NOW - 86400, True, 10)  # an earlier success
    clock.now = NOW

    def step():
        raise error

    assert runner.timed(config, "postgres_dump", step) == 1
    got = {name: value for name, (labels, value) in metrics(config, "postgres_dump").items()}
    assert got["cc_backup_last_result"] == 0 and got["cc_backup_last_run_timestamp_seconds"] == NOW
    assert got["cc_backup_last_success_timestamp_seconds"] == NOW - 86400
    assert f"cc-backup: postgres_dump FAILED after 0.0 s: {error}" in capsys.readouterr().err


def test_timed_records_any_failure_of_the_step(config, clock):
    def step():
        return json.loads("Barman printed this, not JSON")

    assert runner.timed(config, "postgres_base", step) == 1
    assert metrics(config, "postgres_base")["cc_backup_last_result"][1] == 0


def test_run_raises_backup_error_with_the_stderr_tail(capsys):
    with pytest.raises(runner.BackupError) as caught:
        runner.run([sys.executable, "-c", "import sys; sys.stderr.write('one\\ntwo\\nthree\\nfour\\n'); sys.exit(3)"])
    assert str(caught.value).endswith("exited 3: two three four")
    assert "one" in capsys.readouterr().err  # the whole stderr goes to the container's log
    assert runner.run([sys.executable, "-c", "print('ok')"], capture=True).stdout == "ok\n"


# --- staged_dir and the steps that write through it ------------------------------------------------

def test_staged_dir_replaces_the_destination_when_the_block_succeeds(tmp_path):
    dest = tmp_path / "postgres"
    dest.mkdir()
    (dest / "old.dump").write_text("old", encoding="utf-8")
    with runner.staged_dir(dest) as work:
        # Beside dest (a rename, not a copy), hidden from a glob of the staging area, empty.
        assert work.parent == tmp_path and work.name.startswith(".postgres.") and work.is_dir()
        assert list(work.iterdir()) == []
        assert (dest / "old.dump").read_text(encoding="utf-8") == "old"  # untouched until the block ends
        (work / "new.dump").write_text("new", encoding="utf-8")
    assert sorted(p.name for p in dest.iterdir()) == ["new.dump"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["postgres"]


def test_staged_dir_creates_a_destination_that_does_not_exist(tmp_path):
    with runner.staged_dir(tmp_path / "nats") as work:
        (work / "streams").mkdir()
    assert [p.name for p in tmp_path.iterdir()] == ["nats"] and (tmp_path / "nats" / "streams").is_dir()


def test_staged_dir_keeps_the_destination_and_removes_its_work_when_the_block_fails(tmp_path):
    dest = tmp_path / "postgres"
    dest.mkdir()
    (dest / "old.dump").write_text("old", encoding="utf-8")
    with pytest.raises(runner.BackupError, match="pg_dump failed"), runner.staged_dir(dest) as work:
        (work / "half.dump").write_text("half", encoding="utf-8")
        raise runner.BackupError("pg_dump failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["postgres"]
    assert sorted(p.name for p in dest.iterdir()) == ["old.dump"]


@pytest.fixture
def staging(config) -> Path:
    path = Path(config["staging"])
    path.mkdir()
    return path


@pytest.fixture
def fake_programs(monkeypatch):
    """Replace run() and psql(): pg_dump writes its -f file, pg_dumpall its stdout, the snapshot tool a
    stream under --dest; calls.fail names a program that fails instead. The calls are recorded."""
    calls = SimpleNamespace(run=[], fail=None)

    def fake_run(argv, env=None, capture=False, check=True, stdout=None):
        calls.run.append(argv)
        program = Path(argv[1]).name if argv[0] == "python3" else argv[0]
        if program == calls.fail:
            raise runner.BackupError(f"{program} exited 1: refused")
        if program == "pg_dump":
            Path(argv[argv.index("-f") + 1]).write_text(f"dump of {argv[-1]}", encoding="utf-8")
        elif program == "pg_dumpall":
            stdout.write("CREATE ROLE app;\n")
        elif program == "cc_nats_snapshot.py":
            stream = Path(argv[argv.index("--dest") + 1]) / "ORDERS"
            stream.mkdir(parents=True)
            (stream / "backup.json").write_text("{}", encoding="utf-8")
        return SimpleNamespace(returncode=0, stdout="")

    def fake_psql(config, sql, dbname="postgres"):
        return "170004" if sql == "SHOW server_version_num" else "app\npostgres\nskipped"

    monkeypatch.setattr(runner, "run", fake_run)
    monkeypatch.setattr(runner, "psql", fake_psql)
    return calls


def tree(path: Path) -> dict[str, str]:
    """The regular files under path (relative names) and their content."""
    return {str(p.relative_to(path)): p.read_text(encoding="utf-8") for p in sorted(path.rglob("*")) if p.is_file()}


def test_postgres_dump_replaces_the_previous_dumps(config, staging, clock, fake_programs):
    config["postgres"] = {"host": "postgres", "port": 5432, "user": "backup", "exclude": ["skipped"]}
    (staging / "postgres").mkdir()
    (staging / "postgres" / "dropped.dump").write_text("an old database's dump", encoding="utf-8")
    assert runner.postgres_dump(config) == 0
    assert tree(staging) == {"postgres/app.dump": "dump of app", "postgres/postgres.dump": "dump of postgres",
                             "postgres/globals.sql": "CREATE ROLE app;\n", "postgres/databases.txt": "app\npostgres\n"}
    got = {name: value for name, (labels, value) in metrics(config, "postgres_dump").items()}
    assert got["cc_backup_last_result"] == 1 and got["cc_backup_last_size_bytes"] == sum(
        p.stat().st_size for p in (staging / "postgres").iterdir())


def test_postgres_dump_that_fails_keeps_the_previous_dumps(config, staging, clock, fake_programs):
    config["postgres"] = {"host": "postgres", "port": 5432, "user": "backup"}
    (staging / "postgres").mkdir()
    (staging / "postgres" / "app.dump").write_text("yesterday's dump", encoding="utf-8")
    fake_programs.fail = "pg_dumpall"  # after the databases' dumps were written
    assert runner.postgres_dump(config) == 1
    assert tree(staging) == {"postgres/app.dump": "yesterday's dump"}  # no hidden work directory left
    assert metrics(config, "postgres_dump")["cc_backup_last_result"][1] == 0


def test_nats_replaces_the_previous_snapshots(config, staging, clock, fake_programs):
    config["nats"] = {"url": "nats://nats:4222", "user": "backup"}
    (staging / "nats" / "streams" / "GONE").mkdir(parents=True)
    (staging / "nats" / "streams" / "GONE" / "backup.json").write_text("old", encoding="utf-8")
    assert runner.nats(config) == 0
    assert tree(staging) == {"nats/streams/ORDERS/backup.json": "{}"}
    (argv,) = fake_programs.run
    dest_flag, dest = argv[-2:]
    assert dest_flag == "--dest" and Path(dest).parent.parent == staging and Path(dest).parent.name.startswith(".nats.")


def test_nats_that_fails_keeps_the_previous_snapshots(config, staging, clock, fake_programs):
    config["nats"] = {"url": "nats://nats:4222", "user": "backup"}
    (staging / "nats" / "streams" / "ORDERS").mkdir(parents=True)
    (staging / "nats" / "streams" / "ORDERS" / "backup.json").write_text("old", encoding="utf-8")
    fake_programs.fail = "cc_nats_snapshot.py"
    assert runner.nats(config) == 1
    assert tree(staging) == {"nats/streams/ORDERS/backup.json": "old"}


def runner_dir(tmp_path: Path, monkeypatch, name: str, attribute: str) -> Path:
    """A new directory tmp_path/name, which the runner's module global `attribute` (a fixed path) is set to."""
    path = tmp_path / name
    path.mkdir()
    monkeypatch.setattr(runner, attribute, path)
    return path


@pytest.fixture
def restore_dir(tmp_path, monkeypatch) -> Path:
    return runner_dir(tmp_path, monkeypatch, "restore", "RESTORE")


def test_fetch_from_the_staging_area_replaces_the_previous_fetch_without_hidden_entries(
        config, staging, restore_dir, capsys):
    (staging / "redis").mkdir()
    (staging / "redis" / "dump.rdb").write_text("REDIS0011", encoding="utf-8")
    (staging / ".postgres.x1y2").mkdir()  # a dump being written
    (staging / ".postgres.x1y2" / "app.dump").write_text("half", encoding="utf-8")
    (restore_dir / "staging" / "old").mkdir(parents=True)
    (restore_dir / "staging" / "old" / "file").write_text("an earlier fetch", encoding="utf-8")
    assert runner.fetch(config, SimpleNamespace(source="staging")) == 0
    assert tree(restore_dir) == {"staging/redis/dump.rdb": "REDIS0011"}
    assert json.loads(capsys.readouterr().out) == {"source": "staging", "bytes": 9}


def test_fetch_from_a_repository_moves_the_restored_staging_area_into_place(config, restore_dir, monkeypatch):
    calls = []

    def fake_restic_restore(config, source, include, target, snapshot="latest"):
        calls.append((source, include, target))
        restored = target / include.lstrip("/")
        (restored / "postgres").mkdir(parents=True)
        (restored / "postgres" / "app.dump").write_text("from the repository", encoding="utf-8")
        return restored

    monkeypatch.setattr(runner, "restic_restore", fake_restic_restore)
    (restore_dir / "staging").mkdir()
    (restore_dir / "staging" / "stale").write_text("an earlier fetch", encoding="utf-8")
    assert runner.fetch(config, SimpleNamespace(source="offsite")) == 0
    assert calls == [("offsite", config["staging"], restore_dir / "fetched")]
    assert tree(restore_dir) == {"staging/postgres/app.dump": "from the repository"}  # fetched/ is gone


def test_fetch_that_fails_keeps_the_previous_fetch(config, restore_dir, monkeypatch):
    def refuse(config, source, include, target, snapshot="latest"):
        raise runner.BackupError("no offsite repository is configured")

    monkeypatch.setattr(runner, "restic_restore", refuse)
    (restore_dir / "staging").mkdir()
    (restore_dir / "staging" / "kept").write_text("an earlier fetch", encoding="utf-8")
    with pytest.raises(runner.BackupError):
        runner.fetch(config, SimpleNamespace(source="offsite"))
    assert tree(restore_dir) == {"staging/kept": "an earlier fetch"}
    assert [p.name for p in restore_dir.iterdir()] == ["staging"]


# --- choose_backup ------------------------------------------------------------------------------

def _backup(backup_id: str, status: str, end: int | None = None) -> dict:
    """One entry of `barman -f json list-backups` (Barman 3.13: end_time_timestamp is a string)."""
    entry = {"backup_id": backup_id, "backup_type": "full", "status": status}
    if end is not None:
        entry.update(end_time_timestamp=str(end), end_time=time.ctime(end), size_bytes=1, wal_size_bytes=1)
    return entry


# Newest first, as Barman lists them: one still waiting for its WAL, one failed.
LISTING = {"cc": [_backup("20260103T010000", "WAITING_FOR_WALS", 3500), _backup("20260102T010000", "DONE", 3000),
                  _backup("20260101T130000", "FAILED"), _backup("20260101T010000", "DONE", 2000),
                  _backup("20251231T010000", "DONE", 1000)]}


@pytest.fixture
def barman_listing(monkeypatch):
    """Replace barman and run: the listing barman prints, the epoch `date` prints; the calls are recorded."""
    calls = SimpleNamespace(barman=[], run=[], listing=LISTING, epoch={})

    def fake_barman(config, *args, capture=False, barman_config=None):
        calls.barman.append((args, capture, barman_config))
        return SimpleNamespace(stdout=json.dumps(calls.listing), returncode=0)

    def fake_run(argv, env=None, capture=False, check=True, stdout=None):
        calls.run.append(argv)
        assert argv[:3] == ["date", "-u", "-d"] and argv[4] == "+%s", argv
        return SimpleNamespace(stdout=f"{calls.epoch[argv[3]]}\n", returncode=0)

    monkeypatch.setattr(runner, "barman", fake_barman)
    monkeypatch.setattr(runner, "run", fake_run)
    return calls


def test_choose_backup_without_a_target_takes_the_newest_done(config, barman_listing):
    assert runner.choose_backup(config, None, "/restore/barman.conf") == "20260102T010000"
    assert barman_listing.barman == [(("-f", "json", "list-backups", "cc"), True, "/restore/barman.conf")]
    assert barman_listing.run == []


@pytest.mark.parametrize(("epoch", "expected"), [
    (3600, "20260102T010000"),  # after every end: the newest DONE (not the one waiting for WAL)
    (3000, "20260102T010000"),  # ended exactly at the target
    (2999, "20260101T010000"),
    (2500, "20260101T010000"),  # the FAILED one in between is skipped
    (1000, "20251231T010000"),
])
def test_choose_backup_takes_the_newest_done_that_ended_before_the_target(config, barman_listing, epoch, expected):
    target = "2026-01-02 12:00:00+00"
    barman_listing.epoch[target] = epoch
    assert runner.choose_backup(config, target, "/etc/cc-backup/barman.conf") == expected
    assert barman_listing.run == [["date", "-u", "-d", target, "+%s"]]


def test_choose_backup_refuses_a_target_before_every_backup(config, barman_listing):
    barman_listing.epoch["2025-12-01"] = 999
    with pytest.raises(runner.BackupError, match="no base backup ended before the target time 2025-12-01: the oldest"):
        runner.choose_backup(config, "2025-12-01", "/etc/cc-backup/barman.conf")


@pytest.mark.parametrize("listing", [{"cc": []}, {}, {"cc": [_backup("20260103T010000", "WAITING_FOR_WALS", 3500),
                                                             _backup("20260101T130000", "FAILED")]}],
                         ids=["no-backup", "no-server-entry", "none-done"])
def test_choose_backup_refuses_when_no_backup_is_done(config, barman_listing, listing):
    barman_listing.listing = listing
    with pytest.raises(runner.BackupError, match="Barman has no completed base backup"):
        runner.choose_backup(config, None, "/etc/cc-backup/barman.conf")


# --- repositories ---------------------------------------------------------------------------------

@pytest.fixture
def secrets_dir(tmp_path, monkeypatch) -> Path:
    return runner_dir(tmp_path, monkeypatch, "secrets", "SECRETS")


def test_repositories_without_offsite_is_the_local_one(config, secrets_dir):
    assert runner.repositories(config) == [
        ("local", "/backup/restic", {"RESTIC_PASSWORD_FILE": str(secrets_dir / "restic_password")})]


def test_repositories_read_the_offsite_environment_and_password_file(config, secrets_dir):
    config["offsite_repository"] = "rest:https://backup.example.test:8000/commandcenter"
    (secrets_dir / "offsite_environment").write_text(
        json.dumps({"RESTIC_REST_USERNAME": "commandcenter", "RESTIC_REST_PASSWORD": "t3st-rest-Vb8nQ2xL5k",
                    "AWS_MAX_RETRIES": 5}) + "\n", encoding="utf-8")
    local, offsite = runner.repositories(config)
    assert local == ("local", "/backup/restic", {"RESTIC_PASSWORD_FILE": str(secrets_dir / "restic_password")})
    assert offsite == ("offsite", "rest:https://backup.example.test:8000/commandcenter", {
        "RESTIC_PASSWORD_FILE": str(secrets_dir / "offsite_password"),
        "RESTIC_REST_USERNAME": "commandcenter", "RESTIC_REST_PASSWORD": "t3st-rest-Vb8nQ2xL5k",
        "AWS_MAX_RETRIES": "5"})  # environment values are strings


def test_repositories_with_an_empty_offsite_environment(config, secrets_dir):
    config["offsite_repository"] = "/mnt/offsite/restic"
    (secrets_dir / "offsite_environment").write_text("", encoding="utf-8")
    assert runner.repositories(config)[1] == (
        "offsite", "/mnt/offsite/restic", {"RESTIC_PASSWORD_FILE": str(secrets_dir / "offsite_password")})


def test_offsite_records_a_bad_offsite_environment_as_a_failure(config, secrets_dir, clock, monkeypatch):
    config["offsite_repository"] = "rest:https://backup.example.test:8000/commandcenter"
    config["keep"] = {"local": {"daily": 7, "weekly": 0, "monthly": 0},
                      "offsite": {"daily": 30, "weekly": 8, "monthly": 12}}
    (secrets_dir / "offsite_environment").write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(runner, "ensure_repository", lambda repo, env: None)
    monkeypatch.setattr(runner, "restic", lambda repo, env, *args, capture=False: SimpleNamespace(stdout=""))
    assert runner.offsite(config) == 1
    assert metrics(config, "restic_local")["cc_backup_last_result"][1] == 1
    assert metrics(config, "restic_offsite")["cc_backup_last_result"][1] == 0


# --- the subcommands -------------------------------------------------------------------------------

@pytest.fixture
def config_file(tmp_path, config, monkeypatch) -> Path:
    path = tmp_path / "runner.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setattr(runner, "CONFIG_FILE", path)
    return path


@pytest.mark.parametrize(("result", "value"), [("passed", 1.0), ("failed", 0.0)])
def test_drill_metrics_writes_its_three_metrics(config, config_file, clock, result, value):
    assert runner.main(["drill-metrics", "--result", result, "--seconds", "42.5"]) == 0
    got = parse_prom((Path(config["metrics_dir"]) / "cc_backup_restore_drill.prom").read_text(encoding="utf-8"))
    assert got == {"cc_backup_restore_drill_last_result": ("", value),
                   "cc_backup_restore_drill_last_timestamp_seconds": ("", NOW),
                   "cc_backup_restore_drill_duration_seconds": ("", 42.5)}


def test_drill_metrics_refuses_another_result(config_file, capsys):
    with pytest.raises(SystemExit) as caught:
        runner.main(["drill-metrics", "--result", "maybe"])
    assert caught.value.code == 2
    assert "invalid choice: 'maybe'" in capsys.readouterr().err


def test_main_reports_a_backup_error_as_exit_1(config, config_file, monkeypatch, capsys):
    """A failure outside the timed steps (here: recover's choice of backup) is one line and exit code 1."""
    def no_backup(config, target_time, barman_config):
        raise runner.BackupError("Barman has no completed base backup")

    monkeypatch.setattr(runner, "choose_backup", no_backup)
    assert runner.main(["recover"]) == 1
    assert capsys.readouterr().err == "cc-backup: recover failed: Barman has no completed base backup\n"


@pytest.mark.parametrize(("age", "code"), [(None, 1), (5, 0), (89, 0), (91, 1)])
def test_healthy_reads_the_health_files_age(tmp_path, monkeypatch, age, code):
    """The healthcheck (no configuration needed): a pass of wal-loop found WAL streaming within 90 s."""
    health = tmp_path / "cc-backup-healthy"
    monkeypatch.setattr(runner, "HEALTH_FILE", health)
    monkeypatch.setattr(runner, "CONFIG_FILE", tmp_path / "absent.json")
    if age is not None:
        health.touch()
        os.utime(health, (time.time() - age, time.time() - age))
    assert runner.main(["healthy"]) == code
