#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The config checker of commandcenter.infra.redis (validate: of users.acl and redis.conf).
# Runs INSIDE a throw-away container of the service image (sh /cc-check/redis-check.sh
# ARGS...): redis-server itself on the rendered file(s), ARGS as redis-server's own
# (a config file and/or --aclfile FILE), with --port 0 and a throw-away dir, so nothing
# listens or is written. A bad directive, value or ACL rule makes it exit at once with
# Redis's own message; a good config gets as far as opening its unix socket, and is then
# stopped. (Redis 8 has no config-test flag: this is the check that loads exactly what
# the server would.)
redis-server "$@" --port 0 --unixsocket /tmp/check.sock --dir /tmp --daemonize no \
  --appendonly no --save "" --logfile "" >/tmp/check.log 2>&1 &
pid=$!; i=0
while [ "$i" -lt 150 ]; do
  if [ -S /tmp/check.sock ]; then kill "$pid"; wait "$pid" 2>/dev/null; echo "redis-server accepted the configuration"; exit 0; fi
  if ! kill -0 "$pid" 2>/dev/null; then grep -v -e "Memory overcommit" -e "oO0OoO0OoO0Oo" /tmp/check.log | tail -n 12; exit 1; fi
  sleep 0.1; i=$((i + 1))
done
tail -n 12 /tmp/check.log; echo "redis-server did not finish loading the configuration in 15 s"; kill "$pid"; exit 1
