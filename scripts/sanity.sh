#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `ansible-test sanity` for this collection (`make sanity`), offline but for PyPI.
#
#   scripts/sanity.sh                          every sanity test that can run here
#   scripts/sanity.sh --test validate-modules  chosen tests (any ansible-test sanity options)
#
# What it tests: the collection as it ships (the tarball `ansible-galaxy collection build`
# makes, so galaxy.yml's build_ignore decides) plus galaxy.yml and tests/. The rest of the
# repository is development tooling that no Galaxy user gets and that ansible-test's
# collection rules do not fit (images/ holds the offline images' own programs with their
# shebangs, molecule/ testinfra suites, scripts/, inventories/, the collections/ link back
# to the checkout): ruff, shellcheck, yamllint and ansible-lint check those (`make lint`).
#
# Where: ansible-test reads the physical working directory, in which
# collections/ansible_collections/commandcenter/infra resolves back to the checkout (no
# ansible_collections/ parent), and writes its results into the collection's tests/output/.
# So the files are laid out in build/sanity/ansible_collections/commandcenter/infra
# (ignored by git) and tested there, ANSIBLE_TEST_CONTENT_ROOT pointing at that copy.
#
# ansible-test runs most tests in virtualenvs of its own (~/.ansible/test/venv) with its
# pinned requirements from PyPI, but creates them without pip and bootstraps pip with a
# get-pip script from ci-files.testing.ansible.com, which is not reachable here. Its
# documented way out is a script saved in ~/.ansible/test/cache; this writes one that
# installs the same pip version from PyPI's pip wheel instead (once; a real one stays).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# `make sanity` puts the virtualenv first on PATH; run by hand, take the default one.
command -v ansible-test >/dev/null || PATH="$root/.venv/bin:$PATH"

# Every sanity test ansible-test has for a collection runs (see CONTRIBUTING.md), on the
# controller's Python only. pslint and changelog find nothing to check (no PowerShell, no
# changelogs/ fragments: CHANGELOG.md is written by hand). pslint would need pwsh and
# PSScriptAnalyzer, which cannot be installed here: were a .ps1 file added, ansible-test
# would skip pslint with a warning that pwsh is missing. SANITY_SKIP="test ..." leaves tests out of a run (e.g. to save time locally).
SANITY_SKIP=${SANITY_SKIP:-}

stage=build/sanity/ansible_collections/commandcenter/infra

bootstrap_pip() {
  local version cache wheel_dir shim
  version=$(python -c 'from ansible_test._internal.python_requirements import get_venv_packages as p
from ansible_test._internal.host_configs import NativePythonConfig as c
print(p(c(version="3.11", path="python"))["pip"])')
  cache=~/.ansible/test/cache
  shim="$cache/get_pip_${version//./_}.py"
  if [ -f "$shim" ] && ! grep -q 'written by commandcenter.infra' "$shim"; then return; fi  # a real one
  wheel_dir="$cache/pip-wheel-$version"
  if ! compgen -G "$wheel_dir/pip-$version-*.whl" >/dev/null; then
    mkdir -p "$wheel_dir"
    pip download -q --disable-pip-version-check --no-deps --only-binary :all: -d "$wheel_dir" "pip==$version"
  fi
  cat >"$shim.tmp" <<EOF
"""Stand-in for get-pip.py $version (written by commandcenter.infra scripts/sanity.sh).

Runs pip from PyPI's pip $version wheel: install --upgrade --force-reinstall ARGS, where
get-pip's own --no-setuptools / --no-wheel only mean "do not add them".
"""
import glob
import sys

sys.path.insert(0, glob.glob("$wheel_dir/pip-$version-*.whl")[0])
from pip._internal.cli.main import main  # noqa: E402

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall", *args]))
EOF
  mv "$shim.tmp" "$shim"
}

stage_copy() {
  local tarball
  rm -rf build/sanity
  mkdir -p "$stage" build/sanity/tarball
  ansible-galaxy collection build --force --output-path build/sanity/tarball . >/dev/null
  tarball=$(echo build/sanity/tarball/commandcenter-infra-*.tar.gz)
  tar -xzf "$tarball" -C "$stage"
  rm -f "$stage/MANIFEST.json" "$stage/FILES.json"  # the build's, not sources
  git ls-files -z --cached --others --exclude-standard -- galaxy.yml tests |
    while IFS= read -r -d '' file; do
      if [ -e "$file" ] || [ -L "$file" ]; then printf '%s\0' "$file"; fi  # not deleted
    done |
    tar --null --no-recursion -T - -cf - | tar -xf - -C "$stage"
}

bootstrap_pip
stage_copy
args=("$@")
if [ "${#args[@]}" -eq 0 ]; then
  for test in $SANITY_SKIP; do args+=(--skip-test "$test"); done
fi
cd "$stage"
echo "ansible-test sanity in $stage ${args[*]}"
ANSIBLE_TEST_CONTENT_ROOT=$PWD ansible-test sanity --python 3.11 --color no "${args[@]}" || {
  rc=$?
  echo "(the staged copy: $root/$stage; results: $root/$stage/tests/output/)" >&2
  exit "$rc"
}
