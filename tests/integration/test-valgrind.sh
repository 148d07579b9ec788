#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The agent without sanitizers, under valgrind's memcheck: start, apply,
# capture of real queries, drift repair, a SIGHUP reload, SIGTERM stop; then
# auto mode triggered by a query and a stop that removes the rules; then the
# one-shot commands. Every run must end with zero errors: no invalid read or
# write, no use of uninitialised memory, no definitely lost block.
#
# valgrind cannot run an AddressSanitizer binary, so the binary comes from
# PORT53GUARD_PLAIN when set (tests/run points it at the release build),
# else PORT53GUARD when that one is not instrumented; otherwise the test is
# skipped and says why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd valgrind dig dnsmasq nft nm python3

bin=${PORT53GUARD_PLAIN:-$PORT53GUARD}
[ -x "$bin" ] || skip "no port53guard binary ($bin)"
if nm "$bin" 2>/dev/null | grep -q __asan_init; then
	skip "$bin is built with AddressSanitizer; set PORT53GUARD_PLAIN to a build without sanitizers"
fi
echo "# binary: $bin"

srv=$(ns_add srv)
cli=$(ns_add cli)
ns_link "$srv" "$cli" 1
dpid=$(start_dnsmasq "$srv")
dir=$P53_TMP/valgrind
mkdir -p "$dir"

VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=yes --trace-children=no)

# vg_start NAME CONF: the agent under valgrind in the server namespace; sets
# VG_PID once the first status file is written (valgrind is slow: 60 s).
vg_start() {
	local name=$1 conf=$2 status
	status=$(sed -n 's/^status_file = //p' "$conf")
	rm -f "$status"
	ip netns exec "$srv" "${VG[@]}" --log-file="$dir/$name.vg" "$bin" -c "$conf" run \
		</dev/null >"$dir/$name.log" 2>&1 &
	VG_PID=$!
	register_pid "$VG_PID"
	if ! wait_for 60 test -s "$status"; then
		echo "# the agent did not start under valgrind:" >&2
		sed 's/^/# /' "$dir/$name.log" "$dir/$name.vg" >&2
		return 1
	fi
}

# vg_finish NAME: waits for the agent's exit (SIGTERM sent by the caller)
# and checks valgrind's verdict.
vg_finish() {
	local name=$1 rc=0
	wait "$VG_PID" || rc=$?
	assert_eq "$name: exit status 0 (valgrind's error status is 99)" 0 "$rc"
	check "$name: valgrind reports 0 errors" grep -q 'ERROR SUMMARY: 0 errors from 0 contexts' "$dir/$name.vg"
	check "$name: no block definitely lost" bash -c "! grep -q 'definitely lost: [1-9]' '$dir/$name.vg'"
	# The scan helper (supervisor and scan process) is forked, so valgrind
	# follows it into the same log: three reports, none with an error.
	check "$name: the scan helper's processes reported too ($(grep -c 'ERROR SUMMARY' "$dir/$name.vg") reports)" \
		test "$(grep -c 'ERROR SUMMARY' "$dir/$name.vg")" -ge 3
	check "$name: no process reports an error" bash -c "! grep -q 'ERROR SUMMARY: [1-9]' '$dir/$name.vg'"
	if [ "$rc" != 0 ] || ! grep -q 'ERROR SUMMARY: 0 errors' "$dir/$name.vg"; then
		sed 's/^/# /' "$dir/$name.vg" | head -150 >&2
	fi
	grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable' "$dir/$name.vg" | sed 's/^==[0-9]*== */# /'
}

# ---- enforce: apply, capture, drift repair, reload, SIGTERM -------------------
conf=$(agent_conf "$dir/enforce" '[rules]' 'allow = 198.51.100.144/28' 'table_owner = no')
vg_start enforce "$conf"
check "enforce: rules applied" log_has "$dir/enforce.log" rules_applied 'reason=start'
check "enforce: capture running" log_has "$dir/enforce.log" capture_started
check "enforce: the internet client is refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
send_query "$cli" 198.51.100.17 "b'evil\\n\\x1b[2Jname'"
send_query "$cli" 2001:db8:53:1::1 "b'v6'"
check "enforce: the queries are reported" wait_for 15 log_has "$dir/enforce.log" dns_queries 'src=2001:db8:53:1::2 '
ip netns exec "$srv" nft delete table inet port53guard
check "enforce: drift repaired" wait_for 15 log_has "$dir/enforce.log" rules_restored
sed -i 's|^allow = .*|allow = 198.51.100.144/28, 2001:db8:53:9::/64|' "$conf"
printf 'protocols = udp,tcp\n' >>"$conf"
kill -HUP "$VG_PID"
check "enforce: reload applied" wait_for 20 log_has "$dir/enforce.log" rules_applied 'reason=reload .*protocols=udp,tcp'
check "enforce: capture re-opened" wait_for 20 bash -c "test \$(grep -c ' event=capture_started ' '$dir/enforce.log') = 2"
check "enforce: a summary was logged" wait_for 15 log_has "$dir/enforce.log" summary
kill -TERM "$VG_PID"
vg_finish enforce
check "enforce: stopped cleanly" log_has "$dir/enforce.log" agent_stopped 'exit_status=0'

# ---- auto: triggered by a query, then stop removing the rules ---------------
ip netns exec "$srv" "$bin" -c "$conf" remove >/dev/null
# dnsmasq on the veth address only: no public listener to trigger auto mode.
kill "$dpid"
wait_for 5 bash -c "! ip netns exec $srv ss -lnu | grep -q ':53 '"
start_dnsmasq "$srv" --bind-interfaces --listen-address=127.0.0.1,198.51.100.17 >/dev/null
conf=$(agent_conf "$dir/auto" '[agent]' 'mode = auto' '[rules]' 'keep_on_stop = no')
vg_start auto "$conf"
check "auto: no rules before a trigger" test "$(table_count "$srv")" = 0
dig_query "$cli" 198.51.100.17 host.test.p53 >/dev/null
check "auto: the query triggers enforcement" wait_for 20 log_has "$dir/auto.log" enforcement_started
kill -TERM "$VG_PID"
vg_finish auto
check "auto: the rules were removed at stop" log_has "$dir/auto.log" rules_removed

# ---- one-shot commands -------------------------------------------------------------
oneshot() {
	local name=$1 rc=0
	shift
	ip netns exec "$srv" "${VG[@]}" --log-file="$dir/$name.vg" "$bin" "$@" >"$dir/$name.out" 2>&1 || rc=$?
	check "$name: not a valgrind error (exit $rc)" test "$rc" != 99
	check "$name: valgrind reports 0 errors" grep -q 'ERROR SUMMARY: 0 errors from 0 contexts' "$dir/$name.vg"
	grep -q 'ERROR SUMMARY: 0 errors' "$dir/$name.vg" || sed 's/^/# /' "$dir/$name.vg" | head -80 >&2
}
oneshot check-config -c "$conf" check-config
oneshot apply-dry-run -c "$conf" apply --dry-run
oneshot apply -c "$conf" apply
oneshot apply-verify -c "$conf" apply --verify
oneshot remove -c "$conf" remove
oneshot scan -c "$conf" scan --json
oneshot status -c "$conf" status --json
oneshot replay replay --format jsonl "${TESTS_DATA:-$(dirname "$0")/../data}/dns-sll2.pcap"
oneshot replay-truncated replay "${TESTS_DATA:-$(dirname "$0")/../data}/dns-truncated.pcap"

done_testing
