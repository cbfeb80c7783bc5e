# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The Celery application: broker and result backend on Redis, a heartbeat from beat."""
import datetime
import logging
import os
import pathlib
import time

import redis
from celery import Celery, signals
from celery.beat import PersistentScheduler

from . import config, logs

HEARTBEAT_INTERVAL = 30.0
HEARTBEAT_KEY = "cc:beat:last"
BEAT_ALIVE_FILE = "/tmp/cc-beat.alive"

log = logging.getLogger("commandcenter_ref.tasks")

app = Celery("commandcenter_ref")
app.conf.update(
    broker_url=config.redis_url(),
    result_backend=config.result_backend_url(),
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600},
    result_expires=3600,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    worker_send_task_events=True,
    task_send_sent_event=True,
    worker_prefetch_multiplier=1,
    beat_scheduler="commandcenter_ref.celery_app:HeartbeatScheduler",
    beat_max_loop_interval=15,
    beat_schedule={
        "heartbeat": {"task": "commandcenter_ref.heartbeat", "schedule": HEARTBEAT_INTERVAL},
    },
)


@signals.setup_logging.connect
def _setup_logging(**_kwargs):
    logs.configure()


# flower and the healthcheck import this module without Celery's logging setup.
if os.environ.get("CC_BACKEND_COMMAND") in ("flower", "beat", "worker"):
    logs.configure()


@app.task(name="commandcenter_ref.add")
def add(x, y):
    return x + y


@app.task(name="commandcenter_ref.heartbeat", ignore_result=True)
def heartbeat():
    """Scheduled by beat: the time of the last beat, for monitoring."""
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    client = redis.Redis.from_url(config.redis_url(), socket_timeout=5, socket_connect_timeout=5)
    client.set(HEARTBEAT_KEY, now, ex=int(HEARTBEAT_INTERVAL * 4))
    log.info("heartbeat stored", extra={"key": HEARTBEAT_KEY, "at": now})


class HeartbeatScheduler(PersistentScheduler):
    """The shelve scheduler, plus: touch BEAT_ALIVE_FILE on every tick (the beat
    healthcheck reads its age) and send the first heartbeat at start."""

    def setup_schedule(self):
        super().setup_schedule()
        entry = self.schedule.get("heartbeat")
        if entry is not None and entry.total_run_count == 0:
            entry.last_run_at = self.app.now() - datetime.timedelta(seconds=HEARTBEAT_INTERVAL)

    def tick(self, *args, **kwargs):
        pathlib.Path(BEAT_ALIVE_FILE).write_text(f"{time.time():.0f}\n")
        return super().tick(*args, **kwargs)
