# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""traefik: the edge proxy redirects, terminates TLS as configured, protects, limits and reports.

Clients run on the platform's nested engine from the toolbox image
(`docker run --rm --network host <toolbox> curl|openssl ...`), reaching the published
ports on 127.0.0.1 with the route names resolved by --resolve (SNI included) and
trusting the local CA the role created (/opt/commandcenter/traefik/tls/ca.crt).
Stand-in backends (containers cc-traefik-stand-in-*, the cc-frontend image) answer
for backend, frontend and flower (host_vars: traefik_services). The dashboard
password reaches curl as a netrc file written to the platform host through stdin:
no test prints it.
"""
from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest
from conftest import (
    COMPOSE_LOG_CONFIG,
    dashboard_netrc,
    docker_json,
    inventory_hostvars,
    put_root_file,
    run_playbook,
    sh,
)

PROJECT = "cc-traefik"
CONTAINER = f"{PROJECT}-traefik-1"
STACK_DIR = "/opt/commandcenter/traefik"
DYNAMIC_DIR = f"{STACK_DIR}/dynamic"
CA = f"{STACK_DIR}/tls/ca.crt"
NETRC = "/root/.cc-test-traefik-netrc"
WRONG_NETRC = "/root/.cc-test-traefik-wrong-netrc"
STAND_INS = ("backend", "frontend", "flower")
WRITE_DYNAMIC = Path(__file__).resolve().parents[1] / "write-dynamic.yml"
# Test converges re-apply only this role (docker_host is converged and proven idempotent).
ONLY_TRAEFIK = {"cc_molecule_roles": ["traefik"]}


HOSTVARS = inventory_hostvars()
DOMAIN = HOSTVARS["traefik_domain"]
REGISTRY = HOSTVARS["cc_image_registry"]
TOOLBOX = f"{REGISTRY}/commandcenter/toolbox:trixie"
STAND_IN_IMAGE = f"{REGISTRY}/commandcenter/cc-frontend:1.0.0"
USER = HOSTVARS["traefik_dashboard_users"][0]["name"]


def client(host, command: str, *, network: str = "host", mounts: tuple[str, ...] = ()) -> tuple[int, str]:
    """Run a shell command in a throw-away toolbox container on the nested engine; (rc, stdout+stderr)."""
    volumes = " ".join(f"-v {m}" for m in (f"{CA}:/ca.crt:ro", *mounts))
    result = host.run(f"docker run --rm --network {network} {volumes} {TOOLBOX} sh -c {shlex.quote(command + ' 2>&1')}")
    return result.rc, result.stdout


def resolve(name: str, port: int = 443) -> str:
    return f"--resolve {name}:{port}:127.0.0.1"


def curl(host, url: str, *args: str, mounts: tuple[str, ...] = ()) -> tuple[int, str]:
    name = url.split("/")[2].split(":")[0]
    port = 80 if url.startswith("http://") else 443
    return client(host, f"curl -sS --max-time 10 --cacert /ca.crt {resolve(name, port)} " + " ".join(args)
                  + f" {shlex.quote(url)}", mounts=mounts)


def status(host, url: str, *args: str, mounts: tuple[str, ...] = ()) -> str:
    rc, out = curl(host, url, "-o /dev/null", "-w '%{http_code}'", *args, mounts=mounts)
    assert rc == 0, out
    return out.strip()


def s_client(host, *args: str, servername: str | None = None) -> str:
    sni = f"-servername {servername or 'api.' + DOMAIN}" if servername != "" else "-noservername"
    _, out = client(host, f"openssl s_client -connect 127.0.0.1:443 {sni} -CAfile /ca.crt " + " ".join(args)
                    + " </dev/null")
    return out


def container_id(host) -> str:
    return sh(host, f"docker inspect -f '{{{{.Id}}}}' {CONTAINER}")


def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"{what} not met within {timeout} s (last: {last!r})")


@pytest.fixture(scope="module", autouse=True)
def stand_ins(host):
    """backend, frontend and flower answered by the cc-frontend image (read-only, tmpfs /tmp, as its contract says)."""
    names = [f"cc-traefik-stand-in-{n}" for n in STAND_INS]
    for name in names:
        host.run(f"docker rm -f {name}")
        sh(host, f"docker run -d --name {name} --network edge --read-only --tmpfs /tmp "
                 f"--cap-drop ALL --security-opt no-new-privileges:true {STAND_IN_IMAGE}")
    for name in names:
        wait_for(lambda n=name: host.run(f"docker inspect -f '{{{{.State.Health.Status}}}}' {n}").stdout.strip()
                 == "healthy", 60, f"{name} healthy")
    yield names
    for name in names:
        host.run(f"docker rm -f {name}")


@pytest.fixture(scope="module")
def netrc(host):
    """netrc files for curl: the real dashboard password, and a wrong one (root-only files on the platform)."""
    put_root_file(NETRC, dashboard_netrc(DOMAIN, USER, HOSTVARS["traefik_dashboard_admin_password"]))
    put_root_file(WRONG_NETRC, dashboard_netrc(DOMAIN, USER, "not-the-password-at-all"))
    yield f"{NETRC}:/netrc:ro", f"{WRONG_NETRC}:/netrc:ro"
    host.run(f"rm -f {NETRC} {WRONG_NETRC}")


# --- http, TLS ---------------------------------------------------------------------------

def test_http_redirects_to_https_on_the_published_port(host):
    rc, out = curl(host, f"http://api.{DOMAIN}/health?x=1", "-I")
    assert rc == 0, out
    assert out.startswith("HTTP/1.1 308"), out
    assert f"Location: https://api.{DOMAIN}/health?x=1\r" in out, out


def test_tls_1_1_is_refused(host):
    """OpenSSL 3 offers TLS 1.1 only at security level 0; Traefik answers with a protocol_version alert."""
    out = s_client(host, "-tls1_1", "-cipher", "'DEFAULT@SECLEVEL=0'")
    assert "alert protocol version" in out, out
    assert "Cipher is (NONE)" in out


@pytest.mark.parametrize(("version", "protocol"), [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_tls_1_2_and_1_3_are_accepted_with_a_trusted_certificate(host, version, protocol):
    out = s_client(host, version)
    assert f"Protocol: {protocol}" in out or f"Protocol  : {protocol}" in out, out
    assert "Verify return code: 0 (ok)" in out, out


@pytest.mark.parametrize("cipher", [
    "ECDHE-RSA-AES128-SHA",      # CBC: Go offers it by default for TLS 1.2, the options drop it
    "ECDHE-RSA-AES256-SHA384",   # CBC with SHA-384
    "AES128-GCM-SHA256",         # RSA key exchange, no forward secrecy
])
def test_weak_tls_1_2_ciphers_are_refused(host, cipher):
    out = s_client(host, "-tls1_2", "-cipher", cipher)
    assert "alert handshake failure" in out, out
    assert "Cipher is (NONE)" in out


@pytest.mark.parametrize("cipher", ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256",
                                    "ECDHE-RSA-CHACHA20-POLY1305"])
def test_seed_ciphers_are_accepted_with_tls_1_2(host, cipher):
    out = s_client(host, "-tls1_2", "-cipher", cipher)
    assert f"Cipher is {cipher}" in out, out


def test_unknown_host_name_gets_no_certificate(host):
    """sniStrict: a name no certificate covers, or no SNI at all, ends the handshake."""
    rc, out = curl(host, "https://www.example.org/")
    assert rc != 0 and "unrecognized name" in out, out
    assert "unrecognized name" in s_client(host, servername="")


def test_unknown_name_under_the_domain_gets_404(host):
    """Covered by *.DOMAIN, so the handshake works; no router matches it."""
    assert status(host, f"https://nothing-here.{DOMAIN}/") == "404"


def test_certificate_names_and_key_files(host):
    out = sh(host, f"openssl x509 -in {STACK_DIR}/tls/cert.pem -noout -ext subjectAltName -issuer")
    assert f"DNS:{DOMAIN}" in out and f"DNS:*.{DOMAIN}" in out, out
    assert "CommandCenter local CA" in out
    key = host.file(f"{STACK_DIR}/tls/key.pem")
    assert (key.uid, key.mode) == (65532, 0o400)
    ca_key = host.file(f"{STACK_DIR}/ca/ca.key")
    assert (ca_key.uid, ca_key.mode) == (0, 0o400)
    assert host.file(CA).mode == 0o644
    mounts = {m["Destination"]: m["Source"] for m in docker_json(host, "inspect", CONTAINER)["Mounts"]}
    assert f"{STACK_DIR}/ca" not in mounts.values(), "the CA key directory must not be mounted"


# --- what the routes do ------------------------------------------------------------------

def test_frontend_is_served_with_the_security_headers(host):
    rc, out = curl(host, f"https://{DOMAIN}/", "-i")
    assert rc == 0, out
    head = out.split("\r\n\r\n", 1)[0].lower()
    assert head.startswith("http/2 200"), head
    for header in ("strict-transport-security: max-age=31536000; includesubdomains; preload",
                   "x-content-type-options: nosniff", "x-frame-options: deny", "x-xss-protection: 1; mode=block",
                   "referrer-policy: strict-origin-when-cross-origin"):
        assert header in head, f"{header!r} missing:\n{head}"


def test_api_burst_above_the_limit_gets_429_while_normal_traffic_does_not(host):
    """api-ratelimit: average 5/s, burst 5 (host_vars). 4 requests/s pass; 30 at once do not all."""
    url = f"https://api.{DOMAIN}/healthz"
    time.sleep(2)   # a full bucket
    steady = client(host, f"for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null -w '%{{http_code}} ' --cacert /ca.crt "
                          f"{resolve('api.' + DOMAIN)} {url}; sleep 0.25; done")[1].split()
    assert steady == ["200"] * 8, steady
    time.sleep(2)
    config = "".join(f'url = "{url}"\\noutput = "/dev/null"\\n' for _ in range(30))
    _, out = client(host, f"printf '{config}' > /tmp/k && curl -s -Z --parallel-immediate --parallel-max 30 "
                          f"--cacert /ca.crt {resolve('api.' + DOMAIN)} -w '%{{http_code}}\\n' -K /tmp/k")
    codes = out.split()
    assert len(codes) == 30, out
    assert codes.count("429") >= 10 and codes.count("200") >= 5, codes
    assert set(codes) <= {"200", "429"}, codes


def test_dashboard_needs_the_password(host, netrc):
    good, wrong = netrc
    url = f"https://traefik.{DOMAIN}/dashboard/"
    rc, out = curl(host, url, "-i")
    assert rc == 0 and out.startswith("HTTP/2 401"), out[:500]
    assert f'www-authenticate: basic realm="{DOMAIN}"' in out.lower(), out[:500]
    assert status(host, url, "--netrc-file /netrc", mounts=(wrong,)) == "401"
    assert status(host, url, "--netrc-file /netrc", mounts=(good,)) == "200"
    assert status(host, f"https://traefik.{DOMAIN}/api/overview", "--netrc-file /netrc", mounts=(good,)) == "200"


def test_flower_route_needs_the_password(host, netrc):
    good, wrong = netrc
    url = f"https://flower.{DOMAIN}/healthz"
    assert status(host, url) == "401"
    assert status(host, url, "--netrc-file /netrc", mounts=(wrong,)) == "401"
    assert status(host, url, "--netrc-file /netrc", mounts=(good,)) == "200"


def test_users_file_is_a_secret_file_of_bcrypt_hashes(host):
    files = sh(host, f"ls {STACK_DIR}/secrets").split()
    assert len(files) == 1 and files[0].startswith("dashboard-users-"), files
    users = host.file(f"{STACK_DIR}/secrets/{files[0]}")
    assert (users.uid, users.mode) == (65532, 0o400)
    content = users.content_string
    assert content.startswith(f"{USER}:$2b$10$") and HOSTVARS["traefik_dashboard_admin_password"] not in content


# --- observability -----------------------------------------------------------------------

def test_metrics_entry_point_serves_prometheus_metrics_on_the_monitoring_network(host):
    _, out = client(host, "curl -sS --max-time 10 http://traefik:8082/metrics", network="monitoring")
    names = {line.split("{")[0].split(" ")[0] for line in out.splitlines() if line.startswith("traefik_")}
    assert {"traefik_config_reloads_total", "traefik_entrypoint_requests_total",
            "traefik_router_requests_total", "traefik_service_requests_total"} <= names, sorted(names)[:20]
    assert 'entrypoint="websecure"' in out and 'router="api@file"' in out


def test_json_access_log_lines_in_docker_logs(host):
    lines = []
    for line in host.run(f"docker logs --since 10m {CONTAINER}").stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON log line: {line[:200]}")
        if "RequestHost" in entry:
            lines.append(entry)
    assert any(e["RequestHost"] == f"api.{DOMAIN}" and e["DownstreamStatus"] == 200 for e in lines), lines[-3:]
    assert any(e["DownstreamStatus"] == 429 for e in lines)
    # basic auth's user name (the dashboard itself, api@internal, is not logged: traefik_access_log_internals)
    assert any(e["RequestHost"] == f"flower.{DOMAIN}" and e.get("ClientUsername") == USER for e in lines)
    assert not any(k.startswith("request_Authorization") for e in lines for k in e), "request headers are logged"


# --- the container -----------------------------------------------------------------------

def test_container_runs_hardened_without_the_docker_socket(host):
    c = docker_json(host, "inspect", CONTAINER)
    assert c["Config"]["User"] == "65532:65532"
    hc = c["HostConfig"]
    assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"]
    assert hc["ReadonlyRootfs"] is True and "no-new-privileges:true" in hc["SecurityOpt"]
    assert hc["Memory"] > 0 and hc["NanoCpus"] > 0
    assert hc["RestartPolicy"]["Name"] == "unless-stopped"
    assert hc["LogConfig"] == COMPOSE_LOG_CONFIG
    assert set(c["NetworkSettings"]["Networks"]) == {"edge", "monitoring"}
    # On monitoring also under its routes' public names (probes from inside need no public DNS).
    assert {f"api.{DOMAIN}", DOMAIN} <= set(c["NetworkSettings"]["Networks"]["monitoring"]["Aliases"] or [])
    assert c["State"]["Health"]["Status"] == "healthy"
    assert not any("docker.sock" in m["Source"] or "docker.sock" in m["Destination"] for m in c["Mounts"])
    dynamic = [m for m in c["Mounts"] if m["Destination"] == DYNAMIC_DIR]
    assert dynamic and dynamic[0]["RW"] is False
    assert sh(host, f"docker exec {CONTAINER} sh -c 'cat /proc/1/status' | awk '/^Uid:/{{print $2}}'") == "65532"
    assert sh(host, f"docker exec {CONTAINER} sh -c 'cat /proc/1/status' | awk '/^CapEff:/{{print $2}}'") == \
        "0000000000000000"


def test_only_http_and_https_are_published(host):
    bindings = docker_json(host, "inspect", CONTAINER)["HostConfig"]["PortBindings"]
    assert bindings == {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "80"}],
                        "8443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "443"}]}
    listening = sh(host, "ss -Htln")
    assert ":8082 " not in listening and ":8081 " not in listening, listening


# --- changes -----------------------------------------------------------------------------

def write_dynamic(name: str, content) -> object:
    return run_playbook(WRITE_DYNAMIC, extra_vars={"traefik_dynamic_file_name": name,
                                                   "traefik_dynamic_file_content": content})


PROBE = {"http": {
    "routers": {"probe": {"rule": f"Host(`probe.{DOMAIN}`)", "entryPoints": ["websecure"], "service": "probe",
                          "middlewares": ["security-headers"]}},
    "services": {"probe": {"loadBalancer": {"servers": [{"url": "http://cc-traefik-stand-in-frontend:8080"}]}}}}}


def test_dynamic_entry_point_writes_checks_and_refuses(host):
    """The app role's path: a good file is live without a restart, a bad one is refused and changes nothing."""
    before = container_id(host)
    try:
        run = write_dynamic("app.yml", PROBE)
        assert run.returncode == 0 and run.changed == 1, run.output[-3000:]
        wait_for(lambda: status(host, f"https://probe.{DOMAIN}/healthz") == "200", 15, "the probe route")
        again = write_dynamic("app.yml", PROBE)
        assert again.returncode == 0 and again.changed == 0, again.output[-3000:]
        live = host.file(f"{DYNAMIC_DIR}/app.yml").content_string

        bad = write_dynamic("app.yml", "http:\n  routers:\n    probe:\n      rul: Host(`probe.x`)\n")
        assert bad.returncode != 0, bad.output[-3000:]
        output = " ".join(bad.output.split())
        assert "Traefik refused the new content" in output and "field not found, node: rul" in output, output[-3000:]
        clash = write_dynamic("app2.yml", {"http": {"services": {"probe": {"loadBalancer": {
            "servers": [{"url": "http://elsewhere:8080"}]}}}}})
        assert clash.returncode != 0 and "HTTP service already configured" in clash.output, clash.output[-3000:]
        assert host.file(f"{DYNAMIC_DIR}/app.yml").content_string == live
        assert not host.file(f"{DYNAMIC_DIR}/app2.yml").exists
        assert status(host, f"https://probe.{DOMAIN}/healthz") == "200"
    finally:
        host.run(f"rm -f {DYNAMIC_DIR}/app.yml {DYNAMIC_DIR}/app2.yml")
    wait_for(lambda: status(host, f"https://probe.{DOMAIN}/healthz") == "404", 15, "the probe route gone")
    assert container_id(host) == before, "writing a dynamic file restarted Traefik"


def test_routes_password_and_certificate_change_without_restart(host, converge, netrc):
    """New route, rotated password, re-issued certificate (it names the new route): all live, same container."""
    good, _ = netrc
    before, started = container_id(host), docker_json(host, "inspect", CONTAINER)["State"]["StartedAt"]
    serial_before = sh(host, f"openssl x509 -in {STACK_DIR}/tls/cert.pem -noout -serial")
    routes = [{"name": "api", "host": f"api.{DOMAIN}", "service": "backend@file",
               "middlewares": ["security-headers", "api-ratelimit"]},
              {"name": "extra", "host": f"extra.probe.{DOMAIN}", "service": "frontend@file",
               "middlewares": ["security-headers"]},
              {"name": "dashboard", "host": f"traefik.{DOMAIN}", "service": "api@internal",
               "middlewares": ["security-headers", "dashboard-auth"]}]
    rotated = "R0tated-Dashboard-Pw-7fQ2kLm9"
    try:
        run = converge(extra_vars={**ONLY_TRAEFIK, "traefik_routes": routes,
                                   "traefik_dashboard_users": [{"name": USER, "password": rotated}]})
        assert run.returncode == 0, run.output[-4000:]
        assert run.changed > 0
        assert rotated not in run.output
        serial = sh(host, f"openssl x509 -in {STACK_DIR}/tls/cert.pem -noout -serial")
        assert serial != serial_before, "the certificate was not re-issued for the new name"
        wait_for(lambda: status(host, f"https://extra.probe.{DOMAIN}/healthz") == "200", 15, "the new route")
        # the served certificate is the new one, without a restart
        served = client(host, f"openssl s_client -connect 127.0.0.1:443 -servername extra.probe.{DOMAIN} </dev/null "
                              "2>/dev/null | openssl x509 -noout -serial")[1].strip()
        assert served == serial
        assert status(host, f"https://{DOMAIN}/") == "404", "the frontend route should be gone"
        assert status(host, f"https://traefik.{DOMAIN}/dashboard/", "--netrc-file /netrc", mounts=(good,)) == "401"
        put_root_file(NETRC + "-rotated", f"machine traefik.{DOMAIN} login {USER} password {rotated}\n")
        assert status(host, f"https://traefik.{DOMAIN}/dashboard/", "--netrc-file /netrc",
                      mounts=(f"{NETRC}-rotated:/netrc:ro",)) == "200"
        assert len(sh(host, f"ls {STACK_DIR}/secrets").split()) == 1, "the old users file was left behind"
        assert container_id(host) == before
        assert docker_json(host, "inspect", CONTAINER)["State"]["StartedAt"] == started
    finally:
        host.run(f"rm -f {NETRC}-rotated")
        back = converge(extra_vars=ONLY_TRAEFIK)
    assert back.returncode == 0, back.output[-4000:]
    wait_for(lambda: status(host, f"https://{DOMAIN}/") == "200", 15, "the frontend route back")
    assert status(host, f"https://traefik.{DOMAIN}/dashboard/", "--netrc-file /netrc", mounts=(good,)) == "200"
    assert container_id(host) == before
