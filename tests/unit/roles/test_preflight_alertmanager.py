# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""alertmanager: bad input fails before anything changes, naming the variable and never the secret.

Each case runs the whole role in check mode against this machine (connection
local): argument_specs or preflight must stop it before any task of a later
step ("Ensure ...") starts. No Docker needed.
"""
from __future__ import annotations

import pytest
from conftest import (
    assert_numbers_as_strings_pass,
    assert_preflight_passed,
    assert_refused_before_change,
    batched_refusals,
    run_role,
    step_tasks,
)

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

# Valid, random-looking test values (not used anywhere else). URLs carry tokens: secrets.
SECRETS = {
    "alertmanager_webhook_url": "https://hooks.example.test/cc/pf-wh-Vb3nQ8xL2r",
    "alertmanager_email_auth_password": "pf-smtp-Jr6tM1wK9e",
    "alertmanager_slack_api_url": "https://hooks.slack.test/services/pf-sl-Gd4hZ7cP0u",
    "alertmanager_pagerduty_routing_key": "pf-pd-Wq2sY5nF8aHk",
    "alertmanager_heartbeat_url": "https://hc.example.test/ping/pf-hb-Tm9eR3vB6j",
}
# Every receiver enabled, with good settings and secrets.
GOOD = {
    **SECRETS,
    "alertmanager_webhook_enabled": True,
    "alertmanager_email_enabled": True,
    "alertmanager_email_to": ["oncall@example.com"],
    "alertmanager_email_from": "alertmanager@example.com",
    "alertmanager_email_smarthost": "smtp.example.com:587",
    "alertmanager_email_auth_username": "alertmanager",
    "alertmanager_slack_enabled": True,
    "alertmanager_slack_channel": "#alerts",
    "alertmanager_pagerduty_enabled": True,
    "alertmanager_heartbeat_enabled": True,
}


def no_secret_shows(out: str, secrets: dict) -> None:
    """No secret value (the URLs' too, which the shared helper does not know by name) is in the output."""
    leaked = sorted(name for name, value in secrets.items() if value and value in out)
    assert not leaked, f"the output shows the value of {leaked}"


CASES = [
    # secrets of the enabled receivers (preflight, commandcenter.infra.secret_problems)
    ("missing-slack-url", {"alertmanager_slack_enabled": True}, ["alertmanager_slack_api_url: not set"]),
    ("missing-every-secret", {k: v for k, v in GOOD.items() if k not in SECRETS},
     [f"{name}: not set" for name in SECRETS]),
    ("placeholder-routing-key", {**GOOD, "alertmanager_pagerduty_routing_key": "changeme"},
     ["alertmanager_pagerduty_routing_key: is a placeholder"]),
    ("short-smtp-password", {**GOOD, "alertmanager_email_auth_password": "Zr4kP0x9"},
     ["alertmanager_email_auth_password: shorter than 16 characters"]),
    ("webhook-url-not-a-url", {**GOOD, "alertmanager_webhook_url": "hooks.example.test/cc/pf-Kq7wE2"},
     ["alertmanager_webhook_url must be an http:// or https:// URL (value not shown)"]),
    # types and choices (argument_specs)
    ("bad-type-port", {**GOOD, "alertmanager_port": "many"}, ["alertmanager_port", "int"]),
    ("bad-choice-log-level", {**GOOD, "alertmanager_log_level": "verbose"}, ["alertmanager_log_level", "verbose"]),
    ("inhibit-without-source", {**GOOD, "alertmanager_inhibit_dependencies": [{"targets": ["X"]}]},
     ["alertmanager_inhibit_dependencies", "source"]),
    # values (preflight)
    ("bad-durations", {**GOOD, "alertmanager_group_wait": "30 seconds", "alertmanager_repeat_interval": "0h",
                       "alertmanager_heartbeat_repeat_interval": "1 minute"},
     ["alertmanager_group_wait must be an Alertmanager duration like 30s, 5m, 4h or 1d, got 30 seconds",
      "alertmanager_repeat_interval must be an Alertmanager duration like 30s, 5m, 4h or 1d above 0, got 0h",
      "alertmanager_heartbeat_repeat_interval must be an Alertmanager duration", "got 1 minute"]),
    ("retention-in-days", {**GOOD, "alertmanager_retention": "5d"},
     ["alertmanager_retention must be a positive duration", "got 5d"]),
    ("email-to-not-addresses", {**GOOD, "alertmanager_email_to": ["oncall@example.com", "oncall"]},
     ["alertmanager_email_to: not e-mail addresses", "oncall"]),
    ("email-to-empty", {**GOOD, "alertmanager_email_to": []}, ["alertmanager_email_to must list at least one"]),
    ("email-from", {**GOOD, "alertmanager_email_from": "alertmanager"},
     ["alertmanager_email_from must be an e-mail address, got 'alertmanager'"]),
    ("smarthost-without-port", {**GOOD, "alertmanager_email_smarthost": "smtp.example.com"},
     ["alertmanager_email_smarthost must be host:port", "got 'smtp.example.com'"]),
    ("smarthost-bad-port", {**GOOD, "alertmanager_email_smarthost": "smtp.example.com:99999"},
     ["alertmanager_email_smarthost must be host:port", "smtp.example.com:99999"]),
    ("severity-unknown-kind", {**GOOD, "alertmanager_severity_receivers": {"critical": ["pager", "heartbeat"]}},
     ["alertmanager_severity_receivers: unknown receiver kinds", "pager", "heartbeat"]),
    ("default-unknown-kind", {**GOOD, "alertmanager_default_receivers": ["sms"]},
     ["alertmanager_default_receivers: unknown receiver kinds", "sms"]),
    ("group-by-not-labels", {**GOOD, "alertmanager_group_by": ["alertname", "bad label"]},
     ["alertmanager_group_by must be label names", "bad label"]),
    ("inhibit-bad-names", {**GOOD, "alertmanager_inhibit_dependencies": [
        {"source": "Postgres Down", "targets": ["SlowQueries"], "equal": ["in stance"]}]},
     ["alertmanager_inhibit_dependencies: not alert names", "Postgres Down",
      "alertmanager_inhibit_dependencies: equal must list label names", "in stance"]),
    ("slack-channel", {**GOOD, "alertmanager_slack_channel": "alerts"},
     ["alertmanager_slack_channel must be empty, #channel or @user, got 'alerts'"]),
    ("external-url", {**GOOD, "alertmanager_external_url": "alertmanager.example.com"},
     ["alertmanager_external_url must be empty or an http:// or https:// URL"]),
    ("ports", {**GOOD, "alertmanager_port": 70000, "alertmanager_cluster_port": 0},
     ["alertmanager_port must be 1-65535, got 70000", "alertmanager_cluster_port must be 1-65535, got 0"]),
    ("same-ports", {**GOOD, "alertmanager_cluster_port": 9093},
     ["alertmanager_port and alertmanager_cluster_port must differ, both are 9093"]),
    ("image-with-blank", {**GOOD, "alertmanager_image": "prom/alertmanager v0.28.1"}, ["alertmanager_image"]),
    ("root-user", {**GOOD, "alertmanager_user_id": 0}, ["alertmanager_user_id must be a non-root uid"]),
    ("limits", {**GOOD, "alertmanager_mem_limit": "lots", "alertmanager_cpus": 0, "alertmanager_pids_limit": 8,
                "alertmanager_log_max_size": "big", "alertmanager_log_max_file": 0},
     ["alertmanager_mem_limit must be a docker size", "got lots", "alertmanager_cpus must be greater than 0",
      "alertmanager_pids_limit must be 16 or more", "alertmanager_log_max_size must look like",
      "alertmanager_log_max_file must be 1 or more"]),
    ("mem-limit-too-small", {**GOOD, "alertmanager_mem_limit": "16m"}, ["alertmanager_mem_limit must be 32m or more"]),
    ("data-dir", {**GOOD, "alertmanager_data_dir": "data"},
     ["alertmanager_data_dir must be an absolute path", "got data"]),
]


refused = batched_refusals("alertmanager", CASES)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    out = assert_refused_before_change(proc, "alertmanager", expected, role_vars)
    no_secret_shows(out, {k: v for k, v in role_vars.items() if k in SECRETS})


def test_refusal_never_shows_a_url_secret(tmp_path):
    """A short or malformed URL secret is refused by name; its value appears nowhere, even at -vvv."""
    bad = {"alertmanager_slack_api_url": "Kx81mQzv", "alertmanager_heartbeat_url": "ftp-ish:Jq2wV9zLk4Rt7yPm"}
    proc = run_role(tmp_path, "alertmanager", {**GOOD, **bad}, "-vvv")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "alertmanager_slack_api_url: shorter than 16 characters" in out
    assert "alertmanager_heartbeat_url must be an http:// or https:// URL (value not shown)" in out
    no_secret_shows(out, bad)


NO_AUTH = {**GOOD, "alertmanager_email_auth_username": "", "alertmanager_email_auth_password": ""}


@pytest.mark.parametrize("role_vars", [GOOD, {}, NO_AUTH],
                         ids=["every-receiver", "defaults-no-receiver", "email-without-auth"])
def test_good_input_passes_preflight(tmp_path, role_vars):
    """The defaults (no receiver: nothing to set), every receiver with its secrets, and e-mail without SMTP AUTH
    (no password needed) pass argument_specs and every preflight check."""
    proc = run_role(tmp_path, "alertmanager", role_vars, "--tags", "alertmanager_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed=0" in out
    assert_preflight_passed(proc, "alertmanager")
    assert not step_tasks(out, "alertmanager")


def test_every_problem_is_reported_together(tmp_path):
    """Bad values of five variables and a missing secret: one failure lists all of them."""
    proc = run_role(tmp_path, "alertmanager", {
        **{k: v for k, v in GOOD.items() if k != "alertmanager_pagerduty_routing_key"},
        "alertmanager_port": 0, "alertmanager_group_interval": "5 min", "alertmanager_email_smarthost": "smtp",
        "alertmanager_default_receivers": ["sms"], "alertmanager_data_dir": "data"})
    out = assert_refused_before_change(proc, "alertmanager", [
        "alertmanager: 6 input problem(s)", "alertmanager_pagerduty_routing_key: not set",
        "alertmanager_port must be 1-65535, got 0", "alertmanager_group_interval must be an Alertmanager duration", "got 5 min",
        "alertmanager_email_smarthost must be host:port", "alertmanager_default_receivers: unknown receiver kinds",
        "alertmanager_data_dir must be an absolute path"], GOOD)
    assert out.count("FAILED!") == 1
    no_secret_shows(out, SECRETS)


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "9093" for an int, and so do preflight and the rest of the role."""
    proc = run_role(tmp_path, "alertmanager", GOOD, "-e", "alertmanager_port=9093",
                    "-e", "alertmanager_cluster_port=9094", "-e", "alertmanager_cpus=0.5",
                    "-e", "alertmanager_pids_limit=256", "-e", "alertmanager_log_max_file=2",
                    "-e", "alertmanager_health_timeout=60", "-e", "alertmanager_user_id=65534")
    assert_numbers_as_strings_pass(proc, "alertmanager")
