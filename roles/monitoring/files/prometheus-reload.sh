#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Live configuration of commandcenter.infra.monitoring: runs INSIDE the running Prometheus
# container (docker exec -i ... sh -s -- PORT < prometheus-reload.sh) after the role wrote
# a new prometheus.yml or rule file into the mounted config directory (each checked by
# promtool before it landed). POST /-/reload makes Prometheus load them without a restart;
# a refused reload (Prometheus keeps the old configuration) exits non-zero with its answer.
# Prints what was applied, one name a line.
set -eu
port=$1
if ! answer=$(wget -q -O - --post-data= "http://127.0.0.1:${port}/-/reload" 2>&1); then
  echo "Prometheus refused the reload: ${answer}" >&2
  exit 1
fi
echo prometheus.yml
