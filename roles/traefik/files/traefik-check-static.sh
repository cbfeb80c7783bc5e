#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The static-configuration checker of commandcenter.infra.traefik (validate: of traefik.yml).
# Runs INSIDE a throw-away container of the service image without network, as root
# (sh /cc-check/traefik-check-static.sh), the candidate mounted at /check/traefik.yml and
# the dynamic and ACME directories as empty tmpfs. Traefik has no "validate" flag: a file
# it cannot decode or an entry point it cannot open makes it exit at once ("command
# traefik error: field not found, node: adress"); an error logged while starting refuses
# it too; still running without error after 2 s: accepted.
traefik --configFile=/check/traefik.yml >/tmp/check.log 2>&1 &
pid=$!; i=0
while [ "$i" -lt 20 ]; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "traefik refused the static configuration:"; tail -n 12 /tmp/check.log; exit 1
  fi
  if grep -q -E '"level":"(error|fatal|panic)"' /tmp/check.log; then
    sleep 0.3; kill "$pid"
    echo "traefik logged errors for the static configuration:"; grep -E '"level":"(error|fatal|panic)"' /tmp/check.log | tail -n 12
    exit 1
  fi
  sleep 0.1; i=$((i + 1))
done
kill -9 "$pid"; wait "$pid" 2>/dev/null; echo "traefik accepted the static configuration"; exit 0
