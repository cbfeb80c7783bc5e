#!/bin/sh
# The official redis image's entrypoint contract, for Debian's redis-server.
set -e

# First argument a flag (-x, --x) or a config file (*.conf): run redis-server with them.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# Started as root (no --user): fix /data ownership, then drop to redis, as upstream does.
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --clear-groups -- "$0" "$@"
fi

# A private umask for data files unless one was set (upstream does the same).
if [ "$(umask)" = '0022' ]; then
	umask 0077
fi

# Upstream's binary defaults to protected-mode off (a container is reached over its
# network, not loopback); Debian's does not. Without a config file, and unless the
# arguments set it, match upstream (appended: options given later win in Redis).
if [ "$1" = 'redis-server' ]; then
	case "${2:-}" in
		*.conf | -v | --version | -h | --help | --test-memory | --check-system) ;;
		*)
			case " $* " in
				*" --protected-mode "*) ;;
				*) set -- "$@" --protected-mode no ;;
			esac
			;;
	esac
fi

exec "$@"
