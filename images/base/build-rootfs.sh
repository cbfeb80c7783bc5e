#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build a Debian minbase root file system as a tarball (cached per suite), print its path.
# Usage: images/base/build-rootfs.sh [SUITE]   (default trixie; images.list: debian:<suite> base)
set -euo pipefail
cache=${CC_IMAGE_CACHE:-/var/cache/commandcenter}
suite=${1:-trixie}
case "$suite" in *[!a-z]* | '') echo "build-rootfs: not a Debian suite name: '$suite'" >&2; exit 2 ;; esac
tarball="$cache/debian-$suite-minbase.tar"
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  log="$cache/debootstrap-$suite.log"
  debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian >"$log" 2>&1 \
    || { tail -20 "$log" >&2; exit 1; }
  # Keep images small and apt quiet inside containers.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90commandcenter"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
echo "$tarball"
