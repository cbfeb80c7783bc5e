# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""traefik: bad input fails before anything changes, naming the variable and never the secret.

Each case runs the whole role in check mode against this machine (connection
local): argument_specs or preflight must stop it before any task of a later
step ("Ensure ...") starts. The `dynamic` entry point is probed the same way
through include_role, as the app role calls it. No Docker needed.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    ROOT,
    assert_numbers_as_strings_pass,
    assert_preflight_passed,
    assert_refused_before_change,
    batched_refusals,
    run_role,
    step_tasks,
)

# Runs ansible-playbook: `make unit` runs it, the pre-commit hook leaves it out.
pytestmark = pytest.mark.playbook

# Valid, random-looking test values (not used anywhere else).
PASSWORD = "Tq8vL2mX7pRz4KsW"
GOOD = {"traefik_domain": "unit.example.org", "traefik_acme_email": "ops@unit.example.org",
        "traefik_dashboard_users": [{"name": "ops", "password": PASSWORD}]}


def users(*pairs):
    return [{"name": name, "password": password} for name, password in pairs]


CASES = [
    # domain (preflight)
    ("missing-domain", {**GOOD, "traefik_domain": ""}, ["traefik_domain: not set"]),
    ("bad-domain", {**GOOD, "traefik_domain": "Command_Center"},
     ["traefik_domain must be a lower-case DNS name", "Command_Center"]),
    ("single-label-domain", {**GOOD, "traefik_domain": "localhost"}, ["traefik_domain must be a lower-case DNS name"]),
    # TLS mode requirements (preflight)
    ("acme-without-email", {k: v for k, v in GOOD.items() if k != "traefik_acme_email"},
     ["traefik_acme_email: not set", "Let's Encrypt"]),
    ("acme-bad-email", {**GOOD, "traefik_acme_email": "ops-at-example"}, ["traefik_acme_email: not an e-mail address"]),
    ("acme-http-ca", {**GOOD, "traefik_acme_ca_server": "http://acme.example.org/dir"},
     ["traefik_acme_ca_server must be an https:// URL"]),
    ("provided-without-files", {**GOOD, "traefik_tls_mode": "provided"}, ["traefik_tls_cert_file: not set"]),
    ("provided-missing-file", {**GOOD, "traefik_tls_mode": "provided", "traefik_tls_cert_file": "/nonexistent/cert.pem",
                               "traefik_tls_key_file": "/nonexistent/key.pem"},
     ["traefik_tls_cert_file: no such file on the controller: /nonexistent/cert.pem"]),
    ("selfsigned-days", {**GOOD, "traefik_tls_mode": "selfsigned", "traefik_tls_selfsigned_days": 10},
     ["traefik_tls_selfsigned_days must be 31 to 3650"]),
    # dashboard users (preflight, commandcenter.infra.secret_problems)
    ("no-users", {**GOOD, "traefik_dashboard_users": []}, ["traefik_dashboard_users: not set"]),
    ("placeholder-password", {**GOOD, "traefik_dashboard_users": users(("admin", "changeme"))},
     ["traefik_dashboard_users[admin].password: is a placeholder"]),
    ("empty-password", {**GOOD, "traefik_dashboard_users": users(("ops", PASSWORD), ("admin", ""))},
     ["traefik_dashboard_users[admin].password: not set"]),
    ("short-password", {**GOOD, "traefik_dashboard_users": users(("admin", "Zr4kP0x9"))},
     ["traefik_dashboard_users[admin].password: shorter than 16 characters"]),
    ("too-long-password", {**GOOD, "traefik_dashboard_users": users(("admin", "Kx81mQzv" * 10))},
     ["traefik_dashboard_users[admin].password: longer than 72 bytes"]),
    ("user-name-colon", {**GOOD, "traefik_dashboard_users": users(("ad:min", PASSWORD))},
     ["traefik_dashboard_users: user names must be", "ad:min"]),
    ("duplicate-users", {**GOOD, "traefik_dashboard_users": users(("ops", PASSWORD), ("ops", PASSWORD + "x"))},
     ["traefik_dashboard_users: user names must be unique"]),
    # types and choices (argument_specs)
    ("bad-choice-tls-mode", {**GOOD, "traefik_tls_mode": "letsencrypt"},
     ["traefik_tls_mode", "acme, provided, selfsigned", "letsencrypt"]),
    ("bad-type-port", {**GOOD, "traefik_https_port": "https"}, ["traefik_https_port", "int"]),
    ("bad-type-users", {**GOOD, "traefik_dashboard_users": "admin:secret"}, ["traefik_dashboard_users", "list"]),
    ("user-without-password", {**GOOD, "traefik_dashboard_users": [{"name": "admin"}]},
     ["missing required arguments: password", "traefik_dashboard_users"]),
    ("bad-choice-log-level", {**GOOD, "traefik_log_level": "LOUD"}, ["traefik_log_level", "LOUD"]),
    ("bad-choice-min-version", {**GOOD, "traefik_tls_min_version": "VersionTLS11"}, ["traefik_tls_min_version"]),
    # routes, services, ports, limits (preflight)
    ("route-without-host-or-rule", {**GOOD, "traefik_routes": [{"name": "x", "service": "backend@file"}]},
     ["traefik_routes: every route needs host or rule", "x"]),
    ("route-bad-host", {**GOOD, "traefik_routes": [{"name": "x", "host": "Bad Host", "service": "backend@file"}]},
     ["traefik_routes: host must be a lower-case DNS name", "Bad Host"]),
    ("route-duplicate", {**GOOD, "traefik_routes": [{"name": "x", "host": "a.unit.example.org", "service": "s"},
                                                    {"name": "x", "host": "b.unit.example.org", "service": "s"}]},
     ["traefik_routes: route names must be unique"]),
    ("route-bad-middleware", {**GOOD, "traefik_routes": [
        {"name": "x", "host": "a.unit.example.org", "service": "s", "middlewares": ["rate limit"]}]},
     ["traefik_routes: middlewares must be middleware names", "rate limit"]),
    ("service-bad-url", {**GOOD, "traefik_services": {"extra": ["ftp://extra"]}},
     ["traefik_services: server URLs must be http:// or https:// URLs", "ftp://extra"]),
    ("service-no-servers", {**GOOD, "traefik_services": {"extra": []}}, ["traefik_services: every service needs"]),
    ("service-named-maintenance", {**GOOD, "traefik_services": {"maintenance": ["http://m:8080"]}},
     ["traefik_services: the name maintenance is the role's maintenance responder's"]),
    ("maintenance-unknown-route", {**GOOD, "traefik_maintenance_routes": ["api", "shop"]},
     ["traefik_maintenance_routes must name routes of traefik_routes", "shop"]),
    ("maintenance-retry-after", {**GOOD, "traefik_maintenance_retry_after": 0}, ["traefik_maintenance_retry_after must"]),
    ("maintenance-mem", {**GOOD, "traefik_maintenance_mem_limit": "lots"}, ["traefik_maintenance_mem_limit must"]),
    ("maintenance-empty-page", {**GOOD, "traefik_maintenance_title": ""}, ["traefik_maintenance_title and"]),
    ("same-ports", {**GOOD, "traefik_http_port": 8443, "traefik_https_port": 8443},
     ["traefik_http_port and traefik_https_port must differ"]),
    ("port-range", {**GOOD, "traefik_https_port": 70000}, ["traefik_https_port must be 1-65535"]),
    ("metrics-port-clash", {**GOOD, "traefik_metrics_port": 8443}, ["traefik_metrics_port must not be"]),
    ("bind-address", {**GOOD, "traefik_bind_address": "all"}, ["traefik_bind_address must be an IPv4 address", "all"]),
    ("ratelimit-zero", {**GOOD, "traefik_api_ratelimit_average": 0}, ["traefik_api_ratelimit_average must be 1 or more"]),
    ("burst-zero", {**GOOD, "traefik_api_ratelimit_burst": 0}, ["traefik_api_ratelimit_burst must be 1 or more"]),
    ("bcrypt-cost", {**GOOD, "traefik_dashboard_bcrypt_cost": 4}, ["traefik_dashboard_bcrypt_cost must be 10 to 16"]),
    ("no-ciphers", {**GOOD, "traefik_tls_cipher_suites": []}, ["traefik_tls_cipher_suites must not be empty"]),
    ("relative-dynamic-dir", {**GOOD, "traefik_dynamic_dir": "dynamic"}, ["traefik_dynamic_dir must be an absolute path"]),
    ("mem-limit", {**GOOD, "traefik_mem_limit": "lots"}, ["traefik_mem_limit must be a docker size"]),
    ("root-user", {**GOOD, "traefik_user_id": 0}, ["traefik_user_id must not be 0"]),
]


def _secrets(role_vars: dict) -> dict:
    """The dashboard passwords as name -> value, for the leak check of assert_refused_before_change."""
    found = {}
    for i, user in enumerate(role_vars.get("traefik_dashboard_users") or []):
        if isinstance(user, dict) and isinstance(user.get("password"), str):
            found[f"user{i}_password"] = user["password"]
    return found


refused = batched_refusals("traefik", CASES)


@pytest.mark.parametrize(("case", "role_vars", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_change(refused, case, role_vars, expected):
    proc = refused[case]
    assert_refused_before_change(proc, "traefik", expected, _secrets(role_vars))


def test_refusal_never_shows_the_password(tmp_path):
    """A too-short dashboard password is refused by the user's name; its value appears nowhere, even at -vvv."""
    value = "Kx81mQzv"
    proc = run_role(tmp_path, "traefik", {**GOOD, "traefik_dashboard_users": users(("admin", value))}, "-vvv")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "traefik_dashboard_users[admin].password: shorter than 16 characters" in out
    assert value not in out


@pytest.mark.parametrize("mode", ["acme", "selfsigned"])
def test_good_input_passes_preflight(tmp_path, mode):
    """Defaults plus a domain, an ACME e-mail and a user pass argument_specs and every preflight assertion."""
    proc = run_role(tmp_path, "traefik", {**GOOD, "traefik_tls_mode": mode}, "--tags", "traefik_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed=0" in out
    assert_preflight_passed(proc, "traefik")
    assert not step_tasks(out, "traefik")
    assert PASSWORD not in out


def test_every_problem_is_reported_together(tmp_path):
    proc = run_role(tmp_path, "traefik", {**GOOD, "traefik_domain": "Bad_Domain", "traefik_https_port": 0,
                                          "traefik_dashboard_users": users(("admin", "Zr4kP0x9")),
                                          "traefik_mem_limit": "lots"})
    out = assert_refused_before_change(proc, "traefik", [
        "traefik_domain must be a lower-case DNS name", "got Bad_Domain", "traefik_https_port must be 1-65535, got 0",
        "traefik_dashboard_users[admin].password: shorter than 16 characters",
        "traefik_mem_limit must be a docker size such as 256m, got lots"], _secrets({"traefik_dashboard_users": users(
            ("admin", "Zr4kP0x9"))}))
    assert out.count("FAILED!") == 1


def test_numbers_given_as_strings_pass_preflight(tmp_path):
    """-e passes strings: argument_specs accepts "8443" for an int, and so do preflight and the rest of the role."""
    proc = run_role(tmp_path, "traefik", GOOD, "-e", "traefik_https_port=8443", "-e", "traefik_http_port=8080",
                    "-e", "traefik_metrics_port=9100", "-e", "traefik_dashboard_bcrypt_cost=10",
                    "-e", "traefik_api_ratelimit_average=50", "-e", "traefik_api_ratelimit_burst=20",
                    "-e", "traefik_cpus=0.5", "-e", "traefik_user_id=65532", "-e", "traefik_log_max_file=2",
                    "-e", "traefik_tls_selfsigned_days=90", "-e", "traefik_pids_limit=256")
    assert_numbers_as_strings_pass(proc, "traefik")


# --- provided certificates: checked on the controller -----------------------------------

def _write_pair(directory: Path, names: list[str], *, days: int = 30, other_key: bool = False) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=60))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    if other_key:
        key = ec.generate_private_key(ec.SECP256R1())
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.mark.parametrize(("names", "kwargs", "expected"), [
    (["unit.example.org", "*.unit.example.org"], {"other_key": True},
     "traefik_tls_key_file is not the private key of traefik_tls_cert_file"),
    (["unit.example.org", "api.unit.example.org"], {},
     "traefik_tls_cert_file does not cover flower.unit.example.org, traefik.unit.example.org"),
    (["unit.example.org", "*.unit.example.org"], {"days": -1}, "traefik_tls_cert_file: the certificate expired"),
], ids=["key-mismatch", "names-not-covered", "expired"])
def test_provided_certificate_is_checked(tmp_path, names, kwargs, expected):
    cert, key = _write_pair(tmp_path, names, **kwargs)
    proc = run_role(tmp_path, "traefik", {**GOOD, "traefik_tls_mode": "provided", "traefik_tls_cert_file": cert,
                                          "traefik_tls_key_file": key})
    out = assert_refused_before_change(proc, "traefik", [expected])
    assert "BEGIN PRIVATE KEY" not in out


def test_provided_certificate_that_fits_passes(tmp_path):
    cert, key = _write_pair(tmp_path, ["unit.example.org", "*.unit.example.org"])
    proc = run_role(tmp_path, "traefik", {**GOOD, "traefik_tls_mode": "provided", "traefik_tls_cert_file": cert,
                                          "traefik_tls_key_file": key}, "--tags", "traefik_preflight")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Read the public key of the provided private key" in out
    assert_preflight_passed(proc, "traefik")


# --- the `dynamic` entry point, as the app role includes it -----------------------------

def run_dynamic(tmp_path: Path, task_vars: dict, *args: str) -> subprocess.CompletedProcess:
    """include_role commandcenter.infra.traefik tasks_from dynamic, in check mode on this machine."""
    playbook = tmp_path / "dynamic.yml"
    playbook.write_text(json.dumps([{
        "name": "Dynamic probe", "hosts": "all", "gather_facts": False,
        "tasks": [{"name": "Write a dynamic file", "ansible.builtin.include_role": {
            "name": "commandcenter.infra.traefik", "tasks_from": "dynamic"}, "vars": task_vars}],
    }]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check",
         "-e", f"ansible_python_interpreter={sys.executable}", *args, str(playbook)],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)


APP_YML = {"http": {"services": {"backend": {"loadBalancer": {"servers": [{"url": "http://backend-blue-1:8000"}]}}}}}


@pytest.mark.parametrize(("task_vars", "expected"), [
    ({"traefik_dynamic_file_name": "../app.yml", "traefik_dynamic_file_content": APP_YML},
     ["traefik_dynamic_file_name must be a plain file name ending in .yml or .yaml", "../app.yml"]),
    ({"traefik_dynamic_file_name": "app.json", "traefik_dynamic_file_content": APP_YML},
     ["traefik_dynamic_file_name must be a plain file name"]),
    ({"traefik_dynamic_file_name": "app.yml", "traefik_dynamic_file_content": "- just\n- a list\n"},
     ["traefik_dynamic_file_content must be a mapping"]),
    ({"traefik_dynamic_file_name": "app.yml"}, ["traefik_dynamic_file_content", "missing required arguments"]),
    ({"traefik_dynamic_file_name": "app.yml", "traefik_dynamic_file_content": APP_YML, "traefik_dynamic_dir": "relative"},
     ["traefik_dynamic_dir must be an absolute path"]),
], ids=["path-in-name", "not-yaml-name", "not-a-mapping", "no-content", "relative-dir"])
def test_dynamic_entry_point_refuses_bad_input(tmp_path, task_vars, expected):
    proc = run_dynamic(tmp_path, task_vars)
    assert_refused_before_change(proc, "traefik", expected)


@pytest.mark.parametrize("content", [APP_YML, "http:\n  services: {}\n"], ids=["mapping", "yaml-string"])
def test_dynamic_entry_point_needs_nothing_else_of_the_role(tmp_path, content):
    """No domain, no users, no TLS settings: the writer only needs its own variables (check mode: nothing written)."""
    proc = run_dynamic(tmp_path, {"traefik_dynamic_file_name": "app.yml", "traefik_dynamic_file_content": content,
                                  "traefik_dynamic_dir": str(tmp_path / "dynamic")})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Ensure app.yml is in the dynamic configuration, accepted by Traefik" in out
    assert not (tmp_path / "dynamic").exists()
