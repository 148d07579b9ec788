# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Shared harness for the integration tests: network namespaces joined by veth
# pairs, real DNS servers (dnsmasq, unbound) and clients (dig), and TAP output.
# Source it, then call p53_init:
#
#   . "$(dirname "$0")/lib.sh"
#   p53_init
#   require_root; require_cmd dig dnsmasq
#   srv=$(ns_add srv); cli=$(ns_add cli)
#   ns_link "$srv" "$cli" 1           # srv 10.53.1.1 fd53:1::1, cli 10.53.1.2 fd53:1::2
#   start_dnsmasq "$srv" >/dev/null
#   check "client gets an answer" dig_query "$cli" 10.53.1.1 host.test.p53
#   done_testing
#
# Nothing here touches the root network namespace: every link is created
# inside the namespaces it joins. Functions that create something register it
# in files under $P53_TMP rather than in shell variables, so calling them in
# a command substitution (a subshell) still gets them cleaned up at exit.
#
# The zone every server started here answers (authoritatively):
#   host.test.p53  A 10.53.0.53, AAAA fd53::53, TXT "p53"

P53_TEST_NUM=0
P53_FAILED=0
P53_ID=
P53_TMP=

# Sets up the unique id, the temp dir and the cleanup traps. A subshell that
# calls it again gets its own id and registry and cleans up only its own.
p53_init() {
	set -u
	P53_ID="p53${BASHPID}"
	P53_TEST_NUM=0
	P53_FAILED=0
	P53_TMP=$(mktemp -d "/tmp/${P53_ID}.XXXXXX") || exit 1
	: >"$P53_TMP/namespaces"
	: >"$P53_TMP/pids"
	echo 0 >"$P53_TMP/counter"
	export P53_ID P53_TMP
	trap p53_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# A small counter shared with subshells (through the temp dir).
p53_next() {
	local n
	n=$(<"$P53_TMP/counter")
	n=$((n + 1))
	echo "$n" >"$P53_TMP/counter"
	echo "$n"
}

p53_alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	# A zombie has finished; only its parent's wait is missing.
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

# TERM, a grace period, then KILL: for pids that may or may not be our children.
p53_kill_pids() {
	local pid left
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null
	for _ in $(seq 40); do
		left=0
		for pid in "$@"; do
			p53_alive "$pid" && left=1
		done
		[ "$left" = 0 ] && break
		sleep 0.05
	done
	kill -KILL "$@" 2>/dev/null
	for pid in "$@"; do
		wait "$pid" 2>/dev/null
	done
	return 0
}

p53_cleanup() {
	local rc=$? ns pids
	trap - EXIT INT TERM
	[ -n "$P53_TMP" ] && [ -d "$P53_TMP" ] || exit "$rc"
	# shellcheck disable=SC2046
	p53_kill_pids $(cat "$P53_TMP/pids")
	# Anything else still running inside our namespaces, started by the
	# test itself: deleting a namespace would not stop it.
	while read -r ns; do
		# shellcheck disable=SC2086
		pids=$(ip netns pids "$ns" 2>/dev/null) && p53_kill_pids $pids
		ip netns del "$ns" 2>/dev/null
	done <"$P53_TMP/namespaces"
	rm -rf "$P53_TMP"
	exit "$rc"
}

# Registers a process for the cleanup at exit.
register_pid() {
	echo "$1" >>"$P53_TMP/pids"
}

# ---------------------------------------------------------------- TAP ---

p53_result() {
	local good=$1 desc=$2
	P53_TEST_NUM=$((P53_TEST_NUM + 1))
	if [ "$good" = 1 ]; then
		echo "ok $P53_TEST_NUM - $desc"
	else
		echo "not ok $P53_TEST_NUM - $desc"
		P53_FAILED=$((P53_FAILED + 1))
	fi
}

# check DESCRIPTION CMD...: one test point, passing when CMD succeeds.
# CMD's own output goes to stderr so that stdout stays TAP.
check() {
	local desc=$1
	shift
	if "$@" >&2; then
		p53_result 1 "$desc"
	else
		p53_result 0 "$desc"
		echo "# failed: $*" >&2
	fi
}

# check_fails DESCRIPTION CMD...: passes when CMD fails.
check_fails() {
	local desc=$1
	shift
	if "$@" >&2; then
		p53_result 0 "$desc"
		echo "# unexpectedly succeeded: $*" >&2
	else
		p53_result 1 "$desc"
	fi
}

ok() { check "$*" "$@"; }
not_ok() { check_fails "not: $*" "$@"; }

assert_eq() {
	local desc=$1 expected=$2 actual=$3
	if [ "$expected" = "$actual" ]; then
		p53_result 1 "$desc"
	else
		p53_result 0 "$desc"
		printf '# expected: %q\n#      got: %q\n' "$expected" "$actual" >&2
	fi
}

# Meson treats exit status 77 as "skipped".
skip() {
	echo "1..0 # SKIP $*"
	exit 77
}

# Prints the plan. A script that checked nothing has proven nothing: fail it.
done_testing() {
	echo "1..$P53_TEST_NUM"
	[ "$P53_TEST_NUM" -gt 0 ] || { echo "# no tests ran" >&2; exit 1; }
	[ "$P53_FAILED" = 0 ] || { echo "# $P53_FAILED of $P53_TEST_NUM failed" >&2; exit 1; }
	exit 0
}

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

# ------------------------------------------------------------ polling ---

# wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds (0) or
# SECONDS (whole or fractional) have passed (1).
wait_for() {
	local secs=$1 now deadline
	shift
	# Microseconds; awk only converts the (small) fractional seconds.
	deadline=$(awk -v s="$secs" 'BEGIN { printf "%.0f", s * 1000000 }') || return 1
	now=${EPOCHREALTIME/./}
	deadline=$((now + deadline))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		now=${EPOCHREALTIME/./}
		[ "$now" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# --------------------------------------------------------- namespaces ---

# ns_add NAME: creates "${P53_ID}-NAME" with lo up and IPv6 duplicate address
# detection off (addresses are usable at once); echoes the full name.
ns_add() {
	local ns="${P53_ID}-$1"
	ip netns add "$ns" || return 1
	echo "$ns" >>"$P53_TMP/namespaces"
	ip -n "$ns" link set lo up || return 1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
		net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null || return 1
	echo "$ns"
}

# Interface names ns_link gives: link_if IDX a (the NS1 side) or b (NS2 side).
link_if() {
	echo "${P53_ID}v$1$2"
}

# ns_link NS1 NS2 IDX [router]: a veth pair created inside NS1 with its peer
# in NS2. NS1 gets 10.53.IDX.1/24 and fd53:IDX::1/64, NS2 10.53.IDX.2/24 and
# fd53:IDX::2/64. With a 4th argument "router", NS1 forwards and NS2 routes
# everything (both families) through it, so NS2 can reach NS1's other links.
ns_link() {
	local ns1=$1 ns2=$2 idx=$3 router=${4:-}
	local if1 if2
	if1=$(link_if "$idx" a)
	if2=$(link_if "$idx" b)
	ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2" || return 1
	ip -n "$ns1" addr add "10.53.$idx.1/24" dev "$if1" || return 1
	ip -n "$ns1" addr add "fd53:$idx::1/64" dev "$if1" nodad || return 1
	ip -n "$ns2" addr add "10.53.$idx.2/24" dev "$if2" || return 1
	ip -n "$ns2" addr add "fd53:$idx::2/64" dev "$if2" nodad || return 1
	ip -n "$ns1" link set "$if1" up || return 1
	ip -n "$ns2" link set "$if2" up || return 1
	if [ -n "$router" ]; then
		ip netns exec "$ns1" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv6.conf.all.forwarding=1 >/dev/null || return 1
		ip -n "$ns2" route add default via "10.53.$idx.1" || return 1
		ip -n "$ns2" -6 route add default via "fd53:$idx::1" || return 1
	fi
}

# ns_uplink NS1 IDX: makes NS1's side of ns_link IDX an outside link. A veth
# is host-internal by kind (a container's or VM's cable), so the rules accept
# DNS arriving on it; a macvlan over it is on the wire like a NIC. NS1's
# addresses move to the macvlan, and arp_ignore=1 keeps the veth from
# answering ARP for them (IPv6 neighbour discovery is per interface anyway).
ns_uplink() {
	local ns=$1 idx=$2 lower up
	lower=$(link_if "$idx" a)
	up="${P53_ID}u$idx"
	up=${up:0:15}
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 >/dev/null || return 1
	ip -n "$ns" link add link "$lower" name "$up" type macvlan mode bridge || return 1
	ip -n "$ns" addr flush dev "$lower" scope global || return 1
	ip -n "$ns" addr add "10.53.$idx.1/24" dev "$up" || return 1
	ip -n "$ns" addr add "fd53:$idx::1/64" dev "$up" nodad || return 1
	ip -n "$ns" link set "$up" up || return 1
}

# spawn NS LOGFILE CMD...: runs CMD in NS in the background with its output
# in LOGFILE, registered for cleanup; echoes the pid.
spawn() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" </dev/null >"$log" 2>&1 &
	register_pid $!
	echo $!
}

# ---------------------------------------------------------------- DNS ---

# dig_query NS SERVER NAME [dig options...]: succeeds only when SERVER
# answers NAME with status NOERROR and at least one answer record. The last
# output is kept in $P53_TMP/dig.out for diagnostics.
dig_query() {
	local ns=$1 server=$2 name=$3 out
	shift 3
	out=$(ip netns exec "$ns" dig "@$server" "$name" "$@" +time=1 +tries=1 2>&1)
	printf '%s\n' "$out" >"$P53_TMP/dig.out"
	grep -q 'status: NOERROR' <<<"$out" && grep -Eq 'ANSWER: [1-9]' <<<"$out"
}

# dig_times_out NS SERVER NAME [dig options...]: succeeds only when no reply
# arrives at all (dig's "no servers could be reached", exit status 9).
dig_times_out() {
	local ns=$1 server=$2 name=$3 rc=0
	shift 3
	ip netns exec "$ns" dig "@$server" "$name" "$@" +time=1 +tries=1 \
		>"$P53_TMP/dig.out" 2>&1 || rc=$?
	[ "$rc" = 9 ]
}

# start_dnsmasq NS [extra dnsmasq args...]: dnsmasq answering test.p53 on
# every address, UDP and TCP, IPv4 and IPv6; no upstream, no DHCP. Waits
# until it answers on 127.0.0.1 inside NS; echoes its pid.
start_dnsmasq() {
	local ns=$1 dir pid
	shift
	dir="$P53_TMP/dnsmasq.$(p53_next)"
	mkdir -p "$dir" || return 1
	ip netns exec "$ns" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--user=root --group=root --pid-file="$dir/pid" --port=53 \
		--local=/test.p53/ \
		--host-record=host.test.p53,10.53.0.53,fd53::53 \
		--txt-record=host.test.p53,p53 \
		"$@" </dev/null >"$dir/log" 2>&1 &
	pid=$!
	register_pid "$pid"
	if ! wait_for 5 dig_query "$ns" 127.0.0.1 host.test.p53; then
		echo "# dnsmasq in $ns did not answer; its log:" >&2
		sed 's/^/# /' "$dir/log" >&2
		return 1
	fi
	echo "$pid"
}

# start_unbound NS ADDR: unbound bound to ADDR only (port 53), answering
# test.p53 from local data; no chroot, no remote control, no upstream
# validation. Waits until it answers on ADDR; echoes its pid.
start_unbound() {
	local ns=$1 addr=$2 dir pid
	dir="$P53_TMP/unbound.$(p53_next)"
	mkdir -p "$dir" || return 1
	cat >"$dir/unbound.conf" <<-EOF
	server:
	    interface: $addr
	    port: 53
	    do-daemonize: no
	    chroot: ""
	    username: ""
	    directory: "$dir"
	    pidfile: "$dir/pid"
	    use-syslog: no
	    logfile: ""
	    verbosity: 1
	    num-threads: 1
	    so-reuseport: no
	    outgoing-range: 32
	    num-queries-per-thread: 16
	    msg-cache-size: 1m
	    rrset-cache-size: 1m
	    module-config: "iterator"
	    access-control: 0.0.0.0/0 allow
	    access-control: ::/0 allow
	    local-zone: "test.p53." static
	    local-data: "host.test.p53. A 10.53.0.53"
	    local-data: "host.test.p53. AAAA fd53::53"
	    local-data: 'host.test.p53. TXT "p53"'
	remote-control:
	    control-enable: no
	EOF
	ip netns exec "$ns" unbound -d -c "$dir/unbound.conf" </dev/null >"$dir/log" 2>&1 &
	pid=$!
	register_pid "$pid"
	if ! wait_for 5 dig_query "$ns" "$addr" host.test.p53; then
		echo "# unbound in $ns did not answer on $addr; its log:" >&2
		sed 's/^/# /' "$dir/log" >&2
		return 1
	fi
	echo "$pid"
}
