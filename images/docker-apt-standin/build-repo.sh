#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Build a signed apt repository that stands in for Docker's, for Debian SUITE, into OUT:
#   OUT/gpg                                        the public key, ASCII-armoured (Docker's <url>/gpg)
#   OUT/dists/SUITE/{Release,InRelease,Release.gpg}
#   OUT/dists/SUITE/stable/binary-amd64/Packages(.gz)
#   OUT/pool/stable/*.deb
# Usage (in the image build, as root): build-repo.sh SUITE OUT
#
# The packages carry Docker's names, made on this machine from Debian's own packages
# (dpkg-deb -R, renamed and merged, new control, dpkg-deb -b; the files are Debian's):
#   docker-ce             Debian trixie's docker.io (dockerd, docker-proxy, units, maintainer
#                         scripts) + SUITE's tini-static as /usr/bin/docker-init; dockerd and
#                         docker-proxy moved to /usr/bin, where Docker's package has them
#   docker-ce-cli         Debian trixie's docker-cli (/usr/bin/docker)
#   containerd.io         SUITE's containerd + runc (Provides/Conflicts/Replaces both, as Docker's)
#   docker-compose-plugin Debian trixie's docker-compose (Compose v2, the cli-plugin only)
#   docker-buildx-plugin  Debian trixie's docker-buildx
# The engine, CLI and plugins come from trixie because bookworm has no Compose v2 and no
# buildx, and its docker.io 20.10 has no `dockerd --validate` (Docker 23+), which the role
# checks daemon.json with; Docker's own repository ships a current engine for bookworm
# too. Trixie's Go binaries need only libc6 >= 2.34 (bookworm: 2.36), libsystemd0 and
# libseccomp2. Versions are Debian's with ~cc1 appended (docker-ce/-cli with Docker's epoch 5).
# The signing key is generated here, used once and thrown away with the build stage.
set -eu
suite=$1
out=$2
engine_suite=trixie
work=$(mktemp -d)
chmod 755 "$work"   # apt's sandbox user (_apt) reads the self-check's files below
trap 'gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# Debian's packages, downloaded only: the engine suite is added after the build tools are
# installed, so nothing of it is installed here.
printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\n' "$engine_suite" \
  >/etc/apt/sources.list.d/engine-suite.sources
apt-get update -qq
# (as root: apt's sandbox user, _apt, cannot write into this directory)
apt-get download -q -o APT::Sandbox::User=root "containerd/$suite" "runc/$suite" "tini/$suite" \
  "docker.io/$engine_suite" "docker-cli/$engine_suite" "docker-compose/$engine_suite" "docker-buildx/$engine_suite"

deb() { ls "$work/$1"_*.deb; }
version() { dpkg-deb -f "$(deb "$1")" Version; }
unpack() {  # $1 Debian package, $2 tree: the package as a tree, without Debian's name in it
  dpkg-deb -R "$(deb "$1")" "$2"
  rm -rf "$2/DEBIAN/md5sums" "$2/usr/share/lintian"
}
rename_doc() {  # $1 tree, $2 old name, $3 new name
  if [ -d "$1/usr/share/doc/$2" ]; then mv "$1/usr/share/doc/$2" "$1/usr/share/doc/$3"; fi
}
control() {  # $1 tree, $2 package, $3 version; the other fields on stdin
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: amd64\n' "$2" "$3"
    printf 'Maintainer: CommandCenter platform team <platform@commandcenter.invalid>\n'
    printf 'Installed-Size: %s\nSection: admin\nPriority: optional\n' "$(du -sk --exclude=DEBIAN "$1" | cut -f1)"
    cat
  } >"$1/DEBIAN/control"
  (cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0r md5sum) \
    >"$1/DEBIAN/md5sums"
  mkdir -p "$out/pool/stable"
  dpkg-deb -Zgzip -b "$1" "$out/pool/stable/" >/dev/null
}
note=" NOT Docker Inc.'s package: a test stand-in made of Debian's packages under Docker's
 name, so the commandcenter.infra docker_host role's upstream source can be tested offline."

engine=$(version docker.io)
unpack docker.io ce
rename_doc ce docker.io docker-ce
dpkg-deb -x "$(deb tini)" tini
rm -f ce/usr/bin/docker-init
cp tini/usr/bin/tini-static ce/usr/bin/docker-init
# Docker's layout: dockerd and docker-proxy in /usr/bin (Debian: /usr/sbin), the units too.
mv ce/usr/sbin/dockerd ce/usr/sbin/docker-proxy ce/usr/bin/
rmdir ce/usr/sbin
sed -i 's|/usr/sbin/dockerd|/usr/bin/dockerd|' ce/usr/lib/systemd/system/docker.service ce/etc/init.d/docker
cp tini/usr/share/doc/tini/copyright ce/usr/share/doc/docker-ce/copyright.tini
control ce docker-ce "5:$engine~cc1" <<EOT
Depends: adduser, containerd.io (>= 1.6~), iptables, libc6 (>= 2.34), libsystemd0
Recommends: docker-ce-cli
Conflicts: docker.io, docker-engine
Replaces: docker.io, docker-engine
Description: Docker engine stand-in: Debian's docker.io $engine ($engine_suite)
 dockerd, docker-proxy and the systemd units of Debian's docker.io $engine,
 docker-init from Debian's tini $(version tini) ($suite).
$note
EOT

cli=$(version docker-cli)
unpack docker-cli cli
rename_doc cli docker-cli docker-ce-cli
control cli docker-ce-cli "5:$cli~cc1" <<EOT
Depends: libc6 (>= 2.34)
Recommends: docker-buildx-plugin, docker-compose-plugin
Conflicts: docker.io, docker-cli, docker-engine
Replaces: docker.io, docker-cli, docker-engine
Description: Docker CLI stand-in: Debian's docker-cli $cli ($engine_suite)
 /usr/bin/docker of Debian's docker-cli $cli.
$note
EOT

containerd=$(version containerd)
unpack containerd ctd
rename_doc ctd containerd containerd.io
dpkg-deb -x "$(deb runc)" runc
rm -rf runc/usr/share/lintian
mv runc/usr/share/doc/runc ctd/usr/share/doc/containerd.io/runc
cp -a runc/usr/. ctd/usr/
control ctd containerd.io "$containerd~cc1" <<EOT
Depends: libc6 (>= 2.34), libseccomp2 (>= 2.5.0)
Provides: containerd, runc
Conflicts: containerd, runc
Replaces: containerd, runc
Description: containerd stand-in: Debian's containerd $containerd and runc $(version runc) ($suite)
 containerd, its shims, ctr and runc of Debian's containerd and runc packages.
$note
EOT

compose=$(version docker-compose)
unpack docker-compose compose
rename_doc compose docker-compose docker-compose-plugin
rm -rf compose/usr/bin   # the v1-style docker-compose link: Docker's plugin package has none
control compose docker-compose-plugin "$compose~cc1" <<EOT
Depends: libc6 (>= 2.34)
Enhances: docker-ce-cli
Description: Compose v2 plugin stand-in: Debian's docker-compose $compose ($engine_suite)
 /usr/libexec/docker/cli-plugins/docker-compose of Debian's docker-compose $compose.
$note
EOT

buildx=$(version docker-buildx)
unpack docker-buildx buildx
rename_doc buildx docker-buildx docker-buildx-plugin
control buildx docker-buildx-plugin "$buildx~cc1" <<EOT
Depends: libc6 (>= 2.34)
Enhances: docker-ce-cli
Description: buildx plugin stand-in: Debian's docker-buildx $buildx ($engine_suite)
 /usr/libexec/docker/cli-plugins/docker-buildx of Debian's docker-buildx $buildx.
$note
EOT

# The index and the signed Release, in Docker's layout (component "stable").
dist="dists/$suite"
mkdir -p "$out/$dist/stable/binary-amd64"
cd "$out"
apt-ftparchive packages pool/stable >"$dist/stable/binary-amd64/Packages"
gzip -9nk "$dist/stable/binary-amd64/Packages"
apt-ftparchive \
  -o APT::FTPArchive::Release::Origin=CommandCenter \
  -o "APT::FTPArchive::Release::Label=Docker CE stand-in" \
  -o "APT::FTPArchive::Release::Suite=$suite" \
  -o "APT::FTPArchive::Release::Codename=$suite" \
  -o APT::FTPArchive::Release::Architectures=amd64 \
  -o APT::FTPArchive::Release::Components=stable \
  -o "APT::FTPArchive::Release::Description=Test stand-in for Docker's apt repository, repackaged from Debian" \
  release "$dist" >"$work/Release"
mv "$work/Release" "$dist/Release"

GNUPGHOME="$work/gnupg"
export GNUPGHOME
mkdir -m 700 "$GNUPGHOME"
uid="CommandCenter Docker apt stand-in (throwaway test key) <apt-standin@commandcenter.invalid>"
gpg --batch --quiet --passphrase '' --quick-gen-key "$uid" ed25519 sign never
gpg --batch --armor --export "$uid" >"$out/gpg"
gpg --batch --yes --clearsign -o "$dist/InRelease" "$dist/Release"
gpg --batch --yes --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release"

# Self-check as apt sees it: the signature verifies with the published key, every
# package is there under Docker's name.
cp "$out/gpg" "$work/standin.asc"
printf 'deb [signed-by=%s] file:%s %s stable\n' "$work/standin.asc" "$out" "$suite" >"$work/standin.list"
mkdir -p "$work/lists/partial"
apt-get -q -o Dir::Etc::SourceList="$work/standin.list" -o Dir::Etc::SourceParts=- \
  -o Dir::State::Lists="$work/lists" update 2>&1 | tee "$work/update.log"
if grep -qE '^(W|E):' "$work/update.log"; then echo "build-repo: apt does not accept the repository" >&2; exit 1; fi
apt-cache -o Dir::Etc::SourceList="$work/standin.list" -o Dir::Etc::SourceParts=- \
  -o Dir::State::Lists="$work/lists" policy docker-ce docker-ce-cli containerd.io docker-compose-plugin docker-buildx-plugin
ls -l "$out/pool/stable"
