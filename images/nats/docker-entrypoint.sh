#!/bin/sh
# As in the upstream nats:alpine image: a first argument that is a flag (or none)
# runs nats-server with the arguments; anything else runs as given (nats-probe, sh).
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- nats-server "$@"
fi
exec "$@"
