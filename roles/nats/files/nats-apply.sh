#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Live configuration of commandcenter.infra.nats: runs INSIDE the running nats container
# (docker exec -i ... sh -s -- MONITOR_PORT < nats-apply.sh), after the role re-rendered
# nats-server.conf and auth.conf in the mounted config directory. Signals nats-server to
# reload (nats-server --signal reload=1: the server is the container's PID 1) and waits
# until its /varz shows a new config_load_time. Prints the name of each limit /varz
# shows changed (max_payload, max_connections, ...), one a line. A reload the server
# refuses (a setting it cannot reload, a bad file) exits non-zero: its own words are in
# the container's log, which the message points to.
set -eu
port=$1
varz() { wget -q -O - "http://127.0.0.1:$port/varz"; }
field() { sed -n "s/^  \"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n 1; }
limits="max_payload max_connections max_pending max_control_line ping_interval ping_max write_deadline"

before=$(varz)
loaded=$(printf '%s\n' "$before" | field config_load_time)
nats-server --signal reload=1
i=0
while :; do
  after=$(varz)
  [ "$(printf '%s\n' "$after" | field config_load_time)" != "$loaded" ] && break
  i=$((i + 1))
  if [ "$i" -gt 50 ]; then
    echo "nats-server did not reload its configuration within 5 s: it keeps the previous one; its log" \
         "(docker logs of this container) says why, e.g. a setting it cannot reload" >&2
    exit 1
  fi
  sleep 0.1
done
for name in $limits; do
  [ "$(printf '%s\n' "$before" | field "$name")" = "$(printf '%s\n' "$after" | field "$name")" ] || echo "$name"
done
