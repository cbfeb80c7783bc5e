#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Run `molecule test` for every scenario, in parallel lanes (`make test`).
#
#   scripts/molecule-lanes.sh "default docker_host" "postgres_pgvector redis nats traefik"
#
# Each argument is a lane: its scenarios run one after the other; the lanes run side
# by side. Scenarios are isolated (platform container cc-<scenario> with its own
# Docker engine, Molecule's own state per scenario), and most of a scenario's time is
# waiting (health gates, engine starts), so two lanes finish in far less time than one
# on two cores. One lane = the plain sequential run.
#
# Each scenario's output goes to $CC_MOLECULE_LOG_DIR/<scenario>.log (build/molecule);
# a line per scenario says how it went, and the whole log of every failed scenario is
# printed at the end. Exit status: 0 only if every scenario passed.
set -uo pipefail

log_dir=${CC_MOLECULE_LOG_DIR:-build/molecule}
mkdir -p "$log_dir"
results="$log_dir/results"
: >"$results"

lane() {
  local scenario start seconds outcome
  for scenario in $1; do
    start=$(date +%s)
    if molecule test -s "$scenario" >"$log_dir/$scenario.log" 2>&1; then outcome=passed; else outcome=failed; fi
    seconds=$(($(date +%s) - start))
    echo "$scenario $outcome $seconds" >>"$results"
    echo "=== molecule scenario $scenario: $outcome in $seconds s (log: $log_dir/$scenario.log)"
  done
}

started=$(date +%s)
echo "=== molecule: $# lane(s): $(printf '[%s] ' "$@")"
pids=()
for scenarios in "$@"; do
  lane "$scenarios" &
  pids+=("$!")
done
wait "${pids[@]}"

passed=$(awk '$2 == "passed"' "$results" | wc -l)
failed_list=$(awk '$2 == "failed" {print $1}' "$results")
expected=$(echo "$@" | wc -w)
for scenario in $failed_list; do
  echo "=== log of the failed scenario $scenario"
  cat "$log_dir/$scenario.log"
done
echo "=== scenarios: $passed passed, $(echo "$failed_list" | wc -w) failed, of $expected, in $(($(date +%s) - started)) s"
[ -z "$failed_list" ] && [ "$passed" -eq "$expected" ]
