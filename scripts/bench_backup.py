#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Backup and restore of a pgvector database of about 1 GB (`make bench`, section backup).

Needs the backup scenario's sandbox converged (`molecule converge -s backup`, which
scripts/bench.sh does); works on its platform host cc-backup with docker exec, and runs
playbooks/restore.yml against the scenario's inventory. Prints one line per figure,
prefixed "backup: ", each with the load average; asserts nothing:
  1. a table bench_items (id bigint, embedding vector(384), note text) of random vectors
     in the application database until pg_database_size reaches BENCH_BACKUP_DB_MB (1024
     MiB), then VACUUM (FREEZE, ANALYZE); an HNSW index on its first BENCH_BACKUP_HNSW_ROWS
     (50000) rows only (a partial index: a build over the whole table takes far too long
     on two cores);
  2. a base backup: `systemctl start cc-backup@postgres_base`, wall time and its metrics, the
     streamed WAL segments Barman had still to file when it started, and where the time went
     (before the backup: the WAL switch, archived; the backup itself; after it);
  3. the logical dumps: `systemctl start cc-backup@postgres_dump`, the same;
  4. the restore drill of PostgreSQL (playbooks/restore.yml, restore_kinds [postgres]): wall
     time, and its restore_seconds (Barman's recovery, WAL replay, promotion) per GiB of
     the database, against the goal of 120 s per GB;
  5. WAL streaming lag under a write load: pgbench (BENCH_BACKUP_WRITE_CLIENTS, 4 clients,
     BENCH_BACKUP_WRITE_SECONDS, 60 s; each transaction an INSERT of a new vector(384) row
     and an UPDATE of a random one) while a psql session samples pg_stat_replication every
     second: flush lag of barman_receive_wal (what cc_backup_wal_streaming_lag_bytes
     reports), max and median, and the write rate.
Every step has a time limit; the fill stops at BENCH_BACKUP_FILL_SECONDS (360) whatever the
size reached (and says so).
"""
from __future__ import annotations

import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "backup"
PLATFORM = f"cc-{SCENARIO}"
POSTGRES = "cc-postgres-postgres-1"
BARMAN = "cc-backup-barman-1"
APP_DB = "commandcenter"
METRICS = "/opt/commandcenter/node/textfile/backup.d"
STREAMING = "/var/backups/commandcenter/barman/cc/streaming"
MIB = 1024 * 1024
GIB = 1024 * MIB
TARGET_BYTES = int(os.environ.get("BENCH_BACKUP_DB_MB", "1024")) * MIB
HNSW_ROWS = int(os.environ.get("BENCH_BACKUP_HNSW_ROWS", "50000"))
HNSW_TIMEOUT = int(os.environ.get("BENCH_BACKUP_HNSW_TIMEOUT", "240"))
FILL_SECONDS = int(os.environ.get("BENCH_BACKUP_FILL_SECONDS", "360"))
LOADERS = int(os.environ.get("BENCH_BACKUP_LOADERS", "2"))
BATCH_ROWS = 25000
WRITE_SECONDS = int(os.environ.get("BENCH_BACKUP_WRITE_SECONDS", "60"))
WRITE_CLIENTS = int(os.environ.get("BENCH_BACKUP_WRITE_CLIENTS", "4"))
RESTORE_GOAL = 120  # seconds per GB of database, restore_seconds (recovery, WAL replay, promotion)
# A random vector per row: the reference to the outer row makes PostgreSQL compute it for each.
RANDOM_VECTOR = "(SELECT array_agg(random())::vector(384) FROM generate_series(1, 384) WHERE {row} IS NOT NULL)"


class BenchError(Exception):
    """A step failed: the message says which."""


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])


def on_platform(*argv: str, stdin: str | None = None, timeout: float = 900) -> str:
    """A command on the platform host (docker exec); its stdout. BenchError on failure."""
    try:
        proc = subprocess.run(["docker", "exec", "-i", PLATFORM, *argv], input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)[:200]}: no answer after {timeout} s") from exc
    if proc.returncode:
        raise BenchError(f"{' '.join(argv)[:200]}: rc {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}")
    return proc.stdout.strip()


PSQL = ("docker", "exec", "-i", POSTGRES, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres")


def sql(statement: str, db: str = APP_DB, timeout: float = 900) -> str:
    """Statements as the superuser over the PostgreSQL container's socket; the rows' text."""
    return on_platform(*PSQL, "-d", db, "-f", "-", stdin=statement, timeout=timeout)


def metrics(kind: str) -> dict[str, float]:
    """The backup role's textfile-collector file of one kind, as {metric: value} (labels dropped)."""
    text = on_platform("cat", f"{METRICS}/cc_backup_{kind}.prom")
    return {line.split("{")[0].split(" ")[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def gib(size: float) -> str:
    return f"{size / GIB:.2f} GiB ({int(size)} bytes)"


def db_size() -> int:
    return int(sql(f"SELECT pg_database_size('{APP_DB}')"))


# -- 1. the database ------------------------------------------------------------------

def insert(first: int, last: int) -> None:
    sql(f"INSERT INTO bench_items SELECT g, {RANDOM_VECTOR.format(row='g')}, md5(g::text) "
        f"FROM generate_series({first}, {last}) g")


def fill() -> int:
    """bench_items up to the target size, HNSW on its first rows; returns its row count."""
    sql("""
DROP TABLE IF EXISTS bench_items;
DROP SEQUENCE IF EXISTS bench_items_load;
CREATE EXTENSION IF NOT EXISTS vector;
-- No autovacuum while it fills (VACUUM FREEZE runs once at the end).
CREATE TABLE bench_items (id bigint PRIMARY KEY, embedding vector(384), note text) WITH (autovacuum_enabled = off);
-- The write load's new rows (step 5), far above the generated ones.
CREATE SEQUENCE bench_items_load START 1000000000;
""")
    started = time.monotonic()
    wal_before = int(sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    first_rows = max(HNSW_ROWS, BATCH_ROWS)
    with ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(lambda lo: insert(lo, min(lo + BATCH_ROWS - 1, first_rows)),
                      range(1, first_rows + 1, BATCH_ROWS)))
    per_row = int(sql("SELECT pg_total_relation_size('bench_items')")) / first_rows

    hnsw_seconds = 0.0
    if HNSW_ROWS > 0:
        settings = sql("SELECT current_setting('maintenance_work_mem') || ', '"
                       " || current_setting('max_parallel_maintenance_workers') || ' parallel workers'")
        hnsw_started = time.monotonic()
        try:
            sql(f"SET statement_timeout = '{HNSW_TIMEOUT}s';\n"
                f"CREATE INDEX bench_items_hnsw ON bench_items USING hnsw (embedding vector_l2_ops) "
                f"WHERE id <= {HNSW_ROWS}", timeout=HNSW_TIMEOUT + 60)
            hnsw_seconds = time.monotonic() - hnsw_started
            hnsw_size = int(sql("SELECT pg_relation_size('bench_items_hnsw')"))
            print(f"backup: HNSW index (vector_l2_ops, m 16, ef_construction 64) on the first {HNSW_ROWS} rows only "
                  f"(a partial index: the whole table would take far too long on 2 cores): built in "
                  f"{hnsw_seconds:.1f} s, {hnsw_size / MIB:.0f} MiB (maintenance_work_mem "
                  f"{settings}; load {load()})", flush=True)
        except BenchError as exc:
            hnsw_seconds = time.monotonic() - hnsw_started
            print(f"backup: HNSW index on the first {HNSW_ROWS} rows: not built within {HNSW_TIMEOUT} s, "
                  f"none then ({str(exc)[-300:]}; load {load()})", flush=True)

    # The rest in batches, two sessions at once, until the database reaches the target size.
    deadline = started + FILL_SECONDS
    rows = first_rows
    stopped = ""
    while True:
        missing = TARGET_BYTES - db_size()
        if missing <= per_row * 100:
            break
        if time.monotonic() > deadline:
            stopped = f", stopped at the time limit of {FILL_SECONDS} s"
            break
        count = min(int(missing / per_row) + 1, BATCH_ROWS * LOADERS * 4)
        batches = [(lo, min(lo + BATCH_ROWS - 1, rows + count)) for lo in range(rows + 1, rows + count + 1, BATCH_ROWS)]
        with ThreadPoolExecutor(LOADERS) as pool:
            list(pool.map(lambda batch: insert(*batch), batches))
        rows += count
    filled = time.monotonic() - started - hnsw_seconds
    vacuum_started = time.monotonic()
    # What autovacuum would do anyway (and the hint bits, WAL-logged with data checksums),
    # now rather than during the backups.
    sql("VACUUM (FREEZE, ANALYZE) bench_items")
    sql("ALTER TABLE bench_items RESET (autovacuum_enabled)")
    sql("CHECKPOINT")
    vacuumed = time.monotonic() - vacuum_started
    wal = int(sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) - wal_before
    sizes = sql("SELECT pg_relation_size('bench_items'), pg_indexes_size('bench_items'), "
                f"pg_database_size('{APP_DB}')").split("|")
    print(f"backup: database {APP_DB}: {gib(int(sizes[2]))} (pg_database_size; target {TARGET_BYTES // MIB} MiB): "
          f"bench_items {rows} rows of vector(384) random vectors, heap {int(sizes[0]) / MIB:.0f} MiB, indexes "
          f"{int(sizes[1]) / MIB:.0f} MiB; filled in {filled:.1f} s ({LOADERS} sessions{stopped}, HNSW build "
          f"not counted), VACUUM (FREEZE, ANALYZE) and CHECKPOINT {vacuumed:.1f} s; WAL written by all this {gib(wal)} (load {load()})", flush=True)
    return rows


# -- 2., 3. the backups -----------------------------------------------------------------

def backup_kind(kind: str, what: str, database: int) -> None:
    unit = f"cc-backup@{kind}"
    backlog = ""
    if kind == "postgres_base":
        # Streamed WAL segments that Barman has not filed yet: the backup's first WAL switch waits for them.
        count = on_platform("sh", "-c", f"find {STREAMING} -maxdepth 1 -type f ! -name '*.partial' | wc -l")
        backlog = f", {count} streamed WAL segments not yet archived at its start"
    started, started_at = time.monotonic(), time.time()
    try:
        on_platform("systemctl", "start", unit, timeout=600)
    except BenchError as exc:
        try:
            on_platform("systemctl", "stop", unit, timeout=120)
            journal = on_platform("journalctl", "-u", unit, "-n", "5", "--no-pager", timeout=60)
        except BenchError as more:
            journal = str(more)
        print(f"backup: {what}: FAILED after {time.monotonic() - started:.1f} s: {str(exc)[-300:]}\n{journal}",
              flush=True)
        return
    wall = time.monotonic() - started
    values = metrics(kind)
    size = values["cc_backup_last_size_bytes"]
    copy = f"; {copy_time(started_at, time.time())}" if kind == "postgres_base" else ""
    print(f"backup: {what} (systemctl start {unit}{backlog}): wall {wall:.1f} s, the runner's own "
          f"{values['cc_backup_last_duration_seconds']:.1f} s (cc_backup_last_duration_seconds){copy}; size {gib(size)} "
          f"= {size / database:.2f} x the database, {database / MIB / wall:.0f} MiB of database per s of wall "
          f"(load {load()})", flush=True)


def copy_time(started: float, ended: float) -> str:
    """Where the base backup's time went: before the backup began (a WAL switch, archived by the
    streaming service's barman cron), the backup itself (barman show-backup: begin to end, and
    pg_basebackup's copy), after it (another WAL switch, until Barman marks it DONE)."""
    try:
        shown = json.loads(on_platform("docker", "exec", BARMAN, "barman", "-c", "/etc/cc-backup/barman.conf", "-f",
                                       "json", "show-backup", "cc", "latest", timeout=120))
        info = next(iter(shown.values()))["base_backup_information"]
        begin, end = int(info["begin_time_timestamp"]), int(info["end_time_timestamp"])
    except (BenchError, ValueError, KeyError, StopIteration) as exc:
        return f"Barman's own times unknown ({str(exc)[-200:]})"
    copy = f", the copy {float(info['copy_time_seconds']):.1f} s" if "copy_time_seconds" in info else ""
    return (f"before the backup (WAL switch and its archiving) {begin - started:.0f} s, the backup {end - begin} s "
            f"(barman show-backup, to the second{copy}), after it (WAL switch, until DONE) {ended - end:.0f} s")


# -- 4. the restore drill ---------------------------------------------------------------

def scenario_directory() -> Path:
    """Molecule's ephemeral directory of this checkout's backup scenario (inventory, ansible.cfg)."""
    host_vars = ROOT / "molecule" / SCENARIO / "host_vars"
    candidates = sorted(Path.home().joinpath(".ansible", "tmp").glob(f"molecule.*.{SCENARIO}"),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    for directory in candidates:
        link = directory / "inventory" / "host_vars"
        if link.is_symlink() and Path(os.readlink(link)) == host_vars:
            return directory
    raise BenchError(f"no Molecule inventory of scenario {SCENARIO} for {ROOT} under ~/.ansible/tmp")


def restore_drill(database: int, rows: int) -> None:
    directory = scenario_directory()
    os.environ.update({
        "MOLECULE_INVENTORY_FILE": str(directory / "inventory" / "ansible_inventory.yml"),
        "MOLECULE_SCENARIO_NAME": SCENARIO,
        "MOLECULE_PROJECT_DIRECTORY": str(ROOT),
        "ANSIBLE_CONFIG": str(directory / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "ANSIBLE_PIPELINING": "true",
    })
    sys.path.insert(0, str(ROOT / "molecule"))
    from conftest import run_playbook

    started = time.monotonic()
    try:
        # -v: the check task's output names every table's row count in the scratch instance.
        run = run_playbook(ROOT / "playbooks" / "restore.yml", "-v", extra_vars={"restore_kinds": ["postgres"]},
                           timeout=600)
    except subprocess.TimeoutExpired:
        print(f"backup: restore drill: no end after 600 s (load {load()})", flush=True)
        return
    wall = time.monotonic() - started
    # "restore drill passed: {'source': 'barman', ..., 'postgres': {'backup_id': ..., 'restore_seconds': '41.2',
    # 'bytes': ...}}" in the YAML callback's quoting, maybe folded: the text after the verdict.
    verdict = re.search(r"restore drill (passed|FAILED): (.*)", run.output, re.DOTALL)
    if run.returncode or not verdict or verdict[1] != "passed":
        print(f"backup: restore drill: FAILED (rc {run.returncode}) after {wall:.1f} s:\n{run.output[-3000:]}",
              flush=True)
        return
    summary = " ".join(verdict[2].split())
    seconds = re.search(r"restore_seconds\W+([0-9.]+)", summary)
    restored = re.search(r"\Wbytes\W+([0-9]+)", summary)
    restore_seconds = (float(seconds[1]) if seconds else
                       metrics("restore_drill")["cc_backup_restore_drill_duration_seconds"])
    per_gb = restore_seconds / (database / GIB)
    counted = re.search(rf"rows {APP_DB} public\.bench_items ([0-9]+)", " ".join(run.output.split()))
    checked = (f"bench_items {counted[1] if counted else '?'} rows restored of {rows}, "
               f"pg_amcheck {'clean' if 'amcheck clean' in summary else 'NOT clean'}")
    print(f"backup: restore drill (playbooks/restore.yml, restore_kinds [postgres], source barman): wall {wall:.1f} s "
          f"(checks included: {checked}); restore_seconds {restore_seconds:.1f} s (recovery, "
          f"WAL replay, promotion) for {database / GIB:.2f} GiB: {per_gb:.1f} s per GiB (goal <= {RESTORE_GOAL} s per "
          f"GB); data directory restored {gib(int(restored[1])) if restored else '?'} (load {load()})", flush=True)


# -- 5. WAL streaming lag under a write load ------------------------------------------------

SAMPLE = """
SELECT 's', extract(epoch FROM clock_timestamp()), pg_current_wal_lsn() - '0/0'::pg_lsn,
       coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint FROM pg_stat_replication
                 WHERE application_name = 'barman_receive_wal' ORDER BY backend_start DESC LIMIT 1), -1),
       coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::bigint FROM pg_stat_replication
                 WHERE application_name = 'barman_receive_wal' ORDER BY backend_start DESC LIMIT 1), -1),
       coalesce((SELECT extract(epoch FROM clock_timestamp() - reply_time) FROM pg_stat_replication
                 WHERE application_name = 'barman_receive_wal' ORDER BY backend_start DESC LIMIT 1), -1)
\\watch i=1 c={count}
"""

WRITE = """
\\set id random(1, {rows})
BEGIN;
INSERT INTO bench_items (id, embedding, note)
  VALUES (nextval('bench_items_load'), (SELECT array_agg(random())::vector(384) FROM generate_series(1, 384)),
          'written by the bench load');
UPDATE bench_items SET note = 'updated by the bench load' WHERE id = :id;
COMMIT;
"""


def wal_lag(rows: int) -> None:
    # The sampler reads its script from a file: its stdin must be complete before the load starts.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as script:
        script.write(SAMPLE.format(count=WRITE_SECONDS))
        script.seek(0)
        sampler = subprocess.Popen(["docker", "exec", "-i", PLATFORM, *PSQL, "-d", "postgres", "-f", "-"],
                                   stdin=script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            writer = subprocess.run(
                ["docker", "exec", "-i", PLATFORM, "docker", "exec", "-i", POSTGRES, "pgbench", "-n", "-U", "postgres",
                 "-c", str(WRITE_CLIENTS), "-j", str(min(2, WRITE_CLIENTS)), "-T", str(WRITE_SECONDS), "-f", "-",
                 APP_DB],
                input=WRITE.format(rows=rows), capture_output=True, text=True, timeout=WRITE_SECONDS + 120,
                check=False)
            out, err = sampler.communicate(timeout=60)
        finally:
            if sampler.poll() is None:
                sampler.kill()
    samples = [[float(x) for x in line.split("|")[1:]] for line in out.splitlines() if line.startswith("s|")]
    tps = re.search(r"^tps = ([0-9.]+)", writer.stdout, re.MULTILINE)
    done = re.search(r"^number of transactions actually processed: ([0-9]+)", writer.stdout, re.MULTILINE)
    if writer.returncode or not tps or len(samples) < 2:
        print(f"backup: WAL streaming lag: the load or the sampling failed (pgbench rc {writer.returncode}, "
              f"{len(samples)} samples): {(writer.stderr + err)[-1500:]}", flush=True)
        return
    flush = [s[2] for s in samples if s[2] >= 0]
    write = [s[3] for s in samples if s[3] >= 0]
    gone = len(samples) - len(flush)
    wal_rate = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
    slot = sql("SELECT coalesce(wal_status, 'unused') FROM pg_replication_slots WHERE slot_name = 'barman'",
               db="postgres") or "absent"
    # pg_receivewal reports its positions every --status-interval (10 s) and at each segment's end: between
    # two reports, the lag counts the WAL written since the last one.
    report_age = max(s[4] for s in samples)
    real_flush, real_write = lag_at_reports(samples)
    if not flush:
        print(f"backup: WAL streaming lag: barman_receive_wal was not streaming in any of {len(samples)} samples "
              f"(slot {slot}; load {load()})", flush=True)
        return
    print(f"backup: WAL streaming lag under a write load (pgbench, {WRITE_CLIENTS} sessions, {WRITE_SECONDS} s, each "
          f"transaction an INSERT of a vector(384) row and an UPDATE: {float(tps[1]):.0f} tx/s, {done[1] if done else '?'}"
          f" in all; WAL written {wal_rate / MIB:.2f} MiB/s): flush lag max {int(max(flush))} bytes, median "
          f"{int(statistics.median(flush))} bytes over {len(flush)} samples, 1 a second"
          f"{f', not streaming in {gone}' if gone else ''} (received, write_lsn: max {int(max(write))}, median "
          f"{int(statistics.median(write))}; its last position report at most {report_age:.1f} s old); "
          f"at its {len(real_flush)} reports themselves: flush lag max {max(real_flush, default=-1)}, median "
          f"{int(statistics.median(real_flush)) if real_flush else -1}, received max {max(real_write, default=-1)}, "
          f"median {int(statistics.median(real_write)) if real_write else -1}; slot barman {slot} (load {load()})",
          flush=True)


def lag_at_reports(samples: list[list[float]]) -> tuple[list[int], list[int]]:
    """The lag pg_receivewal had when it reported (flush, received): PostgreSQL's position at each
    report's reply_time (interpolated between the samples) less the positions it reported."""
    reports = {}
    for at, lsn, flush, write, age in samples:
        if flush >= 0 and age >= 0:
            reports[round(at - age, 2)] = (lsn - flush, lsn - write)
    flush_lags, write_lags = [], []
    for when, (flushed, written) in sorted(reports.items()):
        for (t0, lsn0, *_), (t1, lsn1, *_) in itertools.pairwise(samples):
            if t0 <= when <= t1:
                lsn = lsn0 + (lsn1 - lsn0) * (when - t0) / (t1 - t0)
                flush_lags.append(max(0, int(lsn - flushed)))
                write_lags.append(max(0, int(lsn - written)))
                break
    return flush_lags, write_lags


def platform_up() -> None:
    """Stop at once when the platform host is gone (another run of the scenario destroys it)."""
    proc = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", PLATFORM], capture_output=True, text=True,
                          check=False)
    if proc.stdout.strip() != "true":
        raise BenchError(f"the platform host {PLATFORM} is not running any more (did another run of the scenario "
                         "destroy it?)")


def main() -> int:
    try:
        on_platform("docker", "inspect", POSTGRES, timeout=60)
    except BenchError as exc:
        print(f"backup: the scenario's PostgreSQL is not there (molecule converge -s backup first): {exc}")
        return 1
    try:
        rows = fill()
        database = db_size()
        steps = [
            lambda: backup_kind("postgres_base", "base backup (Barman, pg_basebackup; WAL switches and archiving "
                                "included)", database),
            lambda: backup_kind("postgres_dump", "logical dumps (pg_dump -Fc of every database, pg_dumpall "
                                "--globals-only)", database),
            lambda: restore_drill(database, rows),
            lambda: wal_lag(rows),
        ]
        for step in steps:
            platform_up()
            step()
    except BenchError as exc:
        print(f"backup: stopped: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
