#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Live configuration of commandcenter.infra.redis: runs INSIDE the running redis container
# (docker exec -i ... sh -s -- PORT USER DIRECTIVE... < redis-apply.sh), after the role
# re-rendered redis.conf and users.acl in the mounted config directory. For each named
# directive redis.conf sets, CONFIG SET to the file's value; then ACL LOAD. The file stays
# the source of truth (a restart reads the same values). Prints the name of every setting
# the server changed (CONFIG GET before and after compared, in Redis's own normalised
# form; users.acl when ACL LIST changed), one a line, nothing else: no value, no hash.
# A refused value or ACL file exits non-zero with Redis's own error.
set -eu
port=$1 user=$2
shift 2
conf=/usr/local/etc/redis/redis.conf
REDISCLI_AUTH=$(cat /run/secrets/redis_config_password)
export REDISCLI_AUTH
cli() { redis-cli --no-auth-warning --user "$user" -p "$port" "$@"; }

for name in "$@"; do
  # The last occurrence wins, as in Redis; a directive the file does not set is skipped.
  value=$(awk -v n="$name" '$1 == n { v = $0; sub(/^[^ ]+ /, "", v); found = 1 } END { if (found) print v; else exit 1 }' "$conf") \
    || continue
  [ "$value" = '""' ] && value=
  before=$(cli config get "$name" | sed -n 2p)
  reply=$(cli config set "$name" "$value")
  [ "$reply" = OK ] || { echo "CONFIG SET $name: $reply" >&2; exit 1; }
  [ "$(cli config get "$name" | sed -n 2p)" = "$before" ] || echo "$name"
done

acl_before=$(cli acl list | cksum)
reply=$(cli acl load)
[ "$reply" = OK ] || { echo "ACL LOAD: $reply" >&2; exit 1; }
[ "$(cli acl list | cksum)" = "$acl_before" ] || echo users.acl
