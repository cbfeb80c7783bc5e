# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Unit tests for plugins/module_utils/_redact.py."""

from __future__ import annotations

import re

import pytest

from ansible_collections.commandcenter.infra.plugins.module_utils._redact import (
    MASK,
    MIN_SECRET_LENGTH,
    REDACTION_PATTERNS,
    is_secret_key,
    pattern_list,
    redact,
)

GITHUB_CLASSIC = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # 36 chars after the prefix
GITHUB_FINE_GRAINED = "github_pat_11ABCDEFG0123456789abc_" + "x" * 59
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (input, expected output): secrets that must be masked, context kept
MASKED = [
    ("DB_PASSWORD=hunter22", "DB_PASSWORD=" + MASK),
    ("db_password: hunter22", "db_password: " + MASK),
    ('"secret_key": "abc\\"def"', '"secret_key": "' + MASK + '"'),
    ("{'api_key': 'k-123456'}", "{'api_key': '" + MASK + "'}"),
    ("export FOO_TOKEN='tok en with spaces'", "export FOO_TOKEN='" + MASK + "'"),
    ('POSTGRES_PASSWORD="p a s s"', 'POSTGRES_PASSWORD="' + MASK + '"'),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key = " + MASK),
    ("SECRET_KEY=django-insecure-x", "SECRET_KEY=" + MASK),
    ("ACCESS_KEY: AbCdEf", "ACCESS_KEY: " + MASK),
    ("private_key: MIIEvQIBADAN", "private_key: " + MASK),
    ("x-api-key: 0123456789", "x-api-key: " + MASK),
    ("apiKey=abcdef", "apiKey=" + MASK),
    ("client_secret=s3cr3t&grant_type=x", "client_secret=" + MASK + "&grant_type=x"),
    ("GET /cb?access_token=abc123&state=xyz", "GET /cb?access_token=" + MASK + "&state=xyz"),
    ("--db-password=hunter22 --verbose", "--db-password=" + MASK + " --verbose"),
    ("smtp_pass: mailpass", "smtp_pass: " + MASK),
    ("DB_PASSWD=x", "DB_PASSWD=" + MASK),
    ("GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp.json", "GOOGLE_APPLICATION_CREDENTIALS=" + MASK),
    ("postgres://app:S3cr3t@db/app", "postgres://app:" + MASK + "@db/app"),
    ("DATABASE_URL=postgres://app:S3cr3t@db:5432/app", "DATABASE_URL=postgres://app:" + MASK + "@db:5432/app"),
    ("redis://:r3dis-pw@redis:6379/0", "redis://:" + MASK + "@redis:6379/0"),
    ("amqp+ssl://guest:gu%40st@mq//", "amqp+ssl://guest:" + MASK + "@mq//"),
    ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer " + MASK),
    ("curl -H 'authorization: basic dXNlcjpwYXNz' url", "curl -H 'authorization: basic " + MASK + "' url"),
    ('{"Authorization": "Bearer xyz123"}', '{"Authorization": "Bearer ' + MASK + '"}'),
    ("Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: Basic " + MASK),
    ("Authorization: token ghtoken123", "Authorization: token " + MASK),
    ("id AKIAIOSFODNN7EXAMPLE used", "id " + MASK + " used"),
    ("ASIAY34FZKBOKMUTVV7A", MASK),
    ("clone with " + GITHUB_CLASSIC, "clone with " + MASK),
    ("gho_" + "a" * 36 + " ghu_" + "b" * 36 + " ghs_" + "c" * 36 + " ghr_" + "d" * 36, " ".join([MASK] * 4)),
    (GITHUB_FINE_GRAINED, MASK),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl", "slack " + MASK),
    ("xapp-1-A0123456789-1234567890-abcdef", MASK),
    (
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "https://hooks.slack.com/services/" + MASK,
    ),
    ("jwt " + JWT + " end", "jwt " + MASK + " end"),
]

# ordinary text that must come out unchanged
UNCHANGED = [
    "keyboard",
    "monkey: banana",
    "the token bucket refills",
    "primary_key: id",
    "foreign_key: user_id",
    "sort_key=created_at",
    "key: app",
    "https://example.com/path",
    "https://example.com:8443/path?q=1",
    "ssh-keygen -t ed25519",
    "KEYS command",
    "postgres://host:5432/db",
    "redis://redis:6379/0",
    "bypass: true",
    "compass=north",
    "password_file: /run/secrets/db_password",
    "max_tokens: 100",
    "tokenizer=bpe",
    "Authorization failed for user alice",
    "the password is wrong",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    "AKIA_not_a_key",
    "ghp_short",
    "user@example.com",
    "PWD=/home/app",
    "12:30:45 INFO ready",
]


@pytest.mark.parametrize("text, expected", MASKED)
def test_patterns_mask_only_the_secret(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_ordinary_text_is_left_alone(text):
    assert redact(text) == text


def test_pem_private_key_block_multiline():
    text = (
        "before\n"
        "-----BEGIN RSA PRIVATE KEY-----\n"
        "MIIEowIBAAKCAQEAvx\n"
        "s3cr3tb0dy==\n"
        "-----END RSA PRIVATE KEY-----\n"
        "after: ok\n"
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----"
    )
    result = redact(text)
    assert "s3cr3tb0dy" not in result and "MIIEowIBAAKCAQEAvx" not in result and "b3BlbnNzaA" not in result
    assert "-----BEGIN RSA PRIVATE KEY-----" + MASK + "-----END RSA PRIVATE KEY-----" in result
    assert "-----BEGIN OPENSSH PRIVATE KEY-----" + MASK + "-----END OPENSSH PRIVATE KEY-----" in result
    assert result.startswith("before\n") and "\nafter: ok\n" in result


def test_pem_block_cut_off_by_a_log_tail_is_masked_to_the_end():
    text = "key follows\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nabcdef\n"
    result = redact(text)
    assert "MIIEvQ" not in result and "abcdef" not in result
    assert result.startswith("key follows\n-----BEGIN PRIVATE KEY-----" + MASK)


def test_encrypted_and_pgp_private_keys():
    for kind, end in (("ENCRYPTED PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), ("PGP PRIVATE KEY BLOCK", "PGP PRIVATE KEY BLOCK")):
        text = "-----BEGIN %s-----\nzzzSECRETzzz\n-----END %s-----" % (kind, end)
        assert redact(text) == "-----BEGIN %s-----%s-----END %s-----" % (kind, MASK, end)


def test_redaction_is_idempotent():
    text = "\n".join(t for t, dummy in MASKED)
    once = redact(text)
    assert redact(once) == once


def test_literal_secrets_longest_first_and_encoded_forms():
    secrets = ["p@ss/word", "p@ss", "hunter2-long"]
    text = "a=p@ss/word b=p%40ss%2Fword c=p%40ss%2Fword d=p@ss e=hunter2-long"
    result = redact(text, secrets=secrets)
    assert result == "a=%s b=%s c=%s d=%s e=%s" % ((MASK,) * 5)


def test_literal_secret_json_escaped_form():
    assert redact('{"msg": "pass \\"quoted\\" value"}', secrets=['pass "quoted" value']) == '{"msg": "' + MASK + '"}'


@pytest.mark.parametrize("secret", [None, "", "a", "ab", "abc"])
def test_short_or_empty_literal_secrets_are_ignored(secret):
    assert MIN_SECRET_LENGTH == 4
    assert redact("abc abcd a b", secrets=[secret]) == "abc abcd a b"


def test_literal_secret_accepts_single_string_bytes_and_numbers():
    assert redact("x 12345678 y", secrets="12345678") == "x %s y" % MASK
    assert redact("x 12345678 y", secrets=[12345678]) == "x %s y" % MASK
    assert redact("x s3cret y", secrets=[b"s3cret"]) == "x %s y" % MASK


def test_bytes_become_text():
    assert redact(b"DB_PASSWORD=x\xff") == "DB_PASSWORD=" + MASK


def test_nested_structures():
    data = {
        "db": {"password": "hunter22", "host": "db", "primary_key": "id", "url": "postgres://u:pw12@db/x"},
        "tokens": ["Authorization: Bearer abcdef", "plain"],
        "pair": ("SECRET=abc", 3),
        "key": "app",
        "api_key": {"nested": "dict masked whole"},
        "access_token": None,
        "client_secret": "",
        "count": 7,
        "enabled": True,
        "note": "literal supersecret here",
    }
    result = redact(data, secrets=["supersecret"])
    assert result == {
        "db": {"password": MASK, "host": "db", "primary_key": "id", "url": "postgres://u:" + MASK + "@db/x"},
        "tokens": ["Authorization: Bearer " + MASK, "plain"],
        "pair": ("SECRET=" + MASK, 3),
        "key": "app",
        "api_key": MASK,
        "access_token": None,
        "client_secret": "",
        "count": 7,
        "enabled": True,
        "note": "literal %s here" % MASK,
    }
    # the input is not modified
    assert data["db"]["password"] == "hunter22"


def test_dict_keys_are_left_alone():
    assert redact({"hunter22": "x"}, secrets=["hunter22"]) == {"hunter22": "x"}


def test_other_scalars_unchanged():
    for value in (None, 1, 2.5, True):
        assert redact(value) is value


@pytest.mark.parametrize(
    "name",
    [
        "password", "DB_PASSWORD", "db-password", "spring.datasource.password", "passwd", "passphrase",
        "api_key", "API_KEY", "apiKey", "x-api-key", "secret_key", "SECRET_KEY", "aws_secret_access_key",
        "private_key", "privateKey", "ACCESS_KEY", "encryption_key", "secret", "client_secret", "JWT_SECRET",
        "token", "access_token", "GITHUB_TOKEN", "x-auth-token", "credentials", "credential", "pass", "db_pass",
        "Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "Secret Key",
    ],
)
def test_secret_key_names(name):
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "key", "primary_key", "foreign_key", "sort_key", "cache_key", "monkey", "keyboard", "bypass", "compass",
        "password_file", "password_hash_algorithm", "max_tokens", "tokenizer", "secrets", "host", "", 42, None,
    ],
)
def test_non_secret_key_names(name):
    assert not is_secret_key(name)


# --- pattern contract shared with the Go/RE2 log shipper -------------------------------------------------

def test_patterns_have_unique_names_and_exactly_one_capturing_group():
    names = [p.name for p in REDACTION_PATTERNS]
    assert len(names) == len(set(names))
    for pattern in REDACTION_PATTERNS:
        assert pattern.group == 1
        assert re.compile(pattern.regex).groups == 1, pattern.name


@pytest.mark.parametrize("pattern", REDACTION_PATTERNS, ids=lambda p: p.name)
def test_patterns_avoid_constructs_re2_does_not_support(pattern):
    regex = pattern.regex
    for construct in ("(?=", "(?!", "(?<=", "(?<!", "(?P=", "(?>", "*+", "++", "?+", "\\Z", "\\z"):
        assert construct not in regex, (pattern.name, construct)
    assert not re.search(r"\\[1-9]", regex), "back-reference in %s" % pattern.name
    # inline flags only at the very start
    assert "(?" not in re.sub(r"^\(\?[a-z]+\)", "", regex).replace("(?:", "")


def test_patterns_compile_with_re2_when_available():
    re2 = pytest.importorskip("re2")
    for pattern in REDACTION_PATTERNS:
        assert re2.compile(pattern.regex).groups == 1, pattern.name


def test_pattern_list_is_plain_data():
    patterns = pattern_list()
    assert [p["name"] for p in patterns] == [p.name for p in REDACTION_PATTERNS]
    for item in patterns:
        assert set(item) == {"name", "regex", "group", "replacement", "multiline", "description"}
        assert item["replacement"] == MASK
        assert all(isinstance(item[k], str) for k in ("name", "regex", "replacement", "description"))


def test_pattern_list_selection_and_line_oriented_consumers():
    assert [p["name"] for p in pattern_list(["authorization_header", "url_password"])] == [
        "url_password",
        "authorization_header",
    ]
    assert [p["name"] for p in pattern_list("jwt")] == ["jwt"]
    line_oriented = pattern_list(include_multiline=False)
    assert "pem_private_key" not in [p["name"] for p in line_oriented]
    assert len(line_oriented) == len(REDACTION_PATTERNS) - 1
    with pytest.raises(ValueError, match="unknown redaction pattern"):
        pattern_list(["nope"])


def test_redact_accepts_pattern_list_dicts_and_empty_patterns():
    assert redact("DB_PASSWORD=x postgres://u:pw@h", patterns=pattern_list(["url_password"])) == (
        "DB_PASSWORD=x postgres://u:" + MASK + "@h"
    )
    assert redact("DB_PASSWORD=x", patterns=()) == "DB_PASSWORD=x"
    assert redact("DB_PASSWORD=x", mask="[redacted]") == "DB_PASSWORD=[redacted]"


def test_python_and_shipper_semantics_agree():
    """Replacing every capturing group (the Alloy/Promtail semantics) gives the same result as redact()."""
    text = "\n".join(t for t, dummy in MASKED)
    expected = redact(text)
    shipped = text
    for item in pattern_list():
        compiled = re.compile(item["regex"], re.ASCII)
        pieces, last = [], 0
        for match in compiled.finditer(shipped):
            pieces.append(shipped[last:match.start(1)])
            pieces.append(item["replacement"])
            last = match.end(1)
        pieces.append(shipped[last:])
        shipped = "".join(pieces)
    assert shipped == expected
