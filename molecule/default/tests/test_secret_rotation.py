# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""playbooks/rotate_secrets.yml: the app's passwords of PostgreSQL, Redis and NATS rotated
while 20 requests/s go through Traefik, with no failed request; afterwards the old passwords
are refused, the new ones accepted, the bridge logins closed, and site.yml changes nothing.

The local inventory keeps its generated secrets in <inventory>/.secrets/<variable> (what a
vault is to inventories/prod): the test writes the new values there, as an operator edits
the vault. It runs after the rollout tests (file order) and leaves the inventory and the
host consistent: every later test reads the new values from the inventory."""
from __future__ import annotations

import subprocess

import pytest
from app_client import ROOT, Client, host_load, timed_playbook
from conftest import ROTATED_APP_PASSWORDS, platform_name, replace_app_passwords, run_playbook, sh

PLAYBOOK = ROOT / "playbooks" / "rotate_secrets.yml"


@pytest.fixture(scope="module")
def client(host):
    return Client(host)


def in_container(container: str, script: str, secret: str) -> subprocess.CompletedProcess:
    """A shell script in one of the host's containers, with a secret on its stdin (never on a
    command line)."""
    return subprocess.run(["docker", "exec", "-i", platform_name(), "docker", "exec", "-i", container,
                           "sh", "-c", script], input=secret + "\n", capture_output=True, text=True, timeout=60,
                          check=False)


def postgres_login(user: str, password: str) -> bool:
    proc = in_container("cc-postgres-postgres-1",
                        f"read -r PGPASSWORD; export PGPASSWORD; psql -X -At -h 127.0.0.1 -U {user} -d commandcenter "
                        "-c 'SELECT current_user'", password)
    return proc.returncode == 0 and proc.stdout.strip() == "commandcenter"


def redis_login(user: str, password: str) -> bool:
    proc = in_container("cc-redis-redis-1",
                        f"read -r REDISCLI_AUTH; export REDISCLI_AUTH; redis-cli --no-auth-warning --user {user} ping",
                        password)
    return proc.stdout.strip() == "PONG"


def nats_login(host, user: str, password: str) -> bool:
    image = sh(host, "docker inspect -f '{{.Config.Image}}' cc-nats-nats-1")
    proc = subprocess.run(["docker", "exec", "-i", platform_name(), "docker", "run", "--rm", "-i", "--network", "data",
                           image, "nats-probe", "-s", "nats://nats:4222", "-timeout", "5s", "-user", user,
                           "-password-file", "-", "connect"],
                          input=password + "\n", capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode == 0


def test_rotating_a_secret_the_app_already_runs_with_is_refused_before_anything_changes():
    run = run_playbook(PLAYBOOK, extra_vars={"rotate": "redis_app_password"})
    assert run.returncode != 0, run.output[-3000:]
    assert "redis_app_password: the inventory holds the password the app already runs with" in run.output, \
        run.output[-3000:]
    assert sum(counts.get("changed", 0) for counts in run.recap.values()) == 0, run.recap
    run = run_playbook(PLAYBOOK, extra_vars={"rotate": "redis_password"})
    assert run.returncode != 0 and "rotate must be `all` or a comma-separated list of" in run.output, \
        run.output[-3000:]


def test_rotating_every_app_password_under_load_fails_no_request(host, client):
    old, new = replace_app_passwords()
    with host_load(host, client) as load:
        run, seconds = timed_playbook(PLAYBOOK, rotate="all")
        result = load.stop()
    print(f"\nrotation of {', '.join(ROTATED_APP_PASSWORDS)}: {seconds:.1f} s; {result['requests']} requests at "
          f"{result['rate']}/s, {result['failed']} failed, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
    assert run.returncode == 0, run.output[-4000:]
    assert "Rotating " + ", ".join(ROTATED_APP_PASSWORDS) in run.output, run.output[-4000:]
    assert result["failed"] == 0, result["failures"]
    assert result["requests"] >= 0.9 * result["rate"] * result["seconds"], result
    for name in ROTATED_APP_PASSWORDS:
        assert old[name] not in run.output and new[name] not in run.output, f"{name} in the playbook's output"

    status, health = client.api("GET", "/health")
    assert status == 200 and health["status"] == "ok", health
    # The app's own users take the new passwords and refuse the old ones.
    assert postgres_login("commandcenter", new["postgres_pgvector_app_password"])
    assert not postgres_login("commandcenter", old["postgres_pgvector_app_password"])
    assert redis_login("commandcenter", new["redis_app_password"])
    assert not redis_login("commandcenter", old["redis_app_password"])
    assert nats_login(host, "commandcenter", new["nats_app_password"])
    assert not nats_login(host, "commandcenter", old["nats_app_password"])
    # The bridges are closed: no login with the new password either.
    assert not postgres_login("commandcenter_next", new["postgres_pgvector_app_password"])
    assert not redis_login("commandcenter_next", new["redis_app_password"])
    assert not nats_login(host, "commandcenter_next", new["nats_app_password"])
    assert sh(host, "docker exec cc-postgres-postgres-1 psql -X -At -U postgres -c "
                    "\"SELECT rolcanlogin, (SELECT count(*) FROM pg_stat_activity WHERE usename = rolname) "
                    "FROM pg_roles WHERE rolname = 'commandcenter_next'\"") == "f|0"


def test_nothing_is_left_to_rotate_and_the_site_changes_nothing(converge):
    run = run_playbook(PLAYBOOK, extra_vars={"rotate": "all"})
    assert run.returncode == 0 and "Nothing to rotate" in run.output, run.output[-3000:]
    assert sum(counts.get("changed", 0) for counts in run.recap.values()) == 0, run.recap
    run = converge("--tags", "postgres,redis,nats,app")
    assert run.returncode == 0, run.output[-3000:]
    assert sum(counts.get("changed", 0) for counts in run.recap.values()) == 0, changed_tasks(run.output)


def changed_tasks(output: str) -> str:
    """Each task of a playbook's output that reported a change, with what it printed."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed:"):
            found.append(f"{task}\n  {line}")
    return "\n".join(found) or output[-4000:]
