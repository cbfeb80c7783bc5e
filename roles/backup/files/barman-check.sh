# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=sh
# Check a Barman configuration as the backup service will read it (run in the backup
# image, without network: sh barman-check.sh GLOBAL_CONF SERVER). `barman show-servers`
# exits 0 even when it ignores a bad option value (it logs that and uses the default), so
# such a complaint refuses the file too. That it cannot reach PostgreSQL (no network
# here) is no complaint about the file.
conf=$1 server=$2
out=$(barman -c "$conf" show-servers "$server" 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
complaints=$(printf '%s\n' "$out" | grep -v -e 'Error retrieving PostgreSQL status' -e 'connection_error' \
  | grep -E 'Ignoring invalid configuration value|Invalid configuration option|Traceback|WARNING: disabled|Forcing|ERROR' \
  || true)
if [ -n "$complaints" ]; then
  printf '%s\n' "$complaints" >&2
  exit 1
fi
printf '%s\n' "$out"
