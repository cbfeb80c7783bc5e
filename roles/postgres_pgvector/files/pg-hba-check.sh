#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The pg_hba.conf checker of commandcenter.infra.postgres_pgvector (validate:).
# Checks a pg_hba.conf with PostgreSQL itself: a throwaway cluster must start with it
# (the postmaster refuses a file it cannot load). Runs INSIDE a throw-away container of
# the service image as root (sh /cc-check/pg-hba-check.sh), the candidate mounted at
# /check/pg_hba.conf; drops to postgres (uid 999) with setpriv.
set -eu
install -d -o postgres -g postgres -m 0700 /tmp/pg
install -o postgres -g postgres -m 0600 /check/pg_hba.conf /tmp/pg/pg_hba.conf
# The inner script runs as postgres: its variables expand there, not here.
# shellcheck disable=SC2016
exec setpriv --reuid=postgres --regid=postgres --init-groups sh -ec '
  initdb -D /tmp/pg/data -U postgres -A trust >/tmp/pg/initdb.log 2>&1 || { cat /tmp/pg/initdb.log >&2; exit 1; }
  opts="-c hba_file=/tmp/pg/pg_hba.conf -c listen_addresses= -c unix_socket_directories=/tmp/pg"
  if pg_ctl -D /tmp/pg/data -l /tmp/pg/server.log -w -t 60 -o "$opts" start >/dev/null
  then pg_ctl -D /tmp/pg/data -m immediate stop >/dev/null; echo "pg_hba.conf loads"
  else grep -E "pg_hba|FATAL|LOG:  invalid|line [0-9]" /tmp/pg/server.log >&2; exit 1
  fi'
