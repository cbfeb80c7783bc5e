# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""A client outside the platform: requests through Traefik's published ports of the
sandbox host (the Traefik host of a scenario of several), from the toolbox image on the host's nested engine, verified against
the sandbox's own CA (traefik_tls_mode: selfsigned)."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

from conftest import dashboard_netrc, host_var, inventory_hostvars, platform_name, put_root_file, run_playbook, sh

ROOT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
PLATFORM = platform_name()
CA_FILE = "/opt/commandcenter/traefik/tls/ca.crt"
NETRC = "/root/.cc-test-app-netrc"


class Client:
    def __init__(self, host):
        variables = inventory_hostvars()
        self.host = host
        self.domain = variables["traefik_domain"]
        self.toolbox = f"{variables['cc_image_registry']}/commandcenter/toolbox:trixie"
        self._netrc: str | None = None

    def netrc(self) -> str:
        """The first dashboard user's credentials (password resolved from the inventory's
        templates) in a root-only file on the host, written once; for `--netrc-file`."""
        if self._netrc is None:
            user = host_var("traefik_dashboard_users")[0]
            put_root_file(NETRC, dashboard_netrc(self.domain, user["name"], user["password"]))
            self._netrc = NETRC
        return self._netrc

    def curl(self, name: str, path: str, *args: str, netrc: bool = False) -> tuple[int, str]:
        """curl https://<name><path> through 127.0.0.1:443 of the host; (status, body).
        netrc: authenticate as the first dashboard user (see netrc())."""
        mounts = f"-v {CA_FILE}:/ca.crt:ro" + (f" -v {self.netrc()}:/netrc:ro" if netrc else "")
        if netrc:
            args = ("--netrc-file", "/netrc", *args)
        command = (f"docker run --rm --network host {mounts} {self.toolbox} "
                   f"curl -sS --max-time 20 --cacert /ca.crt --resolve {name}:443:127.0.0.1 "
                   f"-o /dev/stdout -w '\\n%{{http_code}}' "
                   + " ".join(shlex.quote(a) for a in args) + f" https://{name}{path}")
        out = sh(self.host, command)
        body, _, status = out.rpartition("\n")
        return int(status), body

    def api(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        args = ["-X", method]
        if payload is not None:
            args += ["-H", "Content-Type: application/json", "--data", json.dumps(payload)]
        status, body = self.curl(f"api.{self.domain}", path, *args)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {"raw": body}


class Load:
    """scripts/loadgen.py at a fixed rate against api.DOMAIN/health, in the background,
    from the toolbox image on the sandbox host's engine. `run(command)` runs a shell
    command on the sandbox host and returns its stdout (raising when it fails)."""

    NAME = "cc-loadgen"

    def __init__(self, run, domain: str, toolbox: str, rate: float = 20, path: str = "/health"):
        self.run, self.domain, self.toolbox, self.rate, self.path = run, domain, toolbox, rate, path

    def __enter__(self) -> Load:
        subprocess.run(["docker", "cp", str(ROOT / "scripts" / "loadgen.py"), f"{PLATFORM}:/opt/cc-loadgen.py"],
                       check=True)
        self.run(f"docker rm -f {self.NAME} >/dev/null 2>&1 || true")
        self.run(f"docker run -d --name {self.NAME} --network host -v /opt/cc-loadgen.py:/loadgen.py:ro "
                 f"-v {CA_FILE}:/ca.crt:ro {self.toolbox} python3 /loadgen.py "
                 f"--url https://api.{self.domain}{self.path} --connect 127.0.0.1 --cacert /ca.crt "
                 f"--rate {self.rate} --max-seconds 900")
        time.sleep(3)   # some traffic before the change
        return self

    def __exit__(self, *exc) -> None:
        self.run(f"docker rm -f {self.NAME} >/dev/null 2>&1 || true")

    def stop(self) -> dict:
        time.sleep(3)   # and some after it
        self.run(f"docker kill -s TERM {self.NAME} && docker wait {self.NAME}")
        return json.loads(self.run(f"docker logs {self.NAME}").splitlines()[-1])


def host_load(host, client: Client, **kwargs) -> Load:
    """A Load on the testinfra host."""
    return Load(lambda command: sh(host, command), client.domain, client.toolbox, **kwargs)


# The app tests converge the app part of site.yml only (its play's tag): the other
# parts are converged, proven idempotent and unchanged by these tests.
APP_ONLY = ("--tags", "app")


def timed_converge(converge, **extra_vars):
    start = time.monotonic()
    run = converge(*APP_ONLY, extra_vars=extra_vars)
    return run, time.monotonic() - start


def timed_playbook(path: Path, **extra_vars):
    start = time.monotonic()
    run = run_playbook(path, extra_vars=extra_vars or None)
    return run, time.monotonic() - start


def app_projects(host) -> dict[str, list[str]]:
    """Compose projects cc-app-* and their services' container names."""
    projects: dict[str, list[str]] = {}
    for line in host.run("docker ps -a --format '{{.Label \"com.docker.compose.project\"}} {{.Names}}'").stdout.split(
            "\n"):
        if line.startswith("cc-app-"):
            project, name = line.split()
            projects.setdefault(project, []).append(name)
    return projects
