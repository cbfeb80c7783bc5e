# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Unit tests for plugins/filter/redact.py (filters redact and redaction_patterns)."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.filter.redact import (
    FilterModule,
    redact,
    redaction_patterns,
)
from ansible_collections.commandcenter.infra.plugins.module_utils._redact import MASK, REDACTION_PATTERNS

FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")


def test_filter_module_exposes_both_filters():
    filters = FilterModule().filters()
    assert filters["redact"] is redact
    assert filters["redaction_patterns"] is redaction_patterns


def test_redact_text_with_secrets():
    text = "login postgres://app:S3cr3t@db/app with jwt Sup3rS3cretJwtKey; keyboard ok"
    assert redact(text, secrets=["Sup3rS3cretJwtKey"]) == (
        "login postgres://app:%s@db/app with jwt %s; keyboard ok" % (MASK, MASK)
    )


def test_redact_positional_secrets_and_single_string():
    assert redact("value abcd1234", ["abcd1234"]) == "value " + MASK
    assert redact("value abcd1234", "abcd1234") == "value " + MASK


def test_redact_structure_and_custom_mask():
    data = {"api_key": "k", "items": ["DB_PASSWORD=x", "monkey: banana"], "primary_key": "id"}
    assert redact(data, mask="<hidden>") == {
        "api_key": "<hidden>",
        "items": ["DB_PASSWORD=<hidden>", "monkey: banana"],
        "primary_key": "id",
    }


def test_redact_without_secrets_leaves_ordinary_text():
    for text in ("the token bucket refills", "https://example.com/path", "ssh-keygen", "KEYS command"):
        assert redact(text) == text


@pytest.mark.parametrize("bad", [{"a": "b"}, 42])
def test_redact_rejects_bad_secrets(bad):
    with pytest.raises(AnsibleFilterError, match="secrets"):
        redact("x", secrets=bad)


def test_redact_rejects_bad_mask():
    with pytest.raises(AnsibleFilterError, match="mask"):
        redact("x", mask=None)


@pytest.mark.parametrize("selection", [None, [], ""])
def test_redaction_patterns_all(selection):
    patterns = redaction_patterns(selection)
    assert [p["name"] for p in patterns] == [p.name for p in REDACTION_PATTERNS]
    assert all(p["replacement"] == MASK for p in patterns)


def test_redaction_patterns_selection_and_multiline():
    assert [p["name"] for p in redaction_patterns(["jwt", "url_password"])] == ["url_password", "jwt"]
    assert [p["name"] for p in redaction_patterns("jwt")] == ["jwt"]
    names = [p["name"] for p in redaction_patterns(None, include_multiline=False)]
    assert "pem_private_key" not in names and "url_password" in names


def test_redaction_patterns_errors():
    with pytest.raises(AnsibleFilterError, match="unknown redaction pattern"):
        redaction_patterns(["does_not_exist"])
    with pytest.raises(AnsibleFilterError, match="input must be"):
        redaction_patterns({"a": 1})


@pytest.mark.parametrize("name", ["redact", "redaction_patterns"])
def test_sidecar_documentation(name):
    with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["name"] == name
    assert "_input" in doc["DOCUMENTATION"]["options"]
    assert "_value" in doc["RETURN"]
    assert "commandcenter.infra." + name in doc["EXAMPLES"]
    # the examples are valid YAML tasks
    assert isinstance(yaml.safe_load(doc["EXAMPLES"]), list)
