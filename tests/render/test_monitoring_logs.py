# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: the log pipeline, Loki (roles/monitoring/templates/loki/loki.yml.j2) and the
Grafana Alloy log shipper (templates/alloy/config.alloy.j2), rendered with the defaults and
with the variables changed.

Neither Loki nor Alloy exists here (no package, no image), so neither program reads the
rendered files: each test that would run one says so in its output. What is checked:

- loki.yml parses as YAML and holds the schema, storage, retention and limits the
  variables say;
- config.alloy parses as Alloy syntax (this module's own reader: balanced braces, strings
  unescaped as Alloy's scanner does), every component a forward_to/targets/relabel_rules
  names is defined, no Docker socket anywhere, and the file paths are the variables';
- the redaction: the stage.replace expressions EXTRACTED from the rendered text are
  exactly the collection's pattern list, each compiles with RE2 and has one capturing
  group, and the fixture lines of tests/render/monitoring_logs/ replayed through all of
  them with Alloy's replace semantics come out masked (secret lines) or byte-for-byte
  unchanged (ordinary lines).
"""
from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import re2
import yaml
from conftest import render_variants

from ansible_collections.commandcenter.infra.plugins.module_utils._redact import MASK, REDACTION_PATTERNS

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
FIXTURES = Path(__file__).resolve().parent / "monitoring_logs"
BROKEN = FIXTURES / "broken"

# The variables changed all at once in the "changed" variant.
CHANGED = {
    "monitoring_loki_http_port": 3200,
    "monitoring_loki_retention": "336h",
    "monitoring_loki_ingestion_rate_mb": 4,
    "monitoring_loki_ingestion_burst_size_mb": 8,
    "monitoring_loki_max_query_length": "337h",
    "monitoring_loki_max_global_streams_per_user": 20000,
    "monitoring_loki_max_entries_limit_per_query": 1000,
    "monitoring_loki_schema_from": "2026-01-15",
    "monitoring_alloy_loki_url": "http://logs.internal:3200/loki/api/v1/push",
    "monitoring_alloy_host_label": 'node-"7"',
    "monitoring_alloy_docker_containers_dir": "/srv/docker/containers",
    "monitoring_alloy_journal_path": "/run/log/journal",
    "monitoring_alloy_traefik_access_log": "/var/log/traefik/access.log",
}
# name -> (with inventories/local?, extra variables); the log pipeline needs no inventory.
VARIANTS = {
    "defaults": (False, None),
    "changed": (False, CHANGED),
}
RENDERED = {
    "loki.yml": "{{ lookup('ansible.builtin.template', 'loki/loki.yml.j2') }}",
    "config.alloy": "{{ lookup('ansible.builtin.template', 'alloy/config.alloy.j2') }}",
    "vars.json": "{{ {'host': monitoring_alloy_host_label, 'glob': _monitoring_alloy_docker_log_glob} | to_json }}",
}

NOT_RUN_LOKI = ("NOT RUN: `loki -config.file=loki.yml -verify-config` (no Loki binary or image on this machine, "
                "no network to fetch grafana/loki); checked: YAML parse and the values only")
NOT_RUN_ALLOY = ("NOT RUN: `alloy fmt` / `alloy run` (no Alloy binary or image on this machine, no network to "
                 "fetch grafana/alloy); checked: this module's Alloy-syntax reader, the stage.replace "
                 "expressions extracted from the text and replayed with RE2 (google-re2)")


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    return render_variants(tmp_path_factory.mktemp("monitoring-logs-render"), "monitoring", VARIANTS, RENDERED, [], {})


def logs_defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


# ------------------------------------------------------------------------------ Loki

def loki(renders, variant: str) -> dict:
    return yaml.safe_load((renders[variant] / "loki.yml").read_text())


def test_loki_verify_config_was_not_run():
    """Said in the output of every run (and counted as a skip, not a pass)."""
    print(NOT_RUN_LOKI)
    pytest.skip(NOT_RUN_LOKI)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_loki_config_schema_storage_retention_limits(renders, variant):
    cfg = loki(renders, variant)
    values = {**logs_defaults(), **(VARIANTS[variant][1] or {})}
    assert cfg["auth_enabled"] is False
    assert cfg["analytics"] == {"reporting_enabled": False}
    assert cfg["server"]["http_listen_port"] == values["monitoring_loki_http_port"]
    # Single binary, one replica, filesystem storage under the data volume.
    assert cfg["common"]["replication_factor"] == 1
    assert cfg["common"]["ring"]["kvstore"]["store"] == "inmemory"
    assert cfg["common"]["path_prefix"] == "/loki"
    assert all(v.startswith("/loki/") for v in cfg["common"]["storage"]["filesystem"].values())
    assert all(v.startswith("/loki/") for v in cfg["storage_config"]["tsdb_shipper"].values())
    # TSDB, schema v13, from a fixed date.
    assert cfg["schema_config"]["configs"] == [{
        "from": values["monitoring_loki_schema_from"], "store": "tsdb", "object_store": "filesystem",
        "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]
    # Retention enforced by the compactor.
    compactor = cfg["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"
    assert compactor["working_directory"].startswith("/loki/")
    limits = cfg["limits_config"]
    assert limits["retention_period"] == values["monitoring_loki_retention"]
    assert limits["ingestion_rate_mb"] == values["monitoring_loki_ingestion_rate_mb"]
    assert limits["ingestion_burst_size_mb"] == values["monitoring_loki_ingestion_burst_size_mb"]
    assert limits["max_query_length"] == values["monitoring_loki_max_query_length"]
    assert limits["max_global_streams_per_user"] == values["monitoring_loki_max_global_streams_per_user"]
    assert limits["max_streams_per_user"] == 0
    assert limits["max_entries_limit_per_query"] == values["monitoring_loki_max_entries_limit_per_query"]
    assert limits["allow_structured_metadata"] is True


def test_loki_defaults_are_the_documented_ones(renders):
    limits = loki(renders, "defaults")["limits_config"]
    assert (limits["retention_period"], limits["ingestion_rate_mb"], limits["ingestion_burst_size_mb"],
            limits["max_query_length"], limits["max_global_streams_per_user"],
            limits["max_entries_limit_per_query"]) == ("720h", 10, 20, "721h", 10000, 5000)
    assert loki(renders, "defaults")["server"]["http_listen_port"] == 3100


def test_loki_variables_change_the_config(renders):
    """Every Loki value the "changed" variant sets differs from the defaults' rendering."""
    before, after = loki(renders, "defaults"), loki(renders, "changed")
    assert before["limits_config"] != after["limits_config"]
    for key in ("retention_period", "ingestion_rate_mb", "ingestion_burst_size_mb", "max_query_length",
                "max_global_streams_per_user", "max_entries_limit_per_query"):
        assert before["limits_config"][key] != after["limits_config"][key], key
    assert before["schema_config"] != after["schema_config"]
    assert after["server"]["http_listen_port"] == 3200


# ------------------------------------------------------------- an Alloy syntax reader

# Alloy's escapes (its scanner: Go's, plus \'); what follows a backslash -> the character.
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", '"': '"', "'": "'"}


class AlloySyntaxError(ValueError):
    pass


def unquote(literal: str) -> str:
    """The value of an Alloy string literal: "..." with Alloy's escapes, or `...` raw."""
    if literal.startswith("`"):
        return literal[1:-1]
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\n":
            raise AlloySyntaxError("string literal not terminated")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
            continue
        digits, base = {"x": (2, 16), "u": (4, 16), "U": (8, 16)}.get(nxt, (3, 8) if nxt in "01234567" else (0, 0))
        if not digits:
            raise AlloySyntaxError(f"unknown escape sequence \\{nxt}")
        start = i + 1 if base == 8 else i + 2
        text = body[start:start + digits]
        try:
            code = int(text, base)
        except ValueError:
            raise AlloySyntaxError(f"illegal character in escape sequence \\{nxt}{text}") from None
        if len(text) != digits or code > 0x10FFFF or 0xD800 <= code < 0xE000:
            raise AlloySyntaxError(f"escape sequence is invalid Unicode code point \\{nxt}{text}")
        out.append(chr(code))
        i = start + digits
    return "".join(out)


@dataclass
class Token:
    kind: str   # ident, string, number, punct, newline
    text: str
    line: int


def tokenize(text: str) -> list[Token]:
    """Alloy tokens (comments dropped, newlines kept: they end attributes)."""
    tokens, i, line = [], 0, 1
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            tokens.append(Token("newline", ch, line))
            line += 1
            i += 1
        elif ch in " \t\r":
            i += 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise AlloySyntaxError(f"line {line}: block comment not terminated")
            line += text.count("\n", i, end)
            i = end + 2
        elif ch in "\"`":
            j = i + 1
            while j < len(text) and text[j] != ch:
                if ch == '"' and text[j] == "\n":
                    raise AlloySyntaxError(f"line {line}: string literal not terminated")
                j += 2 if ch == '"' and text[j] == "\\" else 1
            if j >= len(text):
                raise AlloySyntaxError(f"line {line}: string literal not terminated")
            literal = text[i:j + 1]
            try:
                unquote(literal)
            except AlloySyntaxError as exc:
                raise AlloySyntaxError(f"line {line}: {exc}") from None
            tokens.append(Token("string", literal, line))
            line += literal.count("\n")
            i = j + 1
        elif ch.isalpha() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("ident", text[i:j], line))
            i = j
        elif ch.isdigit():
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(Token("number", text[i:j], line))
            i = j
        else:
            tokens.append(Token("punct", ch, line))
            i += 1
    return tokens


@dataclass
class Block:
    name: str
    label: str | None
    line: int
    attrs: dict[str, list[Token]] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def find(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name == name]

    def string(self, attr: str) -> str:
        value = [t for t in self.attrs[attr] if t.kind != "newline"]
        assert len(value) == 1 and value[0].kind == "string", f"{self.name}.{attr} is not one string literal"
        return unquote(value[0].text)


def check_balanced(tokens: list[Token]) -> None:
    pairs, stack = {"}": "{", "]": "[", ")": "("}, []
    for tok in tokens:
        if tok.kind == "punct" and tok.text in "{[(":
            stack.append(tok)
        elif tok.kind == "punct" and tok.text in pairs:
            if not stack or stack[-1].text != pairs[tok.text]:
                raise AlloySyntaxError(f"line {tok.line}: unbalanced {tok.text!r}")
            stack.pop()
    if stack:
        raise AlloySyntaxError(f"line {stack[-1].line}: unclosed {stack[-1].text!r}")


def parse(text: str) -> Block:
    """The file as nested blocks: `name.part "label" { ... }` and `attr = expression`."""
    tokens = tokenize(text)
    check_balanced(tokens)
    pos = 0

    def body(until: str | None) -> Block:
        nonlocal pos
        block = Block("", None, tokens[pos].line if pos < len(tokens) else 0)
        while True:
            while pos < len(tokens) and tokens[pos].kind == "newline":
                pos += 1
            if pos >= len(tokens):
                if until:
                    raise AlloySyntaxError("unexpected end of file")
                return block
            tok = tokens[pos]
            if until and tok.text == until and tok.kind == "punct":
                pos += 1
                return block
            if tok.kind != "ident":
                raise AlloySyntaxError(f"line {tok.line}: expected a block or an attribute, got {tok.text!r}")
            names = [tok.text]
            pos += 1
            while tokens[pos].text == "." and tokens[pos + 1].kind == "ident":
                names.append(tokens[pos + 1].text)
                pos += 2
            if tokens[pos].text == "=" and len(names) == 1:
                pos += 1
                start, depth = pos, 0
                while pos < len(tokens):
                    t = tokens[pos]
                    if t.kind == "punct" and t.text in "{[(":
                        depth += 1
                    elif t.kind == "punct" and t.text in "}])":
                        if depth == 0:
                            break
                        depth -= 1
                    elif t.kind == "newline" and depth == 0:
                        break
                    pos += 1
                if names[0] in block.attrs:
                    raise AlloySyntaxError(f"line {tok.line}: attribute {names[0]} set twice")
                block.attrs[names[0]] = tokens[start:pos]
                continue
            label = None
            if tokens[pos].kind == "string":
                label = unquote(tokens[pos].text)
                pos += 1
            if tokens[pos].text != "{":
                raise AlloySyntaxError(f"line {tok.line}: expected '{{' after {'.'.join(names)}")
            pos += 1
            child = body("}")
            child.name, child.label, child.line = ".".join(names), label, tok.line
            block.blocks.append(child)

    return body(None)


# What each component type exports (the fields this config may reference).
EXPORTS = {
    "local.file_match": {"targets"},
    "discovery.relabel": {"output", "rules"},
    "loki.source.file": set(),
    "loki.source.journal": set(),
    "loki.process": {"receiver"},
    "loki.relabel": {"receiver", "rules"},
    "loki.write": {"receiver"},
}


def references(root: Block) -> list[tuple[str, int]]:
    """Every dotted name used in an expression (a component export), with its line."""
    found = []

    def walk(block: Block):
        for value in block.attrs.values():
            i = 0
            while i < len(value):
                if value[i].kind == "ident":
                    parts, j = [value[i].text], i + 1
                    while j + 1 < len(value) and value[j].text == "." and value[j + 1].kind == "ident":
                        parts.append(value[j + 1].text)
                        j += 2
                    is_key = j < len(value) and value[j].text == "="      # an object key, not a reference
                    is_call = j < len(value) and value[j].text == "("
                    if len(parts) > 1 and not is_key and not is_call:
                        found.append((".".join(parts), value[i].line))
                    i = j
                else:
                    i += 1
        for child in block.blocks:
            walk(child)

    walk(root)
    return found


def structural_problems(text: str) -> list[str]:
    """What is wrong with an Alloy config, as far as it can be told without Alloy."""
    try:
        root = parse(text)
    except AlloySyntaxError as exc:
        return [f"syntax: {exc}"]
    problems = []
    defined = {f"{b.name}.{b.label}": b for b in root.blocks if b.label is not None}
    for block in root.blocks:
        if block.label is not None and block.name not in EXPORTS:
            problems.append(f"line {block.line}: component {block.name} is not one this pipeline may use")
    used = set()
    for ref, line in references(root):
        component, _dot, export = ref.rpartition(".")
        if component not in defined:
            problems.append(f"line {line}: {ref} names an undefined component {component}")
        elif export not in EXPORTS.get(defined[component].name, set()):
            problems.append(f"line {line}: {ref}: {defined[component].name} exports no {export}")
        used.add(component)
    for key, block in defined.items():
        if block.name in ("loki.process", "loki.write", "loki.relabel", "local.file_match", "discovery.relabel") \
                and key not in used:
            problems.append(f"line {block.line}: {key} is defined but nothing uses it")
    if "docker.sock" in text or "/var/run/docker" in text or "/run/docker" in text:
        problems.append("the Docker socket is named: the shipper must read the log files, not the socket")
    return problems


# ------------------------------------------------------------------------------ Alloy

def alloy(renders, variant: str) -> tuple[str, Block]:
    text = (renders[variant] / "config.alloy").read_text()
    return text, parse(text)


def component(root: Block, name: str, label: str) -> Block:
    matches = [b for b in root.blocks if b.name == name and b.label == label]
    assert len(matches) == 1, f'{name} "{label}" defined {len(matches)} times'
    return matches[0]


def test_alloy_fmt_and_run_were_not_run():
    """Said in the output of every run (and counted as a skip, not a pass)."""
    print(NOT_RUN_ALLOY)
    pytest.skip(NOT_RUN_ALLOY)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_alloy_config_is_structurally_sound(renders, variant):
    text = alloy(renders, variant)[0]
    assert structural_problems(text) == []


# Each broken fixture and what the structural check must say about it.
BROKEN_EXPECTED = {
    "unbalanced.alloy": "unclosed '{'",
    "undefined-receiver.alloy": "names an undefined component loki.write.lokki",
    "docker-socket.alloy": "the Docker socket is named",
    "bad-escape.alloy": r"unknown escape sequence \S",
}


def test_every_broken_fixture_has_its_expected_message():
    assert sorted(p.name for p in BROKEN.glob("*.alloy")) == sorted(BROKEN_EXPECTED)


@pytest.mark.parametrize("fixture", sorted(BROKEN_EXPECTED))
def test_the_structural_check_refuses_a_broken_config(fixture):
    problems = structural_problems((BROKEN / fixture).read_text())
    assert any(BROKEN_EXPECTED[fixture] in p for p in problems), problems


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_alloy_sources_are_the_variables(renders, variant):
    text, root = alloy(renders, variant)
    values = {**logs_defaults(), **(VARIANTS[variant][1] or {})}
    derived = json.loads((renders[variant] / "vars.json").read_text())
    containers = values["monitoring_alloy_docker_containers_dir"]
    assert derived["glob"] == f"{containers}/*/*-json.log"
    # The docker logs: read from disk, no socket-based component at all.
    match = component(root, "local.file_match", "docker")
    assert [t.text for t in match.attrs["path_targets"] if t.kind == "string"] == [
        '"__path__"', json.dumps(derived["glob"])]
    assert not [b for b in root.blocks if b.name in ("loki.source.docker", "discovery.docker")]
    # The container id comes from the path (Prometheus relabel regexes are anchored).
    relabel = component(root, "discovery.relabel", "docker")
    rule = next(r for r in relabel.find("rule") if "source_labels" in r.attrs)
    regex = re2.compile(rule.string("regex"))
    cid = "0123456789ab" + "cdef0123" * 6 + "4567"
    path = f"{containers}/{cid}/{cid}-json.log"
    assert regex.fullmatch(path).group(1) == cid[:12]
    assert regex.fullmatch(f"/elsewhere/{cid}/{cid}-json.log") is None
    assert rule.string("target_label") == "container_id"
    # The journal.
    journal = component(root, "loki.source.journal", "journal")
    assert journal.string("path") == values["monitoring_alloy_journal_path"]
    # Traefik's access log file: only when its path is set.
    traefik = [b for b in root.blocks if b.name == "local.file_match" and b.label == "traefik_access"]
    if values["monitoring_alloy_traefik_access_log"]:
        assert json.dumps(values["monitoring_alloy_traefik_access_log"]) in \
            [t.text for t in traefik[0].attrs["path_targets"]]
    else:
        assert traefik == []
    # Loki and the host label.
    write = component(root, "loki.write", "loki")
    port = str(values["monitoring_loki_http_port"])
    url = values["monitoring_alloy_loki_url"].replace("{{ monitoring_loki_http_port }}", port)
    assert write.find("endpoint")[0].string("url") == url
    host = [t for t in write.attrs["external_labels"] if t.kind == "string"]
    assert [unquote(t.text) for t in host] == [derived["host"]]
    if variant == "defaults":
        assert url == "http://loki:3100/loki/api/v1/push" and derived["host"] == "localhost"


def test_every_source_goes_through_the_redaction(renders):
    """Sources and pipelines forward only to the next loki.process, and only "redact" to loki.write."""
    root = alloy(renders, "changed")[1]
    writers = {}
    for block in root.blocks:
        if "forward_to" in block.attrs:
            writers[f"{block.name}.{block.label}"] = {
                ref for ref, _where in references(Block("", None, 0, {"f": block.attrs["forward_to"]}))}
    assert writers.pop("loki.process.redact") == {"loki.write.loki.receiver"}
    assert writers.pop("loki.relabel.journal") == set()      # only its rules are used
    for name, targets in writers.items():
        assert targets and not any(t.startswith("loki.write.") for t in targets), name


def test_the_docker_envelope_stage_strips_the_line_end(renders):
    root = alloy(renders, "defaults")[1]
    stage = component(root, "loki.process", "docker").find("stage.regex")[0]
    regex = re2.compile(stage.string("expression"))
    for line, inner in (("hello\n", "hello"), ("a \\n b\r\n", "a \\n b"), ("partial", "partial"), ("\n", "")):
        assert regex.search(line).group("output") == inner


# -------------------------------------------------------------------------- redaction

def redaction_stages(root: Block) -> list[tuple[str, str]]:
    """(expression, replace) of each stage.replace of loki.process "redact", in order."""
    return [(s.string("expression"), s.string("replace"))
            for s in component(root, "loki.process", "redact").find("stage.replace")]


def go_find_all_submatch_index(regex, text: bytes) -> list[tuple[int, ...]]:
    """Go's Regexp.FindAllSubmatchIndex(text, -1): successive leftmost-first matches; after an
    empty match the search moves on one UTF-8 character, and an empty match right where the
    previous match ended is not reported. RE2 searches from `pos` with the text before it as
    context (\\b, ^), as Go does."""
    spans, pos, prev_end = [], 0, -1
    while pos <= len(text):
        m = regex.search(text, pos)
        if m is None:
            break
        accept = True
        if m.end() == pos:                  # an empty match at pos
            if m.start() == prev_end:
                accept = False
            width = 1
            while pos + width < len(text) and (text[pos + width] & 0xC0) == 0x80:
                width += 1
            pos += width
        else:
            pos = m.end()
        prev_end = m.end()
        if accept:
            spans.append(tuple(x for g in range(regex.groups + 1) for x in m.span(g)))
    return spans


def alloy_replace(regex, replacement: str, line: str) -> str:
    """Alloy's stage.replace on the log line (getReplacedEntry): every capturing group of every
    match is replaced by `replace` (a Go template; the mask has no action in it)."""
    text = line.encode()
    matches = go_find_all_submatch_index(regex, text)
    if not matches:
        return line
    result, previous = b"", 0
    for match in matches:
        for i in range(2, len(match), 2):
            start, end = match[i], match[i + 1]
            if start == -1:
                continue
            if previous == 0 or previous <= start:
                result += text[previous:start] + replacement.encode()
                previous = end
    return (result + text[previous:]).decode()


def run_pipeline(stages, line: str) -> str:
    for regex, replacement in stages:
        line = alloy_replace(regex, replacement, line)
    return line


@pytest.fixture(scope="module")
def compiled_stages(renders):
    root = alloy(renders, "defaults")[1]
    return [(re2.compile(expression.encode()), replace) for expression, replace in redaction_stages(root)]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_redaction_stages_are_exactly_the_pattern_list(renders, variant):
    root = alloy(renders, variant)[1]
    stages = redaction_stages(root)
    assert len(stages) == len(REDACTION_PATTERNS)
    assert [stage[0] for stage in stages] == [p.regex for p in REDACTION_PATTERNS]
    assert all(stage[1] == MASK for stage in stages)
    # No other stage.replace anywhere: the redaction is this one list.
    everywhere = [b for top in root.blocks for b in top.blocks if b.name == "stage.replace"]
    assert len(everywhere) == len(REDACTION_PATTERNS)


def test_redaction_expressions_are_re2_with_one_group(compiled_stages):
    for regex, _replacement in compiled_stages:
        assert regex.groups == 1, regex.pattern


def test_alloy_string_escaping_round_trips():
    """Characters a pattern may hold survive the template's escaping and Alloy's unquoting."""
    samples = ['a"b', "back\\slash", "tab\tnew\nline", "\x01\x7f", "é中", "😀", "`raw`", "{{ not jinja }}"]
    for value in samples + [p.regex for p in REDACTION_PATTERNS]:
        literal = json.dumps(value, ensure_ascii=False)      # what to_json(ensure_ascii=False) writes
        assert unquote(literal) == value
        assert [t.kind for t in tokenize(f"x = {literal}\n")] == ["ident", "punct", "string", "newline"]


def test_the_replay_follows_go_semantics():
    """The replay's own checks: several matches, an empty group, context at the search start."""
    assert alloy_replace(re2.compile(rb"k=(\w+)"), "X", "k=1 k=22 k=333") == "k=X k=X k=X"
    assert alloy_replace(re2.compile(rb"a(b*)"), "X", "ac ab") == "aXc aX"
    assert alloy_replace(re2.compile(rb"\b(ab)"), "X", "ab xab ab") == "X xab X"
    assert alloy_replace(re2.compile(rb"(x*)"), "-", "ab") == "-a-b-"


def secret_lines() -> list[dict]:
    return yaml.safe_load((FIXTURES / "secret-lines.yml").read_text())


@pytest.mark.parametrize("case", secret_lines(), ids=lambda c: c["name"])
def test_secret_lines_come_out_masked(compiled_stages, case):
    out = run_pipeline(compiled_stages, case["line"])
    assert MASK in out, out
    for secret in case["secrets"]:
        assert secret not in out, out
    for kept in case.get("keep", []):
        assert kept in out, out
    if "expected" in case:
        assert out == case["expected"]


def test_every_pattern_has_a_secret_line(compiled_stages):
    """Each pattern of the list masks something in at least one fixture line on its own."""
    shown = set()
    for case in secret_lines():
        for (regex, replace), pattern in zip(compiled_stages, REDACTION_PATTERNS, strict=True):
            if alloy_replace(regex, replace, case["line"]) != case["line"]:
                shown.add(pattern.name)
    assert shown == {p.name for p in REDACTION_PATTERNS}


def ordinary_lines() -> list[str]:
    lines = (FIXTURES / "ordinary-lines.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("# ")]


@pytest.mark.parametrize("line", ordinary_lines())
def test_ordinary_lines_come_out_unchanged(compiled_stages, line):
    assert run_pipeline(compiled_stages, line) == line


# Deployed secrets: the password lookup's 32 letters and digits (inventories/local), and
# longer values with punctuation, in the places a log line shows a password.
_RANDOM = random.Random(20260301)
_ALNUM = string.ascii_letters + string.digits
_PUNCT = _ALNUM + "-_.~+=/!#$%^*"
DEPLOYED = ([("".join(_RANDOM.choice(_ALNUM) for _char in range(_RANDOM.randint(24, 40))), "alnum") for _n in range(12)]
            + [("".join(_RANDOM.choice(_PUNCT) for _char in range(_RANDOM.randint(24, 48))), "punct") for _n in range(12)])
SHAPES = {
    "json": '{{"time": "2026-03-01T10:00:00.000+00:00", "level": "debug", "logger": "settings", '
            '"message": "loaded", "db_password": "{secret}", "pool": 5}}',
    "env": "REDIS_PASSWORD={secret}",
    "yaml": "  nats_app_password: {secret}",
    "quoted": "export APP_SECRET_KEY='{secret}'",
    "option": "command: redis-cli --pass={secret} ping",
    "url": "postgresql://app:{secret}@postgres:5432/commandcenter",
    "bearer": "Authorization: Bearer {secret}",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_deployed_style_secret_values_come_out_masked(compiled_stages, shape):
    for secret, alphabet in DEPLOYED:
        if shape in ("url", "bearer") and alphabet != "alnum":
            continue        # URLs percent-encode punctuation, tokens are URL-safe
        line = SHAPES[shape].format(secret=secret)
        out = run_pipeline(compiled_stages, line)
        assert secret not in out and MASK in out, (line, out)
        assert out == line.replace(secret, MASK), out
