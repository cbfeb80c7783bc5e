#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build the offline image set (images/images.list) and push it to the local
# registry. An image is rebuilt only when its directory, or the image it is
# built FROM, changed: its content hash is stored as a label and compared with
# both the local image and the registry's copy. Usage: images/build.sh [NAME...]
#
# A `base` entry is a debootstrap root file system of the Debian suite its tag names
# (debian:trixie, debian:bookworm). A Dockerfile that declares `ARG TAG` gets the
# entry's tag as that build argument (and its FROM may name `${TAG}`), so one
# directory builds one image per tag: molecule-platform:trixie and :bookworm.
set -euo pipefail
cd "$(dirname "$0")"
registry=${CC_REGISTRY:-localhost:5000}
export DOCKER_BUILDKIT=0   # the distro engine has no buildx; the classic builder is enough
label=org.commandcenter.context-hash

context_hash() {  # $1 dir, $2 parent image id (may be empty)
  { printf '%s\n' "$2"; (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } \
    | sha256sum | cut -d' ' -f1
}
local_label() { docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }
registry_digest() {  # $1 name, $2 tag
  curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$registry/v2/commandcenter/$1/manifests/$2" 2>/dev/null \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}
pushed() {  # the registry holds exactly the local image's content
  local d; d=$(registry_digest "$1" "$2")
  [ -n "$d" ] && docker image inspect --format '{{ join .RepoDigests "\n" }}' "commandcenter/$1:$2" 2>/dev/null \
    | grep -qx "$registry/commandcenter/$1@$d"
}

# A directory may list PyPI wheels it needs in wheels.txt ("name==version sha256"), for
# programs Debian lacks. They are fetched on this host (pip inside `docker build` has no
# access to the host's CA bundle) into <dir>/wheels/, which the Dockerfile COPYs; the
# sha256 pins make the content hash, and so the rebuild decision, exact.
fetch_wheels() {  # $1 dir
  [ -f "$1/wheels.txt" ] || return 0
  local name hash
  while read -r name hash; do
    case "$name" in ''|'#'*) continue ;; esac
    if ! ls "$1"/wheels/*.whl >/dev/null 2>&1 || ! sha256sum "$1"/wheels/*.whl | grep -q "^$hash "; then
      python3 -m pip download -q --no-deps --only-binary :all: --dest "$1/wheels" "$name" >&2
      sha256sum "$1"/wheels/*.whl | grep -q "^$hash " \
        || { echo "images: $name from PyPI does not match sha256 $hash ($1/wheels.txt)" >&2; exit 1; }
    fi
  done < "$1/wheels.txt"
}

want=("$@")
built=0; skipped=0
while read -r ref dir; do
  case "$ref" in ''|'#'*) continue ;; esac
  name=${ref%%:*}; tag=${ref#*:}; image="commandcenter/$ref"
  if ((${#want[@]})) && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then continue; fi
  fetch_wheels "$dir"
  build_args=()
  if [ "$dir" = base ]; then
    hash=$(context_hash base "debootstrap-minbase:$tag")
  else
    parent=$(awk 'toupper($1)=="FROM"{print $2; exit}' "$dir/Dockerfile")
    seed=""
    if grep -qE '^ARG[[:space:]]+TAG([=[:space:]]|$)' "$dir/Dockerfile"; then
      build_args=(--build-arg "TAG=$tag"); parent=${parent//\$\{TAG\}/$tag}; seed=" TAG=$tag"
    fi
    hash=$(context_hash "$dir" "$(docker image inspect --format '{{.Id}}' "$parent" 2>/dev/null || echo "missing:$parent")$seed")
  fi
  if [ "$(local_label "$image")" = "$hash" ] && pushed "$name" "$tag"; then
    skipped=$((skipped + 1)); continue
  fi
  start=$(date +%s)
  if [ "$(local_label "$image")" != "$hash" ]; then
    if [ "$dir" = base ]; then
      tarball=$(base/build-rootfs.sh "$tag")
      docker import --change "LABEL $label=$hash" --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
    else
      log=$(mktemp)
      if ! docker build "${build_args[@]}" --label "$label=$hash" -t "$image" "$dir" >"$log" 2>&1; then
        tail -40 "$log" >&2; rm -f "$log"; echo "images: build of $image failed" >&2; exit 1
      fi
      rm -f "$log"
    fi
  fi
  docker tag "$image" "$registry/$image"
  docker push -q "$registry/$image" >/dev/null
  echo "images: $image built and pushed in $(( $(date +%s) - start )) s"
  built=$((built + 1))
done < images.list
echo "images: $built built, $skipped up to date (registry $registry)"
