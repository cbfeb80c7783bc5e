# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""cc-backend: one image, several commands (api, migrate, worker, beat, flower,
healthcheck, version). Configuration errors exit 2 with a message naming the
variable; no secret is ever printed."""
import argparse
import json
import os
import socket
import sys
import time
import urllib.request

from . import config

COMMAND_FILE = "/tmp/cc-backend.command"
BEAT_PIDFILE = "/tmp/celerybeat.pid"
BEAT_SCHEDULE = "/tmp/celerybeat-schedule"
BEAT_MAX_AGE = 120


def _fail(message, code=2):
    print(json.dumps({"level": "error", "logger": "cc-backend", "message": config.redact(message)}),
          file=sys.stdout, flush=True)
    sys.exit(code)


def _remember(command):
    """Record which command this container runs, for `cc-backend healthcheck`."""
    os.environ["CC_BACKEND_COMMAND"] = command
    try:
        with open(COMMAND_FILE, "w", encoding="utf-8") as handle:
            handle.write(command + "\n")
    except OSError:
        pass  # no writable /tmp: healthcheck then needs its argument


def _celery(*args, quiet=True):
    argv = [sys.executable, "-m", "celery", "-A", "commandcenter_ref.celery_app",
            *(["--quiet"] if quiet else []), *args]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


def cmd_api(extra):
    config.secret_key()
    config.database_url()
    config.redis_url()
    config.nats_url()
    config.embedding_dim()
    _remember("api")
    from . import logs
    logs.configure()
    import logging

    import uvicorn
    logging.getLogger("cc-backend").info(
        "starting api", extra={"version": config.version(),
                               "database": config.mask_url(config.database_url()),
                               "redis": config.mask_url(config.redis_url()),
                               "nats": config.mask_url(config.nats_url())})
    uvicorn.run(
        "commandcenter_ref.api:app",
        host=os.environ.get("CC_API_HOST", "0.0.0.0"),
        port=int(os.environ.get("CC_API_PORT", "8000")),
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "*"),
        timeout_graceful_shutdown=10,
        timeout_keep_alive=5,
        http="h11",
        loop="asyncio",
        server_header=False,
        log_config=logs.uvicorn_log_config(),
        log_level=config.log_level().lower(),
    )


def cmd_migrate(extra):
    config.database_url()
    config.embedding_dim()
    _remember("migrate")
    from . import logs
    logs.configure()
    import logging

    from alembic import command

    from . import db
    log = logging.getLogger("cc-backend")
    head = db.image_head()
    log.info("migrating", extra={"database": config.mask_url(config.database_url()), "target": head})
    try:
        current = db.current_revision()
        if current is not None and current not in db.known_revisions():
            # A newer release migrated the schema (expand-only migrations): this
            # release runs on it as it is, e.g. after a rollback. Nothing to do.
            log.warning("database is at a revision newer than this image's; not migrating",
                        extra={"revision": current, "image_head": head})
            return
        command.upgrade(db.alembic_config(), "head")
    except Exception as exc:  # noqa: BLE001 - report any failure without a traceback full of URLs
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _fail(f"migration failed: {type(exc).__name__}: {detail}"[:500], code=1)
    log.info("migrations at head", extra={"revision": head})


def cmd_worker(extra):
    config.redis_url()
    config.result_backend_url()
    _remember("worker")
    concurrency = os.environ.get("CELERY_CONCURRENCY", "2")
    _celery("worker", "--concurrency", concurrency, "--hostname", "worker@%h",
            "--loglevel", config.log_level(), *extra)


def cmd_beat(extra):
    config.redis_url()
    _remember("beat")
    for stale in (BEAT_PIDFILE,):
        try:
            os.unlink(stale)
        except OSError:
            pass
    _celery("beat", "--schedule", BEAT_SCHEDULE, "--pidfile", BEAT_PIDFILE,
            "--loglevel", config.log_level(), *extra)


def cmd_flower(extra):
    config.redis_url()
    _remember("flower")
    _celery("flower", "--address=0.0.0.0", "--port=5555", *extra, quiet=False)


def _http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except Exception as exc:  # noqa: BLE001
        print(f"unhealthy: {url}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
        return False


def _worker_ok():
    from .celery_app import app
    node = f"worker@{socket.gethostname()}"
    replies = app.control.ping(destination=[node], timeout=3)
    if any(node in reply for reply in replies):
        return True
    print(f"unhealthy: no ping reply from {node}", file=sys.stderr)
    return False


def _beat_ok():
    try:
        with open(BEAT_PIDFILE, encoding="utf-8") as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: beat process not running ({type(exc).__name__})", file=sys.stderr)
        return False
    from .celery_app import BEAT_ALIVE_FILE
    try:
        age = time.time() - os.stat(BEAT_ALIVE_FILE).st_mtime
    except OSError:
        print("unhealthy: beat has not ticked yet", file=sys.stderr)
        return False
    if age > BEAT_MAX_AGE:
        print(f"unhealthy: beat last ticked {age:.0f} s ago", file=sys.stderr)
        return False
    return True


def cmd_healthcheck(extra):
    which = extra[0] if extra else None
    if which is None:
        try:
            with open(COMMAND_FILE, encoding="utf-8") as handle:
                which = handle.read().strip()
        except OSError:
            _fail("healthcheck: say which (api, worker, beat, flower)", code=2)
    if which == "migrate":
        sys.exit(0)
    checks = {
        "api": lambda: _http_ok("http://127.0.0.1:8000/health"),
        "flower": lambda: _http_ok("http://127.0.0.1:5555/healthcheck"),
        "worker": _worker_ok,
        "beat": _beat_ok,
    }
    if which not in checks:
        _fail(f"healthcheck: unknown service {which!r} (api, worker, beat, flower)", code=2)
    sys.exit(0 if checks[which]() else 1)


def cmd_version(extra):
    print(config.version())


COMMANDS = {
    "api": cmd_api,
    "migrate": cmd_migrate,
    "worker": cmd_worker,
    "beat": cmd_beat,
    "flower": cmd_flower,
    "healthcheck": cmd_healthcheck,
    "version": cmd_version,
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        # As upstream images do: any other command runs as given (sh, python3 ...).
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            _fail(f"cc-backend: cannot run {argv[0]!r}: {exc.strerror}", code=127)
    parser = argparse.ArgumentParser(
        prog="cc-backend",
        description="CommandCenter reference backend (api, migrate, worker, beat, flower); "
                    "any other command runs as given.")
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    try:
        COMMANDS[options.command](options.args)
    except config.ConfigError as exc:
        _fail(f"{options.command}: configuration error: {exc}", code=2)


if __name__ == "__main__":
    main()
