#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Run `molecule test` for every scenario, in phases of parallel lanes (`make test`).
#
#   scripts/molecule-lanes.sh "default;backup monitoring | multihost;nice: redis nats"
#
# The one argument is the Makefile's LANES: `|` separates phases, run one after the other;
# `;` separates the lanes of a phase, run side by side; a lane's scenarios run one after the
# other. A lane that begins with `nice:` runs at a lower CPU priority (nice 10 for Molecule,
# Ansible and pytest on this machine): the scenario beside it, whose load tests count
# failed requests, gets the cores first when both want them. "a b c" = the plain
# sequential run.
#
# Scenarios are isolated (platform containers cc-<scenario>* with their own Docker engines,
# Molecule's own state per scenario). Part of a scenario's time is waiting (health gates,
# engine starts), so two lanes finish sooner than one; but on two cores the CPU is busy for
# most of a phase, and two lanes slow each other by a quarter to a half (measured).
#
# Each scenario's output goes to $CC_MOLECULE_LOG_DIR/<scenario>.log (build/molecule);
# a line per scenario says how it went, and the whole log of every failed scenario is
# printed at the end. A failed scenario does not stop the others. Exit status: 0 only if
# every scenario passed.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 'a b;c d | e;nice: f g'" >&2; exit 2; }
log_dir=${CC_MOLECULE_LOG_DIR:-build/molecule}
mkdir -p "$log_dir"
results="$log_dir/results"
: >"$results"

lane() {
  local scenario start seconds outcome prefix=()
  local scenarios=$1
  if [[ $scenarios =~ ^[[:space:]]*nice:(.*)$ ]]; then
    scenarios=${BASH_REMATCH[1]}
    prefix=(nice -n 10)
  fi
  for scenario in $scenarios; do
    start=$(date +%s)
    if "${prefix[@]}" molecule test -s "$scenario" >"$log_dir/$scenario.log" 2>&1; then outcome=passed; else outcome=failed; fi
    seconds=$(($(date +%s) - start))
    echo "$scenario $outcome $seconds" >>"$results"
    echo "=== molecule scenario $scenario: $outcome in $seconds s${prefix[*]:+ (${prefix[*]})} (log: $log_dir/$scenario.log)"
  done
}

started=$(date +%s)
expected=0
IFS='|' read -ra phases <<<"$1"
for phase in "${phases[@]}"; do
  IFS=';' read -ra lanes <<<"$phase"
  phase_started=$(date +%s)
  echo "=== molecule: $(printf '[%s] ' "${lanes[@]}")"
  pids=()
  for scenarios in "${lanes[@]}"; do
    expected=$((expected + $(echo "${scenarios#*nice:}" | wc -w)))
    lane "$scenarios" &
    pids+=("$!")
  done
  wait "${pids[@]}"
  echo "=== phase done in $(($(date +%s) - phase_started)) s"
done

passed=$(awk '$2 == "passed"' "$results" | wc -l)
failed_list=$(awk '$2 == "failed" {print $1}' "$results")
for scenario in $failed_list; do
  echo "=== log of the failed scenario $scenario"
  cat "$log_dir/$scenario.log"
done
echo "=== scenarios: $passed passed, $(echo "$failed_list" | wc -w) failed, of $expected, in $(($(date +%s) - started)) s"
[ -z "$failed_list" ] && [ "$passed" -eq "$expected" ]
