# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
# Provision the roles, the application database and the vector extension, idempotently.
# Runs INSIDE the postgres container (docker exec -i ... bash -c "<this>" provision ARGS),
# as the OS user postgres, connecting to the unix socket as the superuser (peer auth).
#   ARGS: app_user app_db monitor_user(empty: none) backup_user check(1: report only, change nothing)
#         next_user (the rotation bridge's role)
#   stdin: superuser password, app password, monitor password, backup password, bridge password
#          (one per line; an empty backup password: no backup role; an empty bridge password:
#          the bridge may not log in); they never appear on a command line and reach psql
#          through the environment (\getenv).
# Prints "changed: <what>" for every change (or, with check=1, every change it would make).
set -euo pipefail
app_user=$1 app_db=$2 monitor_user=$3 backup_user=$4 check=$5 next_user=${6:-}
IFS= read -r superuser_pw || true
IFS= read -r app_pw || true
IFS= read -r monitor_pw || true
IFS= read -r backup_pw || true
IFS= read -r next_pw || true
superuser=${POSTGRES_USER:-postgres}
if [ -z "$superuser_pw" ] || [ -z "$app_pw" ] || { [ -n "$monitor_user" ] && [ -z "$monitor_pw" ]; }; then
  echo "provision: a password is missing on stdin (one per line: superuser, app, monitor)" >&2
  exit 2
fi

sql() {  # sql DB [psql options] < script: as the superuser, one value per line out
  local db=$1
  shift
  psql -X -q -At -v ON_ERROR_STOP=1 --no-password -U "$superuser" -d "$db" "$@"
}

change() {  # change WHAT DB [psql options] < script: apply (or only report in check mode)
  local what=$1
  shift
  echo "changed: $what"
  if [ "$check" = 1 ]; then
    cat >/dev/null
  else
    sql "$@" >/dev/null
  fi
}

can_login() {  # can_login USER PASSWORD: SCRAM over TCP on loopback, as a client would
  PGPASSWORD=$2 PGCONNECT_TIMEOUT=10 psql -X -q -At --no-password -h 127.0.0.1 -p 5432 -U "$1" -d postgres \
    -c 'SELECT 1' >/dev/null 2>&1
}

# Statements that carry a password must not reach the server log or pg_stat_statements.
QUIET='SET log_statement = none; SET log_min_error_statement = panic; SET log_min_duration_statement = -1;
SET pg_stat_statements.track_utility = off;'

ensure_password() {  # ensure_password ROLE PASSWORD: ALTER ROLE only when the password does not log in
  if ! can_login "$1" "$2"; then
    CC_PASSWORD=$2 change "password of role $1" postgres -v role="$1" -c "$QUIET" -f - <<'SQL'
\getenv password CC_PASSWORD
ALTER ROLE :"role" WITH PASSWORD :'password';
SQL
  fi
}

ensure_role() {  # ensure_role ROLE PASSWORD [REPLICATION]: a login role that is neither superuser nor creator
  local replication=NOREPLICATION flag=f attributes state
  if [ "${3:-}" = REPLICATION ]; then replication=REPLICATION flag=t; fi
  attributes="LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE $replication NOBYPASSRLS"
  local wanted="f|f|f|t|$flag|f"  # rolsuper|rolcreaterole|rolcreatedb|rolcanlogin|rolreplication|rolbypassrls
  state=$(sql postgres -v role="$1" <<'SQL'
SELECT concat_ws('|', rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls)
FROM pg_roles WHERE rolname = :'role';
SQL
)
  if [ -z "$state" ]; then
    CC_PASSWORD=$2 change "role $1 created" postgres -v role="$1" -v attributes="$attributes" -c "$QUIET" \
      -f - <<'SQL'
\getenv password CC_PASSWORD
CREATE ROLE :"role" WITH :attributes PASSWORD :'password';
SQL
    return
  fi
  if [ "$state" != "$wanted" ]; then
    change "attributes of role $1 ($attributes)" postgres -v role="$1" -v attributes="$attributes" <<'SQL'
ALTER ROLE :"role" WITH :attributes;
SQL
  fi
  if [ "$check" = 1 ] && [ "$(cut -d'|' -f4 <<<"$state")" != t ]; then
    return  # cannot test the password before the role may log in
  fi
  ensure_password "$1" "$2"
}

# The superuser's password (initdb set it on the first start; this applies rotations).
ensure_password "$superuser" "$superuser_pw"

# The application role owns the application database.
ensure_role "$app_user" "$app_pw"
owner=$(sql postgres -v db="$app_db" <<'SQL'
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db';
SQL
)
if [ -z "$owner" ]; then
  change "database $app_db created, owned by $app_user" postgres -v db="$app_db" -v role="$app_user" <<'SQL'
CREATE DATABASE :"db" OWNER :"role";
SQL
elif [ "$owner" != "$app_user" ]; then
  change "owner of database $app_db: $owner -> $app_user" postgres -v db="$app_db" -v role="$app_user" <<'SQL'
ALTER DATABASE :"db" OWNER TO :"role";
SQL
fi

# The vector extension in the application database, at the version the image ships.
if [ -z "$owner" ] && [ "$check" = 1 ]; then
  echo "changed: extension vector created in $app_db"
else
  versions=$(sql "$app_db" <<'SQL'
SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'vector'), '')
  || '|' || coalesce((SELECT default_version FROM pg_available_extensions WHERE name = 'vector'), '');
SQL
)
  installed=${versions%%|*} available=${versions#*|}
  if [ -z "$available" ]; then
    echo "the image has no vector extension (pgvector is not installed)" >&2
    exit 1
  elif [ -z "$installed" ]; then
    change "extension vector $available created in $app_db" "$app_db" <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
SQL
  elif [ "$installed" != "$available" ]; then
    change "extension vector updated in $app_db: $installed -> $available" "$app_db" <<'SQL'
ALTER EXTENSION vector UPDATE;
SQL
  fi
fi

# The exporter's role: pg_monitor reads every statistics view, nothing else.
if [ -n "$monitor_user" ]; then
  ensure_role "$monitor_user" "$monitor_pw"
  member=$(sql postgres -v role="$monitor_user" <<'SQL'
SELECT coalesce((SELECT pg_has_role(:'role', 'pg_monitor', 'MEMBER')
                 FROM pg_roles WHERE rolname = :'role'), false);
SQL
)
  if [ "$member" != t ]; then
    change "role $monitor_user granted pg_monitor" postgres -v role="$monitor_user" <<'SQL'
GRANT pg_monitor TO :"role";
SQL
  fi
fi

# The backup service's role (Barman, streaming): replication connections (pg_receivewal,
# pg_basebackup, its slot) and, without a superuser, what Barman's own connection needs
# (Barman 3 "Postgres users": backup start and stop, WAL switch, restore points, settings
# and statistics; pg_checkpoint for switch-wal --force), and pg_read_all_data for the
# logical dumps (pg_dump of every database; read only). Without a password nothing is
# done: a role made before is left as it is (its replication slot may still exist).
if [ -n "$backup_pw" ]; then
  ensure_role "$backup_user" "$backup_pw" REPLICATION
  for fn in 'pg_backup_start(text, boolean)' 'pg_backup_stop(boolean)' 'pg_switch_wal()' \
            'pg_create_restore_point(text)'; do
    granted=$(sql postgres -v role="$backup_user" -v fn="$fn" <<'SQL'
SELECT coalesce((SELECT has_function_privilege(oid, :'fn', 'EXECUTE')
                 FROM pg_roles WHERE rolname = :'role'), false);
SQL
)
    if [ "$granted" != t ]; then
      # :fn is the function's signature, one of the four literals above.
      change "role $backup_user granted EXECUTE on $fn" postgres -v role="$backup_user" -v fn="$fn" <<'SQL'
GRANT EXECUTE ON FUNCTION :fn TO :"role";
SQL
    fi
  done
  for member_of in pg_read_all_settings pg_read_all_stats pg_checkpoint pg_read_all_data; do
    member=$(sql postgres -v role="$backup_user" -v member_of="$member_of" <<'SQL'
SELECT coalesce((SELECT pg_has_role(oid, :'member_of', 'USAGE')
                 FROM pg_roles WHERE rolname = :'role'), false);
SQL
)
    if [ "$member" != t ]; then
      change "role $backup_user granted $member_of" postgres -v role="$backup_user" -v member_of="$member_of" <<'SQL'
GRANT :"member_of" TO :"role" WITH INHERIT TRUE;
SQL
    fi
  done
fi

# The rotation bridge (playbooks/rotate_secrets.yml): while a rotation sets its password, a
# login role that acts as the application role: a member of it whose sessions SET ROLE to it
# (what they create belongs to the application role). The app moves to it while the
# application role's own password changes, then back. Without a password it may not log in,
# and any session it still has ends: a retired credential keeps nothing open.
if [ -n "$next_user" ]; then
  if [ -n "$next_pw" ]; then
    ensure_role "$next_user" "$next_pw"
    state=$(sql postgres -v role="$next_user" -v app="$app_user" <<'SQL'
SELECT concat_ws('|',
  coalesce((SELECT pg_has_role(:'role', :'app', 'MEMBER') FROM pg_roles WHERE rolname = :'role'), false),
  coalesce((SELECT ('role=' || :'app') = ANY (setconfig) FROM pg_db_role_setting s JOIN pg_roles r
            ON r.oid = s.setrole WHERE r.rolname = :'role' AND s.setdatabase = 0), false));
SQL
)
    if [ "${state%%|*}" != t ]; then
      change "role $next_user granted $app_user" postgres -v role="$next_user" -v app="$app_user" <<'SQL'
GRANT :"app" TO :"role" WITH INHERIT TRUE, SET TRUE;
SQL
    fi
    if [ "${state#*|}" != t ]; then
      change "role $next_user sets role $app_user on login" postgres -v role="$next_user" -v app="$app_user" <<'SQL'
ALTER ROLE :"role" SET role = :'app';
SQL
    fi
  else
    state=$(sql postgres -v role="$next_user" <<'SQL'
SELECT concat_ws('|', coalesce((SELECT rolcanlogin FROM pg_roles WHERE rolname = :'role'), false),
                 (SELECT count(*) FROM pg_stat_activity WHERE usename = :'role'));
SQL
)
    if [ "${state%%|*}" = t ]; then
      change "role $next_user may no longer log in" postgres -v role="$next_user" <<'SQL'
ALTER ROLE :"role" WITH NOLOGIN PASSWORD NULL;
SQL
    fi
    if [ "${state#*|}" != 0 ]; then
      change "sessions of role $next_user ended" postgres -v role="$next_user" <<'SQL'
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :'role';
SQL
    fi
  fi
fi
