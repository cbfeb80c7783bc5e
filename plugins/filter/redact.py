# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Jinja2 filters ``redact`` and ``redaction_patterns``.

Documentation for ``ansible-doc -t filter`` lives in the sidecar files
``redact.yml`` and ``redaction_patterns.yml`` next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.commandcenter.infra.plugins.module_utils._redact import (
    MASK,
    pattern_list,
    redact as _redact,
)


def redact(data, secrets=None, mask=MASK):
    """Mask secrets in ``data`` (a string, or a list/dict structure, nested).

    ``secrets`` is a list of literal values (or a single string) masked
    wherever they occur; values shorter than 4 characters are ignored.
    Well-known secret shapes (URL passwords, Authorization headers,
    ``*_PASSWORD=``/``*_TOKEN:`` assignments, cloud/Git/Slack tokens, PEM
    private keys, JWTs) are masked without being listed.  Dict values whose
    key looks secret (``password``, ``api_key``, ``*_token`` ...) are masked
    whole.

    Example: ``{{ compose_logs | commandcenter.infra.redact(secrets=[db_password]) }}``
    """
    if mask is None or not isinstance(mask, str):
        raise AnsibleFilterError("redact: 'mask' must be a string")
    if secrets is not None and not isinstance(secrets, (str, bytes, list, tuple, set, frozenset)):
        raise AnsibleFilterError(
            "redact: 'secrets' must be a list of strings or a string, got %s" % type(secrets).__name__
        )
    return _redact(data, secrets=secrets, mask=mask)


def redaction_patterns(names=None, include_multiline=True):
    """Return the redaction patterns as a list of dicts.

    Each item is ``{name, regex, group, replacement, multiline, description}``;
    ``regex`` is RE2/Go syntax with exactly one capturing group (the secret),
    ready for a Grafana Alloy ``stage.replace`` / Promtail ``replace`` stage.

    The filter input selects patterns by name: ``none`` or an empty list
    returns all of them.  Pass ``include_multiline=false`` for line-oriented
    log shippers (drops the PEM block pattern).

    Example: ``{{ none | commandcenter.infra.redaction_patterns(include_multiline=false) }}``
    """
    if names is not None and not isinstance(names, (str, list, tuple)):
        raise AnsibleFilterError(
            "redaction_patterns: input must be none, a pattern name or a list of names, got %s"
            % type(names).__name__
        )
    if not names:
        names = None
    try:
        return pattern_list(names=names, include_multiline=include_multiline)
    except ValueError as exc:
        raise AnsibleFilterError("redaction_patterns: %s" % exc) from exc


class FilterModule:
    """Secret redaction filters."""

    def filters(self):
        return {
            "redact": redact,
            "redaction_patterns": redaction_patterns,
        }
