#!/bin/sh
# As the upstream image's entrypoint: flags (or nothing) go to traefik, and so does a
# first argument that is a traefik subcommand (`version`, `healthcheck`); anything
# else runs as given.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- traefik "$@"
fi
if [ "$1" != traefik ] && traefik "$1" --help >/dev/null 2>&1; then
  set -- traefik "$@"
fi
exec "$@"
