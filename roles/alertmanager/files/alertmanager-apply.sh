#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Live configuration of commandcenter.infra.alertmanager: runs INSIDE the running
# alertmanager container (docker exec -i ... sh -s -- PORT < alertmanager-apply.sh), after
# the role re-rendered alertmanager.yml in the mounted config directory. Asks
# Alertmanager to reload it (POST /-/reload), which answers only when the reload is done:
# 200 when it took the new file, an error (and it keeps the previous one) when it
# refused it. The role names the parts of the file that changed; this prints nothing.
set -eu
port=$1
if ! wget -q -O /dev/null --post-data '' "http://127.0.0.1:$port/-/reload"; then
  echo "alertmanager did not reload its configuration: it keeps the previous one; its log" \
       "(docker logs of this container) says why" >&2
  exit 1
fi
