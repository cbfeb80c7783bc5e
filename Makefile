# SPDX-License-Identifier: GPL-3.0-or-later
# Every target installs what it needs and is safe to run twice.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON     ?= python3.11
VENV       ?= .venv
BIN        := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Scenarios `make test` runs (scripts/molecule-lanes.sh): phases separated by `|` run one
# after the other; the lanes of a phase, separated by `;`, side by side; the scenarios of a
# lane one after the other. Sequential: LANES="a b c". One scenario: make molecule SCENARIO=name
# The two site scenarios are never side by side: beside each other both starve (measured:
# multihost's rolling upgrade failed 7284 of 11136 requests, default's load test 5447). Each
# has a lane of role scenarios beside it; the lane beside multihost runs at nice 10 so that
# the three hosts get the cores first (`nice:`).
LANES      ?= default;backup monitoring hardening bookworm | multihost;nice: nats traefik redis postgres_pgvector docker_host
SCENARIO   ?= docker_host

.PHONY: help setup host images lint sanity pre-commit unit render molecule test test-fast demo demo-down bench build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-control.txt requirements-test.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-test.txt
	@touch $@

setup: $(VENV)/.installed ## Virtualenv with the pinned control-node and test tools

host: ## System packages, a running Docker engine and the local registry
	@scripts/host-setup.sh

images: host ## Build the offline image set that is missing and push it to the local registry
	@images/build.sh

lint: setup ## yamllint, ansible-lint (profile production), ruff (Python), shellcheck (every shell script), actionlint (GitHub workflows)
	yamllint -s .
	ansible-lint
	ruff check .
	scripts/shellcheck.sh
	actionlint

sanity: setup ## ansible-test sanity (validate-modules, pylint, pep8, ...) on the collection and its tests/
	scripts/sanity.sh

pre-commit: setup ## The pre-commit hooks over every file (yamllint, ansible-lint, ruff, shellcheck, fast unit tests)
	pre-commit run --all-files

unit: setup ## pytest for plugins and role metadata (no Docker; a module per worker: batched cases share one run)
	pytest -q -n 2 --dist loadfile tests/unit

render: setup images ## Templates rendered and checked by their own programs (run from the offline images)
	pytest -q -n 2 tests/render

molecule: setup images ## One Molecule scenario: make molecule SCENARIO=name
	molecule test -s $(SCENARIO)

test-fast: lint sanity unit render ## Lint, sanity, unit and render tests (no Molecule; render needs the images)

test: test-fast images ## Everything: lint, sanity, unit, render, image set, every Molecule scenario
	pytest -q tests/images
	@scripts/molecule-lanes.sh "$(LANES)"

demo: setup images ## Local demo: deploy the site into a sandbox host, then print a health summary
	$(BIN)/python scripts/sandbox.py up
	ansible-playbook -i inventories/local playbooks/site.yml
	ansible-playbook -i inventories/local playbooks/verify.yml

demo-down: setup ## Remove the local demo sandbox host
	$(BIN)/python scripts/sandbox.py down

bench: setup images ## Speed and size figures
	@scripts/bench.sh

build: setup ## Build the collection tarball into build/
	ansible-galaxy collection build --force --output-path build .

clean: ## Remove build output and caches (keeps the virtualenv and the images)
	rm -rf build .pytest_cache .ansible
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
