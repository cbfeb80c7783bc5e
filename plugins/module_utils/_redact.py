# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Secret redaction: the single source of truth for this collection.

Everything that can show secrets to a human (module diagnostics, templated
reports) or ship them somewhere else (the log-shipping pipeline) masks them
with the patterns defined here.

Design rules for ``REDACTION_PATTERNS``:

* Every regular expression is RE2 (Go ``regexp``) compatible and is used
  unchanged by the log shipper (Grafana Alloy ``stage.replace`` / Promtail
  ``replace``): no look-around, no back-references, no possessive
  quantifiers, inline flags only at the very start (``(?i)``, ``(?s)``).
* Every regular expression has exactly ONE capturing group: the secret.
  All other grouping is non-capturing ``(?:...)``.  This is precisely the
  semantics of the Alloy/Promtail ``replace`` stage ("each capture group is
  replaced with the value given in replace"), so ``replace: "********"``
  masks the secret and keeps the context (key name, URL, header name).
* Python compiles them with ``re.ASCII`` so ``\\b``, ``\\s`` and ``(?i)`` behave
  like Go's ASCII-only classes.

This file is also imported by the ``commandcenter.infra.redact`` filter
plugin, so it must stay importable on the controller and on targets
(Python 3.8+, standard library only).
"""

from __future__ import annotations

import collections
import functools
import json
import re
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "REDACTION_PATTERNS",
    "RedactionPattern",
    "is_secret_key",
    "pattern_list",
    "redact",
    "redact_text",
]

MASK = "********"
"""Replacement for every secret (same string Ansible uses for ``no_log``)."""

MIN_SECRET_LENGTH = 4
"""Literal secrets shorter than this are ignored by :func:`redact`.

Masking ``"a"`` or ``"12"`` would shred ordinary text and make the output
useless while protecting nothing (such a value is not a secret anyway)."""

RedactionPattern = collections.namedtuple(
    "RedactionPattern", ["name", "regex", "group", "multiline", "description"]
)
"""One named pattern.

``regex``: RE2/Go-compatible regular expression string.
``group``: index of the capturing group holding the secret (always 1: every
pattern has exactly one capturing group).
``multiline``: True when the pattern only makes sense on multi-line text
(line-oriented shippers will only ever see part of it).
"""

# --------------------------------------------------------------------------
# Key-name rule (shared by the ``key=value`` patterns and by dict keys).
#
# A key name is secret when, case-insensitively, it ENDS with one of:
#   password, passwd, passphrase, secret, token, credential(s),
#   <qualifier>key / <qualifier>_key / <qualifier>-key / <qualifier>.key
#       where qualifier is one of api, secret, private, access, encryption,
#       signing, master, auth, license, app, client
#       (so also secret_access_key, aws_secret_access_key, x-api-key, apiKey)
#   pass, but only as a whole word part: ``pass`` or ``*_pass`` / ``*-pass`` /
#       ``*.pass`` (``db_pass`` yes, ``bypass``/``compass`` no).
# A bare ``key``, ``primary_key``, ``sort_key``, ``cache_key``, ``monkey`` are
# NOT secret: ``key`` is far too common (dict2items, k8s selectors, ...).
# Dict keys additionally treat ``authorization`` and ``cookie`` /
# ``set-cookie`` (HTTP header dicts) as secret.
# --------------------------------------------------------------------------
_KEY_QUALIFIERS = "api|secret|private|access|encryption|signing|master|auth|license|app|client"
_KEY_SUFFIX = (
    r"(?:password|passwd|passphrase|secret|token|credentials?"
    r"|(?:" + _KEY_QUALIFIERS + r")[_.-]?key)"
)
_KEY_CHARS = r"[A-Za-z0-9_.-]"
# bounded prefix keeps Python's backtracking engine linear-ish on long runs
_KEY_NAME = (
    r"\b(?:" + _KEY_CHARS + r"{0,64}" + _KEY_SUFFIX
    + r"|(?:" + _KEY_CHARS + r"{0,64}[_.-])?pass)"
)
# key, optional closing quote of a JSON/YAML key, separator ':' or '='
_ASSIGN = _KEY_NAME + r"[\"']?[ \t]*[:=][ \t]*"

_SECRET_KEY_NAME_RE = re.compile(
    r"(?:" + _KEY_CHARS + r"*" + _KEY_SUFFIX
    + r"|(?:" + _KEY_CHARS + r"*[_.-])?pass"
    + r"|(?:proxy[_.-])?authorization|(?:set[_.-])?cookie)",
    re.IGNORECASE | re.ASCII,
)

REDACTION_PATTERNS = (
    RedactionPattern(
        name="pem_private_key",
        regex=(
            r"(?s)-----BEGIN[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----(.*?)"
            r"(?:-----END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|$)"
        ),
        group=1,
        multiline=True,
        description=(
            "Body of a PEM private key block (RSA, EC, OPENSSH, ENCRYPTED, PGP ...); "
            "a block cut off by a log tail is masked up to the end of the text."
        ),
    ),
    RedactionPattern(
        name="url_password",
        regex=r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@]*:([^\s/@]+)@",
        group=1,
        multiline=False,
        description="Password in a URL userinfo (scheme://user:password@host); the user name is kept.",
    ),
    RedactionPattern(
        name="authorization_header",
        regex=(
            r"(?i)\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?"
            r"(?:bearer|basic|token)[ \t]+([^\s\"',;]+)"
        ),
        group=1,
        multiline=False,
        description="Credential of an Authorization / Proxy-Authorization header (Bearer, Basic, token scheme).",
    ),
    RedactionPattern(
        name="jwt",
        regex=r"\b(eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)",
        group=1,
        multiline=False,
        description="JSON Web Token (header.payload.signature, both JSON parts start with eyJ).",
    ),
    RedactionPattern(
        name="aws_access_key_id",
        regex=r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b",
        group=1,
        multiline=False,
        description="AWS access key id (long-term AKIA..., temporary ASIA...).",
    ),
    RedactionPattern(
        name="github_token",
        regex=r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        group=1,
        multiline=False,
        description="GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, fine-grained github_pat_).",
    ),
    RedactionPattern(
        name="slack_token",
        regex=r"\b((?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,250})",
        group=1,
        multiline=False,
        description="Slack tokens (xoxb-, xoxp-, xoxa-, xoxo-, xoxs-, xoxr-, app-level xapp-).",
    ),
    RedactionPattern(
        name="slack_webhook",
        regex=r"(?i)https://hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]+)",
        group=1,
        multiline=False,
        description="Path (the secret part) of a Slack incoming webhook URL.",
    ),
    RedactionPattern(
        name="secret_assignment_double_quoted",
        regex=r"(?i)" + _ASSIGN + r"\"((?:[^\"\\\r\n]|\\.)+)\"",
        group=1,
        multiline=False,
        description=(
            'Double-quoted value of a secret-looking key: "secret_key": "x", DB_PASSWORD="x" '
            "(JSON escapes inside the value are handled)."
        ),
    ),
    RedactionPattern(
        name="secret_assignment_single_quoted",
        regex=r"(?i)" + _ASSIGN + r"'([^'\r\n]+)'",
        group=1,
        multiline=False,
        description="Single-quoted value of a secret-looking key: export FOO_TOKEN='x', password: 'x'.",
    ),
    RedactionPattern(
        name="secret_assignment",
        regex=r"(?i)" + _ASSIGN + r"([^\s\"'`,;&)}\]]+)",
        group=1,
        multiline=False,
        description=(
            "Unquoted value of a secret-looking key: DB_PASSWORD=x, db_password: x, "
            "?access_token=x&..., --password=x."
        ),
    ),
)
"""Ordered (immutable) tuple of the named patterns; applied in this order."""


@functools.lru_cache(maxsize=256)
def _compile(regex):
    return re.compile(regex, re.ASCII)


def _pattern_fields(pattern):
    """Return (regex, group) for a RedactionPattern or a pattern_list() dict."""
    if isinstance(pattern, dict):
        return pattern["regex"], int(pattern.get("group", 1))
    return pattern.regex, pattern.group


def pattern_list(names=None, include_multiline=True):
    """Return the redaction patterns as plain data, for templates and config files.

    :param names: optional iterable of pattern names to keep (unknown names raise
        ``ValueError``); ``None`` keeps all of them, in their defined order.
    :param include_multiline: set to False for line-oriented consumers (a log
        shipper sees one line at a time, so a PEM block never matches there).
    :returns: a list of dicts ``{name, regex, group, replacement, multiline,
        description}``. ``regex`` is RE2/Go syntax with exactly one capturing
        group (the secret); ``replacement`` (the mask) is meant for the Grafana
        Alloy ``stage.replace`` / Promtail ``replace`` stage ``replace`` field,
        which substitutes the capturing group only.
    """
    known = [p.name for p in REDACTION_PATTERNS]
    if names is not None:
        if isinstance(names, str):
            names = [names]
        names = list(names)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                "unknown redaction pattern(s): %s (known: %s)" % (", ".join(unknown), ", ".join(known))
            )
    result = []
    for pattern in REDACTION_PATTERNS:
        if names is not None and pattern.name not in names:
            continue
        if pattern.multiline and not include_multiline:
            continue
        result.append(
            {
                "name": pattern.name,
                "regex": pattern.regex,
                "group": pattern.group,
                "replacement": MASK,
                "multiline": pattern.multiline,
                "description": pattern.description,
            }
        )
    return result


def is_secret_key(name):
    """Tell whether a mapping key / variable name denotes a secret value.

    See the key-name rule above: ``db_password``, ``API_KEY``, ``secretKey``,
    ``aws_secret_access_key``, ``private_key``, ``x-auth-token``, ``db_pass``,
    ``Authorization`` are secret; ``key``, ``primary_key``, ``monkey``,
    ``bypass``, ``password_file``, ``max_tokens`` are not.
    """
    if not isinstance(name, str):
        return False
    return _SECRET_KEY_NAME_RE.fullmatch(name.strip().replace(" ", "_")) is not None


def _to_text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _literal_variants(secrets):
    """Literal secret values to mask, longest first, with their encoded forms."""
    if secrets is None:
        return []
    if isinstance(secrets, (str, bytes, bytearray)):
        secrets = [secrets]
    variants = set()
    for secret in secrets:
        if secret is None:
            continue
        text = _to_text(secret)
        if len(text) < MIN_SECRET_LENGTH:
            continue
        variants.add(text)
        # the same value as it appears inside a URL or a JSON document
        variants.add(quote(text, safe=""))
        variants.add(quote_plus(text, safe=""))
        variants.add(json.dumps(text)[1:-1])
    return sorted((v for v in variants if len(v) >= MIN_SECRET_LENGTH), key=lambda v: (-len(v), v))


def _mask_group(compiled, group, text, mask):
    def _replace(match):
        start, end = match.span(group)
        if start < 0:
            return match.group(0)
        offset = match.start(0)
        whole = match.group(0)
        return whole[:start - offset] + mask + whole[end - offset:]

    return compiled.sub(_replace, text)


def redact_text(text, literals=(), patterns=REDACTION_PATTERNS, mask=MASK):
    """Redact one string: literal values first (exact match), then the patterns."""
    for literal in literals:
        if literal in text:
            text = text.replace(literal, mask)
    for pattern in patterns:
        regex, group = _pattern_fields(pattern)
        text = _mask_group(_compile(regex), group, text, mask)
    return text


def _redact(data, literals, patterns, mask):
    if isinstance(data, str):
        return redact_text(data, literals, patterns, mask)
    if isinstance(data, (bytes, bytearray)):
        return redact_text(_to_text(data), literals, patterns, mask)
    if isinstance(data, dict):
        result = {}
        for key, value in data.items():
            if is_secret_key(key) and value is not None and value != "":
                result[key] = mask
            else:
                result[key] = _redact(value, literals, patterns, mask)
        return result
    if isinstance(data, list):
        return [_redact(item, literals, patterns, mask) for item in data]
    if isinstance(data, tuple):
        return tuple(_redact(item, literals, patterns, mask) for item in data)
    if isinstance(data, (set, frozenset)):
        return type(data)(_redact(item, literals, patterns, mask) for item in data)
    return data


def redact(data, secrets=None, patterns=REDACTION_PATTERNS, mask=MASK):
    """Return a copy of ``data`` with secrets masked.

    :param data: str, bytes (decoded as UTF-8, returned as str), list, tuple,
        set or dict, nested freely. Other scalars (int, bool, None ...) are
        returned unchanged.
    :param secrets: literal secret values (a list, or a single string) to mask
        wherever they occur, longest first, together with their URL-encoded
        and JSON-escaped forms. ``None``/empty values and values shorter than
        ``MIN_SECRET_LENGTH`` (4) characters are ignored.
    :param patterns: the patterns to apply after the literals; defaults to
        ``REDACTION_PATTERNS`` (``pattern_list()`` dicts are accepted too).
    :param mask: the replacement string.

    Dicts keep their keys; the value of a key that looks secret (see
    :func:`is_secret_key`) is replaced whole by ``mask`` unless it is None or
    an empty string; other values are redacted recursively.
    """
    return _redact(data, _literal_variants(secrets), patterns, mask)
