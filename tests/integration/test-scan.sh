#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# port53guard scan against real servers and real sockets, each in a network
# namespace of its own: who listens, with which exposure, owned by which
# process, in which namespace; what is not a listener; exit codes.
#
# Scans from the root namespace see every other test's namespaces too, so
# every assertion there is filtered by this test's own namespace names.

here=$(dirname "$0")
. "$here/lib.sh"
p53_init
require_root
require_cmd ip dig dnsmasq unbound python3 jq ss setpriv
PG=${PORT53GUARD:?PORT53GUARD must name the binary}

conf_ns_no="$P53_TMP/namespaces-no.conf"
conf_ns_yes="$P53_TMP/namespaces-yes.conf"
printf '[listeners]\nnamespaces = no\n' >"$conf_ns_no"
printf '[listeners]\nnamespaces = yes\n' >"$conf_ns_yes"

# scan NS CONF [ARGS...]: runs "scan --json" inside NS ("-": here), keeps
# stdout in scan.json and stderr in scan.err, echoes the exit code.
scan() {
	local ns=$1 conf=$2 rc=0
	shift 2
	if [ "$ns" = - ]; then
		"$PG" -c "$conf" scan --json "$@" >"$P53_TMP/scan.json" 2>"$P53_TMP/scan.err" || rc=$?
	else
		ip netns exec "$ns" "$PG" -c "$conf" scan --json "$@" \
			>"$P53_TMP/scan.json" 2>"$P53_TMP/scan.err" || rc=$?
	fi
	echo "$rc"
}

# q JQ-FILTER [jq args]: a query on the last report, raw output.
q() {
	local filter=$1
	shift
	jq -r "$@" "$filter" "$P53_TMP/scan.json"
}

# The listeners of one namespace (by name) in the last report, as
# "proto address exposure pid comm" lines, sorted.
rows_in() {
	q '.listeners[] | select(.netns.name == $ns)
	   | "\(.proto) \(.address) \(.exposure) \(.owner.pid) \(.owner.comm)"' \
		--arg ns "$1" | sort
}

# py_listen NS NAME CODE: a python3 process running CODE (which binds its
# sockets), printing "ready" when done; echoes its pid.
py_listen() {
	local ns=$1 name=$2 code=$3 log pid
	log="$P53_TMP/py-$name.log"
	pid=$(spawn "$ns" "$log" python3 -c "
import signal, socket, sys
from socket import *
$code
print('ready', flush=True)
signal.pause()
") || return 1
	if ! wait_for 5 grep -q ready "$log"; then
		echo "# python3 listener $name did not start:" >&2
		sed 's/^/# /' "$log" >&2
		return 1
	fi
	echo "$pid"
}

srv=$(ns_add srv) || exit 1
loc=$(ns_add loc) || exit 1
six=$(ns_add six) || exit 1
tcp=$(ns_add tcp) || exit 1
cli=$(ns_add cli) || exit 1
orph=$(ns_add orph) || exit 1
ns_link "$srv" "$cli" 1 || exit 1

# --- dnsmasq on the wildcard: public, with its pid ----------------------------
dpid=$(start_dnsmasq "$srv") || exit 1
rc=$(scan "$srv" "$conf_ns_no")
assert_eq "dnsmasq on 0.0.0.0: exit code 3" 3 "$rc"
assert_eq "dnsmasq: the own namespace is the only one looked at" 1 "$(q '.namespaces | length')"
assert_eq "dnsmasq: its namespace is reported by name" "$srv" "$(q '.namespaces[0].name')"
assert_eq "dnsmasq: UDP and TCP on 0.0.0.0 and [::], all public, all its own" \
	"tcp 0.0.0.0 public $dpid dnsmasq
tcp :: public $dpid dnsmasq
udp 0.0.0.0 public $dpid dnsmasq
udp :: public $dpid dnsmasq" "$(rows_in "$srv")"
assert_eq "dnsmasq: exe path" /usr/sbin/dnsmasq \
	"$(q '[.listeners[].owner.exe] | unique | join(",")')"
assert_eq "dnsmasq: its [::] sockets are IPv6-only (dnsmasq sets IPV6_V6ONLY)" "true true" \
	"$(q '[.listeners[] | select(.family == "ipv6") | .v6only] | map(tostring) | join(" ")')"
assert_eq "dnsmasq: socket inodes match the kernel's" \
	"$(ip netns exec "$srv" ss -Hlnue 'sport = :53' 2>/dev/null | grep -o 'ino:[0-9]*' | cut -d: -f2 | sort -n | tr '\n' ' ')" \
	"$(q '.listeners[] | select(.proto == "udp") | .inode' | sort -n | tr '\n' ' ')"
assert_eq "dnsmasq: public count" 4 "$(q .public)"
check "dnsmasq: verdict names UDP:53" \
	grep -q '"verdict": "4 public listeners on port 53: UDP:53 and TCP:53 are offered to the network"' \
	"$P53_TMP/scan.json"

ip netns exec "$srv" "$PG" -c "$conf_ns_no" scan >"$P53_TMP/scan.txt" 2>&1
check "table: header" grep -Eq '^PROTO +ADDRESS +PORT +EXPOSURE +PID +COMM +UNIT +NAMESPACE$' "$P53_TMP/scan.txt"
check "table: a dnsmasq row" grep -Eq "^udp +0\.0\.0\.0 +53 +public +$dpid +dnsmasq " "$P53_TMP/scan.txt"
check "table: one verdict line, last" \
	test "$(tail -n1 "$P53_TMP/scan.txt")" = "verdict: 4 public listeners on port 53: UDP:53 and TCP:53 are offered to the network"

# --- without privilege: listed all the same, owner unknown (permission) ------
# The configuration must be readable by nobody: let others through the
# temp dir (not list it) and read that one file.
chmod 0711 "$P53_TMP" && chmod 0644 "$conf_ns_no"
if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$PG" -a -r "$conf_ns_no"; then
	rc=0
	ip netns exec "$srv" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$PG" -c "$conf_ns_no" scan --json >"$P53_TMP/scan.json" 2>"$P53_TMP/scan.err" || rc=$?
	assert_eq "unprivileged: still exit 3" 3 "$rc"
	assert_eq "unprivileged: all four sockets listed, owner unknown (permission)" \
		"permission permission permission permission" \
		"$(q '[.listeners[].owner.status] | join(" ")')"
	assert_eq "unprivileged: owners_complete is false" false "$(q .owners_complete)"
	assert_eq "unprivileged: one warning about it" 1 "$(grep -c 'unknown (permission)' "$P53_TMP/scan.err")"
else
	check "unprivileged scan (skipped: nobody cannot run $PG)" true
fi

# --- unbound on 127.0.0.1 only: local, exit code 0 ---------------------------
upid=$(start_unbound "$loc" 127.0.0.1) || exit 1
rc=$(scan "$loc" "$conf_ns_no")
assert_eq "unbound on 127.0.0.1: exit code 0" 0 "$rc"
assert_eq "unbound: local UDP and TCP, its pid" \
	"tcp 127.0.0.1 local $upid unbound
udp 127.0.0.1 local $upid unbound" "$(rows_in "$loc")"
assert_eq "unbound: verdict" "nothing public listens on port 53" "$(q .verdict)"

# --- from the root namespace: the walk finds them by namespace name ---------
rc=$(scan - "$conf_ns_yes")
assert_eq "root walk: dnsmasq found in its namespace, by name" \
	"tcp 0.0.0.0 public $dpid dnsmasq
tcp :: public $dpid dnsmasq
udp 0.0.0.0 public $dpid dnsmasq
udp :: public $dpid dnsmasq" "$(rows_in "$srv")"
assert_eq "root walk: unbound found too" \
	"tcp 127.0.0.1 local $upid unbound
udp 127.0.0.1 local $upid unbound" "$(rows_in "$loc")"
assert_eq "root walk: a namespaced public listener says how it is reachable" \
	"public (in namespace $srv: reachable only through published ports)" \
	"$(q '[.listeners[] | select(.netns.name == $ns) | .exposure_text] | unique | join(",")' --arg ns "$srv")"
assert_eq "root walk: those are not the root's own" false \
	"$(q '[.listeners[] | select(.netns.name == $ns) | .netns.own] | unique | join(",")' --arg ns "$srv")"
assert_eq "root walk: namespace inode matches ip netns" \
	"$(stat -L -c %i "/run/netns/$srv")" \
	"$(q '.namespaces[] | select(.name == $ns) | .inode' --arg ns "$srv")"
# A public listener of any namespace with a link of its own (another test's
# macvlan, say) is out of the host rule's reach and makes the exit code 3
# too; the text names each one.
want=$(q 'if .public > 0 then 3 else 0 end')
if [ "$want" = 0 ] && [ "$rc" = 3 ] && "$PG" -c "$conf_ns_yes" scan 2>/dev/null | grep -q '^unfiltered: '; then
	want=3
fi
assert_eq "root walk: exit code follows the root namespace's own public listeners and unfiltered ones" \
	"$want" "$rc"
check "root walk: the own namespace, listed first, is the root's" \
	test "$(q '.namespaces[0].inode')" = "$(stat -L -c %i /proc/self/ns/net)"
rc=$(scan - "$conf_ns_no")
assert_eq "namespaces = no: nothing of this test's namespaces is seen from the root" "" \
	"$(q '.listeners[] | select(.netns.name != null and (.netns.name | startswith($id))) | .inode' --arg id "$P53_ID")"
assert_eq "namespaces = no: one namespace" 1 "$(q '.namespaces | length')"

# --- [::]:53 with v6only=0 (takes IPv4 too) and with v6only=1 ---------------
ppid6=$(py_listen "$six" six "
u = socket(AF_INET6, SOCK_DGRAM); u.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0); u.bind(('::', 53))
t = socket(AF_INET6, SOCK_STREAM); t.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1); t.bind(('::', 53)); t.listen()
") || exit 1
rc=$(scan "$six" "$conf_ns_no")
assert_eq "v6only: exit code 3" 3 "$rc"
assert_eq "v6only=0 UDP [::]: v6only false, takes IPv4 too" "false true public $ppid6" \
	"$(q '.listeners[] | select(.proto == "udp") | "\(.v6only) \(.ipv4_too) \(.exposure) \(.owner.pid)"')"
assert_eq "v6only=1 TCP [::]: v6only true, IPv6 only" "true false public $ppid6" \
	"$(q '.listeners[] | select(.proto == "tcp") | "\(.v6only) \(.ipv4_too) \(.exposure) \(.owner.pid)"')"
ip netns exec "$six" "$PG" -c "$conf_ns_no" scan >"$P53_TMP/scan.txt" 2>&1
check "table: the dual-stack socket shows as *" grep -Eq '^udp +\* +53 +public' "$P53_TMP/scan.txt"
check "table: the IPv6-only socket shows as [::]" grep -Eq '^tcp +\[::\] +53 +public' "$P53_TMP/scan.txt"

# --- TCP only, bound to a device, and a hostile process name -----------------
# A veth pair with both ends inside: a host-internal interface.
ip -n "$tcp" link add p53va type veth peer name p53vb && ip -n "$tcp" link set p53va up &&
	ip -n "$tcp" addr add 203.0.113.99/24 dev p53va || exit 1
tpid=$(py_listen "$tcp" tcp "
open('/proc/self/comm', 'wb').write(b'p53\\x1b[2J\"tcp')
def tcp(addr, dev=None):
    s = socket(AF_INET, SOCK_STREAM)
    s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
    if dev:
        s.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, dev)
    s.bind((addr, 53))
    s.listen()
    return s
t, d, v = tcp('0.0.0.0'), tcp('203.0.113.99', b'lo'), tcp('0.0.0.0', b'p53va')
") || exit 1
rc=$(scan "$tcp" "$conf_ns_no")
assert_eq "TCP only: exit code 3" 3 "$rc"
assert_eq "TCP only: no UDP listener" 0 "$(q '[.listeners[] | select(.proto == "udp")] | length')"
assert_eq "TCP only: wildcard public; bound to lo: local; bound to a veth: bridge" \
	"0.0.0.0 - public
0.0.0.0 p53va bridge
203.0.113.99 lo local" \
	"$(q '.listeners[] | "\(.address) \(.device // "-") \(.exposure)"' | sort)"
assert_eq "TCP only: verdict" "1 public listener on port 53: TCP:53 is offered to the network" "$(q .verdict)"
assert_eq "hostile comm: escaped in JSON" 'p53\x1b[2J\"tcp' \
	"$(q '[.listeners[].owner.comm] | unique | join(",")')"
ip netns exec "$tcp" "$PG" -c "$conf_ns_no" scan >"$P53_TMP/scan.txt" 2>&1
check_fails "hostile comm: no raw escape byte in the table" grep -q $'\x1b' "$P53_TMP/scan.txt"
check "hostile comm: shown escaped in the table" grep -qF 'p53\x1b[2J\"tcp' "$P53_TMP/scan.txt"

# --- a listener that exits is gone from the next scan ------------------------
p53_kill_pids "$tpid"
rc=$(scan "$tcp" "$conf_ns_no")
assert_eq "after exit: exit code 0" 0 "$rc"
assert_eq "after exit: no listeners" 0 "$(q '.listeners | length')"

# --- clients are not listeners -----------------------------------------------
py_listen "$cli" cli "
c = socket(AF_INET, SOCK_DGRAM); c.bind(('198.51.100.18', 53)); c.connect(('198.51.100.17', 53))
e = socket(AF_INET, SOCK_DGRAM); e.connect(('198.51.100.17', 53))
k = socket(AF_INET, SOCK_STREAM); k.connect(('198.51.100.17', 53))
" >/dev/null || exit 1
check "clients: the kernel has a UDP socket on local port 53, connected to :53" \
	test "$(ip netns exec "$cli" ss -Hun state established 'sport = :53 and dport = :53' | wc -l)" = 1
rc=$(scan "$cli" "$conf_ns_no")
assert_eq "clients: exit code 0" 0 "$rc"
assert_eq "clients: no listeners" 0 "$(q '.listeners | length')"

# --- a socket no process holds: reported as unknown, not dropped -------------
py_listen "$orph" orph "
import array
u = socket(AF_INET, SOCK_DGRAM); u.bind(('0.0.0.0', 53))
a, b = socketpair(AF_UNIX, SOCK_DGRAM)
a.sendmsg([b'x'], [(SOL_SOCKET, SCM_RIGHTS, array.array('i', [u.fileno()]))])
u.close()
" >/dev/null || exit 1
rc=$(scan "$orph" "$conf_ns_no")
assert_eq "in-flight socket: listed, public, owner unknown" "udp 0.0.0.0 public unknown null" \
	"$(q '.listeners[] | "\(.proto) \(.address) \(.exposure) \(.owner.status) \(.owner.pid)"')"
assert_eq "in-flight socket: exit code 3" 3 "$rc"

# --- errors -----------------------------------------------------------------
printf '[listeners]\nnamespaces = perhaps\n' >"$P53_TMP/bad.conf"
rc=0
"$PG" -c "$P53_TMP/bad.conf" scan >/dev/null 2>&1 || rc=$?
assert_eq "invalid configuration: exit code 1" 1 "$rc"
rc=0
"$PG" scan --bogus >/dev/null 2>&1 || rc=$?
assert_eq "unknown option: exit code 2" 2 "$rc"

done_testing
