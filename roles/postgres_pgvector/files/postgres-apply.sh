#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Live configuration of commandcenter.infra.postgres_pgvector: runs INSIDE the running
# postgres container as its own user (docker exec -i ... sh -s -- SUPERUSER <
# postgres-apply.sh; peer authentication on the container's socket, no password), after
# the role re-rendered postgresql.conf and pg_hba.conf in the mounted config directory.
# Reloads the server (pg_reload_conf()), waits until it has re-read its files, and prints
# the name of every setting whose value changed, one a line, no value. (pg_hba.conf is
# reloaded too; the role names it, as pg_hba_file_rules shows the file, not what is
# loaded.) Exits non-zero, with PostgreSQL's own words, when a file has an error or a setting is left waiting for a restart (a postmaster setting the role did
# not classify as restart-only: nothing is applied half-way without saying so).
set -eu
superuser=$1
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -U "$superuser" -d postgres -c "$1"; }
snapshot() { q "SELECT name || '=' || setting FROM pg_settings ORDER BY 1" >"$1"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
loaded=$(q "SELECT pg_conf_load_time()")
snapshot "$work/before"
[ "$(q "SELECT pg_reload_conf()")" = t ]
i=0
while [ "$(q "SELECT pg_conf_load_time()")" = "$loaded" ]; do
  i=$((i + 1))
  [ "$i" -le 100 ] || { echo "postgres did not reload its configuration within 10 s" >&2; exit 1; }
  sleep 0.1
done
errors=$(q "SELECT sourcefile || ':' || sourceline || ': ' || error FROM pg_file_settings WHERE error IS NOT NULL")
[ -z "$errors" ] || { echo "postgres refused its configuration: $errors" >&2; exit 1; }
pending=$(q "SELECT string_agg(name, ', ') FROM pg_settings WHERE pending_restart")
[ -z "$pending" ] || { echo "postgres needs a restart for: $pending" >&2; exit 1; }
snapshot "$work/after"
sort "$work/before" >"$work/b"
sort "$work/after" >"$work/a"
comm -13 "$work/b" "$work/a" | cut -d= -f1
