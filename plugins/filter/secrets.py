# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""secret_problems: why each secret of a role is unusable (missing, placeholder, too short).
url_credentials: the user name and password a connection URL carries, decoded."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from ansible.errors import AnsibleFilterError

# Values that mean "somebody forgot to set this" (compared case-insensitively,
# after removing separators): changeme, change-me, CHANGE_ME, <password> ...
_PLACEHOLDERS = {
    "changeme", "changethis", "changeit", "password", "passwd", "secret", "default", "example", "todo",
    "fixme", "replaceme", "setme", "admin", "root", "test", "none", "null", "xxx", "123456", "12345678",
}
# Checked on the value with separators removed, lower-cased.
_PLACEHOLDER_WORDS = re.compile(r"changeme|changethis|replaceme|setme|^x+$|^\*+$")


# The collection's one minimum secret length: every role checks its secrets with the
# default, so a secret one role accepts is accepted by every role that shares it.
MIN_LENGTH = 16


def secret_problems(secrets, min_length=MIN_LENGTH):
    """Return "name: reason" for each unusable secret of a dict name -> value.

    Reasons: not set (None or empty), a placeholder (changeme, password, <...>,
    set-me-with-ansible-vault ...), or shorter than min_length characters
    (16 by default, the collection's one minimum; roles do not override it).
    Values never appear in the result, only variable names.
    """
    if not isinstance(secrets, dict):
        raise AnsibleFilterError(f"secret_problems expects a dict of name: value, got {type(secrets).__name__}")
    problems = []
    for name, value in secrets.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(f"{name}: not set (define it in the inventory's vault)")
            continue
        text = str(value)
        squashed = re.sub(r"[\s_.-]", "", text).lower()
        stripped = text.strip()
        if squashed in _PLACEHOLDERS or _PLACEHOLDER_WORDS.search(squashed) or (
                stripped.startswith("<") and stripped.endswith(">")):
            problems.append(f"{name}: is a placeholder, set a real secret")
        elif len(text) < int(min_length):
            problems.append(f"{name}: shorter than {int(min_length)} characters")
    return problems


def url_credentials(url):
    """Return {"user": ..., "password": ...} of a URL such as postgresql://user:pa%2Fss@host/db,
    percent-decoded (empty strings for a part the URL does not carry)."""
    if not isinstance(url, str):
        raise AnsibleFilterError(f"url_credentials expects a URL string, got {type(url).__name__}")
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        # The message of urllib names the problem, never the URL (which holds a password).
        raise AnsibleFilterError(f"url_credentials: not a URL ({exc})") from None
    return {"user": unquote(parts.username or ""), "password": unquote(parts.password or "")}


class FilterModule:
    """Secret checks for preflight assertions, and the credentials of a deployed URL."""

    def filters(self):
        return {"secret_problems": secret_problems, "url_credentials": url_credentials}
