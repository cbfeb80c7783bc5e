# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""traefik: the role's templates, rendered with the defaults (TLS by ACME) and with
inventories/local (a local CA), checked by the programs that read them.

- traefik.yml (static): the role's own check (files/traefik-check-static.sh:
  traefik started on the candidate in a throw-away container without network) accepts
  it; a static configuration Traefik cannot run (an entry point on a port another one
  holds) is refused by the same check;
- the dynamic files (traefik-tls.yml, traefik-middlewares.yml, traefik-services.yml,
  traefik-routers.yml): the role's own check (files/traefik-check-dynamic.sh: the
  directory as it will be, loaded by traefik, every logged error refuses) accepts each of
  them, with a real certificate and users file where the container has them; bad cipher
  suites, curves, rules, unknown middlewares and undecodable files are refused, while a
  router whose service no file defines yet is allowed;
- compose.yml: its hardening read from the YAML and `docker compose config -q`.

Needs Docker and commandcenter/traefik:3.7 (`make images`); skipped with the reason without them.
"""
from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import compose_config, needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "traefik"
IMAGE = "commandcenter/traefik:3.7"
HAPROXY_IMAGE = "commandcenter/haproxy:3.0"
TOOLBOX_IMAGE = "commandcenter/toolbox:trixie"
# Test-only values for the "defaults" rendering (the role's defaults leave them empty).
TEST_VALUES = {"traefik_domain": "render.example.org", "traefik_acme_email": "ops@render.example.org",
               "traefik_dashboard_users": [{"name": "ops", "password": "r3nd3r-dash-Wm4qT8zK2v"}]}
LOCAL_INVENTORY = [ROOT / "inventories/local/group_vars/all/main.yml",
                   ROOT / "inventories/local/group_vars/all/traefik.yml"]
DYNAMIC_FILES = ["traefik-tls.yml", "traefik-middlewares.yml", "traefik-services.yml", "traefik-routers.yml"]
# Set by the role's tasks (tls-fingerprint.yml) before the dynamic files render; and the
# file name the dynamic entry point's check command is rendered for.
FINGERPRINT = {"_traefik_tls_fingerprint": "render-test", "traefik_dynamic_file_name": "candidate.yml"}
CHECKS = ROLE / "files"


pytestmark = needs_images(IMAGE, HAPROXY_IMAGE, TOOLBOX_IMAGE)

# name -> (with inventories/local?, extra variables)
VARIANTS = {
    "defaults": (False, {**FINGERPRINT}),
    "local-inventory": (True, {**FINGERPRINT}),
    "extra-service": (True, {**FINGERPRINT, "traefik_services": {"extra": ["http://extra:8080", "http://extra2:8080"]}}),
    "route-to-future-service": (True, {**FINGERPRINT, "traefik_routes": [
        {"name": "later", "host": "later.commandcenter.test", "service": "not-yet@file", "middlewares": ["security-headers"]}]}),
    "rotated-password": (True, {**FINGERPRINT, "traefik_dashboard_admin_password": "r0tated-dash-Hx3kP9vQ7n"}),
    "other-log-level": (True, {**FINGERPRINT, "traefik_log_level": "DEBUG"}),
    "other-host-key": (True, {**FINGERPRINT, "stack_host_key": "another-host-key-5b1d9e3f7a2c6e4b"}),
    "bad-cipher": (True, {**FINGERPRINT, "traefik_tls_cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                                       "TLS_NO_SUCH_SUITE"]}),
    "bad-curve": (True, {**FINGERPRINT, "traefik_tls_curve_preferences": ["X25519", "CurveP999"]}),
    "bad-rule": (True, {**FINGERPRINT, "traefik_routes": [
        {"name": "broken", "rule": "Host(`a.commandcenter.test`", "service": "frontend@file"}]}),
    "unknown-middleware": (True, {**FINGERPRINT, "traefik_routes": [
        {"name": "typo", "host": "typo.commandcenter.test", "service": "api@internal", "middlewares": ["security-header"]}]}),
    "metrics-port-clash": (True, {**FINGERPRINT, "traefik_metrics_port": 8443}),
}

RENDERED = {
    "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
    "traefik.yml": "{{ lookup('ansible.builtin.template', 'traefik.yml.j2') }}",
    **{name: f"{{{{ lookup('ansible.builtin.template', 'dynamic/{name}.j2') }}}}" for name in DYNAMIC_FILES},
    "users": "{{ _traefik_users_file_content }}",
    "maintenance/haproxy.cfg": "{{ lookup('ansible.builtin.template', 'maintenance/haproxy.cfg.j2') }}",
    "maintenance/maintenance.html": "{{ lookup('ansible.builtin.template', 'maintenance/maintenance.html.j2') }}",
    "maintenance/maintenance.json": "{{ lookup('ansible.builtin.template', 'maintenance/maintenance.json.j2') }}",
    "maintenance.yml": "{{ _traefik_maintenance_routers | to_nice_yaml }}",
    "maintenance-check": "{{ _traefik_maintenance_check }}",
    "checks.json": "{{ {'static': _traefik_check_static, 'dynamic': _traefik_check_dynamic} | to_json }}",
    "derived.json": "{{ {'users_file': _traefik_users_file_name, 'config_hash': _traefik_config_hash,"
                    " 'sans': _traefik_selfsigned_sans, 'secrets': _traefik_secrets | length} | to_json }}",
}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    return render_variants(tmp_path_factory.mktemp("traefik-render"), "traefik", VARIANTS, RENDERED, LOCAL_INVENTORY,
                           TEST_VALUES)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A certificate and key for *.commandcenter.test and *.render.example.org, as the container would read them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "commandcenter.test")])
    now = datetime.datetime.now(datetime.UTC)
    sans = [x509.DNSName(n) for n in ("commandcenter.test", "*.commandcenter.test",
                                      "render.example.org", "*.render.example.org")]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False).sign(key, hashes.SHA256()))
    tls = tmp_path_factory.mktemp("traefik-tls")
    (tls / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tls / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    for f in tls.iterdir():
        f.chmod(0o644)
    return tls


def static_check(out: Path) -> subprocess.CompletedProcess:
    """The role's static check (vars/main.yml `_traefik_check_static`) on a rendered traefik.yml."""
    conf = yaml.safe_load((out / "traefik.yml").read_text())
    cmd = ["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", "--log-driver", "none",
           "--tmpfs", conf["providers"]["file"]["directory"], "--tmpfs", "/etc/traefik/acme",
           "-v", f"{CHECKS / 'traefik-check-static.sh'}:/cc-check/traefik-check-static.sh:ro",
           "-v", f"{out / 'traefik.yml'}:/check/traefik.yml:ro", IMAGE, "/cc-check/traefik-check-static.sh"]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def stack_dir(out: Path, certificate: Path) -> Path:
    """/opt/commandcenter/traefik as the role leaves it: tls/, secrets/<users file>, dynamic/ with the role's files."""
    stack = out / "stack"
    if not stack.exists():
        shutil.copytree(certificate, stack / "tls")
        (stack / "secrets").mkdir()
        users = stack / "secrets" / json.loads((out / "derived.json").read_text())["users_file"]
        users.write_text((out / "users").read_text())
        (stack / "dynamic").mkdir()
        for name in DYNAMIC_FILES:
            shutil.copy(out / name, stack / "dynamic" / name)
    return stack


# The dynamic check's environment, as the role's validate: command sets it.
DYNAMIC_ENV = ["-e", "TLS_DIR=/etc/traefik/tls", "-e", "SECRETS_DIR=/etc/traefik/secrets", "-e", "WEB_PORT=8080",
               "-e", "WEBSECURE_PORT=8443", "-e", "PING_PORT=8081"]


def dynamic_check(out: Path, stack: Path, name: str, candidate: Path) -> subprocess.CompletedProcess:
    """The role's dynamic check (vars/main.yml `_traefik_check_dynamic`): candidate `name` in the live directory."""
    cmd = ["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", "--log-driver", "none",
           "-e", "DYNAMIC_DIR=/opt/commandcenter/traefik/dynamic", *DYNAMIC_ENV,
           "-v", f"{CHECKS / 'traefik-check-dynamic.sh'}:/cc-check/traefik-check-dynamic.sh:ro",
           "-v", f"{candidate}:/check/candidate:ro", "-v", f"{stack / 'dynamic'}:/check/live:ro",
           "-v", f"{stack}:/check/stack:ro", IMAGE, "/cc-check/traefik-check-dynamic.sh", name]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def test_the_checks_are_the_roles(renders):
    """The role's validate: commands mount files/traefik-check-*.sh and run them as the tests do."""
    checks = json.loads((renders["local-inventory"] / "checks.json").read_text())
    assert ("-v /opt/commandcenter/traefik/checks/traefik-check-static.sh:/cc-check/traefik-check-static.sh:ro"
            in checks["static"])
    assert checks["static"].endswith(" -v %s:/check/traefik.yml:ro 172.17.0.1:5000/commandcenter/traefik:3.7"
                                     " /cc-check/traefik-check-static.sh")
    assert ("-v /opt/commandcenter/traefik/checks/traefik-check-dynamic.sh:/cc-check/traefik-check-dynamic.sh:ro"
            in checks["dynamic"])
    assert " ".join(DYNAMIC_ENV) in checks["dynamic"]
    assert checks["dynamic"].endswith(" /cc-check/traefik-check-dynamic.sh candidate.yml")
    script = (CHECKS / "traefik-check-dynamic.sh").read_text()
    assert 'ln -sfn /check/stack/tls "$TLS_DIR"' in script and "{{" not in script


@pytest.fixture(params=["defaults", "local-inventory"])
def rendered(request, renders) -> tuple[str, Path]:
    return request.param, renders[request.param]


def test_traefik_accepts_the_static_configuration(rendered):
    _, out = rendered
    proc = static_check(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "traefik accepted the static configuration" in proc.stdout


@pytest.mark.parametrize("name", DYNAMIC_FILES)
def test_traefik_accepts_each_dynamic_file(rendered, certificate, name):
    _, out = rendered
    stack = stack_dir(out, certificate)
    proc = dynamic_check(out, stack, name, out / name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"traefik accepted {name}" in proc.stdout


def test_static_configuration_content(rendered):
    which, out = rendered
    conf = yaml.safe_load((out / "traefik.yml").read_text())
    assert conf["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}
    assert conf["providers"] == {"file": {"directory": "/opt/commandcenter/traefik/dynamic", "watch": True}}
    eps = conf["entryPoints"]
    assert {k: v["address"] for k, v in eps.items()} == {"web": ":8080", "websecure": ":8443", "metrics": ":8082",
                                                         "ping": ":8081"}
    assert eps["web"]["http"]["redirections"]["entryPoint"] == {"to": ":443", "scheme": "https", "permanent": True}
    assert eps["websecure"]["asDefault"] is True
    assert conf["ping"] == {"entryPoint": "ping"}
    assert conf["metrics"]["prometheus"]["entryPoint"] == "metrics"
    assert conf["api"] == {"dashboard": True}
    assert conf["log"] == {"level": "INFO", "format": "json"}
    assert conf["accessLog"]["format"] == "json" and conf["accessLog"]["fields"]["headers"]["defaultMode"] == "drop"
    assert conf["accessLog"]["addInternals"] is False
    if which == "defaults":
        acme = conf["certificatesResolvers"]["acme"]["acme"]
        assert acme == {"email": "ops@render.example.org", "storage": "/etc/traefik/acme/acme.json",
                        "caServer": "https://acme-v02.api.letsencrypt.org/directory", "tlsChallenge": {}}
        assert eps["websecure"]["http"]["tls"] == {"certResolver": "acme"}
    else:
        assert "certificatesResolvers" not in conf
        assert eps["websecure"]["http"]["tls"] == {}


def test_dynamic_files_content(rendered):
    which, out = rendered
    domain = "render.example.org" if which == "defaults" else "commandcenter.test"
    tls = yaml.safe_load((out / "traefik-tls.yml").read_text())["tls"]
    assert tls["options"]["default"] == {
        "minVersion": "VersionTLS12", "sniStrict": True,
        "cipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                         "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                         "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"],
        "curvePreferences": ["X25519MLKEM768", "X25519", "CurveP256", "CurveP384"]}
    assert ("certificates" in tls) == (which != "defaults")
    mw = yaml.safe_load((out / "traefik-middlewares.yml").read_text())["http"]["middlewares"]
    assert mw["security-headers"]["headers"] == {
        "stsSeconds": 31536000, "stsIncludeSubdomains": True, "stsPreload": True, "contentTypeNosniff": True,
        "frameDeny": True, "browserXssFilter": True, "referrerPolicy": "strict-origin-when-cross-origin"}
    assert mw["api-ratelimit"]["rateLimit"] == {"average": 100, "burst": 50, "period": "1s"}
    # A server that cannot be reached (a lost host between two health checks): another one.
    assert mw["retry"]["retry"] == {"attempts": 3, "initialInterval": "50ms"}
    users_file = json.loads((out / "derived.json").read_text())["users_file"]
    assert mw["dashboard-auth"]["basicAuth"]["usersFile"] == f"/etc/traefik/secrets/{users_file}"
    routers = yaml.safe_load((out / "traefik-routers.yml").read_text())["http"]["routers"]
    assert {k: (v["rule"], v["service"], v["middlewares"]) for k, v in routers.items()} == {
        "api": (f"Host(`api.{domain}`)", "backend@file", ["security-headers", "api-ratelimit", "retry"]),
        "frontend": (f"Host(`{domain}`)", "frontend@file", ["security-headers", "retry"]),
        "flower": (f"Host(`flower.{domain}`)", "flower@file", ["security-headers", "dashboard-auth", "retry"]),
        "dashboard": (f"Host(`traefik.{domain}`)", "api@internal", ["security-headers", "dashboard-auth"])}
    assert all(r["entryPoints"] == ["websecure"] and "tls" not in r for r in routers.values())
    # The maintenance responder only: traefik_services is empty.
    assert yaml.safe_load((out / "traefik-services.yml").read_text()) == {"http": {"services": {"maintenance": {
        "loadBalancer": {"healthCheck": {"path": "/healthz", "interval": "5s", "timeout": "2s"},
                         "servers": [{"url": "http://cc-traefik-maintenance-1:8080"}]}}}}}


def test_users_file_holds_stable_bcrypt_hashes(renders):
    """bcrypt with a salt from seed, host key and name: the same input renders the same file (idempotence)."""
    local = (renders["local-inventory"] / "users").read_text()
    assert local == (renders["other-log-level"] / "users").read_text()
    line = local.strip()
    assert line.startswith("admin:$2b$10$") and len(line) == len("admin:") + 60 and "\n" not in line
    password = yaml.safe_load(LOCAL_INVENTORY[1].read_text())["traefik_dashboard_admin_password"]
    assert password not in local
    assert (renders["defaults"] / "users").read_text().startswith("ops:$2b$10$")


def test_salts_and_names_come_from_the_host_key_not_the_host_name(renders):
    """Another host key (another host) salts the same passwords differently and names the users file
    differently; the host name is in none of it (renaming a host must not re-hash)."""
    base, other = renders["local-inventory"], renders["other-host-key"]
    assert (other / "users").read_text() != (base / "users").read_text()
    derived = {out: json.loads((out / "derived.json").read_text()) for out in (base, other)}
    assert derived[other]["users_file"] != derived[base]["users_file"]
    assert len(derived[base]["users_file"]) == len("dashboard-users-") + 16
    for name in ("users", "traefik.yml", "compose.yml", *DYNAMIC_FILES):
        assert "localhost" not in (base / name).read_text(), f"{name} names the inventory host"


def test_password_rotation_changes_the_users_file_name_not_the_static_config(renders):
    base = json.loads((renders["local-inventory"] / "derived.json").read_text())
    rotated = json.loads((renders["rotated-password"] / "derived.json").read_text())
    assert rotated["users_file"] != base["users_file"], "Traefik would not reload the middleware"
    assert rotated["config_hash"] == base["config_hash"], "a password change must not restart Traefik"
    other = json.loads((renders["other-log-level"] / "derived.json").read_text())
    assert other["config_hash"] != base["config_hash"], "a static change must recreate the container"


def test_selfsigned_names_cover_the_routes(renders):
    sans = json.loads((renders["local-inventory"] / "derived.json").read_text())["sans"]
    assert sans[:2] == ["DNS:commandcenter.test", "DNS:*.commandcenter.test"]
    assert {"DNS:api.commandcenter.test", "DNS:traefik.commandcenter.test"} <= set(sans)


def test_compose_file_is_hardened_and_holds_no_secret(rendered):
    which, out = rendered
    text = (out / "compose.yml").read_text()
    for value in ("r3nd3r-dash-Wm4qT8zK2v", yaml.safe_load(LOCAL_INVENTORY[1].read_text())["traefik_dashboard_admin_password"]):
        assert value not in text
    svc = yaml.safe_load(text)["services"]["traefik"]
    assert svc["user"] == "65532:65532"
    assert svc["cap_drop"] == ["ALL"] and "cap_add" not in svc
    assert svc["security_opt"] == ["no-new-privileges:true"]
    assert svc["read_only"] is True and svc["restart"] == "unless-stopped"
    assert svc["ports"] == ["0.0.0.0:80:8080", "0.0.0.0:443:8443"]
    # On monitoring also by every route's public name (probes from inside need no public DNS).
    domain = "commandcenter.test" if which == "local-inventory" else TEST_VALUES["traefik_domain"]
    # edge (what it routes to) and monitoring, never the data network.
    assert svc["networks"] == {"edge": {}, "monitoring": {"aliases": [domain, f"api.{domain}"]}}
    assert yaml.safe_load(text)["networks"] == {"edge": {"name": "edge", "external": True},
                                                "monitoring": {"name": "monitoring", "external": True}}
    assert svc["mem_limit"] == "256m" and svc["cpus"] == 1.0
    assert svc["memswap_limit"] == svc["mem_limit"] and svc["pids_limit"] == 512
    assert svc["healthcheck"]["test"] == ["CMD", "traefik", "healthcheck", "--configFile=/etc/traefik/traefik.yml"]
    assert len(svc["labels"]["com.commandcenter.config-hash"]) == 64
    assert not any("docker.sock" in str(v) for v in svc["volumes"])
    targets = {v["target"]: v.get("read_only", False) for v in svc["volumes"]}
    assert targets["/opt/commandcenter/traefik/dynamic"] is True and targets["/etc/traefik/secrets"] is True
    assert ("/etc/traefik/acme" in targets) == (which == "defaults")
    if which == "local-inventory":
        assert svc["image"] == "172.17.0.1:5000/commandcenter/traefik:3.7"
    else:
        assert svc["image"] == "traefik:v3.7.15"


def test_docker_compose_accepts_the_compose_file(rendered):
    _, out = rendered
    for rel in ("tls", "secrets", "acme"):
        (out / rel).mkdir(exist_ok=True)
    proc = compose_config(out)
    assert proc.returncode == 0, proc.stderr


def test_a_route_to_a_service_defined_later_is_allowed(renders, certificate):
    """The app role writes backend/frontend/flower after this role's routers: not an error yet."""
    out = renders["route-to-future-service"]
    proc = dynamic_check(out, stack_dir(out, certificate), "traefik-routers.yml", out / "traefik-routers.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "services no file defines yet: not-yet" in proc.stdout


def test_extra_services_are_accepted(renders, certificate):
    out = renders["extra-service"]
    services = yaml.safe_load((out / "traefik-services.yml").read_text())["http"]["services"]
    assert services["extra"] == {"loadBalancer": {"servers": [{"url": "http://extra:8080"}, {"url": "http://extra2:8080"}]}}
    assert set(services) == {"extra", "maintenance"}
    proc = dynamic_check(out, stack_dir(out, certificate), "traefik-services.yml", out / "traefik-services.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("variant", "name", "message"), [
    ("bad-cipher", "traefik-tls.yml", "TLS_NO_SUCH_SUITE"),
    ("bad-curve", "traefik-tls.yml", "CurveP999"),
    ("bad-rule", "traefik-routers.yml", "error while parsing rule Host(`a.commandcenter.test`"),
    ("unknown-middleware", "traefik-routers.yml", 'middleware \\"security-header@file\\" does not exist'),
])
def test_traefik_refuses_a_bad_dynamic_file(renders, certificate, variant, name, message):
    out = renders[variant]
    proc = dynamic_check(out, stack_dir(out, certificate), name, out / name)
    assert proc.returncode != 0, proc.stdout
    assert f"traefik refused {name}:" in proc.stdout and message in proc.stdout, proc.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("http:\n  routers:\n    x:\n      rul: Host(`x.commandcenter.test`)\n      service: api@internal\n",
     "/opt/commandcenter/traefik/dynamic/app.yml: field not found, node: rul"),
    ("http: [oops\n", "/opt/commandcenter/traefik/dynamic/app.yml: yaml: line 1"),
    ("http:\n  middlewares:\n    rl:\n      rateLimit:\n        average: lots\n", 'parsing \\"lots\\": invalid syntax'),
    # traefik-services.yml of this variant already defines `extra`, differently.
    ("http:\n  services:\n    extra:\n      loadBalancer:\n        servers: [{url: 'http://other:8080'}]\n",
     "HTTP service already configured, skipping"),
])
def test_traefik_refuses_undecodable_or_conflicting_files(renders, certificate, tmp_path, content, message):
    """A file another role would write (app.yml), checked against the live directory."""
    out = renders["extra-service"]
    candidate = tmp_path / "app.yml"
    candidate.write_text(content)
    proc = dynamic_check(out, stack_dir(out, certificate), "app.yml", candidate)
    assert proc.returncode != 0, proc.stdout
    assert "traefik refused app.yml:" in proc.stdout
    assert message in proc.stdout, proc.stdout


def test_the_check_refuses_a_static_configuration_traefik_cannot_run(renders):
    proc = static_check(renders["metrics-port-clash"])
    assert proc.returncode != 0, proc.stdout
    assert "address already in use" in proc.stdout, proc.stdout


def test_traefik_image_contract():
    config = json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config}}", IMAGE],
                                       capture_output=True, text=True, check=True).stdout)
    assert config["Entrypoint"] == ["/entrypoint.sh"] and config["Cmd"] == ["traefik"]
    assert {"80/tcp", "443/tcp"} <= set(config["ExposedPorts"])
    proc = subprocess.run(["docker", "run", "--rm", "--user", "65532:65532", IMAGE, "traefik", "version"],
                          capture_output=True, text=True, check=True)
    assert "3.7.15" in proc.stdout


# --- The maintenance responder and the entry point's routers --------------------------

def test_the_maintenance_check_is_haproxy_c_with_the_pages_beside_it(renders):
    check = (renders["local-inventory"] / "maintenance-check").read_text()
    assert check.startswith("docker run --rm --network none --pull missing --log-driver none --entrypoint haproxy")
    assert "-v /opt/commandcenter/traefik/maintenance:/usr/local/etc/haproxy:ro" in check
    assert check.endswith("-v %s:/check/haproxy.cfg:ro 172.17.0.1:5000/commandcenter/haproxy:3.0 -c -f /check/haproxy.cfg")


def haproxy_check(directory: Path, config: Path) -> subprocess.CompletedProcess:
    """The role's check (`_traefik_maintenance_check`) with the rendered pages' directory."""
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--log-driver", "none", "--entrypoint", "haproxy",
                           "-v", f"{directory}:/usr/local/etc/haproxy:ro", "-v", f"{config}:/check/haproxy.cfg:ro",
                           HAPROXY_IMAGE, "-c", "-f", "/check/haproxy.cfg"],
                          capture_output=True, text=True, check=False, timeout=60)


def test_haproxy_accepts_the_responder_configuration_and_refuses_a_broken_one(renders, tmp_path):
    maintenance = renders["local-inventory"] / "maintenance"
    proc = haproxy_check(maintenance, maintenance / "haproxy.cfg")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / "haproxy.cfg"
    broken.write_text((maintenance / "haproxy.cfg").read_text().replace("maintenance.html", "missing.html"))
    proc = haproxy_check(maintenance, broken)
    assert proc.returncode != 0 and "missing.html" in proc.stdout + proc.stderr


def test_the_responder_answers_503_with_the_page_or_json_and_is_healthy(renders):
    maintenance = renders["local-inventory"] / "maintenance"
    for f in maintenance.iterdir():
        f.chmod(0o644)
    maintenance.chmod(0o755)
    name = "cc-render-maintenance"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "none", "--user", "99:99", "--read-only",
                    "--cap-drop", "ALL", "-v", f"{maintenance}:/usr/local/etc/haproxy:ro", HAPROXY_IMAGE,
                    "haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"], capture_output=True, check=True)
    try:
        def curl(*args: str) -> tuple[str, str]:
            out = subprocess.run(["docker", "run", "--rm", "--network", f"container:{name}", TOOLBOX_IMAGE, "curl", "-sS",
                                  "--max-time", "10", "-D", "-", *args],
                                 capture_output=True, text=True, check=True, timeout=60).stdout
            head, _, body = out.replace("\r\n", "\n").partition("\n\n")
            return head, body

        # Up once its health answers (no retry on the 503s: curl would honour their Retry-After).
        head, _ = curl("--retry", "10", "--retry-connrefused", "--retry-delay", "1", "http://127.0.0.1:8080/healthz")
        assert head.startswith("HTTP/1.1 200")
        head, body = curl("http://127.0.0.1:8080/any/path?x=1")
        assert head.startswith("HTTP/1.1 503") and "retry-after: 120" in head.lower()
        assert "cache-control: no-store" in head.lower() and "content-type: text/html" in head.lower()
        assert "<h1>CommandCenter is down for maintenance</h1>" in body
        head, body = curl("-H", "Accept: application/json", "-X", "POST", "http://127.0.0.1:8080/api/items")
        assert head.startswith("HTTP/1.1 503") and "content-type: application/json" in head.lower()
        assert json.loads(body) == {"status": "maintenance", "title": "CommandCenter is down for maintenance",
                                    "detail": "We are restoring data and will be back shortly. Please try again in a few "
                                              "minutes.", "retry_after": 120}
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_the_maintenance_routers_shadow_the_app_routes_and_traefik_accepts_them(renders, certificate):
    out = renders["local-inventory"]
    routers = yaml.safe_load((out / "maintenance.yml").read_text())["http"]["routers"]
    assert routers == {
        f"{name}-maintenance": {"rule": rule, "entryPoints": ["websecure"], "service": "maintenance",
                                "middlewares": middlewares, "priority": 1000000}
        for name, rule, middlewares in [
            ("api", "Host(`api.commandcenter.test`)", ["security-headers", "api-ratelimit", "retry"]),
            ("frontend", "Host(`commandcenter.test`)", ["security-headers", "retry"]),
            ("flower", "Host(`flower.commandcenter.test`)", ["security-headers", "dashboard-auth", "retry"])]}
    proc = dynamic_check(out, stack_dir(out, certificate), "maintenance.yml", out / "maintenance.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "traefik accepted maintenance.yml" in proc.stdout


def test_the_responder_container_is_hardened(rendered):
    which, out = rendered
    svc = yaml.safe_load((out / "compose.yml").read_text())["services"]["maintenance"]
    assert svc["user"] == "99:99" and svc["read_only"] is True
    assert svc["cap_drop"] == ["ALL"] and "cap_add" not in svc
    assert svc["security_opt"] == ["no-new-privileges:true"]
    assert svc["mem_limit"] == svc["memswap_limit"] == "32m" and svc["pids_limit"] == 32
    assert svc["networks"] == ["edge"] and "ports" not in svc
    assert svc["volumes"] == [{"type": "bind", "source": "./maintenance", "target": "/usr/local/etc/haproxy",
                               "read_only": True, "bind": {"create_host_path": False}}]
    assert len(svc["labels"]["com.commandcenter.config-hash"]) == 64
    assert svc["image"] == ("172.17.0.1:5000/commandcenter/haproxy:3.0" if which == "local-inventory"
                            else "haproxy:3.0.25-alpine")
