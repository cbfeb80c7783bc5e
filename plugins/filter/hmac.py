# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Jinja2 filter ``hmac``: a keyed hash (HMAC-SHA256) of a value.

Whatever is derived from a secret and must be visible (config-hash labels, release
ids, file names) is an HMAC keyed by the host's own random key, so that nobody who
sees it can test guesses of the secret against it. The same filter makes bcrypt
salts that are stable from run to run without depending on the password or the
inventory host name (``encoding='bcrypt_salt'``).

Documentation for ``ansible-doc -t filter`` lives in the sidecar file ``hmac.yml``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac as _hmac

from ansible.errors import AnsibleFilterError

# bcrypt's base64 alphabet (./A-Za-z0-9), in the order of standard base64's (A-Za-z0-9+/).
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT64 = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT64 = bytes.maketrans(_B64, _BCRYPT64)
# Shortest key accepted: a short or empty key (an unset variable) would make the
# HMAC as guessable as a plain hash, so it is an error, never a silent weak hash.
MIN_KEY_LENGTH = 16
ENCODINGS = ("hex", "bcrypt_salt")


def _as_bytes(value, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value).encode("utf-8")
    raise AnsibleFilterError(f"hmac: the {what} must be a string, got {type(value).__name__}")


def bcrypt_salt(digest: bytes) -> str:
    """The 22-character bcrypt salt made of the first 16 bytes of ``digest``.

    bcrypt's salt is 16 bytes in its own base64 alphabet: 22 characters, of which
    the last carries 2 bits and 4 zero padding bits (one of ``.Oeu``), so bcrypt
    libraries take it as it is instead of correcting it with a warning.
    """
    return base64.b64encode(digest[:16]).rstrip(b"=").translate(_TO_BCRYPT64).decode("ascii")


def hmac(value, key, encoding="hex"):
    """HMAC-SHA256 of ``value`` keyed by ``key``, as 64 hex digits or a bcrypt salt.

    ``value`` and ``key`` are text (UTF-8) or bytes; numbers are taken as their text.
    ``key`` must be at least 16 characters long.
    """
    key_bytes = _as_bytes(key, "key")
    if len(key_bytes) < MIN_KEY_LENGTH:
        raise AnsibleFilterError(
            f"hmac: the key is {'empty' if not key_bytes else 'too short'} (at least {MIN_KEY_LENGTH} characters): "
            "a keyed hash with a guessable key is no better than a plain hash")
    if encoding not in ENCODINGS:
        raise AnsibleFilterError(f"hmac: encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    mac = _hmac.new(key_bytes, _as_bytes(value, "input"), hashlib.sha256)
    if encoding == "bcrypt_salt":
        return bcrypt_salt(mac.digest())
    return mac.hexdigest()


class FilterModule:
    """Keyed hashes."""

    def filters(self):
        return {"hmac": hmac}
