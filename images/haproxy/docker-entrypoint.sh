#!/bin/sh
# The official haproxy image's entrypoint contract, for Debian's haproxy.
set -e

# First argument a flag (-f, --x): run haproxy with them.
if [ "${1#-}" != "$1" ]; then
	set -- haproxy "$@"
fi

# haproxy in the foreground, master-worker (-W: a reload is SIGUSR2), as upstream adds.
if [ "$1" = 'haproxy' ]; then
	shift
	set -- haproxy -W -db "$@"
fi

exec "$@"
