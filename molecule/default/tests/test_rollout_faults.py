# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""A rollout killed with SIGKILL at any point: requests keep succeeding, at most one
Celery beat ever runs, and the next run converges.

Each case starts a rollout (the app part of site.yml, to the other image set) under the
bounded load, kills ansible-playbook with SIGKILL when it reaches a given task, runs it
again, and reports: failed requests, the most beats seen running at once (sampled every
half second from the start of the rollout to the end of the re-run) and the re-run's
result. The last step converges back to the inventory's release, as site.yml made it."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from app_client import APP_ONLY, PLATFORM, Client, app_projects, host_load
from conftest import ANSI_RE

V1 = {"app_backend_image": "{{ cc_image_registry }}/commandcenter/cc-backend:1.0.0",
      "app_frontend_image": "{{ cc_image_registry }}/commandcenter/cc-frontend:1.0.0"}
V2 = {"app_backend_image": "{{ cc_image_registry }}/commandcenter/cc-backend:2.0.0",
      "app_frontend_image": "{{ cc_image_registry }}/commandcenter/cc-frontend:2.0.0"}
# (case, images to roll out, the task at whose start the run is killed, seconds into it)
POINTS = [
    ("new release up, gate running", V2, r"Ensure every service passes the health gate in cc-app-", 1.0),
    ("during the switch", V1, r"Wait until Traefik's metrics show up every server of release", 0.5),
    ("during the drain", V2, r"Ensure the other releases are drained and removed", 2.0),
]
RESULTS: list[str] = []


@pytest.fixture(scope="module")
def client(host):
    return Client(host)


class BeatSampler(threading.Thread):
    """Counts the running beat containers on the host every half second; keeps the maximum."""

    def __init__(self, platform: str):
        super().__init__(daemon=True)
        self.platform, self.most, self.samples = platform, 0, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            proc = subprocess.run(["docker", "exec", self.platform, "docker", "ps", "-q", "--filter", "status=running",
                                   "--filter", "label=com.docker.compose.service=beat"],
                                  capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                self.most = max(self.most, len(proc.stdout.split()))
                self.samples += 1
            self._done.wait(0.5)

    def stop(self) -> int:
        self._done.set()
        self.join(10)
        return self.most


def site_command(converge_playbook: Path, extra_vars: dict) -> list[str]:
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return ["ansible-playbook", "-i", str(inventory), str(converge_playbook), *APP_ONLY,
            "--extra-vars", json.dumps(extra_vars)]


def killed_run(command: list[str], task: str, delay: float, timeout: float = 600) -> tuple[bool, str]:
    """Run the command; SIGKILL its whole process group `delay` s after a task header matching
    `task` appears. Returns (killed, output)."""
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    header = re.compile(r"^TASK \[.*" + task)
    lines, killed, deadline = [], False, time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(ANSI_RE.sub("", line))
        if header.search(lines[-1]):
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        if time.monotonic() > deadline:
            break
    if not killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    return killed, "".join(lines)


@pytest.mark.parametrize(("case", "images", "task", "delay"), POINTS, ids=[p[0] for p in POINTS])
def test_rollout_killed_keeps_serving_one_beat_and_reconverges(host, client, converge, converge_playbook,
                                                                 case, images, task, delay):
    sampler = BeatSampler(PLATFORM)
    with host_load(host, client) as load:
        sampler.start()
        killed, output = killed_run(site_command(converge_playbook, images), task, delay)
        assert killed, f"the run never reached {task!r}:\n{output[-3000:]}"
        start = time.monotonic()
        rerun = converge(*APP_ONLY, extra_vars=images)
        rerun_seconds = time.monotonic() - start
        most_beats = sampler.stop()
        result = load.stop()
    line = (f"SIGKILL {case}: failed requests {result['failed']} of {result['requests']}, "
            f"beats at once at most {most_beats} ({sampler.samples} samples), re-run rc {rerun.returncode} "
            f"changed={rerun.changed} in {rerun_seconds:.1f} s")
    RESULTS.append(line)
    print("\n" + line)
    assert rerun.returncode == 0, rerun.output[-4000:]
    assert result["failed"] == 0, result["failures"]
    assert most_beats <= 1, f"{most_beats} beats ran at once"
    projects = app_projects(host)
    assert len(projects) == 1, f"releases left after the re-run: {sorted(projects)}"
    beats = [name for names in projects.values() for name in names if "-beat-" in name]
    assert len(beats) == 1, f"beats after the re-run: {beats}"
    status, health = client.api("GET", "/health")
    expected = images["app_backend_image"].rsplit(":", 1)[1]
    assert status == 200 and health["version"] == expected, health


def test_back_to_the_inventory_release_and_report(converge):
    """Leave the host as site.yml makes it (release v1), and print every case's figures."""
    run = converge(*APP_ONLY, extra_vars=V1)
    assert run.returncode == 0, run.output[-4000:]
    print("\n" + "\n".join(RESULTS))
    assert len(RESULTS) == len(POINTS), "a fault case did not run"
