# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""backup: how roles/backup/files/cc_nats_snapshot.py reads the JetStream API's answers,
without a server (tests/render/test_backup_tools.py runs it against a real one).

The tool runs in the backup image, which has nats-py; this virtualenv does not, so a
stand-in for the few names it imports from `nats` is put in place while it loads. The
connection is a fake whose request() returns the answers a test gives it.

- decode_answer: the JSON object, or one Failure line for an answer that is no JSON and
  for one that reports an error (the server's description and codes);
- Session.api reads every answer through it: its messages name the request, and
  stream_info still tells "stream not found" (None) from any other error;
- restore_stream reads the server's final answer through it.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "roles" / "backup" / "files" / "cc_nats_snapshot.py"
SERVER = "nats://nats:4222"
NOT_FOUND = {"error": {"code": 404, "err_code": 10059, "description": "stream not found"}}


def _load_tool():
    """The script, by file path, with a stand-in `nats` package only while it is imported."""
    nats = types.ModuleType("nats")
    errors = types.ModuleType("nats.errors")

    class Error(Exception):
        pass

    for name in ("NoRespondersError", "SlowConsumerError", "TimeoutError"):
        setattr(errors, name, type(name, (Error,), {}))
    errors.Error = Error
    nats.errors = errors
    saved = {name: sys.modules.get(name) for name in ("nats", "nats.errors")}
    sys.modules.update({"nats": nats, "nats.errors": errors})
    try:
        spec = importlib.util.spec_from_file_location("cc_nats_snapshot_tool", TOOL)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module


tool = _load_tool()


class FakeConnection:
    """request() answers with the next of `answers` (bytes) and records (subject, payload)."""

    def __init__(self, *answers: bytes):
        self.answers = list(answers)
        self.requests: list[tuple[str, bytes]] = []

    async def request(self, subject: str, payload: bytes, timeout: float):
        self.requests.append((subject, payload))
        return SimpleNamespace(data=self.answers.pop(0))


def session(*answers: bytes):
    return tool.Session(FakeConnection(*answers), SERVER, 5.0)


# --- decode_answer -------------------------------------------------------------------------------

def test_decode_answer_returns_the_json_object():
    assert tool.decode_answer(b'{"total": 1, "streams": ["ORDERS"]}', "listing", "no JSON:") == {
        "total": 1, "streams": ["ORDERS"]}


@pytest.mark.parametrize(("data", "message"), [
    (b"-ERR 'Permissions Violation'", "stream ORDERS: unexpected answer b\"-ERR 'Permissions Violation'\""),
    (b"", "stream ORDERS: unexpected answer b''"),
    (b"\xff\xfe", "stream ORDERS: unexpected answer b'\\xff\\xfe'"),  # not UTF-8: a ValueError too
    (b"x" * 500, f"stream ORDERS: unexpected answer b'{'x' * 200}'"),  # the answer's start only
], ids=["err-line", "empty", "not-utf8", "long"])
def test_decode_answer_refuses_an_answer_that_is_no_json(data, message):
    with pytest.raises(tool.Failure) as caught:
        tool.decode_answer(data, "stream ORDERS", "unexpected answer")
    assert str(caught.value) == message and caught.value.code == 1


@pytest.mark.parametrize(("error", "message"), [
    ({"code": 400, "err_code": 10058, "description": "stream name already in use"},
     "stream ORDERS: stream name already in use (code 400, err_code 10058)"),
    ({"code": 500}, "stream ORDERS: unknown error (code 500)"),
    ({"description": "insufficient resources"}, "stream ORDERS: insufficient resources"),
], ids=["described", "code-only", "description-only"])
def test_decode_answer_refuses_an_answer_that_reports_an_error(error, message):
    with pytest.raises(tool.Failure) as caught:
        tool.decode_answer(json.dumps({"type": "io.nats.jetstream.api.v1.stream_info_response", "error": error}).encode(),
                           "stream ORDERS", "unexpected answer")
    assert str(caught.value) == message


# --- the places that read answers through it -----------------------------------------------------

def test_api_returns_the_answer_and_sends_the_body_as_json():
    api = session(b'{"total": 0, "streams": null}')
    assert asyncio.run(api.api("STREAM.NAMES", {"offset": 0}, "listing the streams")) == {"total": 0, "streams": None}
    assert api.nc.requests == [("$JS.API.STREAM.NAMES", b'{"offset": 0}')]


def test_api_names_the_request_when_the_answer_is_no_json():
    with pytest.raises(tool.Failure) as caught:
        asyncio.run(session(b"<html>").api("STREAM.NAMES", {"offset": 0}, "listing the streams"))
    assert str(caught.value) == "listing the streams: nats://nats:4222 answered $JS.API.STREAM.NAMES with no JSON: b'<html>'"


def test_stream_info_tells_a_missing_stream_from_another_error():
    assert asyncio.run(session(json.dumps(NOT_FOUND).encode()).stream_info("ORDERS")) is None
    assert asyncio.run(session(b'{"config": {"name": "ORDERS"}}').stream_info("ORDERS")) == {"config": {"name": "ORDERS"}}
    denied = {"error": {"code": 403, "err_code": 10039, "description": "jetstream not enabled for account"}}
    with pytest.raises(tool.Failure, match=r"^stream ORDERS: jetstream not enabled for account \(code 403, err_code 10039\)$"):
        asyncio.run(session(json.dumps(denied).encode()).stream_info("ORDERS"))


@pytest.fixture
def saved_stream(tmp_path) -> Path:
    """A backup of stream ORDERS: its backup.json and a snapshot of one chunk and a bit."""
    (tmp_path / "ORDERS").mkdir()
    (tmp_path / "ORDERS" / "backup.json").write_text(json.dumps({"config": {"name": "ORDERS"}, "state": {}}),
                                                     encoding="utf-8")
    (tmp_path / "ORDERS" / "stream.tar.s2").write_bytes(b"s" * (tool.CHUNK_SIZE + 10))
    return tmp_path


def restore_answers(final: bytes) -> tuple[bytes, ...]:
    """The server's answers to a restore of saved_stream: the deliver subject, two chunks acknowledged, final."""
    return b'{"deliver_subject": "$JS.SNAPSHOT.RESTORE.ORDERS.x"}', b"", b"", final


def test_restore_stream_returns_the_summary_of_the_final_answer(saved_stream):
    restore = session(*restore_answers(b'{"config": {"name": "ORDERS"}, "state": {"messages": 42}}'))
    summary = asyncio.run(tool.restore_stream(restore, "ORDERS", saved_stream, replace=False))
    assert summary == {"stream": "ORDERS", "messages": 42, "bytes": tool.CHUNK_SIZE + 10}
    assert [subject for subject, payload in restore.nc.requests] == [
        "$JS.API.STREAM.RESTORE.ORDERS"] + ["$JS.SNAPSHOT.RESTORE.ORDERS.x"] * 3
    assert restore.nc.requests[-1][1] == b""  # the empty request ends the data


@pytest.mark.parametrize(("final", "message"), [
    (b"nothing like JSON", "stream ORDERS: unexpected final answer b'nothing like JSON'"),
    (json.dumps({"error": {"code": 500, "err_code": 10062, "description": "restore failed: bad snapshot"}}).encode(),
     "stream ORDERS: restore failed: bad snapshot (code 500, err_code 10062)"),
], ids=["no-json", "error"])
def test_restore_stream_fails_on_a_bad_final_answer(saved_stream, final, message):
    with pytest.raises(tool.Failure) as caught:
        asyncio.run(tool.restore_stream(session(*restore_answers(final)), "ORDERS", saved_stream, replace=False))
    assert str(caught.value) == message
