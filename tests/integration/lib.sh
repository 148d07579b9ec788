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
#   ns_link "$srv" "$cli" 1   # srv 198.51.100.17 2001:db8:53:1::1, cli .18 and ::2
#   start_dnsmasq "$srv" >/dev/null
#   check "client gets an answer" dig_query "$cli" "$(link_addr 1 1)" host.test.p53
#   done_testing
#
# Addresses: traffic goes only to loopback or to addresses inside the
# namespaces a test made itself, and even there only documentation ranges
# (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; RFC 3849:
# 2001:db8::/32) are used, so that a test gone wrong can never reach a real
# network. ns_link and ns_uplink number their links IDX 1..15:
#
#   link IDX      IPv4 198.51.100.(16*IDX)/28      IPv6 2001:db8:53:IDX::/64
#   NS1 (host 1)  198.51.100.(16*IDX+1)            2001:db8:53:IDX::1
#   NS2 (host 2)  198.51.100.(16*IDX+2)            2001:db8:53:IDX::2
#
# e.g. link 1: 198.51.100.17 and .18 in 198.51.100.16/28; link 2: .33 and
# .34 in 198.51.100.32/28. link_addr and link_net print them, for a test
# that computes them rather than spelling them. topo_host (below) has a
# layout of its own. A test that needs an address on no link uses
# 203.0.113.0/24. topo_host's namespaces use the same ranges (its outside
# clients are in 198.51.100.0/24, its uplink in 203.0.113.0/26), so a test
# builds either topology, or keeps the two in namespaces that never route
# to each other.
#
# Nothing here touches the root network namespace: every link is created
# inside the namespaces it joins. Functions that create something register it
# in files under $P53_TMP rather than in shell variables, so calling them in
# a command substitution (a subshell) still gets them cleaned up at exit.
#
# The zone every server started here answers (authoritatively):
#   host.test.p53  A 192.0.2.53, AAAA 2001:db8:53::53, TXT "p53"
# (record data only: no interface ever has these addresses).
P53_HOST_V4=192.0.2.53
P53_HOST_V6=2001:db8:53::53

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

# link_addr IDX HOST [6]: the address ns_link IDX gives its side HOST (1:
# NS1, 2: NS2), IPv4 or with "6" IPv6, without the prefix length:
# link_addr 2 1 is 198.51.100.33, link_addr 2 1 6 is 2001:db8:53:2::1.
link_addr() {
	local idx=$1 host=$2 fam=${3:-4}
	link_idx_ok "$idx" || return 1
	case $host in 1 | 2) ;; *) echo "link_addr: host $host is not 1 or 2" >&2; return 1 ;; esac
	if [ "$fam" = 6 ]; then
		echo "2001:db8:53:$idx::$host"
	else
		echo "198.51.100.$((16 * idx + host))"
	fi
}

# link_net IDX [6]: link IDX's network, 198.51.100.(16*IDX)/28 or
# 2001:db8:53:IDX::/64 (what an allowlist entry for the link's peer names).
link_net() {
	local idx=$1 fam=${2:-4}
	link_idx_ok "$idx" || return 1
	if [ "$fam" = 6 ]; then
		echo "2001:db8:53:$idx::/64"
	else
		echo "198.51.100.$((16 * idx))/28"
	fi
}

# link_idx_ok IDX: IDX is a link number 1..15 (16 /28s in 198.51.100.0/24,
# the first never used: it holds no link).
link_idx_ok() {
	case $1 in
	[1-9] | 1[0-5]) return 0 ;;
	*) echo "link index $1 is not 1..15" >&2; return 1 ;;
	esac
}

# ns_link NS1 NS2 IDX [router]: a veth pair created inside NS1 with its peer
# in NS2. NS1 gets link_addr IDX 1 (198.51.100.(16*IDX+1)/28 and
# 2001:db8:53:IDX::1/64), NS2 link_addr IDX 2 (.(16*IDX+2)/28 and ::2/64).
# With a 4th argument "router", NS1 forwards and NS2 routes everything (both
# families) through it, so NS2 can reach NS1's other links.
ns_link() {
	local ns1=$1 ns2=$2 idx=$3 router=${4:-}
	local if1 if2 a1 a2 b1 b2
	link_idx_ok "$idx" || return 1
	a1=$(link_addr "$idx" 1) && b1=$(link_addr "$idx" 1 6) &&
		a2=$(link_addr "$idx" 2) && b2=$(link_addr "$idx" 2 6) || return 1
	if1=$(link_if "$idx" a)
	if2=$(link_if "$idx" b)
	ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2" || return 1
	ip -n "$ns1" addr add "$a1/28" dev "$if1" || return 1
	ip -n "$ns1" addr add "$b1/64" dev "$if1" nodad || return 1
	ip -n "$ns2" addr add "$a2/28" dev "$if2" || return 1
	ip -n "$ns2" addr add "$b2/64" dev "$if2" nodad || return 1
	ip -n "$ns1" link set "$if1" up || return 1
	ip -n "$ns2" link set "$if2" up || return 1
	if [ -n "$router" ]; then
		ip netns exec "$ns1" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv6.conf.all.forwarding=1 >/dev/null || return 1
		ip -n "$ns2" route add default via "$a1" || return 1
		ip -n "$ns2" -6 route add default via "$b1" || return 1
	fi
}

# ns_uplink NS1 IDX: makes NS1's side of ns_link IDX an outside link. A veth
# is host-internal by kind (a container's or VM's cable), so the rules accept
# DNS arriving on it; a macvlan over it is on the wire like a NIC. NS1's
# addresses (link_addr IDX 1) move to the macvlan, and arp_ignore=1 keeps
# the veth from answering ARP for them (IPv6 neighbour discovery is per
# interface anyway).
ns_uplink() {
	local ns=$1 idx=$2 lower up a b
	a=$(link_addr "$idx" 1) && b=$(link_addr "$idx" 1 6) || return 1
	lower=$(link_if "$idx" a)
	up="${P53_ID}u$idx"
	up=${up:0:15}
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 >/dev/null || return 1
	ip -n "$ns" link add link "$lower" name "$up" type macvlan mode bridge || return 1
	ip -n "$ns" addr flush dev "$lower" scope global || return 1
	ip -n "$ns" addr add "$a/28" dev "$up" || return 1
	ip -n "$ns" addr add "$b/64" dev "$up" nodad || return 1
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
		--host-record="host.test.p53,$P53_HOST_V4,$P53_HOST_V6" \
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
	    local-data: "host.test.p53. A $P53_HOST_V4"
	    local-data: "host.test.p53. AAAA $P53_HOST_V6"
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

# ------------------------------------------------------ who answered ---

# dig_answered NS SERVER WHO [dig options...]: succeeds only when SERVER
# answers "who.test.p53 TXT" with the name of the server that answered,
# WHO (every server topo_host starts says who it is): an answer from the
# wrong server (a DNAT gone astray, a resolver answering for another) fails.
dig_answered() {
	local ns=$1 server=$2 who=$3 out
	shift 3
	out=$(ip netns exec "$ns" dig "@$server" who.test.p53 TXT "$@" +time=1 +tries=1 2>&1)
	printf '%s\n' "$out" >"$P53_TMP/dig.out"
	grep -q 'status: NOERROR' <<<"$out" &&
		grep -Eq "^who\.test\.p53\.[[:space:]].*TXT[[:space:]]+\"$who\"$" <<<"$out"
}

# dig_refused NS SERVER [dig options...]: succeeds only when no reply comes
# back at all within one try of one second: what the cloud rule's "Refuse"
# (a drop) looks like to the client.
dig_refused() {
	local ns=$1 server=$2
	shift 2
	dig_times_out "$ns" "$server" who.test.p53 TXT "$@"
}

# dig_who NS SERVER [dig options...]: prints who answered (for diagnostics).
dig_who() {
	local ns=$1 server=$2
	shift 2
	ip netns exec "$ns" dig "@$server" who.test.p53 TXT "$@" +short +time=1 +tries=1 2>&1 | tr -d '"'
}

# udp_query NS SERVER SOURCE OPTS WAIT: one DNS query for who.test.p53 TXT
# in one UDP datagram from SOURCE ("" for the kernel's choice), no retry.
# OPTS "dstopts" puts an IPv6 destination options header (PadN) between
# IPv6 and UDP. WAIT "wait" waits a second for the reply: exit 0 when it
# came, 1 when not; 2 on any other failure. Otherwise exit 0 once sent.
udp_query() {
	local py=python3
	# The distribution's interpreter starts in a fraction of the time a
	# version manager's shim takes, and these run by the dozen.
	[ -x /usr/bin/python3 ] && py=/usr/bin/python3
	ip netns exec "$1" "$py" - "$2" "$3" "$4" "$5" <<'PY'
import socket, struct, sys
dst, src, opts, wait = sys.argv[1:5]
try:
    q = struct.pack(">HHHHHH", 0x7053, 0x0100, 1, 0, 0, 0)
    q += b"\x03who\x04test\x03p53\x00" + struct.pack(">HH", 16, 1)
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if src:
        s.bind((src, 0))
    if opts == "dstopts":
        # next header (the kernel fills it), length 0 (8 bytes), PadN of 4.
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, b"\x00\x00\x01\x04\x00\x00\x00\x00")
    s.sendto(q, (dst, 53))
    if wait != "wait":
        sys.exit(0)
    s.settimeout(1)
    try:
        r = s.recv(4096)
    except socket.timeout:
        sys.exit(1)
    sys.exit(0 if r[:2] == q[:2] else 2)
except OSError as e:
    print("udp_query:", e, file=sys.stderr)
    sys.exit(2)
PY
}

# send_udp_query NS SERVER [SOURCE] [dstopts]: one query, no waiting: for
# tests that count the queries a capture saw.
send_udp_query() {
	udp_query "$1" "$2" "${3:-}" "${4:-}" nowait
}

# udp_query_answered / udp_query_refused NS SERVER [SOURCE] [dstopts]: one
# query; a reply came / nothing came back within a second.
udp_query_answered() {
	udp_query "$1" "$2" "${3:-}" "${4:-}" wait
}
udp_query_refused() {
	local rc=0
	udp_query "$1" "$2" "${3:-}" "${4:-}" wait || rc=$?
	[ "$rc" = 1 ]
}

# ------------------------------------------------------- host topology ---
#
# topo_host: a realistic host, built in namespaces of its own (never in the
# root namespace), with a dnsmasq answering who.test.p53 TXT with its own
# name on every server. Call it directly, not in $(...): it sets the TOPO_*
# variables below. Everything it creates is registered for the cleanup.
#
#   outside (TOPO_OUT): the internet and the LAN. Upstream resolver
#     198.51.100.53 / 2001:db8:100::53 ("upstream"), outside clients
#     198.51.100.10 / 2001:db8:100::10 and an allowlistable one
#     198.51.100.11 / 2001:db8:100::11 (pick one with dig -b).
#        |  veth "upl" <-> "wan" (203.0.113.0/26, 2001:db8:1::/64)
#   host (TOPO_HOST): forwarding on (IPv4 and IPv6), default routes out.
#     uplink "up0" 203.0.113.2 (+ .3, the published address), 2001:db8:1::2:
#       a macvlan on the veth "upl". A veth is a host-internal kind to the
#       classifier (probes/listeners.c listeners_iface_virtual); a real
#       uplink is a NIC. macvlan is not a virtual kind there, and the
#       addresses and the traffic live on it (frames for its MAC arrive with
#       iif up0, never upl), so the uplink is classified outside, as a NIC
#       would be. The lower veth carries no address, no IPv6 and answers
#       no ARP for the host's addresses (arp_ignore=1): otherwise the
#       outside could learn its MAC for them, and packets for the host
#       would arrive on a veth, which is rightly internal.
#     LAN bridge "brlan" 192.0.2.2/26, 2001:db8:2::2/64: its only port
#       "lanp" is a passthru macvlan on the veth "lanl" <-> "lan" (outside
#       side 192.0.2.1, 2001:db8:2::1): a bridge with a non-virtual port,
#       the way a hypervisor bridges its NIC, hence outside.
#     docker-like bridge "docker0" 192.0.2.65/27, 2001:db8:3::1/64 with
#       veth ports to the containers TOPO_C1 (192.0.2.66, 2001:db8:3::2,
#       runs dnsmasq "container1") and TOPO_C2 (192.0.2.67, 2001:db8:3::3);
#       "table ip dockerlike" and "table ip6 dockerlike" masquerade their
#       outbound traffic and publish UDP 53 of 203.0.113.3 and
#       2001:db8:1::3 to container1 by DNAT (another tool's nftables
#       tables, as Docker keeps them).
#     libvirt-like bridge "virbr0" 192.0.2.97/27, 2001:db8:4::1/64 with a
#       veth port to the VM TOPO_VM (192.0.2.98, 2001:db8:4::2), routed (no
#       NAT: the outside routes 192.0.2.96/27 and 2001:db8:4::/64 back).
#     dnsmasq "hostbridge" on 127.0.0.1, docker0 and virbr0 (libvirt's and
#       a node-local cache's place) and dnsmasq "host" on the uplink and
#       LAN addresses (the host's public resolver).
#   macvlan namespace (TOPO_MVL): a macvlan of "upl" moved into it,
#     203.0.113.10, 2001:db8:1::10, dnsmasq "macvlan" on every address: its
#     traffic never passes the host's hooks.
#
# Pids: TOPO_PID_UPSTREAM, TOPO_PID_C1, TOPO_PID_HOSTBRIDGE, TOPO_PID_HOST,
# TOPO_PID_MVL. Only documentation ranges are used.
TOPO_HOST_V4=203.0.113.2
TOPO_HOST_V6=2001:db8:1::2
TOPO_PUBLISHED_V4=203.0.113.3
TOPO_PUBLISHED_V6=2001:db8:1::3
TOPO_LAN_V4=192.0.2.2
TOPO_LAN_V6=2001:db8:2::2
TOPO_DOCKER_V4=192.0.2.65
TOPO_DOCKER_V6=2001:db8:3::1
TOPO_VIRBR_V4=192.0.2.97
TOPO_VIRBR_V6=2001:db8:4::1
TOPO_C1_V4=192.0.2.66
TOPO_C1_V6=2001:db8:3::2
# shellcheck disable=SC2034 # for the tests that source this file
TOPO_C2_V4=192.0.2.67
# shellcheck disable=SC2034 # for the tests that source this file
TOPO_C2_V6=2001:db8:3::3
TOPO_VM_V4=192.0.2.98
TOPO_VM_V6=2001:db8:4::2
TOPO_MVL_V4=203.0.113.10
TOPO_MVL_V6=2001:db8:1::10
TOPO_UPSTREAM_V4=198.51.100.53
TOPO_UPSTREAM_V6=2001:db8:100::53
TOPO_CLIENT_V4=198.51.100.10
TOPO_CLIENT_V6=2001:db8:100::10
TOPO_ALLOWED_V4=198.51.100.11
TOPO_ALLOWED_V6=2001:db8:100::11

# topo_veth NS1 IF1 NS2 IF2: a veth pair made in NS1, its peer in NS2, both up.
topo_veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# topo_wire NS DEV: DEV (a veth) is only the wire under a NIC-like macvlan:
# no IPv6 on it, no ARP replies for addresses of other devices.
topo_wire() {
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" \
		"net.ipv4.conf.$2.arp_ignore=1" >/dev/null
}

# topo_addr NS DEV ADDR...: addresses (IPv6 without duplicate detection).
topo_addr() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		case $a in
		*:*) ip -n "$ns" addr add "$a" dev "$dev" nodad || return 1 ;;
		*) ip -n "$ns" addr add "$a" dev "$dev" || return 1 ;;
		esac
	done
}

# topo_dnsmasq NS WHO ADDR [dnsmasq args...]: dnsmasq as start_dnsmasq
# starts it, also answering who.test.p53 TXT "WHO"; waits until WHO itself
# answers on ADDR (another server in NS may already answer on loopback);
# echoes its pid.
topo_dnsmasq() {
	local ns=$1 who=$2 addr=$3 dir pid
	shift 3
	dir="$P53_TMP/dnsmasq.$(p53_next)"
	mkdir -p "$dir" || return 1
	ip netns exec "$ns" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--user=root --group=root --pid-file="$dir/pid" --port=53 \
		--local=/test.p53/ \
		--host-record="host.test.p53,$P53_HOST_V4,$P53_HOST_V6" \
		--txt-record=host.test.p53,p53 --txt-record="who.test.p53,$who" \
		"$@" </dev/null >"$dir/log" 2>&1 &
	pid=$!
	register_pid "$pid"
	if ! wait_for 5 dig_answered "$ns" "$addr" "$who"; then
		echo "# dnsmasq $who in $ns did not answer on $addr; its log:" >&2
		sed 's/^/# /' "$dir/log" >&2
		return 1
	fi
	echo "$pid"
}

# shellcheck disable=SC2034 # sets TOPO_* for the caller
topo_host() {
	TOPO_HOST=$(ns_add host) && TOPO_OUT=$(ns_add out) && TOPO_C1=$(ns_add c1) &&
		TOPO_C2=$(ns_add c2) && TOPO_VM=$(ns_add vm) && TOPO_MVL=$(ns_add mvl) || return 1
	local h=$TOPO_HOST o=$TOPO_OUT
	ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null || return 1
	ip netns exec "$o" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null || return 1

	# The outside: a router with the resolver and the clients behind it.
	topo_addr "$o" lo "$TOPO_UPSTREAM_V4/32" "$TOPO_CLIENT_V4/32" "$TOPO_ALLOWED_V4/32" \
		"$TOPO_UPSTREAM_V6/128" "$TOPO_CLIENT_V6/128" "$TOPO_ALLOWED_V6/128" || return 1

	# Uplink: veth, the host's side carrying a macvlan "up0" (see above).
	topo_veth "$h" upl "$o" wan &&
		topo_wire "$h" upl &&
		topo_addr "$o" wan 203.0.113.1/26 2001:db8:1::1/64 &&
		ip -n "$h" link add up0 link upl type macvlan mode bridge &&
		ip -n "$h" link set up0 up &&
		topo_addr "$h" up0 "$TOPO_HOST_V4/26" "$TOPO_PUBLISHED_V4/26" \
			"$TOPO_HOST_V6/64" "$TOPO_PUBLISHED_V6/64" &&
		ip -n "$h" route add default via 203.0.113.1 &&
		ip -n "$h" -6 route add default via 2001:db8:1::1 || return 1
	# The routed VM network comes back through the host.
	ip -n "$o" route add 192.0.2.96/27 via "$TOPO_HOST_V4" &&
		ip -n "$o" -6 route add 2001:db8:4::/64 via "$TOPO_HOST_V6" || return 1

	# LAN bridge whose port is a (passthru macvlan) NIC towards the outside.
	topo_veth "$h" lanl "$o" lan &&
		topo_wire "$h" lanl &&
		topo_addr "$o" lan 192.0.2.1/26 2001:db8:2::1/64 &&
		ip -n "$h" link add lanp link lanl type macvlan mode passthru &&
		ip -n "$h" link add brlan type bridge &&
		ip -n "$h" link set lanp master brlan && ip -n "$h" link set lanp up &&
		ip -n "$h" link set brlan up &&
		topo_addr "$h" brlan "$TOPO_LAN_V4/26" "$TOPO_LAN_V6/64" || return 1

	# docker0-like bridge, two containers, masquerade and a published port.
	ip -n "$h" link add docker0 type bridge && ip -n "$h" link set docker0 up &&
		topo_addr "$h" docker0 "$TOPO_DOCKER_V4/27" "$TOPO_DOCKER_V6/64" || return 1
	local c ns addr addr6
	for c in 1 2; do
		ns=TOPO_C$c addr=TOPO_C${c}_V4 addr6=TOPO_C${c}_V6
		topo_veth "$h" "vethc$c" "${!ns}" eth0 &&
			ip -n "$h" link set "vethc$c" master docker0 &&
			topo_addr "${!ns}" eth0 "${!addr}/27" "${!addr6}/64" &&
			ip -n "${!ns}" route add default via "$TOPO_DOCKER_V4" &&
			ip -n "${!ns}" -6 route add default via "$TOPO_DOCKER_V6" || return 1
	done
	ip netns exec "$h" nft -f - <<-EOF || return 1
	table ip dockerlike {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			ip daddr $TOPO_PUBLISHED_V4 udp dport 53 dnat to $TOPO_C1_V4:53
		}
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			ip saddr 192.0.2.64/27 oifname != "docker0" masquerade
		}
	}
	table ip6 dockerlike {
		chain prerouting {
			type nat hook prerouting priority dstnat; policy accept;
			ip6 daddr $TOPO_PUBLISHED_V6 udp dport 53 dnat to [$TOPO_C1_V6]:53
		}
		chain postrouting {
			type nat hook postrouting priority srcnat; policy accept;
			ip6 saddr 2001:db8:3::/64 oifname != "docker0" masquerade
		}
	}
	EOF

	# virbr0-like bridge with one VM, routed.
	ip -n "$h" link add virbr0 type bridge && ip -n "$h" link set virbr0 up &&
		topo_addr "$h" virbr0 "$TOPO_VIRBR_V4/27" "$TOPO_VIRBR_V6/64" &&
		topo_veth "$h" vnet0 "$TOPO_VM" eth0 &&
		ip -n "$h" link set vnet0 master virbr0 &&
		topo_addr "$TOPO_VM" eth0 "$TOPO_VM_V4/27" "$TOPO_VM_V6/64" &&
		ip -n "$TOPO_VM" route add default via "$TOPO_VIRBR_V4" &&
		ip -n "$TOPO_VM" -6 route add default via "$TOPO_VIRBR_V6" || return 1

	# A macvlan of the uplink's lower device in a namespace of its own.
	ip -n "$h" link add mvl0 link upl type macvlan mode bridge &&
		ip -n "$h" link set mvl0 netns "$TOPO_MVL" &&
		ip -n "$TOPO_MVL" link set mvl0 up &&
		topo_addr "$TOPO_MVL" mvl0 "$TOPO_MVL_V4/26" "$TOPO_MVL_V6/64" &&
		ip -n "$TOPO_MVL" route add default via 203.0.113.1 &&
		ip -n "$TOPO_MVL" -6 route add default via 2001:db8:1::1 || return 1

	TOPO_PID_UPSTREAM=$(topo_dnsmasq "$o" upstream "$TOPO_UPSTREAM_V4" --bind-interfaces \
		--listen-address="$TOPO_UPSTREAM_V4,$TOPO_UPSTREAM_V6") || return 1
	TOPO_PID_C1=$(topo_dnsmasq "$TOPO_C1" container1 127.0.0.1) || return 1
	TOPO_PID_HOSTBRIDGE=$(topo_dnsmasq "$h" hostbridge 127.0.0.1 --bind-interfaces \
		--listen-address="127.0.0.1,$TOPO_DOCKER_V4,$TOPO_DOCKER_V6,$TOPO_VIRBR_V4,$TOPO_VIRBR_V6") || return 1
	TOPO_PID_HOST=$(topo_dnsmasq "$h" host "$TOPO_HOST_V4" --bind-interfaces \
		--listen-address="$TOPO_HOST_V4,$TOPO_HOST_V6,$TOPO_LAN_V4,$TOPO_LAN_V6") || return 1
	TOPO_PID_MVL=$(topo_dnsmasq "$TOPO_MVL" macvlan 127.0.0.1) || return 1
}
