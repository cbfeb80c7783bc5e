#!/bin/sh
# commandcenter/rest-server: upstream restic/rest-server's docker/entrypoint.sh contract
# (OPTIONS, DISABLE_AUTHENTICATION, DATA_DIRECTORY, PASSWORD_FILE), but with
# authentication on, a missing or empty htpasswd file stops the start with a reason
# instead of a server that denies every request.
set -e
DATA_DIRECTORY=${DATA_DIRECTORY:-/data}
PASSWORD_FILE=${PASSWORD_FILE:-$DATA_DIRECTORY/.htpasswd}

if [ -n "${DISABLE_AUTHENTICATION:-}" ]; then
    OPTIONS="--no-auth ${OPTIONS:-}"
elif [ ! -s "$PASSWORD_FILE" ]; then
    echo "rest-server: authentication is on but $PASSWORD_FILE is missing or empty:" \
         "create it (htpasswd -B, or 'create_user USER' in this image)" \
         "or set DISABLE_AUTHENTICATION=1" >&2
    exit 1
fi

# OPTIONS holds extra flags and is split into words on purpose, as upstream does.
# shellcheck disable=SC2086
exec rest-server --path "$DATA_DIRECTORY" --htpasswd-file "$PASSWORD_FILE" ${OPTIONS:-}
