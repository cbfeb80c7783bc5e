#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Speed and size figures (`make bench`). Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

echo "== offline image set"
t=$(date +%s%N); images/build.sh >/dev/null; echo "images: no-op rebuild (nothing changed): $(ms "$t") ms (target < 15000 ms)"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' 'commandcenter/*' | sed 's/^/images: size /'

echo "== docker_host on a bare platform host (molecule, distro packages)"
molecule destroy -s docker_host >/dev/null 2>&1 || true
t=$(date +%s%N); molecule create -s docker_host >/dev/null 2>&1; echo "docker_host: create sandbox host: $(ms "$t") ms"
t=$(date +%s%N); molecule converge -s docker_host >/dev/null 2>&1; echo "docker_host: first converge: $(ms "$t") ms"
t=$(date +%s%N); molecule idempotence -s docker_host >/dev/null 2>&1; echo "docker_host: second converge (changed=0): $(ms "$t") ms"
molecule destroy -s docker_host >/dev/null 2>&1 || true

echo "== app rollout under 20 requests/s through Traefik (molecule default: the whole site)"
molecule destroy -s default >/dev/null 2>&1 || true
t=$(date +%s%N); molecule create -s default >/dev/null 2>&1; molecule converge -s default >/dev/null 2>&1
echo "site: create sandbox host and first converge of the whole site: $(ms "$t") ms"
scripts/bench_rollout.py
molecule destroy -s default >/dev/null 2>&1 || true
