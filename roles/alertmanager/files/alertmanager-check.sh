#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The config checker of commandcenter.infra.alertmanager (validate: of alertmanager.yml).
# Runs INSIDE a throw-away container of the service image (sh /cc-check/alertmanager-check.sh
# FILE): amtool check-config, the same parser and validation Alertmanager applies when
# it loads or reloads the file (receivers that exist, durations, matchers, at most one
# of a secret and its *_file, ...). amtool does not open the *_file secrets, so the
# checker needs none of them. Prints amtool's own words; exits non-zero when it refuses.
set -u
out=$(amtool check-config "$1" 2>&1)
rc=$?
printf '%s\n' "$out"
exit "$rc"
