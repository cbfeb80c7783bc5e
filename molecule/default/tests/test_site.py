# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The whole site on one host, through the local inventory's variables."""
import os
import re
import subprocess
import time
from pathlib import Path

from conftest import PlaybookRun, docker_json, parse_recap, platform_name, sh, wait_for

ROOT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])


def test_engine_serves_the_shared_networks(host):
    assert host.service("docker").is_running
    for name in ("edge", "data", "monitoring"):
        assert docker_json(host, "network", "inspect", name)["Name"] == name


def operator_run(playbook: str, *args: str) -> PlaybookRun:
    """A playbook run exactly as the README tells an operator, with inventories/local, whose
    host is named cc-sandbox, pointed at this scenario's host (named cc-default in Molecule's
    inventory) and at the secrets Molecule's run generated."""
    secrets = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent / ".secrets"
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(ROOT / "inventories" / "local"), str(ROOT / "playbooks" / playbook),
         "-e", f"ansible_host={platform_name()}", "-e", f"cc_local_secrets_dir={secrets}", *args],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
             "ANSIBLE_NOCOLOR": "1"})
    output = proc.stdout + proc.stderr
    return PlaybookRun(proc.returncode, output, parse_recap(output))


def test_renamed_host_converges_with_no_change():
    """The host converged as cc-default, re-run through the operator's inventory as cc-sandbox:
    nothing that matters (CA, password hashes, release ids, config hashes) depends on the name."""
    run = operator_run("site.yml")
    assert run.returncode == 0, run.output[-6000:]
    assert list(run.recap) == ["cc-sandbox"], run.recap
    changed = [line for line in run.output.splitlines() if line.startswith("changed:")]
    print(f"inventory rename cc-default -> cc-sandbox: site.yml changed={run.changed}")
    assert run.changed == 0, "renaming the host changed:\n" + "\n".join(changed) + run.output[-4000:]


def test_summary_names_endpoints_credentials_health_and_releases():
    """playbooks/verify.yml through inventories/local: what `make demo` ends with."""
    run = operator_run("verify.yml")
    assert run.returncode == 0, run.output[-4000:]
    out = " ".join(run.output.split())
    assert "All containers healthy" in out and "no problems found" in out, run.output[-4000:]
    for url in ("https://api.commandcenter.test/health", "https://commandcenter.test/",
                "https://flower.commandcenter.test/", "https://traefik.commandcenter.test/dashboard/",
                "https://prometheus.commandcenter.test/", "https://alertmanager.commandcenter.test/"):
        assert url in out, f"{url} not in the summary"
    assert "try: curl --resolve api.commandcenter.test:443:" in out
    assert "--cacert <(docker exec cc-default cat /opt/commandcenter/traefik/tls/ca.crt)" in out
    assert "take the users of traefik_dashboard_users (admin)" in out
    assert "alertmanager.commandcenter.test, prometheus.commandcenter.test) take the users" in out
    assert "every generated secret of this sandbox is a file in" in out
    assert "SERVICE STATE HEALTH RESTARTS IMAGE" in out
    assert "app: current release " in out and "/commandcenter/cc-backend:" in out
    assert "cc-redis-redis-1 running healthy 0" in out
    # Which alerts fire depends on the machine (HighCpuUsage on a busy CI host): the line says.
    assert re.search(r"monitoring: (\d+) of \1 scrape targets up; alerts firing: \S", out), run.output[-4000:]
    # The certificate each endpoint serves, read over TLS on the Traefik host (the local CA's: a year).
    days = re.search(r"certificates \(days left\): ([^'\"]*)", out)
    assert days, run.output[-4000:]
    served = dict(item.split(" ") for item in days.group(1).split(", "))
    assert set(served) >= {"api.commandcenter.test", "commandcenter.test", "prometheus.commandcenter.test"}, served
    assert all(300 <= int(left) <= 400 for left in served.values()), served
    # The backup test_restore_in_place ran (a base backup; its in-place restore is no drill).
    assert re.search(r"backup postgres_base: last success \d+ (s|min|h) ago", out), run.output[-4000:]
    assert "restore drill: none yet (playbooks/restore.yml runs one)" in out, run.output[-4000:]


def test_summary_reports_a_failed_backup_and_a_certificate_near_its_end(host):
    """A backup kind whose last run failed, and certificates with fewer days left than asked
    (cc_verify_certificate_days above what they have), are named, and verify.yml fails."""
    record = "/opt/commandcenter/node/textfile/backup.d/cc_backup_verifyprobe.prom"
    sh(host, "printf '%s\\n' 'cc_backup_last_success_timestamp_seconds{kind=\"verifyprobe\"} 0' "
             "'cc_backup_last_result{kind=\"verifyprobe\"} 0' > " + record)
    try:
        run = operator_run("verify.yml", "-e", "cc_verify_certificate_days=100000")
    finally:
        sh(host, "rm -f " + record)
    out = " ".join(run.output.split())
    assert run.returncode != 0, "verify.yml passed with a failed backup and certificates near their end"
    assert "backup verifyprobe: its last run failed (journalctl -u cc-backup-verifyprobe.service)" in out, \
        run.output[-4000:]
    assert re.search(r"certificate of api\.commandcenter\.test: expires in \d+ day\(s\)", out), run.output[-4000:]


def test_summary_reports_a_missing_beat(host):
    """A release without its scheduler (the state a killed rollout could leave) is named, and
    verify.yml fails; with the beat back it passes again."""
    beat = sh(host, "docker ps --filter label=com.docker.compose.service=beat --format '{{.Names}}'")
    assert beat, "no beat running before the test"
    sh(host, f"docker stop {beat}")
    try:
        run = operator_run("verify.yml")
        out = " ".join(run.output.split())
        assert run.returncode != 0, "verify.yml passed without a Celery beat"
        assert "no Celery beat is running: scheduled tasks do not run" in out, run.output[-3000:]
    finally:
        sh(host, f"docker start {beat}")
    for _ in range(60):
        if "healthy" in sh(host, f"docker inspect --format '{{{{.State.Health.Status}}}}' {beat}"):
            break
        time.sleep(1)
    assert operator_run("verify.yml").returncode == 0


def test_summary_reports_a_scrape_target_down(host):
    """An exporter that stops answering is named with its job and the scrape error, and
    verify.yml fails; with the exporter back it passes again."""
    exporter = "cc-redis-redis-exporter-1"
    sh(host, f"docker stop {exporter}")
    try:
        def reported():
            run = operator_run("verify.yml")
            return run if "scrape target down: job redis" in " ".join(run.output.split()) else None
        run = wait_for("the redis job down in the summary", reported, timeout=90, interval=5)
        assert run.returncode != 0, "verify.yml passed with a scrape target down"
    finally:
        sh(host, f"docker start {exporter}")
    wait_for("verify.yml passing again", lambda: operator_run("verify.yml").returncode == 0, timeout=90, interval=5)


def test_every_stack_of_the_site_is_up_and_healthy(host):
    """site.yml on one host: each data stack runs, and every container with a healthcheck is healthy."""
    projects = {}
    for line in host.run("docker ps -a --format '{{.Label \"com.docker.compose.project\"}} {{.Names}} {{.Status}}'"
                         ).stdout.splitlines():
        project, name, status = line.split(" ", 2)
        projects.setdefault(project, []).append((name, status))
    for stack in ("cc-postgres", "cc-redis", "cc-nats", "cc-alertmanager", "cc-monitoring", "cc-node"):
        assert stack in projects, f"{stack} not deployed: {sorted(projects)}"
        for name, status in projects[stack]:
            assert status.startswith("Up"), f"{name}: {status}"
            assert "unhealthy" not in status and "starting" not in status, f"{name}: {status}"
