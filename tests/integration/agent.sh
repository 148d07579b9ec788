# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers for tests that run the real agent (port53guard run) inside a
# namespace. Source after lib.sh and p53_init.

# agent_conf DIR [extra ini lines...]: a config with its status, metrics
# and summary set for tests; prints its path.
agent_conf() {
	local dir=$1
	shift
	mkdir -p "$dir"
	{
		printf '[agent]\nsummary_interval = 2s\n'
		printf '[output]\nstatus_file = %s/status.json\nmetrics_file = %s/metrics/port53guard.prom\n' "$dir" "$dir"
		printf '[listeners]\nrescan_interval = 1s\nnamespaces = no\n'
		# The harness's veths stand for NICs here: nothing is host-internal.
		printf '[rules]\ninternal_interfaces = none\n'
		local l
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$dir/port53guard.conf"
	echo "$dir/port53guard.conf"
}

# agent_start NS CONF LOG [wrapper...]: runs the agent; prints its pid once
# it has written its first status file.
agent_start() {
	local ns=$1 conf=$2 log=$3 pid status
	shift 3
	status=$(sed -n 's/^status_file = //p' "$conf")
	rm -f "$status"
	ip netns exec "$ns" "$@" "$PORT53GUARD" -c "$conf" run </dev/null >"$log" 2>&1 &
	pid=$!
	register_pid "$pid"
	if ! wait_for 10 test -s "$status"; then
		echo "# the agent did not start; its log:" >&2
		sed 's/^/# /' "$log" >&2
		return 1
	fi
	echo "$pid"
}

# agent_stop PID [SIGNAL]: stops it and waits until it is gone (it may not
# be a child of this shell: agent_start runs in a command substitution).
agent_stop() {
	kill -"${2:-TERM}" "$1" 2>/dev/null
	wait_for 10 bash -c "$(declare -f p53_alive); ! p53_alive $1"
}

# log_has LOG EVENT [PATTERN]: a line of the event (matching PATTERN) is in LOG.
log_has() {
	local log=$1 event=$2 pat=${3:-}
	grep " event=$event\( \|$\)" "$log" | grep -q -- "$pat"
}

# log_count LOG EVENT: how many lines of the event.
log_count() {
	grep -c " event=$2\( \|$\)" "$1"
}

# table_count NS: how many port53guard tables the namespace has.
table_count() {
	ip netns exec "$1" nft list tables | grep -c '^table inet port53guard$'
}

# status_code NS CONF: port53guard status's exit code.
status_code() {
	local rc=0
	ip netns exec "$1" "$PORT53GUARD" -c "$2" status >/dev/null 2>&1 || rc=$?
	echo "$rc"
}

# drop_counter NS: packets counted by the UDP refuse rule.
drop_counter() {
	ip netns exec "$1" nft list table inet port53guard |
		sed -n 's/.*meta l4proto udp counter packets \([0-9]*\) bytes.*drop.*/\1/p'
}

# send_query NS DST QNAME_LABEL_PYTHON_BYTES: one raw DNS query whose first
# label is given as a Python bytes literal (may hold any byte).
send_query() {
	ip netns exec "$1" python3 - "$2" "$3" <<'PY'
import socket, struct, sys, ast
dst, label = sys.argv[1], ast.literal_eval(sys.argv[2])
q = struct.pack(">HHHHHH", 0x5353, 0x0100, 1, 0, 0, 0)
q += bytes([len(label)]) + label + b"\x04test\x03p53\x00" + struct.pack(">HH", 1, 1)
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.sendto(q, (dst, 53))
PY
}
