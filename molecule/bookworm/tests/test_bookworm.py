# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""docker_host (upstream source) and redis on Debian 12 (bookworm).

Docker's repository is not reachable here: the upstream source is a local stand-in for
it (images/docker-apt-standin), packages under Docker's names (docker-ce, docker-ce-cli,
containerd.io, docker-compose-plugin, docker-buildx-plugin) repackaged from Debian's
docker.io, docker-cli, containerd, runc, docker-compose and docker-buildx, signed with a
key generated at build time and served over HTTP from the outer engine. It proves the
role's key, source, package-name and switch tasks, not Docker Inc.'s binaries.
prepare.yml installed Debian 12's own docker.io first, so the converge had to switch.
"""
from __future__ import annotations

import shlex

import pytest
from conftest import docker_json, inventory_hostvars, sh

HOSTVARS = inventory_hostvars()
URL = HOSTVARS["docker_host_upstream_repo_url"]
UPSTREAM = ("docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin", "docker-buildx-plugin")
DISTRO = ("docker.io", "containerd", "runc")
KEY = "/etc/apt/keyrings/docker.asc"
SOURCE = "/etc/apt/sources.list.d/docker.sources"
REDIS = "cc-redis-redis-1"


def report(capsys, text: str) -> None:
    """Show what the test found in the output, passed or not."""
    with capsys.disabled():
        print(text)


def status(host, package: str) -> str:
    """dpkg's two-letter state of a package ('ii' installed, 'rc' removed, config left), '' if unknown."""
    result = host.run(f"dpkg-query -W -f='${{db:Status-Abbrev}}' {shlex.quote(package)}")
    return result.stdout.strip() if result.rc == 0 else ""


def test_platform_is_debian_12(host):
    assert host.system_info.distribution == "debian"
    assert host.system_info.codename == "bookworm"
    assert host.file("/etc/debian_version").content_string.startswith("12.")


def test_the_standin_packages_are_installed(host, capsys):
    rows = sh(host, "dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}  ${binary:Summary}\\n' "
              + " ".join(UPSTREAM)).splitlines()
    report(capsys, "\n[bookworm] installed from the stand-in for Docker's repository:\n  " + "\n  ".join(rows))
    for package in UPSTREAM:
        assert status(host, package) == "ii", package
        assert sh(host, f"dpkg-query -W -f='${{Version}}' {package}").endswith("~cc1"), package
    policy = sh(host, "apt-cache policy docker-ce")
    assert f"{URL} bookworm/stable amd64 Packages" in policy, policy
    assert sh(host, "dpkg -S /usr/bin/dockerd").startswith("docker-ce:")
    assert sh(host, "dpkg -S /usr/bin/docker").startswith("docker-ce-cli:")
    assert sh(host, "dpkg -S /usr/sbin/runc").startswith("containerd.io:")
    assert sh(host, "dpkg -S /usr/libexec/docker/cli-plugins/docker-compose").startswith("docker-compose-plugin:")


def test_the_distribution_packages_were_switched_away(host, capsys):
    """prepare.yml installed Debian's docker.io, containerd, runc; the role removed them
    before it installed the upstream packages (dpkg's log keeps the order)."""
    log = host.file("/var/log/dpkg.log").content_string.splitlines()
    events = [line.split()[2:4] for line in log if len(line.split()) > 4 and line.split()[2] in ("install", "remove")]
    report(capsys, "\n[bookworm] dpkg: " + ", ".join(" ".join(e) for e in events
                                                    if e[1].split(":")[0] in DISTRO + UPSTREAM))
    installed = [pkg.split(":")[0] for action, pkg in events if action == "install"]
    removed = [pkg.split(":")[0] for action, pkg in events if action == "remove"]
    for package in DISTRO:
        assert package in installed, f"{package} was never installed: prepare.yml did not set up the switch"
        assert package in removed, f"{package} was not removed by the switch"
        assert status(host, package) in ("rc", "un", ""), f"{package} is still installed: {status(host, package)}"
    first_upstream = min(i for i, (action, pkg) in enumerate(events)
                         if action == "install" and pkg.split(":")[0] == "docker-ce")
    last_distro_removal = max(i for i, (action, pkg) in enumerate(events)
                              if action == "remove" and pkg.split(":")[0] in DISTRO)
    assert last_distro_removal < first_upstream, "docker-ce was installed before the distribution's packages went"


def test_signing_key_and_source(host):
    key = host.file(KEY)
    assert (key.user, key.mode) == ("root", 0o644)
    assert key.content_string == sh(host, f"curl -fsS {URL}/gpg") + "\n"
    assert key.content_string.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    source = host.file(SOURCE)
    assert source.mode == 0o644
    assert source.content_string == (
        "# Managed by commandcenter.infra.docker_host\n"
        "Types: deb\n"
        f"URIs: {URL}\n"
        "Suites: bookworm\n"
        "Components: stable\n"
        "Architectures: amd64\n"
        f"Signed-By: {KEY}\n")


def apt_update(host, *options: str):
    result = host.run("apt-get update " + " ".join(options) + " 2>&1")
    return result.rc, result.stdout


def test_apt_update_verifies_the_signature(host):
    rc, out = apt_update(host)
    assert rc == 0, out
    assert f"{URL} bookworm InRelease" in out, out
    for problem in ("NO_PUBKEY", "not signed", "is not signed", "W:", "E:"):
        assert problem not in out, out


def test_apt_refuses_the_repository_signed_by_another_key(host):
    """The check above means something: with another key in Signed-By, apt refuses it."""
    sh(host, "mkdir -p /tmp/cc-apt-check/lists/partial && printf '%s\\n' "
       + shlex.quote(f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {URL} bookworm stable")
       + " > /tmp/cc-apt-check/other-key.list")
    try:
        rc, out = apt_update(host, "-o Dir::Etc::SourceList=/tmp/cc-apt-check/other-key.list",
                             "-o Dir::Etc::SourceParts=-", "-o Dir::State::Lists=/tmp/cc-apt-check/lists")
    finally:
        host.run("rm -rf /tmp/cc-apt-check")
    assert "NO_PUBKEY" in out or "not signed" in out, out


def test_engine_runs_the_standin_with_daemon_json(host, capsys):
    docker = host.service("docker")
    assert docker.is_running and docker.is_enabled
    server = sh(host, "docker version --format '{{.Server.Version}}'")
    report(capsys, f"\n[bookworm] engine {server} (dockerd of docker-ce), "
                   f"compose {sh(host, 'docker compose version --short')}")
    assert not server.startswith("20."), f"still Debian 12's engine: {server}"
    info = docker_json(host, "info")
    assert info["LiveRestoreEnabled"] is True and info["LoggingDriver"] == "json-file"
    for name in ("edge", "data", "monitoring"):
        assert docker_json(host, "network", "inspect", name)["Driver"] == "bridge"


def test_compose_v2_and_buildx_plugins_run(host):
    assert sh(host, "docker compose version --short").lstrip("v").startswith("2.")
    assert "buildx" in sh(host, "docker buildx version")


@pytest.mark.parametrize("container", [REDIS, "cc-redis-redis-exporter-1"])
def test_redis_stack_is_healthy(host, container):
    state = docker_json(host, "inspect", container)["State"]
    assert state["Running"] and state["Health"]["Status"] == "healthy", state


def test_redis_answers_its_monitoring_user(host):
    user = HOSTVARS.get("redis_monitor_user", "monitor")
    inner = ('REDISCLI_AUTH="$(cat /run/secrets/redis_monitor_password)" redis-cli --no-auth-warning '
             f"--user {shlex.quote(user)} PING")
    assert sh(host, f"docker exec {REDIS} sh -c %s", inner) == "PONG"
