# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring + alertmanager: Prometheus scrapes what the inventory has, its rules load, and
a real outage reaches real receivers.

The receivers run on the platform host's engine, on the monitoring network, as
host_vars/cc-monitoring.yml names them: `webhook-sink` (a small HTTP server of the
toolbox image that records every POST) and `mailsink` (Postfix, images/mailsink: a real
SMTP server that stores every mail in a Maildir). Redis is stopped for real; RedisDown
fires from the real rule (its `for:` shortened through monitoring_alert_for), Prometheus
sends it, Alertmanager routes it, and both receivers get it, then its resolution.

The backup alerts read the *.prom files the backup role writes for node-exporter's
textfile collector: this scenario has no backup role, so a test writes such a file
itself, as the runner does, with a success too old for its limit, and follows
BackupTooOld (its `for:` shortened likewise) to the webhook and back to resolved.
"""
from __future__ import annotations

import email
import email.policy
import json
import shlex
import time

import pytest
from conftest import WEBHOOK_SINK_SERVER, inventory_hostvars, prometheus_api, prometheus_query, sh, wait_for

HOSTVARS = inventory_hostvars()
ALERTMANAGER = "cc-alertmanager-alertmanager-1"
REDIS = "cc-redis-redis-1"
REGISTRY = HOSTVARS["cc_image_registry"]
NODE_EXPORTER = "cc-node-node-exporter-1"
# The backup role's metrics directory (its backup_metrics_dir) in the monitoring role's
# textfile directory: node-exporter reads the *.prom files of its subdirectories *.d.
BACKUP_METRICS_SUBDIR = "backup.d"
# A backup kind no role writes: the test's own metrics file and alert.
STALE_KIND = "molecule_stale"
# What the scenario runs, and what cannot run here (no image exists: no Debian package, no
# reachable registry), or is deployed by other scenarios.
EXPECTED_JOBS = {"prometheus", "alertmanager", "redis", "node"}
NOT_RUN_HERE = {
    "cadvisor": "no cAdvisor image exists on this machine (no Debian package, no registry): inventories/local "
                "switches it off (monitoring_cadvisor_enabled)",
    "backend, flower, postgres, traefik, nats, blackbox": "not in this scenario's inventory: the default scenario "
                                                          "scrapes them with the whole site",
}


def docker(host, *args: str) -> str:
    return sh(host, "docker " + " ".join(shlex.quote(a) for a in args))


def sink_curl(host, *args: str) -> str:
    """curl from the webhook sink's container (the toolbox image) on the monitoring network."""
    return docker(host, "exec", "webhook-sink", "curl", "-sS", "--fail", *args)


@pytest.fixture(scope="module")
def receivers(host):
    """The webhook sink and the SMTP server, started fresh on the monitoring network."""
    docker(host, "rm", "-f", "webhook-sink", "mailsink")
    docker(host, "run", "-d", "--name", "webhook-sink", "--network", "monitoring",
           f"{REGISTRY}/commandcenter/toolbox:trixie", "python3", "-c", WEBHOOK_SINK_SERVER)
    docker(host, "run", "-d", "--name", "mailsink", "--network", "monitoring",
           f"{REGISTRY}/commandcenter/mailsink:trixie")
    deadline = time.monotonic() + 60
    while docker(host, "inspect", "-f", "{{.State.Health.Status}}", "mailsink").strip() != "healthy":
        assert time.monotonic() < deadline, docker(host, "logs", "mailsink")
        time.sleep(1)
    yield
    docker(host, "start", REDIS)
    docker(host, "rm", "-f", "webhook-sink", "mailsink")


def hooks(host, path_prefix: str) -> list[dict]:
    out = host.run("docker exec webhook-sink cat /tmp/hooks.jsonl").stdout
    return [h for h in map(json.loads, out.splitlines()) if h["path"].startswith(path_prefix)]


def mails(host) -> list[email.message.EmailMessage]:
    out = host.run("docker exec mailsink sh -c 'for f in /home/sink/Maildir/new/*; do "
                   "[ -f \"$f\" ] && cat \"$f\" && echo ===CC-MAIL-END===; done'").stdout
    return [email.message_from_string(part.strip() + "\n", policy=email.policy.default)
            for part in out.split("===CC-MAIL-END===") if part.strip()]


def mail_text(message) -> str:
    parts = [p for p in message.walk() if p.get_content_type() in ("text/plain", "text/html")]
    return message["subject"] + "\n" + "\n".join(p.get_content() for p in parts)


def notifications(host, alertname: str, status: str, since: float) -> list[dict]:
    """Webhook notifications (path /alerts) after `since` holding `alertname` with `status`."""
    return [h for h in hooks(host, "/alerts/") if h["at"] >= since and any(
        a["labels"]["alertname"] == alertname and a["status"] == status for a in h["body"]["alerts"])]


def mails_about(host, alertname: str, marker: str, count_before: int) -> list:
    return [m for m in mails(host)[count_before:] if alertname in m["subject"] and marker in m["subject"]]


def test_prometheus_runs_the_roles_configuration(host):
    build = prometheus_api(host, "/api/v1/status/buildinfo")["data"]
    assert build["version"].startswith("2.53"), build
    config = prometheus_api(host, "/api/v1/status/config")["data"]["yaml"]
    assert "environment: local" in config and "cluster: commandcenter" in config, config[:600]
    assert "scrape_interval: 5s" in config, "the scenario's interval, set through monitoring_scrape_interval"


def test_every_scrape_job_that_can_run_here_is_up(host):
    targets = prometheus_api(host, "/api/v1/targets")["data"]["activeTargets"]
    by_job: dict[str, list[str]] = {}
    for target in targets:
        by_job.setdefault(target["labels"]["job"], []).append(target["health"])
    assert set(by_job) == EXPECTED_JOBS, by_job
    down = {job: health for job, health in by_job.items() if set(health) != {"up"}}
    assert not down, down
    print("scrape jobs up:", ", ".join(f"{job} ({len(h)} target(s))" for job, h in sorted(by_job.items())))
    for jobs, why in NOT_RUN_HERE.items():
        print(f"scrape jobs NOT run in this scenario: {jobs}: {why}")
    up = prometheus_query(host, "up")
    assert {r["metric"]["job"] for r in up if r["value"][1] == "1"} == EXPECTED_JOBS


def test_every_rule_is_loaded_and_healthy(host):
    groups = prometheus_api(host, "/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    unhealthy = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not unhealthy, unhealthy
    names = {r["name"] for r in rules}
    assert {"Watchdog", "RedisDown", "TargetMissing", "CeleryBeatMissing", "EndpointDown"} <= names
    assert len(rules) >= 29
    redis_down = next(r for r in rules if r["name"] == "RedisDown")
    assert redis_down["duration"] == 10, "for: from monitoring_alert_for"
    evaluation_ms = sum(group["evaluationTime"] for group in groups) * 1000
    print(f"rules loaded and healthy: {len(rules)} in {len(groups)} groups; last evaluation of all groups "
          f"{evaluation_ms:.1f} ms")


def test_watchdog_reaches_the_heartbeat_receiver_repeatedly(host, receivers):
    beats = wait_for("two Watchdog heartbeats", lambda: (lambda b: b if len(b) >= 2 else None)(
        hooks(host, "/heartbeat/")), timeout=120)
    assert all([a["labels"]["alertname"] for a in h["body"]["alerts"]] == ["Watchdog"] for h in beats)
    gap = beats[1]["at"] - beats[0]["at"]
    print(f"Watchdog heartbeats: {len(beats)}, {gap:.1f} s apart (repeat interval 10 s)")
    assert gap >= 5
    assert not notifications(host, "Watchdog", "firing", 0), "the heartbeat reaches no other receiver"


def test_a_redis_outage_reaches_the_webhook_and_the_mail_server_then_resolves(host, receivers):
    wait_for("Redis healthy before the outage",
             lambda: docker(host, "inspect", "-f", "{{.State.Health.Status}}", REDIS).strip() == "healthy")
    mails_before = len(mails(host))
    start = time.time()
    docker(host, "stop", REDIS)
    try:
        fired = wait_for("RedisDown at the webhook", lambda: notifications(host, "RedisDown", "firing", start))
        webhook_s = fired[0]["at"] - start
        alert = next(a for a in fired[0]["body"]["alerts"] if a["labels"]["alertname"] == "RedisDown")
        assert alert["labels"]["severity"] == "critical" and alert["labels"]["service"] == "redis", alert
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"]), alert
        assert alert["annotations"]["runbook_url"].endswith("#redisdown")
        mail = wait_for("RedisDown by e-mail", lambda: mails_about(host, "RedisDown", "FIRING", mails_before))[0]
        mail_s = time.time() - start
        text = mail_text(mail)
        assert mail["to"] == "oncall@alerts.test"
        assert alert["annotations"]["summary"] in text and "severity" in text and "critical" in text, text[:2000]
    finally:
        restarted = time.time()
        docker(host, "start", REDIS)
    resolved = wait_for("RedisDown resolved at the webhook",
                        lambda: notifications(host, "RedisDown", "resolved", restarted))
    resolved_s = resolved[0]["at"] - restarted
    wait_for("RedisDown resolved by e-mail", lambda: mails_about(host, "RedisDown", "RESOLVED", mails_before))
    resolved_mail_s = time.time() - restarted
    print(f"RedisDown (for: 10s): redis stopped -> webhook {webhook_s:.1f} s, e-mail within {mail_s:.1f} s; "
          f"redis started -> resolved at the webhook {resolved_s:.1f} s, by e-mail within {resolved_mail_s:.1f} s")


def test_a_silence_suppresses_the_alert_and_the_receivers_get_nothing(host, receivers):
    now = time.time()
    silence = {"matchers": [{"name": "alertname", "value": "RedisDown", "isRegex": False, "isEqual": True}],
               "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)),
               "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600)),
               "createdBy": "molecule", "comment": "maintenance: the silence test"}
    silence_id = json.loads(sink_curl(host, "-X", "POST", "-H", "Content-Type: application/json", "-d",
                                      json.dumps(silence), "http://alertmanager:9093/api/v2/silences"))["silenceID"]
    mails_before = len(mails(host))
    start = time.time()
    docker(host, "stop", REDIS)
    try:
        def suppressed():
            alerts = json.loads(sink_curl(host, "http://alertmanager:9093/api/v2/alerts?filter=alertname%3DRedisDown"))
            return [a for a in alerts if a["status"]["state"] == "suppressed" and silence_id in a["status"]["silencedBy"]]
        wait_for("RedisDown suppressed by the silence", suppressed)
        # Past group_wait (2 s) and a group interval (10 s): a notification would be out by now.
        time.sleep(20)
        assert not notifications(host, "RedisDown", "firing", start), "a silenced alert reached the webhook"
        assert not mails_about(host, "RedisDown", "FIRING", mails_before), "a silenced alert was mailed"
        print(f"silence {silence_id}: RedisDown suppressed, no notification in {time.time() - start:.0f} s")
    finally:
        docker(host, "start", REDIS)
        sink_curl(host, "-X", "DELETE", f"http://alertmanager:9093/api/v2/silence/{silence_id}")


def alerts_of(host, alertname: str, status: str, since: float, **labels: str) -> list[dict]:
    """The alerts named `alertname` with `status` and these labels in the webhook notifications after `since`."""
    return [a for h in notifications(host, alertname, status, since) for a in h["body"]["alerts"]
            if a["labels"]["alertname"] == alertname and a["status"] == status
            and all(a["labels"].get(k) == v for k, v in labels.items())]


def write_textfile(host, directory: str, name: str, lines: list[str]) -> None:
    """A textfile-collector file written as the backup runner's write_prom does: whole, under a
    hidden name node-exporter skips (not *.prom), mode 0644, then renamed into place."""
    content = "\n".join(lines) + "\n"
    sh(host, f"set -e; cd {shlex.quote(directory)}; tmp=$(mktemp -p . .{name}.XXXXXX.tmp); "
             f"printf %s {shlex.quote(content)} > \"$tmp\"; chmod 0644 \"$tmp\"; mv -f \"$tmp\" {name}.prom")


def test_a_stale_backup_fires_backup_too_old_then_resolves_when_its_metrics_go(host, receivers):
    """BackupTooOld from the real rule: a kind whose last success (3 days ago) is older than its
    limit (1 day), its last run a success (so BackupFailed stays quiet)."""
    groups = prometheus_api(host, "/api/v1/rules")["data"]["groups"]
    rule = next(r for g in groups if g["name"] == "backup" for r in g["rules"] if r["name"] == "BackupTooOld")
    assert rule["duration"] == 10, "for: from monitoring_alert_for"
    # The host directory node-exporter has at /textfile (monitoring_textfile_dir).
    textfile_dir = docker(host, "inspect", "-f", '{{range .Mounts}}{{if eq .Destination "/textfile"}}{{.Source}}'
                          "{{end}}{{end}}", NODE_EXPORTER).strip()
    assert textfile_dir == "/opt/commandcenter/node/textfile", textfile_dir
    directory = f"{textfile_dir}/{BACKUP_METRICS_SUBDIR}"
    created_dir = not host.file(directory).exists
    now = int(sh(host, "date +%s"))
    last_success, max_age = now - 3 * 86400, 86400
    label = f'{{kind="{STALE_KIND}"}}'
    lines = []
    for metric, help_text, value in (
        ("cc_backup_last_run_timestamp_seconds", "When the backup last ran (unix time).", now - 600),
        ("cc_backup_last_success_timestamp_seconds", "When the backup last succeeded (0: never).", last_success),
        ("cc_backup_last_result", "1 if the last run succeeded, 0 if it failed.", 1),
        ("cc_backup_last_duration_seconds", "How long the last run took.", 12.5),
        ("cc_backup_last_size_bytes", "Size of what the last successful run produced.", 4096),
        ("cc_backup_max_age_seconds", "Age of the last success after which the backup is too old.", max_age),
    ):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge", f"{metric}{label} {value}"]
    start = time.time()
    if created_dir:  # as the backup role would: node-exporter (another user) lists it
        sh(host, f"mkdir -m 0755 {shlex.quote(directory)}")
    try:
        write_textfile(host, directory, f"cc_backup_{STALE_KIND}", lines)
        scraped = wait_for("the stale backup's metrics in Prometheus", lambda: prometheus_query(
            host, f'cc_backup_last_success_timestamp_seconds{{kind="{STALE_KIND}"}}'), timeout=60)
        assert [(r["metric"]["job"], float(r["value"][1])) for r in scraped] == [("node", last_success)], scraped
        scraped_s = time.time() - start
        fired = wait_for(f"BackupTooOld for kind {STALE_KIND} firing at the webhook",
                         lambda: alerts_of(host, "BackupTooOld", "firing", start, kind=STALE_KIND), timeout=120)
        webhook_s = time.time() - start
        alert = fired[0]
        assert alert["labels"]["alertname"] == "BackupTooOld" and alert["status"] == "firing", alert
        assert alert["labels"]["severity"] == "critical" and alert["labels"]["service"] == "backup", alert
        assert alert["labels"]["kind"] == STALE_KIND and alert["labels"]["job"] == "node", alert
        # humanizeTimestamp: Go's time.Time in UTC.
        when = time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(last_success))
        summary = " ".join(alert["annotations"]["summary"].split())
        assert summary == f"The {STALE_KIND} backup of {alert['labels']['instance']} last succeeded at {when}", summary
        assert f"the last success was at {when}" in " ".join(alert["annotations"]["description"].split()), alert
        assert alert["annotations"]["runbook_url"].endswith("#backuptooold"), alert
        assert not alerts_of(host, "BackupFailed", "firing", start, kind=STALE_KIND), "the last run succeeded"
    finally:
        removed = time.time()
        host.run(f"rm -f {shlex.quote(directory)}/cc_backup_{STALE_KIND}.prom")
        if created_dir:
            host.run(f"rmdir {shlex.quote(directory)}")
    resolved = wait_for(f"BackupTooOld for kind {STALE_KIND} resolved at the webhook",
                        lambda: alerts_of(host, "BackupTooOld", "resolved", removed, kind=STALE_KIND), timeout=120)
    assert resolved[0]["labels"]["severity"] == "critical", resolved[0]
    resolved_s = time.time() - removed
    assert not prometheus_query(host, f'ALERTS{{alertname="BackupTooOld", kind="{STALE_KIND}"}}')
    print(f"BackupTooOld (for: 10s): stale metrics file written -> scraped within {scraped_s:.1f} s, firing at the "
          f"webhook within {webhook_s:.1f} s (summary: {summary!r}); file removed -> resolved within {resolved_s:.1f} s")
