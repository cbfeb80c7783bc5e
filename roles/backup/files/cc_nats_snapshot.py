# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Back up and restore NATS JetStream streams with the server's own snapshot API.

Runs inside commandcenter/backup (python3 + nats-py, nothing else) as
``python3 cc_nats_snapshot.py backup|restore ...``::

    backup  --server nats://HOST:4222 [--user U --password-file F] --dest DIR [--stream NAME ...]
    restore --server nats://HOST:4222 [--user U --password-file F] --src DIR [--stream NAME ...] [--replace]

A backup writes, for every stream (all the account's streams when none is named),
``DIR/<stream>/backup.json`` (``{"config": ..., "state": ...}`` as the server reported
them) and ``DIR/<stream>/stream.tar.s2`` (the snapshot's chunks byte for byte): the
layout of ``nats stream backup`` (jsm.go SnapshotToDirectory), so either tool restores
the other's backups. Each stream is written into a temporary directory beside it and
renamed into place only once the server has signalled the end of a good snapshot: a
failed or interrupted backup never leaves files that look complete (and keeps the
previous backup of that stream; a run killed outright may leave a hidden
``.<stream>.*.partial`` directory, which restore ignores). Memory-storage streams cannot
be snapshotted (the server implements snapshots for file storage only): named, they are
an error; in an all-streams backup they are skipped, and the summary lists them.

Why the backup is consistent: it is not a read of the stream through a consumer, which
would see a moving target. ``$JS.API.STREAM.SNAPSHOT.<stream>`` makes the server take a
snapshot of the stream's file store itself (nats-server jetstream_api.go
jsStreamSnapshotRequest -> stream.snapshot -> fileStore.Snapshot/streamSnapshot): it
records the stream's state and the list of its message blocks, marks a snapshot in
progress (until it ends the store refuses user deletes, purges and compactions, and
holds back its periodic block syncs; clients keep publishing), then writes the
stream's metadata, every listed block (each read whole under the block's lock: no
torn message), the stream's index and the consumers' configurations and states as one
s2-compressed tar. Restored, that is the stream as its store held it during the
snapshot: whole messages in sequence order, at least every message the recorded state
counts, plus those published into its last block while the snapshot ran (up to the
moment that block was read), nothing later. The one change still allowed meanwhile is
the stream's own limits (max age, max messages) removing old messages. The server
streams the tar to our inbox in chunks; each chunk carries a reply subject that we
answer after writing it (flow control: the server stops sending when too much is
unacknowledged); an empty message ends the stream, with a status header: 204 when it
is complete, 408 when the server gave up (no interest, no flow control answers).

A restore sends ``$JS.API.STREAM.RESTORE.<stream>`` with the saved config and state; the
server answers with a subject to which each chunk goes as a request (its empty reply
acknowledges it, ``-ERR ...`` or a JSON error fails it); an empty request then makes the
server build the stream and answer with its info or an error. A stream that exists is
not restored over (exit 2) unless ``--replace`` (it is deleted first). All streams are
checked before anything changes. The stream keeps its name (the server cannot rename
a snapshot).

The password is read from ``--password-file`` only and never printed. Each run prints
one JSON line on stdout (streams, messages, bytes). An error is one line on stderr
naming the stream and the server's description, exit 1; a refused restore exits 2.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nats
from nats.errors import Error as NatsError, NoRespondersError, SlowConsumerError, TimeoutError as NatsTimeout

PROG = "cc_nats_snapshot"
CHUNK_SIZE = 128 * 1024  # the server's default and jsm.go's; well under the default max_payload (1 MB)
API = "$JS.API"


class Failure(Exception):
    """A reason to stop: one line for stderr and the exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def describe(error: dict) -> str:
    """The server's error description, with its codes."""
    text = error.get("description") or "unknown error"
    codes = [f"{key} {error[key]}" for key in ("code", "err_code") if error.get(key)]
    return f"{text} ({', '.join(codes)})" if codes else text


def decode_answer(data: bytes, what: str, unexpected: str) -> dict:
    """A JetStream API answer decoded: its JSON object, or Failure (`<what>: <unexpected>
    <the data's start>` when it is no JSON, `<what>: <the server's error>` when it is one)."""
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise Failure(f"{what}: {unexpected} {data[:200]!r}") from exc
    if answer.get("error"):
        raise Failure(f"{what}: {describe(answer['error'])}")
    return answer


class Session:
    """One connection to the server and the JetStream API requests made on it."""

    def __init__(self, nc, server: str, timeout: float):
        self.nc = nc
        self.server = server
        self.timeout = timeout

    async def api(self, subject: str, body: dict | None, what: str, timeout: float | None = None) -> dict:
        """A JetStream API request; its JSON answer, or Failure with the server's error."""
        payload = b"" if body is None else json.dumps(body).encode()
        wait = timeout or self.timeout
        try:
            msg = await self.nc.request(f"{API}.{subject}", payload, timeout=wait)
        except NoRespondersError as exc:
            raise Failure(f"{what}: no JetStream API on {self.server} for this user (JetStream not enabled?)") from exc
        except NatsTimeout as exc:
            raise Failure(f"{what}: {self.server} did not answer {API}.{subject} within {wait:g} s") from exc
        return decode_answer(msg.data, what, f"{self.server} answered {API}.{subject} with no JSON:")

    async def stream_names(self) -> list[str]:
        """Every stream of the account, page by page."""
        names: list[str] = []
        while True:
            answer = await self.api("STREAM.NAMES", {"offset": len(names)}, "listing the streams")
            page = answer.get("streams") or []
            names.extend(page)
            if not page or len(names) >= answer.get("total", 0):
                return sorted(set(names))

    async def stream_info(self, stream: str) -> dict | None:
        """The stream's info, None when it does not exist."""
        try:
            return await self.api(f"STREAM.INFO.{stream}", None, f"stream {stream}")
        except Failure as exc:
            if "stream not found" in str(exc) or "err_code 10059" in str(exc):
                return None
            raise


def check_name(stream: str) -> None:
    """A stream name that is also a safe directory name (the server forbids these too)."""
    if not stream or stream.startswith(".") or any(c in stream for c in "/\\*> \t\n."):
        raise Failure(f"stream {stream!r}: not a valid stream name")


def fsync_dir(path: Path) -> None:
    """Make a rename in this directory durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def snapshot_stream(session: Session, stream: str, dest: Path, errors: list) -> dict:
    """Snapshot one stream into dest/<stream>/; returns its summary."""
    nc = session.nc
    work = Path(tempfile.mkdtemp(prefix=f".{stream}.", suffix=".partial", dir=dest))
    try:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        try:
            answer = await session.api(f"STREAM.SNAPSHOT.{stream}", {"deliver_subject": inbox, "chunk_size": CHUNK_SIZE},
                                       f"stream {stream}")
            size = 0
            with open(work / "stream.tar.s2", "wb") as data:
                while True:
                    try:
                        msg = await sub.next_msg(timeout=session.timeout)
                    except NatsTimeout as exc:
                        raise Failure(f"stream {stream}: no snapshot data from {session.server} "
                                      f"for {session.timeout:g} s after {size} bytes") from exc
                    if any(isinstance(err, SlowConsumerError) for err in errors):
                        raise Failure(f"stream {stream}: snapshot chunks were dropped (slow consumer)")
                    if not msg.data:  # the end: a status header says how it ended
                        headers = msg.headers or {}
                        status = headers.get("Status", "")
                        if status not in ("", "204"):
                            reason = headers.get("Description", "").strip() or "no description"
                            raise Failure(f"stream {stream}: the server aborted the snapshot: {status} {reason}")
                        break
                    data.write(msg.data)
                    size += len(msg.data)
                    if msg.reply:  # flow control: the server waits for these answers
                        await nc.publish(msg.reply, b"")
                data.flush()
                os.fsync(data.fileno())
        finally:
            try:
                await sub.unsubscribe()
            except NatsError:
                pass
        if size == 0:
            raise Failure(f"stream {stream}: the server sent an empty snapshot")
        with open(work / "backup.json", "w", encoding="utf-8") as meta:
            json.dump({"config": answer.get("config"), "state": answer.get("state")}, meta, indent=2)
            meta.write("\n")
            meta.flush()
            os.fsync(meta.fileno())
        final = dest / stream
        old = None
        if final.exists():  # the previous backup of the stream goes aside until the new one is in place
            old = Path(tempfile.mkdtemp(prefix=f".{stream}.", suffix=".old", dir=dest))
            os.rename(final, old / stream)
        try:
            os.rename(work, final)
        except OSError:
            if old is not None:
                os.rename(old / stream, final)
                shutil.rmtree(old, ignore_errors=True)
            raise
        fsync_dir(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    state = answer.get("state") or {}
    return {"stream": stream, "messages": state.get("messages", 0), "bytes": size}


async def backup(session: Session, args: argparse.Namespace, errors: list) -> dict:
    """The backup subcommand."""
    dest = Path(args.dest)
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    named = bool(args.stream)
    streams = list(dict.fromkeys(args.stream)) if named else await session.stream_names()
    done, skipped = [], []
    for stream in streams:
        check_name(stream)
        info = await session.stream_info(stream)
        if info is None:
            if named:
                raise Failure(f"stream {stream}: stream not found on {session.server}")
            continue  # deleted since it was listed
        if (info.get("config") or {}).get("storage") == "memory":
            if named:
                raise Failure(f"stream {stream}: memory storage cannot be snapshotted (file storage only)")
            skipped.append(stream)
            continue
        try:
            done.append(await snapshot_stream(session, stream, dest, errors))
        except (NatsError, OSError) as exc:
            raise Failure(f"stream {stream}: {exc or type(exc).__name__}") from exc
    return {"action": "backup", "streams": [d["stream"] for d in done], "messages": sum(d["messages"] for d in done),
            "bytes": sum(d["bytes"] for d in done), "skipped_memory_streams": skipped}


def chunk_error(data: bytes) -> str | None:
    """What is wrong with the server's answer to a restore chunk (None: acknowledged)."""
    if not data:
        return None
    if data.startswith(b"-ERR"):
        return data.decode("utf-8", "replace").strip()
    try:
        answer = json.loads(data)
    except ValueError:
        return f"unexpected answer {data[:200]!r}"
    if isinstance(answer, dict) and answer.get("error"):
        return describe(answer["error"])
    return None


async def restore_stream(session: Session, stream: str, src: Path, replace: bool) -> dict:
    """Restore one stream from src/<stream>/; returns its summary."""
    meta = json.loads((src / stream / "backup.json").read_text(encoding="utf-8"))
    if replace and await session.stream_info(stream) is not None:
        await session.api(f"STREAM.DELETE.{stream}", None, f"stream {stream}")
    answer = await session.api(f"STREAM.RESTORE.{stream}", {"config": meta["config"], "state": meta.get("state")},
                               f"stream {stream}")
    deliver = answer.get("deliver_subject")
    if not deliver:
        raise Failure(f"stream {stream}: the server gave no subject to send the snapshot to")
    sent = 0
    with open(src / stream / "stream.tar.s2", "rb") as data:
        while chunk := data.read(CHUNK_SIZE):
            try:
                reply = await session.nc.request(deliver, chunk, timeout=session.timeout)
            except NatsTimeout as exc:
                raise Failure(f"stream {stream}: {session.server} did not acknowledge a chunk at byte {sent}") from exc
            problem = chunk_error(reply.data)
            if problem:
                raise Failure(f"stream {stream}: restore refused at byte {sent}: {problem}")
            sent += len(chunk)
    # The end of the data: the server now builds the stream from it, which takes longer.
    try:
        reply = await session.nc.request(deliver, b"", timeout=session.timeout * 10)
    except NatsTimeout as exc:
        raise Failure(f"stream {stream}: {session.server} did not finish the restore in {session.timeout * 10:g} s") from exc
    info = decode_answer(reply.data, f"stream {stream}", "unexpected final answer")
    state = info.get("state") or {}
    return {"stream": stream, "messages": state.get("messages", 0), "bytes": sent}


async def restore(session: Session, args: argparse.Namespace) -> dict:
    """The restore subcommand: everything is checked before anything changes."""
    src = Path(args.src)
    if not src.is_dir():
        raise Failure(f"{src}: no such directory")
    saved = sorted(p.name for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    streams = list(dict.fromkeys(args.stream)) if args.stream else saved
    if not streams:
        # A backup of an account without streams is an empty directory: nothing to restore.
        return {"action": "restore", "streams": [], "messages": 0, "bytes": 0, "replaced": []}
    for stream in streams:
        check_name(stream)
        for name in ("backup.json", "stream.tar.s2"):
            if not (src / stream / name).is_file():
                raise Failure(f"stream {stream}: {src / stream / name} is missing")
        try:
            meta = json.loads((src / stream / "backup.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise Failure(f"stream {stream}: {src / stream / 'backup.json'} is not JSON: {exc}") from exc
        if (meta.get("config") or {}).get("name") != stream:
            raise Failure(f"stream {stream}: backup.json is of stream {(meta.get('config') or {}).get('name')!r} "
                          "(a stream keeps its name on restore)")
    existing = [s for s in streams if await session.stream_info(s) is not None]
    if existing and not args.replace:
        which = f"stream {existing[0]} already exists" if len(existing) == 1 else \
            f"streams {', '.join(existing)} already exist"
        raise Failure(f"{which} on {session.server}: not restored over (--replace deletes it first)", code=2)
    done = []
    for stream in streams:
        try:
            done.append(await restore_stream(session, stream, src, args.replace))
        except (NatsError, OSError) as exc:
            raise Failure(f"stream {stream}: {exc or type(exc).__name__}") from exc
    return {"action": "restore", "streams": [d["stream"] for d in done], "messages": sum(d["messages"] for d in done),
            "bytes": sum(d["bytes"] for d in done), "replaced": existing}


def read_password(path: str) -> str:
    """The password: the file's first line."""
    try:
        with open(path, encoding="utf-8") as handle:
            password = handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise Failure(f"password file {path}: {exc.strerror}") from exc
    if not password:
        raise Failure(f"password file {path}: empty")
    return password


async def run(args: argparse.Namespace, password: str) -> dict:
    """Connect, run the subcommand, close."""
    errors: list = []

    async def on_error(exc):
        errors.append(exc)

    # nats-py retries an unreachable server forever unless max_reconnect_attempts > 0: two
    # attempts, a second apart, and a bound on the whole.
    try:
        nc = await asyncio.wait_for(
            nats.connect(servers=[args.server], user=args.user, password=password or None, name=PROG,
                         connect_timeout=max(1, int(args.timeout)), allow_reconnect=False,
                         max_reconnect_attempts=1, reconnect_time_wait=1, error_cb=on_error),
            timeout=2 * args.timeout + 5)
    except (TimeoutError, NatsError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        if errors:
            reason = str(errors[-1]) or reason
        raise Failure(f"cannot connect to {args.server} as {args.user or '(no user)'}: {reason}") from exc
    session = Session(nc, args.server, args.timeout)
    try:
        if args.command == "backup":
            return await backup(session, args, errors)
        return await restore(session, args)
    finally:
        try:
            await nc.close()
        except NatsError:
            pass


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog=PROG, description="Back up and restore NATS JetStream streams.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("backup", "snapshot streams into --dest"), ("restore", "restore streams from --src")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--server", required=True, help="nats://HOST:4222")
        # Both or neither: a scratch server of a restore drill has no authentication.
        sub.add_argument("--user", default=None, help="default: connect without credentials")
        sub.add_argument("--password-file", default=None, help="the password is its first line")
        sub.add_argument("--stream", action="append", default=[], help="a stream (repeatable; default: all)")
        sub.add_argument("--timeout", type=float, default=30.0,
                         help="seconds to wait for each answer (a restore's last one: ten times this)")
        if name == "backup":
            sub.add_argument("--dest", required=True, help="directory of the backup (one subdirectory a stream)")
        else:
            sub.add_argument("--src", required=True, help="directory a backup wrote")
            sub.add_argument("--replace", action="store_true", help="delete an existing stream before restoring it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0, 1 (error) or 2 (refused / usage)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    password = ""
    try:
        if (args.user is None) != (args.password_file is None):
            raise Failure("--user and --password-file go together", code=2)
        if args.password_file:
            password = read_password(args.password_file)
        summary = asyncio.run(run(args, password))
    except Failure as exc:
        message = " ".join(str(exc).split())
        if password:
            message = message.replace(password, "***")
        print(f"{PROG}: {message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 1
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
