#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Speed and size figures (`make bench`). Prints figures, each next to its target; asserts nothing.
#   scripts/bench.sh [precommit|images|docker_host|hardening|noop|rollout|alerting|backup]...   (default: all, in this order)
# precommit: the pre-commit hooks over every file, then over one role's files (a commit).
# hardening: on the molecule hardening scenario (hardening + docker_host converged once), the
# hardening role's no-op re-run, BENCH_NOOP_RUNS (3) times; prints the median and the task count.
# noop: the site's no-op against the local sandbox (inventories/local, as `make demo` deploys
# it): converge once, then time BENCH_NOOP_RUNS (3) runs that change nothing, with
# ansible.posix.profile_tasks; prints the median, the task count, the time per play and the
# ten slowest tasks.
# backup: on the molecule backup scenario (its test-only WAL cap raised to the role's
# default, 2GB), a pgvector database of about 1 GB (BENCH_BACKUP_DB_MB, 1024): the base
# backup's and the logical dumps' times and sizes, the restore drill's time per GB (goal
# <= 120 s), the WAL streaming lag under a 60 s write load (scripts/bench_backup.py).
# The machine is shared: every figure comes with the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PATH="$PWD/.venv/bin:$PATH"; fi
export PATH ANSIBLE_CONFIG="$PWD/ansible.cfg"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
load() { cut -d' ' -f1-3 /proc/loadavg; }
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(precommit images docker_host hardening noop rollout alerting backup)

precommit() {
  echo "== pre-commit hooks (.pre-commit-config.yaml; target < 30 s)"
  local t files
  t=$(date +%s%N)
  pre-commit run --all-files >/dev/null || { echo "precommit: a hook failed (make pre-commit shows it)"; return 1; }
  echo "precommit: every file: $(ms "$t") ms (target < 30000 ms; load $(load))"
  mapfile -t files < <(git ls-files roles/redis)
  t=$(date +%s%N)
  pre-commit run --files "${files[@]}" >/dev/null || { echo "precommit: a hook failed on roles/redis"; return 1; }
  echo "precommit: a commit of one role (roles/redis, ${#files[@]} files): $(ms "$t") ms (load $(load))"
}

images() {
  echo "== offline image set"
  local t
  t=$(date +%s%N); images/build.sh >/dev/null
  echo "images: no-op rebuild (nothing changed): $(ms "$t") ms (target < 15000 ms; load $(load))"
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' 'commandcenter/*' | sed 's/^/images: size /'
}

docker_host() {
  echo "== docker_host on a bare platform host (molecule, distro packages)"
  local t
  molecule destroy -s docker_host >/dev/null 2>&1 || true
  t=$(date +%s%N); molecule create -s docker_host >/dev/null 2>&1; echo "docker_host: create sandbox host: $(ms "$t") ms"
  t=$(date +%s%N); molecule converge -s docker_host >/dev/null 2>&1; echo "docker_host: first converge: $(ms "$t") ms"
  t=$(date +%s%N); molecule idempotence -s docker_host >/dev/null 2>&1
  echo "docker_host: second converge (changed=0): $(ms "$t") ms (load $(load))"
  molecule destroy -s docker_host >/dev/null 2>&1 || true
}

hardening() {
  echo "== hardening role no-op re-run (molecule hardening; target <= 30 s; anchor: dev-sec os + ssh hardening 132 s, 191 tasks)"
  local runs=${BENCH_NOOP_RUNS:-3} dir t i ok changed skipped failed
  dir=$(mktemp -d)
  molecule destroy -s hardening >/dev/null 2>&1 || true
  t=$(date +%s%N); molecule create -s hardening >/dev/null 2>&1
  if ! molecule converge -s hardening >"$dir/converge.log" 2>&1; then
    tail -40 "$dir/converge.log"; echo "hardening: the converge failed (log above); no figure"; rm -rf "$dir"; return 1
  fi
  echo "hardening: create and first converge (hardening + docker_host): $(ms "$t") ms (load $(load))"
  for i in $(seq "$runs"); do
    t=$(date +%s%N)
    COLUMNS=400 molecule converge -s hardening -- -e '{"cc_molecule_roles": ["hardening"]}' >"$dir/noop-$i.log" 2>&1 || true
    echo "$(ms "$t") $i" >>"$dir/times"
    read -r ok changed skipped failed < <(sed 's/\x1b\[[0-9;]*m//g; s/^.*│ *//' "$dir/noop-$i.log" | recap /dev/stdin)
    echo "hardening: no-op run $i: $(ms "$t") ms, ok=$ok changed=$changed skipped=$skipped failed=$failed (load $(load))"
  done
  read -r t i < <(sort -n "$dir/times" | sed -n "$(( (runs + 1) / 2 ))p")
  read -r ok changed skipped failed < <(sed 's/\x1b\[[0-9;]*m//g; s/^.*│ *//' "$dir/noop-$i.log" | recap /dev/stdin)
  printf 'hardening no-op: %.1f s (median of %s, molecule start-up included) for %s tasks run + %s skipped; changed=%s (target 0); target <= 30 s\n' \
    "$(bc <<<"scale=1; $t / 1000")" "$runs" "$ok" "$skipped" "$changed"
  molecule destroy -s hardening >/dev/null 2>&1 || true
  rm -rf "$dir"
}

# One line of a log's PLAY RECAP: "ok changed skipped failed" for the sandbox.
recap() { awk '/^PLAY RECAP/ {r = 1; next} r && /ok=/ {
  for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  print v["ok"], v["changed"], v["skipped"], v["failed"]; exit }' "$1"; }

# Seconds per play of a profile_tasks log: each task header is followed by a line ending
# in the time since the start ("... (0:00:01.234)       0:01:02.345 *****"); the last one,
# after the recap, ends the last play.
plays() { awk '
  function secs(t,  p) { split(t, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
  /^PLAY \[/ { name = $0; sub(/^PLAY \[/, "", name); sub(/\] \*+$/, "", name); pending = 1; next }
  / [0-9]+:[0-9][0-9]:[0-9][0-9]\.[0-9]+ \*+ *$/ { now = secs($(NF - 1))
    if (pending) { if (n) dur[n] = now - start[n]; n++; names[n] = name; start[n] = now; pending = 0 }
    last = now }
  END { if (n) dur[n] = last - start[n]
    for (i = 1; i <= n; i++) { b = (i == 1) ? first : each
      printf "  %6.1f s  (budget %4.1f s%s)  %s\n", dur[i], b, (dur[i] > b) ? ", over" : "", names[i] } }' \
  first="$2" each="$3" "$1"; }

noop() {
  echo "== no-op of the whole site on the local sandbox (inventories/local, ansible.posix.profile_tasks)"
  local runs=${BENCH_NOOP_RUNS:-3} target=${BENCH_NOOP_TARGET:-40} dir t i
  dir=$(mktemp -d)
  python3 scripts/sandbox.py up
  t=$(date +%s%N)
  if ! ansible-playbook -i inventories/local playbooks/site.yml >"$dir/converge.log" 2>&1; then
    tail -40 "$dir/converge.log"; echo "noop: the converge failed (log above); no figure"; rm -rf "$dir"; return 1
  fi
  read -r ok changed _ _ < <(recap "$dir/converge.log")
  echo "noop: converge first (to start from a converged host): $(ms "$t") ms, ok=$ok changed=$changed (load $(load))"
  for i in $(seq "$runs"); do
    local l0
    l0=$(load)
    t=$(date +%s%N)
    ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=10 \
      PROFILE_TASKS_SORT_ORDER=descending ansible-playbook -i inventories/local playbooks/site.yml \
      >"$dir/noop-$i.log" 2>&1 || true
    echo "$(ms "$t") $i" >>"$dir/times"
    read -r ok changed skipped failed < <(recap "$dir/noop-$i.log")
    echo "noop: run $i: $(ms "$t") ms, ok=$ok changed=$changed skipped=$skipped failed=$failed" \
      "(load before $l0, after $(load))"
  done
  # The median run (the lower middle one of an even count) is the figure; its profile is shown.
  read -r t i < <(sort -n "$dir/times" | sed -n "$(( (runs + 1) / 2 ))p")
  read -r ok changed skipped failed < <(recap "$dir/noop-$i.log")
  printf 'no-op: %.1f s for %s tasks (target <= %s s; changed=%s, target 0)\n' "$(bc <<<"scale=1; $t / 1000")" "$ok" \
    "$target" "$changed"
  echo "  median of $runs runs (run $i); tasks: the recap's ok (changed included, a loop once, include_* too)," \
    "besides $skipped skipped; load now $(load)"
  # The budget that keeps a ten-role site within 60 s: the first play (facts, every
  # preflight) 10 s, each role's play 5 s.
  echo "no-op: time per play (run $i), against a budget of 10 s + 5 s a role (ten roles: 60 s):"
  plays "$dir/noop-$i.log" "${BENCH_NOOP_FIRST_BUDGET:-10}" "${BENCH_NOOP_ROLE_BUDGET:-5}"
  echo "no-op: the ten slowest tasks (run $i):"
  sed -n '/^TASKS RECAP/,$p' "$dir/noop-$i.log" | grep -E -- ' -+ [0-9.]+s$' | sed 's/^/  /'
  rm -rf "$dir"
}

rollout() {
  echo "== app rollout under 20 requests/s through Traefik (molecule default: the whole site)"
  local t
  molecule destroy -s default >/dev/null 2>&1 || true
  t=$(date +%s%N); molecule create -s default >/dev/null 2>&1; molecule converge -s default >/dev/null 2>&1
  echo "site: create sandbox host and first converge of the whole site: $(ms "$t") ms (load $(load))"
  # It finds its host as the default scenario's platform (cc-default) and converges with molecule.
  scripts/bench_rollout.py
  molecule destroy -s default >/dev/null 2>&1 || true
}

alerting() {
  echo "== alert delivery (molecule monitoring: Redis stopped for real, RedisDown with for: 10s)"
  local t log
  log=$(mktemp)
  molecule destroy -s monitoring >/dev/null 2>&1 || true
  t=$(date +%s%N); molecule converge -s monitoring >/dev/null 2>&1
  echo "alerting: create and converge (Redis, Alertmanager, monitoring): $(ms "$t") ms (load $(load))"
  # The scenario's tests print the figures: seconds from the stop to each receiver, and
  # Prometheus's own evaluation time of every rule group.
  COLUMNS=400 molecule verify -s monitoring >"$log" 2>&1 || echo "alerting: a test failed (see molecule verify -s monitoring)"
  # Molecule frames and colours its lines: keep the text after the frame.
  sed 's/\x1b\[[0-9;]*m//g; s/^.*│ *//' "$log" | grep -E "^(RedisDown \(for|rules loaded and healthy|Watchdog heartbeats)" \
    | sed 's/^/alerting: /'
  rm -f "$log"
  molecule destroy -s monitoring >/dev/null 2>&1 || true
}

backup() {
  echo "== backup and restore of a 1 GB pgvector database (molecule backup: Barman streaming, dumps, restore drill)"
  local t
  molecule destroy -s backup >/dev/null 2>&1 || true
  # The scenario caps a slot's WAL at 64MB for its own test; loading 1 GB needs the role's
  # default (2GB), else the slot may be lost while Barman catches up.
  t=$(date +%s%N)
  # Time limits (about 2-4 and 9-13 minutes here) keep the section within 25 minutes.
  if ! timeout 420 molecule converge -s backup -- -e '{"postgres_pgvector_max_slot_wal_keep_size": "2GB"}' \
    >/dev/null 2>&1; then
    echo "backup: the converge failed or ran over 420 s (molecule converge -s backup shows why); no figure"
    molecule destroy -s backup >/dev/null 2>&1 || true
    return 1
  fi
  echo "backup: create and converge (PostgreSQL, Redis, NATS, backup): $(ms "$t") ms (load $(load))"
  timeout 1000 scripts/bench_backup.py || echo "backup: the figures stop there (exit $?)"
  molecule destroy -s backup >/dev/null 2>&1 || true
}

for section in "${sections[@]}"; do
  case $section in
    precommit | images | docker_host | hardening | noop | rollout | alerting | backup) "$section" ;;
    *) echo "usage: scripts/bench.sh [precommit|images|docker_host|hardening|noop|rollout|alerting|backup]..." >&2; exit 2 ;;
  esac
done
