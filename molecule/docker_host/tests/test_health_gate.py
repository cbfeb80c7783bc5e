# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The health gate (commandcenter.infra.compose_health) on a real engine.

A crash-looping and an unhealthy service must fail the gate in seconds, not at
its 300 s timeout, with diagnostics that name the cause and hide the secret.
"""
import os
import time

import pytest
from conftest import run_module, sh

REGISTRY = os.environ.get("CC_REGISTRY_HOST", "172.17.0.1:5000")
IMAGE = f"{REGISTRY}/commandcenter/debian:trixie"
SECRET = "Gate-S3cret-Value-42"
COMPOSE = f"""
services:
  crasher:
    image: {IMAGE}
    restart: unless-stopped
    command: ["sh", "-c", "echo connecting to postgres://app:{SECRET}@db/app; echo fatal: cannot start; exit 3"]
  sicko:
    image: {IMAGE}
    restart: unless-stopped
    command: ["sleep", "infinity"]
    stop_signal: SIGKILL   # sleep ignores SIGTERM: recreating would wait out the 10 s grace
    healthcheck:
      test: ["CMD-SHELL", "echo probe token={SECRET} failed; exit 1"]
      interval: 1s
      timeout: 2s
      retries: 2
  steady:
    image: {IMAGE}
    restart: unless-stopped
    command: ["sleep", "infinity"]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 3
  migrate:
    image: {IMAGE}
    command: ["sh", "-c", "echo migrated; exit 0"]
"""


@pytest.fixture(scope="module")
def project(host):
    sh(host, "mkdir -p /tmp/cc-gate && cat > /tmp/cc-gate/compose.yml <<'EOF'\n" + COMPOSE + "\nEOF")
    sh(host, "docker compose -p cc-gate -f /tmp/cc-gate/compose.yml up -d --quiet-pull 2>&1")
    yield "cc-gate"
    host.run("docker compose -p cc-gate -f /tmp/cc-gate/compose.yml down -t 1")


def gate(services, oneshot=(), timeout=300, fresh=None):
    """Run the gate; with fresh=host, first recreate the services so the gate sees them start."""
    started = time.monotonic()
    if fresh is not None:
        sh(fresh, "docker compose -p cc-gate -f /tmp/cc-gate/compose.yml up -d --force-recreate "
           + " ".join(services) + " 2>&1")
    rc, result, raw = run_module("commandcenter.infra.compose_health", {
        "project": "cc-gate", "services": services, "oneshot": list(oneshot), "timeout": timeout,
        "interval": 1, "log_lines": 5, "secrets": [SECRET]})
    return rc, result, raw, time.monotonic() - started


def test_healthy_and_oneshot_services_pass(project):
    rc, result, raw, _ = gate(["steady"], oneshot=["migrate"])
    assert rc == 0, raw[-3000:]
    assert result["services"]["steady"]["health"] == "healthy"
    assert result["services"]["migrate"]["exit_code"] == 0


def report(capsys, text):
    """Show a figure and the gate's report in the test output, passed or not."""
    with capsys.disabled():
        print(text)


def test_crash_loop_fails_fast_with_diagnostics(host, project, capsys):
    rc, result, raw, seconds = gate(["crasher"], fresh=host)
    report(capsys, f"\n[health gate] crash loop: recreated and failed the gate in {seconds:.1f} s "
                   f"(gate itself {result.get('elapsed')} s, timeout 300 s):\n"
                   f"{result.get('msg', raw)[-2000:]}")
    assert rc != 0 and result.get("failed"), raw[-3000:]
    assert seconds < 30, f"crash loop took {seconds:.1f} s to fail"
    crasher = result["services"]["crasher"]
    assert crasher["status"] == "failed" and "crash loop" in crasher["reason"]
    # 3 when caught between restarts; None when caught running again (Docker resets the code then).
    assert crasher["exit_code"] in (3, None)
    assert "fatal: cannot start" in crasher["logs"]
    assert SECRET not in raw and "app:********@db" in raw


def test_unhealthy_fails_fast_with_health_output(host, project, capsys):
    rc, result, raw, seconds = gate(["sicko"], fresh=host)
    report(capsys, f"\n[health gate] unhealthy: recreated and failed the gate in {seconds:.1f} s "
                   f"(gate itself {result.get('elapsed')} s, timeout 300 s):\n"
                   f"{result.get('msg', raw)[-2000:]}")
    assert rc != 0, raw[-3000:]
    assert seconds < 30, f"unhealthy took {seconds:.1f} s to fail"
    sicko = result["services"]["sicko"]
    assert sicko["health"] == "unhealthy"
    assert "probe token=" in sicko["health_log"] and SECRET not in raw
