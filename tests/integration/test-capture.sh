#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The traffic probe against real captures and a real kernel:
#  - port53guard replay --format jsonl agrees with tshark, field by field,
#    on every DNS message of the fixtures in tests/data (made from dig, kdig
#    and dnsmasq by tests/data/make-fixtures.sh);
#  - the summary counts them right, and bad files fail cleanly;
#  - live capture: tcpdump's capture of fresh queries replays right, and
#    probes/capture.c itself (driven by a small program built here against
#    the core library) sees inbound queries and outbound answers on "any"
#    and on one interface, but not loopback traffic nor the host's own
#    outgoing queries, and reports a clear error when it cannot capture.

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
p53_init
require_cmd tshark python3

src_root=$(cd "$here/../.." && pwd)
data=${TESTS_DATA:-$src_root/tests/data}
bin=${PORT53GUARD:-}
[ -x "$bin" ] || skip "PORT53GUARD must name the built port53guard"
build_root=${BUILD_ROOT:-$(dirname "$bin")}

# ------------------------------------------------------- tshark agreement ---

# Field by field. tshark leaves dns.flags.rcode empty in queries (where the
# header's bits are 0), spells the root "<Root>", and prints names with C
# escapes (\n, \033) where port53guard uses dig's (\010, \027, "\." for a
# dot inside a label); both are decoded to bytes before comparing, so a dot
# inside a label compares equal to a label boundary: that is all tshark says.
compare_py='
import json, re, sys

def dig_bytes(s):
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\" and re.match(r"\d{3}", s[i + 1:i + 4]):
            out.append(int(s[i + 1:i + 4])); i += 4
        elif s[i] == "\\":
            out += s[i + 1].encode(); i += 2
        else:
            out += s[i].encode(); i += 1
    return bytes(out)

C_ESC = {"n": 10, "r": 13, "t": 9, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, "\"": 34, "\x27": 39}
def tshark_bytes(s):
    if s == "<Root>":
        return b"."
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "\\" and re.match(r"[0-7]{3}", s[i + 1:i + 4]):
            out.append(int(s[i + 1:i + 4], 8)); i += 4
        elif s[i] == "\\" and s[i + 1:i + 2] == "x":
            out.append(int(s[i + 2:i + 4], 16)); i += 4
        elif s[i] == "\\" and s[i + 1:i + 2] in C_ESC:
            out.append(C_ESC[s[i + 1]]); i += 2
        else:
            out += s[i].encode("utf-8", "surrogateescape"); i += 1
    return bytes(out)

ours = [json.loads(l) for l in open(sys.argv[1])]
theirs = [l.rstrip("\n").split("\t") for l in open(sys.argv[2], encoding="utf-8", errors="surrogateescape")]
bad = 0
if len(ours) != len(theirs):
    print("# %d messages from port53guard, %d from tshark" % (len(ours), len(theirs)))
    bad += 1
for n, (o, t) in enumerate(zip(ours, theirs)):
    src4, src6, usp, tsp, dst4, dst6, udp, tdp, tid, resp, opc, rc, qn, qt, qc = t
    want = {
        "src": src4 or src6, "sport": int(usp or tsp), "dst": dst4 or dst6, "dport": int(udp or tdp),
        "proto": "udp" if usp else "tcp", "id": int(tid, 16),
        "qr": resp in ("1", "True"), "opcode": int(opc), "rcode": int(rc or 0),
        "qname": tshark_bytes(qn) if qn else None,
        "qtype": int(qt) if qt else None, "qclass": int(qc, 16) if qc else None,
    }
    got = dict(o)
    got["qname"] = dig_bytes(o["qname"]) if o["qname"] is not None else None
    for k, v in want.items():
        if got.get(k) != v:
            print("# message %d: %s is %r, tshark says %r" % (n + 1, k, got.get(k), v))
            bad += 1
print("# %d messages compared" % len(ours))
sys.exit(1 if bad or not ours else 0)
'

agrees_with_tshark() {
	local file=$1 ours="$P53_TMP/ours.jsonl" theirs="$P53_TMP/theirs.tsv"
	"$bin" replay --format jsonl "$file" >"$ours" || return 1
	tshark -r "$file" -Y dns -T fields -E separator=/t -E occurrence=f \
		-e ip.src -e ipv6.src -e udp.srcport -e tcp.srcport \
		-e ip.dst -e ipv6.dst -e udp.dstport -e tcp.dstport \
		-e dns.id -e dns.flags.response -e dns.flags.opcode -e dns.flags.rcode \
		-e dns.qry.name -e dns.qry.type -e dns.qry.class >"$theirs" 2>/dev/null || return 1
	python3 -c "$compare_py" "$ours" "$theirs"
}

messages() { "$bin" replay --format jsonl "$1" | wc -l; }

for f in dns-eth.pcap dns-eth.pcapng dns-sll.pcap dns-sll2.pcap dns-escape.pcap; do
	check "$f: every message agrees with tshark" agrees_with_tshark "$data/$f"
done
# The counts themselves, so that an empty replay cannot agree with an empty tshark.
assert_eq "dns-eth.pcap holds 30 messages (15 exchanges)" 30 "$(messages "$data/dns-eth.pcap")"
assert_eq "dns-sll2.pcap holds 6 messages" 6 "$(messages "$data/dns-sll2.pcap")"
assert_eq "dns-escape.pcap holds 2 messages" 2 "$(messages "$data/dns-escape.pcap")"

# ------------------------------------------------------- replay's outputs ---

# The committed fixtures hold the addresses they were recorded with
# (10.53.1.1 and fd53:1::1 answering 10.53.1.2 and fd53:1::2): read from a
# file, never sent anywhere.
summary=$("$bin" replay "$data/dns-eth.pcap")
check "summary: 15 queries, 5 over TCP, 9 with EDNS, 15 responses" \
	grep -qx 'dns messages: 15 queries (5 tcp, 9 edns), 15 responses' <<<"$summary"
check "summary: every query answered" \
	grep -qx 'answers: 15 answered, 0 unanswered, 0 responses without a query' <<<"$summary"
check "summary: dnsmasq's RA=1 answers offer recursion" \
	grep -q '^recursion offered: 15 responses with RA set; first: 10.53.1.1 answered 10.53.1.2' <<<"$summary"
check "summary: TCP handshakes are not DNS, and nothing is malformed" \
	grep -qx 'not dns: 40; tcp_no_payload 40' <<<"$summary"
check "summary: the top source and name" \
	grep -Eq '^ +11 +3 +11  10\.53\.1\.2 +A host\.test\.p53$' <<<"$summary"
check "summary: the IPv6 client's /56" grep -Eq '^ +4 +2 +4  fd53:1::/56$' <<<"$summary"

# The name with a newline and a terminal escape, for the agent's events too.
qn=$("$bin" replay --format jsonl "$data/dns-escape.pcap" | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["qname"])')
assert_eq "escaped query name" 'esc\010line\027[31mred.test.p53' "$qn"
esc_summary=$("$bin" replay "$data/dns-escape.pcap")
check "summary prints no raw newline or ESC from the name" \
	python3 -c 'import sys; s = sys.stdin.buffer.read(); sys.exit(1 if b"\x1b" in s or b"esc\nline" in s else 0)' <<<"$esc_summary"

# --------------------------------------------------------------- bad files ---

# one_line_error FILE: exit 1 and exactly one line on stderr naming FILE.
one_line_error() {
	local rc=0 err
	err=$("$bin" replay "$1" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 1 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -qF "$1" <<<"$err"
}
check "a missing file: one line, exit 1" one_line_error "$P53_TMP/missing.pcap"
check "a file that is not a capture: one line, exit 1" one_line_error "$here/lib.sh"
head -c 10 "$data/dns-eth.pcap" >"$P53_TMP/header-cut.pcap"
check "a file cut inside its header: one line, exit 1" one_line_error "$P53_TMP/header-cut.pcap"
check_fails "usage error without a file" "$bin" replay
check_fails "an unknown format is refused" "$bin" replay --format xml "$data/dns-eth.pcap"

trunc_out=$("$bin" replay "$data/dns-truncated.pcap" 2>"$P53_TMP/trunc.err")
assert_eq "a capture cut inside its last record still succeeds" 0 "$?"
check "... counts the records before it" grep -q '^file: .*(link type EN10MB, 69 packets, last record truncated)' <<<"$trunc_out"
check "... says so on stderr" grep -q 'truncated dump file' "$P53_TMP/trunc.err"

# ------------------------------------------------------------ live capture ---

require_root
require_cmd ip dig tcpdump
srv=$(ns_add srv) || exit 1
cli=$(ns_add cli) || exit 1
ns_link "$srv" "$cli" 1 || exit 1
start_dnsmasq "$srv" >/dev/null || exit 1
srv_if=$(link_if 1 a)

gone() { ! p53_alive "$1"; }

# 1. tcpdump captures, replay reads.
pid=$(spawn "$srv" "$P53_TMP/tcpdump.log" tcpdump -n -U --immediate-mode -i any -y LINUX_SLL2 \
	-w "$P53_TMP/live.pcap" port 53) || exit 1
wait_for 5 grep -q "listening on" "$P53_TMP/tcpdump.log" || exit 1
ip netns exec "$cli" dig +time=2 +tries=1 @198.51.100.17 live1.test.p53 A >/dev/null
ip netns exec "$cli" dig +time=2 +tries=1 @2001:db8:53:1::1 live2.test.p53 AAAA +tcp >/dev/null
sleep 0.3
kill -INT "$pid"
wait_for 5 gone "$pid"
live=$("$bin" replay --format jsonl "$P53_TMP/live.pcap")
check "tcpdump -i any capture: the IPv4 query from the client" \
	grep -q '"src":"198.51.100.18",.*"qr":false,.*"qname":"live1.test.p53","qtype":1,' <<<"$live"
check "tcpdump -i any capture: the IPv6 TCP query from the client" \
	grep -q '"src":"2001:db8:53:1::2",.*"proto":"tcp",.*"qr":false,.*"qname":"live2.test.p53","qtype":28,' <<<"$live"
check "tcpdump -i any capture: agrees with tshark" agrees_with_tshark "$P53_TMP/live.pcap"

# 2. probes/capture.c itself. The program prints one line per DNS message
# and, at the end, pcap's counters.
cat >"$P53_TMP/capture-live.c" <<'EOF'
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "capture.h"
#include "dns.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void on_packet(const struct capture_packet *pkt, void *userdata)
{
	struct dns_packet p;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	(void)userdata;
	if (dns_parse_packet(pkt->linktype, pkt->data, pkt->caplen, &p) != DNS_OK)
		return;
	inet_ntop(p.family, p.src, s, sizeof(s));
	inet_ntop(p.family, p.dst, d, sizeof(d));
	/* "any" names the interface in SLL2, a named handle knows its own. */
	printf("dns link=%d if=%s ifindex=%d src=%s dst=%s qr=%d qname=%s\n", pkt->linktype, pkt->ifname,
	       p.ifindex ? p.ifindex : (int)pkt->ifindex, s, d, p.hdr.qr, dns_name_text(&p.qname));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	/* Several interfaces: a missing one is left out, not fatal. */
	struct capture_options o = { .interfaces = (const char *const *)argv + 1, .n_interfaces = (size_t)argc - 1,
				     .responses = true, .partial = argc > 2 };
	char err[CAPTURE_ERRBUF_SIZE];
	struct capture *c;
	struct capture_stats st;
	struct epoll_event ev = { .events = EPOLLIN }, got[4];
	int ep, r;

	signal(SIGTERM, on_signal);
	r = capture_open(&o, &c, err, sizeof(err));
	if (r < 0) {
		printf("error %d %s\n", r, err);
		return 1;
	}
	for (size_t i = 0; i < capture_n_missing(c); i++)
		printf("missing %s %s\n", capture_missing_ifname(c, i), capture_missing_error(c, i));
	ep = epoll_create1(0);
	for (size_t i = 0; i < capture_n_handles(c); i++) {
		ev.data.u64 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, capture_fd(c, i), &ev);
		printf("ready %s kernel=%s filter=%s\n", capture_ifname(c, i),
		       capture_filter_in_kernel(c, i) ? "yes" : "no", capture_filter(c, i));
	}
	fflush(stdout);
	while (!stop) {
		int n = epoll_wait(ep, got, 4, 100);
		for (int k = 0; k < n; k++)
			if (capture_dispatch(c, got[k].data.u64, 0, on_packet, NULL, err, sizeof(err)) < 0)
				printf("dispatch error %s\n", err);
	}
	capture_stats(c, &st);
	printf("stats received=%llu dropped=%llu\n", (unsigned long long)st.received,
	       (unsigned long long)st.dropped);
	capture_free(c);
	return 0;
}
EOF

# The build's own compiler and flags (sanitizers included), read from the
# command that compiled probes/capture.c.
build_live() {
	local cmd
	cmd=$(python3 - "$build_root/compile_commands.json" <<'PY'
import json, shlex, sys
for e in json.load(open(sys.argv[1])):
    if e["file"].endswith("probes/capture.c"):
        a = shlex.split(e["command"])
        keep = [x for x in a[1:] if x.startswith(("-f", "-std", "-D", "-O", "-g"))]
        print(shlex.join([a[0]] + keep))
        break
PY
) || return 1
	[ -n "$cmd" ] || return 1
	# shellcheck disable=SC2086
	$cmd -I"$src_root/probes" -o "$P53_TMP/capture-live" "$P53_TMP/capture-live.c" \
		"$build_root/libport53guard-core.a" -lpcap
}
check "the capture test program builds against the core library" build_live
[ -x "$P53_TMP/capture-live" ] || { done_testing; }

# live_run NAME [IFACE]: starts the program in the server namespace and
# waits until its handles are ready.
live_run() {
	local name=$1 pid
	shift
	pid=$(spawn "$srv" "$P53_TMP/$name.out" "$P53_TMP/capture-live" "$@") || return 1
	wait_for 5 grep -q '^ready' "$P53_TMP/$name.out" || { cat "$P53_TMP/$name.out" >&2; return 1; }
	echo "$pid"
}

live_stop() {
	kill -TERM "$1"
	wait_for 5 gone "$1"
}

# The port after one IPv6 Hop-by-Hop, Routing or Destination Options header.
ext6() { echo "(ip6[6] = 0 or ip6[6] = 43 or ip6[6] = 60) and (ip6[40] = 6 or ip6[40] = 17) and ip6[40 + (ip6[41] + 1) * 8 + $1 : 2] = 53"; }
filter_dir="((inbound and (dst port 53 or ($(ext6 2)))) or (outbound and (src port 53 or ($(ext6 0)))))"

# send_dstopts NS DST LABEL: one IPv6 UDP query carrying a Destination
# Options header (one PadN option), which dig cannot send.
send_dstopts() {
	ip netns exec "$1" python3 - "$2" "$3" <<'PY'
import socket, struct, sys
dst, label = sys.argv[1], sys.argv[2].encode()
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
# next header and length are filled by the kernel; PadN fills the 8 bytes
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
q = struct.pack(">HHHHHH", 0x6464, 0x0100, 1, 0, 0, 0)
q += bytes([len(label)]) + label + b"\x04test\x03p53\x00" + struct.pack(">HH", 1, 1)
s.sendto(q, (dst, 53))
PY
}

# a. "any": SLL2 with interface indexes; queries in, answers out; not lo.
pid=$(live_run any) || exit 1
out="$P53_TMP/any.out"
check "any: handle uses DLT_LINUX_SLL2 and a directional filter, run by the kernel" \
	grep -qxF "ready any kernel=yes filter=not ifindex 1 and $filter_dir" "$out"
start=${EPOCHREALTIME/./}
ip netns exec "$cli" dig +time=2 +tries=1 @198.51.100.17 prompt.test.p53 A >/dev/null
check "any: a query arrives within a second (block timeout, not a full block)" \
	wait_for 1 grep -q 'src=198.51.100.18 dst=198.51.100.17 qr=0 qname=prompt.test.p53' "$out"
echo "# first query seen after $(((${EPOCHREALTIME/./} - start) / 1000)) ms" >&2
ip netns exec "$cli" dig +time=2 +tries=1 @2001:db8:53:1::1 six.test.p53 AAAA +tcp >/dev/null
ip netns exec "$cli" dig +time=2 +tries=1 'nl\010esc\027.test.p53' A @198.51.100.17 >/dev/null
# Local traffic that must not be seen: lo, and the host's own queries out.
ip netns exec "$srv" dig +time=1 +tries=1 @127.0.0.1 local.test.p53 >/dev/null
ip netns exec "$srv" dig +time=1 +tries=1 @198.51.100.18 outgoing.test.p53 >/dev/null
check "any: the IPv6 TCP query" wait_for 2 grep -q 'src=2001:db8:53:1::2 dst=2001:db8:53:1::1 qr=0 qname=six.test.p53' "$out"
check "any: the answer, outbound" grep -q 'link=276 .*src=198.51.100.17 dst=198.51.100.18 qr=1 qname=prompt.test.p53' "$out"
check "any: the escaped name" wait_for 2 grep -qF 'qname=nl\010esc\027.test.p53' "$out"
# The same query with a Destination Options header: tcpdump shows the header
# is there (next header 60), the capture must still see the query.
tpid=$(spawn "$srv" "$P53_TMP/dstopts.log" tcpdump -n -U -c 1 -i "$srv_if" -w "$P53_TMP/dstopts.pcap" \
	'ip6[6] = 60 and ip6[40] = 17') || exit 1
wait_for 5 grep -q "listening on" "$P53_TMP/dstopts.log" || exit 1
send_dstopts "$cli" 2001:db8:53:1::1 dstopts
check "any: the query really carries a Destination Options header" wait_for 3 test -s "$P53_TMP/dstopts.pcap"
check "any: the IPv6 query with a Destination Options header" \
	wait_for 2 grep -q 'src=2001:db8:53:1::2 dst=2001:db8:53:1::1 qr=0 qname=dstopts.test.p53' "$out"
srv_ifindex=$(ip -n "$srv" -o link show "$srv_if" | cut -d: -f1)
check "any: SLL2 names the veth's ifindex ($srv_ifindex)" grep -q "ifindex=$srv_ifindex src=198.51.100.18" "$out"
live_stop "$pid"
check_fails "any: loopback queries are not captured" grep -q 'local.test.p53' "$out"
check_fails "any: the host's own outgoing queries are not captured" grep -q 'outgoing.test.p53' "$out"
check "any: stats counted what passed the filter" grep -Eq '^stats received=([6-9]|[1-9][0-9]+) dropped=0$' "$out"

# b. one named interface: Ethernet framing, same filter without ifindex. The
# first query goes out at once: libpcap re-filters the first ring block in
# user space, where "inbound" cannot be evaluated on Ethernet, and capture.c
# must keep that from losing it.
pid=$(live_run one "$srv_if") || exit 1
out="$P53_TMP/one.out"
check "interface: Ethernet handle, directional filter, run by the kernel" \
	grep -qxF "ready $srv_if kernel=yes filter=$filter_dir" "$out"
ip netns exec "$cli" dig +time=2 +tries=1 @198.51.100.17 eth.test.p53 TXT >/dev/null
ip netns exec "$srv" dig +time=1 +tries=1 @198.51.100.18 outgoing.test.p53 >/dev/null
check "interface: the query" wait_for 2 grep -q "link=1 if=$srv_if ifindex=$srv_ifindex src=198.51.100.18 dst=198.51.100.17 qr=0 qname=eth.test.p53" "$out"
check "interface: the answer" wait_for 2 grep -q 'src=198.51.100.17 dst=198.51.100.18 qr=1 qname=eth.test.p53' "$out"
send_dstopts "$cli" 2001:db8:53:1::1 ethopts
check "interface: the IPv6 query with a Destination Options header" \
	wait_for 2 grep -q 'src=2001:db8:53:1::2 dst=2001:db8:53:1::1 qr=0 qname=ethopts.test.p53' "$out"
live_stop "$pid"
check_fails "interface: the host's own outgoing queries are not captured" grep -q 'outgoing.test.p53' "$out"

# c. several interfaces, one of them missing: the other is captured.
pid=$(live_run two nosuch0 "$srv_if") || exit 1
out="$P53_TMP/two.out"
check "two interfaces, one missing: it is named" grep -Eq '^missing nosuch0 capture on nosuch0: .*\(no such interface\)$' "$out"
check "two interfaces, one missing: the other has its handle" grep -q "^ready $srv_if kernel=yes " "$out"
ip netns exec "$cli" dig +time=2 +tries=1 @198.51.100.17 two.test.p53 A >/dev/null
check "two interfaces, one missing: the other captures" wait_for 2 grep -q 'qr=0 qname=two.test.p53' "$out"
live_stop "$pid"

# d. errors the agent logs as capture_degraded.
ip netns exec "$srv" "$P53_TMP/capture-live" nosuch0 >"$P53_TMP/nodev.out" 2>&1
check "no such interface: -ENODEV and a clear line" \
	grep -Eq '^error -19 capture on nosuch0: .*\(no such interface\)$' "$P53_TMP/nodev.out"
if command -v setpriv >/dev/null; then
	chmod 755 "$P53_TMP" "$P53_TMP/capture-live"
	ip netns exec "$srv" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$P53_TMP/capture-live" >"$P53_TMP/perm.out" 2>&1
	check "without CAP_NET_RAW: -EPERM and a clear line" \
		grep -Eq '^error -1 capture on any: .*\(capturing needs CAP_NET_RAW\)$' "$P53_TMP/perm.out"
fi

# ----------------------------------------- the agent on a routing host ---
#
# What the capture counts is what the kernel rule refuses: queries addressed
# to the host from outside. The host here has an uplink that is a macvlan
# over a veth (a veth alone is host-internal by kind; a macvlan is on the
# wire), a LAN bridge whose port is another macvlan over the same veth (a
# bridge with a port on the wire is outside), and a container bridge; it
# routes between the outside and the container.
#
#   out: 198.51.100.2, 2001:db8:53::2, 203.0.113.2; the upstream dnsmasq
#    |  veth
#   host: lower veth hl (internal) -> macvlan up 198.51.100.1, 2001:db8:53::1
#                                  -> macvlan lm -> bridge ln 203.0.113.1
#         bridge br 192.0.2.1/26 -- veth -- ctr 192.0.2.2 (default via br)

. "$here/agent.sh"
require_cmd dnsmasq nft
host=$(ns_add host) || exit 1
outs=$(ns_add out) || exit 1
ctr=$(ns_add ctr) || exit 1
hl=${P53_ID}hl up=${P53_ID}up lm=${P53_ID}lm ln=${P53_ID}ln br=${P53_ID}br
build_host() {
	ip -n "$host" link add "$hl" type veth peer name "${P53_ID}ol" netns "$outs" &&
	ip -n "$host" link set "$hl" up &&
	ip -n "$host" link add "$up" link "$hl" type macvlan mode bridge &&
	ip -n "$host" addr add 198.51.100.1/24 dev "$up" &&
	ip -n "$host" addr add 2001:db8:53::1/64 dev "$up" nodad &&
	ip -n "$host" link set "$up" up &&
	ip -n "$host" link add "$lm" link "$hl" type macvlan mode bridge &&
	ip -n "$host" link add "$ln" type bridge &&
	ip -n "$host" link set "$lm" master "$ln" &&
	ip -n "$host" link set "$lm" up &&
	ip -n "$host" addr add 203.0.113.1/24 dev "$ln" &&
	ip -n "$host" link set "$ln" up &&
	ip -n "$outs" addr add 198.51.100.2/24 dev "${P53_ID}ol" &&
	ip -n "$outs" addr add 203.0.113.2/24 dev "${P53_ID}ol" &&
	ip -n "$outs" addr add 2001:db8:53::2/64 dev "${P53_ID}ol" nodad &&
	ip -n "$outs" link set "${P53_ID}ol" up &&
	ip -n "$outs" route add 192.0.2.0/26 via 198.51.100.1 &&
	ip -n "$host" link add "$br" type bridge &&
	ip -n "$host" addr add 192.0.2.1/26 dev "$br" &&
	ip -n "$host" link set "$br" up &&
	ip -n "$host" link add "${P53_ID}hc" type veth peer name "${P53_ID}cc" netns "$ctr" &&
	ip -n "$host" link set "${P53_ID}hc" master "$br" up &&
	ip -n "$ctr" addr add 192.0.2.2/26 dev "${P53_ID}cc" &&
	ip -n "$ctr" link set "${P53_ID}cc" up &&
	ip -n "$ctr" route add default via 192.0.2.1 &&
	# Only the LAN bridge answers ARP for its address, not the uplink.
	ip netns exec "$host" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.arp_ignore=1 >/dev/null
}
check "the routing host's topology builds" build_host
start_dnsmasq "$outs" >/dev/null || exit 1
check "the container reaches the upstream resolver through the host" dig_query "$ctr" 198.51.100.2 host.test.p53
adir=$P53_TMP/routing

# seen CONF: queries_seen from the agent's status file.
seen() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["queries"]["seen"])' \
		"$(sed -n 's/^status_file = //p' "$1")"
}
# host_conf DIR [lines...]: agent_conf with internal_interfaces at its
# default (auto): this host's veths and bridges are host-internal.
host_conf() {
	local conf
	conf=$(agent_conf "$@") || return 1
	sed -i '/^internal_interfaces = /d' "$conf"
	echo "$conf"
}
seen_is() { test "$(seen "$1")" = "$2"; }
# queries_from LOG SRC: the sum of dns_queries' counts for SRC.
queries_from() {
	grep " event=dns_queries " "$1" | grep " src=$2 " | sed -n 's/.* queries=\([0-9]*\) .*/\1/p' |
		awk '{ n += $1 } END { print n + 0 }'
}
queries_from_is() { test "$(queries_from "$1" "$2")" = "$3"; }
# 1. Monitor mode (no table), a public dnsmasq on the host answering all.
hpid=$(start_dnsmasq "$host") || exit 1
conf=$(host_conf "$adir/monitor" '[agent]' 'mode = monitor')
pid=$(agent_start "$host" "$conf" "$adir/monitor.log") || exit 1
for i in 1 2 3; do dig_query "$ctr" 198.51.100.2 host.test.p53 >/dev/null; done       # routed out
for i in 1 2; do send_query "$outs" 192.0.2.2 "b'routed$i'"; done                       # routed in
for i in 1 2; do dig_query "$ctr" 192.0.2.1 host.test.p53 >/dev/null; done             # host resolver on the bridge
# Two summaries later, none of it was an inbound query.
sleep 4.5
assert_eq "routed and bridge queries: queries_seen stays 0" 0 "$(seen "$conf")"
assert_eq "... no dns_queries row for the container" 0 "$(queries_from "$adir/monitor.log" 192.0.2.2)"
assert_eq "... nor for the outside client of the routed query" 0 "$(queries_from "$adir/monitor.log" 198.51.100.2)"
check_fails "the forwarded upstream replies do not raise recursion_offered" \
	log_has "$adir/monitor.log" recursion_offered
# Now the real thing: an outside client answered recursively by the host.
for i in 1 2 3 4; do dig_query "$outs" 198.51.100.1 "q$i.test.p53" >/dev/null; done
check "an answer from the host's listener to an outside client raises recursion_offered" \
	wait_for 3 log_has "$adir/monitor.log" recursion_offered 'querier=198.51.100.2 .*server=198.51.100.1 '
check_fails "... and only for it: never towards the container" \
	log_has "$adir/monitor.log" recursion_offered 'querier=192.0.2.2 '
# The macvlan over a veth: each query passes both; the veth is internal.
check "macvlan over veth: 4 queries, dns_queries says 4" \
	wait_for 5 queries_from_is "$adir/monitor.log" 198.51.100.2 4
# The LAN bridge and its macvlan port are both on the wire: both see each
# query (and the veth below them too).
lpid=$(spawn "$host" "$P53_TMP/lan.out" "$P53_TMP/capture-live") || exit 1
wait_for 5 grep -q '^ready' "$P53_TMP/lan.out" || exit 1
for i in 1 2 3 4; do dig_query "$outs" 203.0.113.1 "v$i.test.p53" >/dev/null; done
live_stop "$lpid"
lan_ifindex() { ip -n "$host" -o link show "$1" | cut -d: -f1; }
check "the query passes the LAN bridge's port and the bridge" bash -c \
	"grep 'qr=0 qname=v1.test.p53' '$P53_TMP/lan.out' | grep -q 'ifindex=$(lan_ifindex "$lm") ' &&
	 grep 'qr=0 qname=v1.test.p53' '$P53_TMP/lan.out' | grep -q 'ifindex=$(lan_ifindex "$ln") '"
check "bridge over a macvlan port: 4 queries counted once, dns_queries says 4" \
	wait_for 5 queries_from_is "$adir/monitor.log" 203.0.113.2 4
check "queries_seen is the 8 inbound queries" wait_for 5 seen_is "$conf" 8
agent_stop "$pid"
kill "$hpid" 2>/dev/null
wait_for 5 bash -c "$(declare -f p53_alive); ! p53_alive $hpid"

# 2. Auto mode: container traffic never triggers enforcement, an outside
# query does. The host's dnsmasq serves the bridge only (not public).
start_dnsmasq "$host" --listen-address=127.0.0.1,192.0.2.1 --bind-interfaces >/dev/null || exit 1
conf=$(host_conf "$adir/auto" '[agent]' 'mode = auto')
pid=$(agent_start "$host" "$conf" "$adir/auto.log") || exit 1
check "auto: the bridge resolver answers the container" dig_query "$ctr" 192.0.2.1 host.test.p53
dig_query "$ctr" 192.0.2.1 host.test.p53 >/dev/null
dig_query "$ctr" 198.51.100.2 host.test.p53 >/dev/null
send_query "$outs" 192.0.2.2 "b'routed'"
sleep 2.5
check_fails "auto: container, bridge and routed queries do not trigger enforcement" \
	log_has "$adir/auto.log" enforcement_started
check_fails "auto: ... nor an inbound_query event" log_has "$adir/auto.log" inbound_query
assert_eq "auto: no table" 0 "$(table_count "$host")"
send_query "$outs" 198.51.100.1 "b'outside'"
check "auto: the outside query triggers enforcement" \
	wait_for 3 log_has "$adir/auto.log" enforcement_started 'trigger="query from 198.51.100.2"'
agent_stop "$pid"
ip netns exec "$host" "$PORT53GUARD" -c "$conf" remove >/dev/null 2>&1

# 3. Several capture interfaces, one missing: only it is degraded, and it is
# captured once it appears.
late=${P53_ID}lt
conf=$(host_conf "$adir/ifaces" '[agent]' 'mode = monitor' '[capture]' "interfaces = $late, $up")
pid=$(agent_start "$host" "$conf" "$adir/ifaces.log") || exit 1
check "one missing interface: capture_degraded names it" \
	log_has "$adir/ifaces.log" capture_degraded "interface=$late "
check "... the other is captured" log_has "$adir/ifaces.log" capture_started "interface=$up "
send_query "$outs" 198.51.100.1 "b'iface'"
check "... and counts the query" wait_for 5 seen_is "$conf" 1
ip -n "$host" link add "$late" type veth peer name "${late}p" && ip -n "$host" link set "${late}p" up &&
	ip -n "$host" link set "$late" up
check "the missing interface is captured once it appears" \
	wait_for 4 log_has "$adir/ifaces.log" capture_started "interface=$late "
# Deleted while captured: degraded alone, and back once it returns.
ip -n "$host" link del "$late"
check "an interface deleted under the capture degrades alone" \
	wait_for 4 bash -c "[ \$(grep ' event=capture_degraded ' '$adir/ifaces.log' | grep -c 'interface=$late ') = 2 ]"
send_query "$outs" 198.51.100.1 "b'iface2'"
check "... the other still counts" wait_for 5 seen_is "$conf" 2
ip -n "$host" link add "$late" type veth peer name "${late}p" && ip -n "$host" link set "${late}p" up &&
	ip -n "$host" link set "$late" up
check "... and it is captured again when it returns" \
	wait_for 4 bash -c "[ \$(grep ' event=capture_started ' '$adir/ifaces.log' | grep -c 'interface=$late ') = 2 ]"
agent_stop "$pid"

# Every configured interface missing: the capture is not running at all,
# and starts once one appears.
only=${P53_ID}l2
conf=$(host_conf "$adir/only" '[agent]' 'mode = monitor' '[capture]' "interfaces = $only")
pid=$(agent_start "$host" "$conf" "$adir/only.log") || exit 1
check "the only interface missing: capture_degraded names it" log_has "$adir/only.log" capture_degraded "interface=$only "
check "... the summary says the capture is degraded" wait_for 4 log_has "$adir/only.log" summary 'capture=degraded'
ip -n "$host" link add "$only" type veth peer name "${only}p" && ip -n "$host" link set "${only}p" up &&
	ip -n "$host" link set "$only" up
check "... and it is captured once it appears" wait_for 4 log_has "$adir/only.log" capture_started "interface=$only "
agent_stop "$pid"

# 4. A listener in a namespace with a macvlan of its own: the host's rule
# cannot reach it.
mvl=$(ns_add mvl) || exit 1
ip -n "$host" link add "${P53_ID}mv" link "$hl" type macvlan mode bridge &&
	ip -n "$host" link set "${P53_ID}mv" netns "$mvl" &&
	ip -n "$mvl" addr add 198.51.100.3/24 dev "${P53_ID}mv" &&
	ip -n "$mvl" link set "${P53_ID}mv" up
scan_out() { ip netns exec "$ctr" "$PORT53GUARD" scan 2>/dev/null; }
check_fails "before it listens, scan names nothing there" bash -c "$(declare -f scan_out); export ctr=$ctr PORT53GUARD=$PORT53GUARD; scan_out | grep -q 'namespace $mvl '"
start_dnsmasq "$mvl" >/dev/null || exit 1
check "the listener answers from outside (the host's rule never sees it)" dig_query "$outs" 198.51.100.3 host.test.p53
rc=0
text=$(scan_out) || rc=$?
assert_eq "scan exits 3 for a listener out of the host rule's reach" 3 "$rc"
check "scan names it and its link" grep -q "^unfiltered: udp 0.0.0.0:53 in namespace $mvl has a link of its own (${P53_ID}mv)" <<<"$text"
{
	printf '[agent]\nmode = monitor\nsummary_interval = 2s\n'
	printf '[output]\nstatus_file = %s/status.json\nmetrics_file = %s/metrics/port53guard.prom\n' "$adir/ns" "$adir/ns"
	printf '[listeners]\nrescan_interval = 1s\nnamespaces = yes\n'
} >"$adir/ns.conf"
mkdir -p "$adir/ns"
pid=$(agent_start "$host" "$adir/ns.conf" "$adir/ns.log") || exit 1
check "the agent warns listener_unfiltered with the listener's fields" \
	wait_for 5 log_has "$adir/ns.log" listener_unfiltered "proto=udp addr=0.0.0.0 port=53 .*via=${P53_ID}mv .*comm=dnsmasq .*netns=$mvl"
check "... at warning level" grep -q ' warning event=listener_unfiltered ' "$adir/ns.log"
agent_stop "$pid"

done_testing
