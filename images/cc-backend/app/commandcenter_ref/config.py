# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Configuration from the environment. Every variable VAR may instead come from the
file named by VAR_FILE (Docker secrets); setting both is an error."""
import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit


class ConfigError(Exception):
    """A missing or invalid setting: the message names the variable, never its value."""


# Values that must never reach a log line (filled as settings are read).
SECRETS = set()


def _remember_secrets(name, value):
    if not value:
        return
    if name == "SECRET_KEY":
        SECRETS.add(value)
        return
    if "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        if password:
            SECRETS.add(password)
            SECRETS.add(unquote(password))


def get(name, default=None):
    """The value of NAME, or of the file NAME_FILE, or default."""
    value = os.environ.get(name) or None
    path = os.environ.get(name + "_FILE") or None
    if value is not None and path is not None:
        raise ConfigError(f"both {name} and {name}_FILE are set; set only one")
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
    if value is None:
        value = default
    _remember_secrets(name, value)
    return value


def require(name):
    value = get(name)
    if not value:
        raise ConfigError(f"{name} (or {name}_FILE) is required")
    return value


def version():
    return os.environ.get("APP_VERSION", "0.0.0")


def log_level():
    return (get("LOG_LEVEL", "INFO") or "INFO").upper()


def embedding_dim():
    raw = get("EMBEDDING_DIM", "3")
    if not re.fullmatch(r"[1-9][0-9]{0,4}", raw or ""):
        raise ConfigError("EMBEDDING_DIM must be a positive integer")
    return int(raw)


def database_url():
    url = require("DATABASE_URL")
    # A plain postgresql:// URL means psycopg 3, the only driver in the image.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    return url


def redis_url():
    return require("REDIS_URL")


def result_backend_url():
    return get("RESULT_BACKEND_URL") or redis_url()


def nats_url():
    return require("NATS_URL")


def secret_key():
    key = require("SECRET_KEY")
    if len(key) < 16:
        raise ConfigError("SECRET_KEY must be at least 16 characters long")
    return key


def broken_health():
    return (os.environ.get("CC_BROKEN_HEALTH") or "").lower() in ("1", "true", "yes")


def mask_url(url):
    """URL with the password replaced by ***, for logs and messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return "<unparsable url>"


def endpoint(url):
    """host:port of a URL, for short error reasons."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    except ValueError:
        return "?"


def redact(text):
    """text with every known secret replaced by ***. Secrets shorter than 4
    characters are left alone (they would mangle every word); URLs are logged
    through mask_url anyway."""
    for secret in sorted(SECRETS, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
