#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# smoke.sh FUZZER SEED_DIR SECONDS: a short libFuzzer run for the test suite.
# The fuzzer writes new inputs into its first corpus directory, so it gets a
# copy of the seeds: the source tree is never written. Exits with the
# fuzzer's status (non-zero on a crash, leak, timeout or sanitizer report).

set -u
if [ $# -ne 3 ]; then
	echo "usage: $0 FUZZER_BINARY SEED_DIR SECONDS" >&2
	exit 2
fi
fuzzer=$1 seeds=$2 seconds=$3
[ -x "$fuzzer" ] || { echo "$0: $fuzzer is not executable" >&2; exit 2; }
[ -d "$seeds" ] || { echo "$0: $seeds is not a directory" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
cp -R "$seeds/." "$work/corpus/"

rc=0
# libFuzzer's own exit status on a finding is 77, which meson takes for
# "skipped": a crash must fail the test.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
	-artifact_prefix="$work/artifacts/" -print_final_stats=1 \
	"$work/corpus" "$seeds" >"$work/log" 2>&1 || rc=$?

# The final stats (stat::number_of_executed_units: N ...) and the last
# status line say how much was run.
grep -E '^(stat::|#[0-9]+[[:space:]]+DONE)' "$work/log"
if [ "$rc" != 0 ]; then
	echo "$0: $(basename "$fuzzer") failed with status $rc; its log:" >&2
	tail -n 60 "$work/log" >&2
	for a in "$work"/artifacts/*; do
		[ -e "$a" ] || continue
		echo "crashing input ($(basename "$a")), base64:" >&2
		base64 "$a" >&2
	done
fi
[ "$rc" = 77 ] && rc=1
exit "$rc"
