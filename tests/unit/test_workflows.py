# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The GitHub workflows do what README "Deploying from CI" says, beyond what actionlint checks:
a pull request previews site.yml on staging with --check --diff; a tag deploys staging, verifies
it, and only then production, behind the `production` environment; no secret is echoed or traced;
the vault password reaches ansible-playbook only as --vault-password-file; the token is read-only.

The run: scripts of the reusable workflow are run here with bash, stand-ins for ansible-playbook
and ssh-keygen on PATH and fake secrets, as a runner would run them."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
REUSABLE = "./.github/workflows/ansible-run.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(inputs|secrets)\.([\w-]+)\s*\}\}")
FAKE_SECRETS = {"ANSIBLE_VAULT_PASSWORD": "fake-vault-password-1234",
                "SSH_PRIVATE_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-key-body\n-----END OPENSSH PRIVATE KEY-----",
                "SSH_KNOWN_HOSTS": "cc-staging-1.example.com ssh-ed25519 AAAAfakehostkey"}


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True)  # YAML 1.1: the key `on` reads as the boolean True
    return data


def workflows() -> dict[str, dict]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else value


def reusable_job() -> dict:
    (job,) = load(WORKFLOWS / Path(REUSABLE).name)["jobs"].values()
    return job


def caller_inputs(job: dict) -> dict:
    """The inputs a job calling the reusable workflow passes, defaults filled in."""
    assert job["uses"] == REUSABLE
    declared = load(WORKFLOWS / Path(REUSABLE).name)["on"]["workflow_call"]["inputs"]
    return {**{name: spec.get("default") for name, spec in declared.items()}, **job["with"]}


def secret_names(*envs: dict | None) -> set[str]:
    """Variables that hold a secret: set from `secrets.`, or named for the vault password."""
    return {name for env in envs for name, value in (env or {}).items()
            if "secrets." in str(value) or "VAULT_PASSWORD" in name}


def leaks(script: str, secret_vars: set[str]) -> list[str]:
    """Lines of a run: script that trace, echo a secret, or print one other than into a file."""
    refs = [re.compile(rf"\$\{{?{name}\b") for name in secret_vars]
    found = []
    for line in script.splitlines():
        secret = "secrets." in line or any(ref.search(line) for ref in refs)
        if (re.search(r"\bset\s+(-\w*x|-o\s+xtrace)|\bbash\s+-\w*x", line)
                or secret and (re.search(r"\becho\b", line) or re.search(r"\bprintf\b", line) and ">" not in line)):
            found.append(line.strip())
    return found


def run_step(step: dict, inputs: dict, env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """One run: step as the runner runs it (bash -eo pipefail), its ${{ inputs./secrets. }} filled in;
    ansible-playbook and ssh-keygen are stand-ins that log their arguments and environment."""
    stubs = tmp_path / "stubs"
    if not stubs.is_dir():
        stubs.mkdir()
        (stubs / "ansible-playbook").write_text(
            f"#!{sys.executable}\nimport json, os, sys\nwith open(os.environ['STUB_LOG'], 'a') as f:\n"
            "    f.write(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ)}) + '\\n')\n")
        (stubs / "ssh-keygen").write_text("#!/bin/sh\nexit 0\n")
        for stub in stubs.iterdir():
            stub.chmod(0o755)

    def value(match: re.Match) -> str:
        found = (inputs if match[1] == "inputs" else FAKE_SECRETS)[match[2]]
        return str(found).lower() if isinstance(found, bool) else str(found)

    step_env = {name: EXPRESSION.sub(value, str(text)) for name, text in (step.get("env") or {}).items()}
    assert "${{" not in json.dumps(step_env) + step["run"], f"an expression this test cannot fill in: {step}"
    github_env = tmp_path / "github-env"
    github_env.touch()
    full_env = {"PATH": f"{stubs}:{os.environ['PATH']}", "HOME": str(tmp_path), "STUB_LOG": str(tmp_path / "calls"),
                "RUNNER_TEMP": str(tmp_path / "runner-temp"), "GITHUB_ENV": str(github_env), **env, **step_env}
    (tmp_path / "runner-temp").mkdir(exist_ok=True)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path,
                          env=full_env, capture_output=True, text=True, check=False)


def playbook_calls(inputs: dict, tmp_path: Path) -> list[list[str]]:
    """ansible-playbook's arguments, call by call, when the reusable workflow's steps run with these inputs."""
    (step,) = [s for s in reusable_job()["steps"] if "ansible-playbook " in s.get("run", "")]
    result = run_step(step, inputs, {"VAULT_PASSWORD_FILE": "/vault-password-file"}, tmp_path)
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["argv"] for line in (tmp_path / "calls").read_text().splitlines()]


def test_pull_request_checks_site_on_staging(tmp_path):
    workflow = load(WORKFLOWS / "pull-request.yml")
    # pull_request_target would run a fork's code with the secrets.
    assert list(workflow["on"]) == ["pull_request"]
    (job,) = workflow["jobs"].values()
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository", "forks have no secrets"
    assert playbook_calls(caller_inputs(job), tmp_path) == [
        ["playbooks/site.yml", "-i", "inventories/staging", "--check", "--diff",
         "--vault-password-file", "/vault-password-file"]]


def test_production_needs_staging_verified_and_the_production_environment(tmp_path):
    workflow = load(WORKFLOWS / "deploy.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    jobs = {name: caller_inputs(job) for name, job in workflow["jobs"].items()}
    by_role = {(i["environment"], i["inventory"], i["playbooks"]): name for name, i in jobs.items()}
    staging = by_role[("staging", "inventories/staging", "playbooks/site.yml")]
    staging_verify = by_role[("staging", "inventories/staging", "playbooks/verify.yml")]
    (production,) = [name for name, i in jobs.items() if i["environment"] == "production"]
    assert needs(workflow["jobs"][staging_verify]) == [staging]
    assert needs(workflow["jobs"][production]) == [staging_verify]
    # The reusable job takes the environment (secrets, required reviewers) from its caller.
    assert reusable_job()["environment"] == "${{ inputs.environment }}"
    assert playbook_calls(jobs[production], tmp_path) == [
        [playbook, "-i", "inventories/prod", "--vault-password-file", "/vault-password-file"]
        for playbook in ("playbooks/site.yml", "playbooks/verify.yml")]
    groups = {name: job["concurrency"] for name, job in workflow["jobs"].items()}
    assert all(group["cancel-in-progress"] is False for group in groups.values()), "a deploy is never cancelled"
    assert groups[staging]["group"] == groups[staging_verify]["group"] != groups[production]["group"]


def test_no_step_traces_or_echoes_a_secret():
    assert leaks('set -x\necho "$ANSIBLE_VAULT_PASSWORD"\necho ${{ secrets.KEY }}\nprintf %s "$KEY"\n'
                 'printf %s "$KEY" >"$dir/key"\necho done', {"ANSIBLE_VAULT_PASSWORD", "KEY"}) == [
        "set -x", 'echo "$ANSIBLE_VAULT_PASSWORD"', "echo ${{ secrets.KEY }}", 'printf %s "$KEY"']
    found = [f"{name} {job_id}/{step.get('name')}: {line}" for name, workflow in workflows().items()
             for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])
             for line in leaks(step.get("run", ""), secret_names(workflow.get("env"), job.get("env"), step.get("env")))]
    assert not found


def test_the_vault_password_reaches_ansible_only_as_a_file(tmp_path):
    texts = {path.name: path.read_text() for path in WORKFLOWS.glob("*.yml")}
    assert not [n for n, t in texts.items() if re.search(r"ANSIBLE_VAULT_PASSWORD_FILE|--ask-vault-pass|--vault-id", t)]
    for workflow in workflows().values():
        assert not secret_names(workflow.get("env"), *(job.get("env") for job in workflow["jobs"].values()))
    job = reusable_job()
    (secrets_step,) = [step for step in job["steps"] if "secrets." in str(step.get("env"))]
    written = run_step(secrets_step, {"environment": "staging"}, {}, tmp_path)
    assert written.returncode == 0, written.stderr
    exported = dict(line.split("=", 1) for line in (tmp_path / "github-env").read_text().splitlines())
    password_file = Path(exported["VAULT_PASSWORD_FILE"])
    assert password_file.read_text() == FAKE_SECRETS["ANSIBLE_VAULT_PASSWORD"]
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    (playbook_step,) = [step for step in job["steps"] if "ansible-playbook " in step.get("run", "")]
    ran = run_step(playbook_step, {"inventory": "inventories/staging", "playbooks": "playbooks/site.yml",
                                   "check": False}, exported, tmp_path)
    assert ran.returncode == 0, ran.stderr
    (call,) = [json.loads(line) for line in (tmp_path / "calls").read_text().splitlines()]
    assert call["argv"][-2:] == ["--vault-password-file", str(password_file)]
    seen = written.stdout + written.stderr + ran.stdout + ran.stderr + json.dumps(exported) + json.dumps(call)
    assert not [name for name, secret in FAKE_SECRETS.items() if any(line in seen for line in secret.splitlines())]
    (cleanup,) = [step for step in job["steps"] if step.get("if") == "always()"]
    assert run_step(cleanup, {}, {}, tmp_path).returncode == 0
    assert not password_file.exists()


def test_the_token_is_read_only():
    for name, workflow in workflows().items():
        assert workflow["permissions"] == {"contents": "read"}, name
        assert not [job_id for job_id, job in workflow["jobs"].items() if "write" in str(job.get("permissions"))], name
