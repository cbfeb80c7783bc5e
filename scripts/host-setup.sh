#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Prepare this machine to build the offline image set and run Molecule:
# system packages, a running Docker engine, and the local image registry.
# Safe to run any number of times; does only what is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
packages=(docker.io debootstrap docker-registry curl ca-certificates)
registry_port=${CC_REGISTRY_PORT:-5000}
log_dir=/var/log/commandcenter-dev
mkdir -p "$log_dir"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "host-setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

have_systemd() { [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; }

if ! docker info >/dev/null 2>&1; then
  echo "host-setup: starting dockerd"
  if have_systemd; then
    systemctl start docker
  else
    nohup dockerd >"$log_dir/dockerd.log" 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "host-setup: dockerd did not start; see $log_dir/dockerd.log" >&2; exit 1; }
fi

registry_up() { curl -fsS -o /dev/null "http://127.0.0.1:${registry_port}/v2/" 2>/dev/null; }
if ! registry_up; then
  echo "host-setup: starting the local registry on :${registry_port}"
  if have_systemd; then systemctl stop docker-registry 2>/dev/null || true; fi
  mkdir -p /var/lib/docker-registry
  nohup docker-registry serve "$here/images/registry/config.yml" >"$log_dir/registry.log" 2>&1 &
  for _ in $(seq 1 40); do registry_up && break; sleep 0.25; done
  registry_up || { echo "host-setup: registry did not start; see $log_dir/registry.log" >&2; exit 1; }
fi
echo "host-setup: docker $(docker version --format '{{.Server.Version}}'), registry on :${registry_port}"
