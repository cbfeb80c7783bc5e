#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Entrypoint of commandcenter/postgres-pgvector: a compact rewrite of the official
# postgres image's docker-entrypoint.sh contract (not a copy of it).
#   First start on an empty $PGDATA: initdb (superuser POSTGRES_USER, password from
#   POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, host auth scram-sha-256 unless
#   POSTGRES_HOST_AUTH_METHOD says otherwise), then a temporary server on the unix
#   socket only creates POSTGRES_DB and runs /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz,
#   then stops. Every start: exec the command (postgres). Started as root it fixes
#   ownership and drops to postgres (uid 999); started as 999 it needs no root at all.
set -Eeuo pipefail

# VAR or VAR_FILE (exclusive) into VAR, with a default.
file_env() {
  local var=$1 file_var="${1}_FILE" value=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo "error: both $var and $file_var are set (but are exclusive)" >&2
    exit 1
  fi
  if [ -n "${!var:-}" ]; then
    value=${!var}
  elif [ -n "${!file_var:-}" ]; then
    value=$(<"${!file_var}")
  fi
  export "$var=$value"
  unset "$file_var"
}

# Options that only print something must not initialise anything.
wants_help() {
  local arg
  for arg; do
    case "$arg" in
      -'?'|--help|--describe-config|-V|--version|-C|-C*) return 0 ;;
    esac
  done
  return 1
}

psql_init() {  # psql as the superuser on the temporary server's socket
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

init_database() {
  file_env POSTGRES_USER postgres
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  file_env POSTGRES_HOST_AUTH_METHOD scram-sha-256
  : "${POSTGRES_INITDB_WALDIR:=}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust,
       which lets anyone connect without a password: never do this outside a sandbox).
EOF
    exit 1
  fi

  local -a args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD")
  if [ -n "$POSTGRES_INITDB_WALDIR" ]; then args+=(--waldir="$POSTGRES_INITDB_WALDIR"); fi
  # POSTGRES_INITDB_ARGS is a list of words, as upstream. The password never is an argument.
  # shellcheck disable=SC2086
  if [ -n "$POSTGRES_PASSWORD" ]; then
    initdb "${args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
  else
    initdb "${args[@]}" $POSTGRES_INITDB_ARGS
  fi
  # initdb's host lines cover loopback only; clients come from other containers.
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  # Temporary server: unix socket only, with the command's own options (config_file, hba_file ...).
  export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
  local options="-c listen_addresses='' -p ${PGPORT:-5432}"
  if [ "$#" -gt 1 ]; then options="$(printf '%q ' "${@:2}")$options"; fi
  pg_ctl -D "$PGDATA" -w start -o "$options"

  if [ "$POSTGRES_DB" != postgres ]; then
    psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  local f
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        # The init scripts are the image user's, unknown here: nothing to follow.
        # shellcheck source=/dev/null
        if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) echo "$0: running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done

  pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo "PostgreSQL init process complete; ready for start up."
}

if [ "${1:-}" = "" ] || [ "${1:0:1}" = - ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ] && ! wants_help "$@"; then
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi
  if [ -s "$PGDATA/PG_VERSION" ]; then
    echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
  else
    init_database "$@"
  fi
fi

exec "$@"
