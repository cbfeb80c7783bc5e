#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The dynamic-file checker of commandcenter.infra.traefik (validate: of the files in the
# dynamic configuration directory, entry point `dynamic`). Runs INSIDE a throw-away
# container of the service image without network, as root:
#   sh /cc-check/traefik-check-dynamic.sh NAME
# with the candidate mounted at /check/candidate, the live dynamic directory at
# /check/live, the stack directory at /check/stack, and in the environment:
#   DYNAMIC_DIR     the dynamic directory on the host (for the messages)
#   TLS_DIR         where the container reads the certificates (/etc/traefik/tls)
#   SECRETS_DIR     where the container reads the users file (/etc/traefik/secrets)
#   WEB_PORT WEBSECURE_PORT PING_PORT   the container's entry point ports
#
# Traefik loads the dynamic directory AS IT WILL BE (the live files with the candidate
# in place of NAME), with the TLS and secrets directories where the real container has
# them and the same entry point names, at debug level. Once the file provider has handed
# over its configuration (or failed to), it gets 0.5 s to build the routers; then every
# error it logged refuses the file: YAML or structure errors ("field not found", wrong
# types: at start such a file stops the whole file provider), bad rules, unknown
# middlewares, TLS options or entry points, unreadable certificates, and definitions
# another file already holds ("... already configured, skipping"). One error is allowed:
# a router whose service no file defines YET (the app role writes backend, frontend and
# flower after this role's routers). Then Traefik loads the directory once more with
# stand-ins for those services, so the rest of such a router (its rule, its middlewares)
# is checked too. Only error lines are shown (the debug lines carry the whole
# configuration, certificates included).
: "${DYNAMIC_DIR:?}" "${TLS_DIR:?}" "${SECRETS_DIR:?}" "${WEB_PORT:?}" "${WEBSECURE_PORT:?}" "${PING_PORT:?}"
name="$1"
mkdir -p /etc/traefik /tmp/dyn
ln -sfn /check/stack/tls "$TLS_DIR"
ln -sfn /check/stack/secrets "$SECRETS_DIR"
if [ -d /check/live ]; then cp -R /check/live/. /tmp/dyn/; fi
rm -rf "/tmp/dyn/$name"; cp /check/candidate "/tmp/dyn/$name"
cat > /tmp/check.yml <<EOF
global: {checkNewVersion: false, sendAnonymousUsage: false}
log: {level: DEBUG, format: json}
entryPoints:
  web: {address: ":${WEB_PORT}"}
  websecure: {address: ":${WEBSECURE_PORT}"}
  ping: {address: ":${PING_PORT}"}
  metrics: {address: ":9100"}
api: {dashboard: true}
providers:
  providersThrottleDuration: 0s
  file: {directory: /tmp/dyn, watch: false}
EOF
loaded='"providerName":"file".*"message":"Configuration received"|"level":"(error|fatal|panic)"'
load() {
  traefik --configFile=/tmp/check.yml >/tmp/check.log 2>&1 &
  pid=$!; i=0; settle=-1
  while [ "$i" -lt 100 ] && [ "$settle" -ne 0 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "traefik exited:"; grep -v '"level":"debug"' /tmp/check.log | tail -n 12; exit 1; fi
    if [ "$settle" -lt 0 ] && grep -q -E "$loaded" /tmp/check.log; then settle=5; fi
    if [ "$settle" -gt 0 ]; then settle=$((settle - 1)); fi
    sleep 0.1; i=$((i + 1))
  done
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  if [ "$settle" -ne 0 ]; then echo "traefik did not load the dynamic configuration within 10 s"; exit 1; fi
  grep -E '"level":"(error|fatal|panic)"|"level":"warn".*already configured' /tmp/check.log > /tmp/errors
}
load
later=$(sed -n 's/.*"error":"the service \\"\([^"\\]*\)@file\\" does not exist".*/\1/p' /tmp/errors | sort -u)
if [ -n "$later" ]; then
  { echo "http:"; echo "  services:"
    for service in $later; do echo "    $service: {loadBalancer: {servers: [{url: 'http://stand-in.invalid'}]}}"; done
  } > /tmp/dyn/zz-check-stand-ins.yml
  load
fi
if [ -s /tmp/errors ]; then
  echo "traefik refused $name:"
  sed -e "s#/tmp/dyn/#$DYNAMIC_DIR/#g" -e 's/,"time":"[^"]*"//' -e 's/,"caller":"[^"]*"//' /tmp/errors | sort -u | head -n 12
  exit 1
fi
echo "traefik accepted $name"
# $later unquoted on purpose: the names on one line, separated by spaces.
# shellcheck disable=SC2086
if [ -n "$later" ]; then echo "services no file defines yet:" $later; fi
