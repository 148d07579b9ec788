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
ip netns exec "$cli" dig +time=2 +tries=1 @10.53.1.1 live1.test.p53 A >/dev/null
ip netns exec "$cli" dig +time=2 +tries=1 @fd53:1::1 live2.test.p53 AAAA +tcp >/dev/null
sleep 0.3
kill -INT "$pid"
wait_for 5 gone "$pid"
live=$("$bin" replay --format jsonl "$P53_TMP/live.pcap")
check "tcpdump -i any capture: the IPv4 query from the client" \
	grep -q '"src":"10.53.1.2",.*"qr":false,.*"qname":"live1.test.p53","qtype":1,' <<<"$live"
check "tcpdump -i any capture: the IPv6 TCP query from the client" \
	grep -q '"src":"fd53:1::2",.*"proto":"tcp",.*"qr":false,.*"qname":"live2.test.p53","qtype":28,' <<<"$live"
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
	printf("dns link=%d if=%s ifindex=%d src=%s dst=%s qr=%d qname=%s\n", pkt->linktype, pkt->ifname,
	       p.ifindex, s, d, p.hdr.qr, dns_name_text(&p.qname));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *ifs[1] = { argc > 1 ? argv[1] : NULL };
	struct capture_options o = { .interfaces = ifs, .n_interfaces = argc > 1, .responses = true };
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
	ep = epoll_create1(0);
	for (size_t i = 0; i < capture_n_handles(c); i++) {
		ev.data.u64 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, capture_fd(c, i), &ev);
		printf("ready %s filter=%s\n", capture_ifname(c, i), capture_filter(c, i));
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

# a. "any": SLL2 with interface indexes; queries in, answers out; not lo.
pid=$(live_run any) || exit 1
out="$P53_TMP/any.out"
check "any: handle uses DLT_LINUX_SLL2 and a directional filter" \
	grep -qx 'ready any filter=not ifindex 1 and ((inbound and dst port 53) or (outbound and src port 53))' "$out"
start=${EPOCHREALTIME/./}
ip netns exec "$cli" dig +time=2 +tries=1 @10.53.1.1 prompt.test.p53 A >/dev/null
check "any: a query arrives within a second (block timeout, not a full block)" \
	wait_for 1 grep -q 'src=10.53.1.2 dst=10.53.1.1 qr=0 qname=prompt.test.p53' "$out"
echo "# first query seen after $(((${EPOCHREALTIME/./} - start) / 1000)) ms" >&2
ip netns exec "$cli" dig +time=2 +tries=1 @fd53:1::1 six.test.p53 AAAA +tcp >/dev/null
ip netns exec "$cli" dig +time=2 +tries=1 'nl\010esc\027.test.p53' A @10.53.1.1 >/dev/null
# Local traffic that must not be seen: lo, and the host's own queries out.
ip netns exec "$srv" dig +time=1 +tries=1 @127.0.0.1 local.test.p53 >/dev/null
ip netns exec "$srv" dig +time=1 +tries=1 @10.53.1.2 outgoing.test.p53 >/dev/null
check "any: the IPv6 TCP query" wait_for 2 grep -q 'src=fd53:1::2 dst=fd53:1::1 qr=0 qname=six.test.p53' "$out"
check "any: the answer, outbound" grep -q 'link=276 .*src=10.53.1.1 dst=10.53.1.2 qr=1 qname=prompt.test.p53' "$out"
check "any: the escaped name" wait_for 2 grep -qF 'qname=nl\010esc\027.test.p53' "$out"
srv_ifindex=$(ip -n "$srv" -o link show "$srv_if" | cut -d: -f1)
check "any: SLL2 names the veth's ifindex ($srv_ifindex)" grep -q "ifindex=$srv_ifindex src=10.53.1.2" "$out"
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
check "interface: Ethernet handle, directional filter" \
	grep -qx "ready $srv_if filter=((inbound and dst port 53) or (outbound and src port 53))" "$out"
ip netns exec "$cli" dig +time=2 +tries=1 @10.53.1.1 eth.test.p53 TXT >/dev/null
ip netns exec "$srv" dig +time=1 +tries=1 @10.53.1.2 outgoing.test.p53 >/dev/null
check "interface: the query" wait_for 2 grep -q "link=1 if=$srv_if ifindex=0 src=10.53.1.2 dst=10.53.1.1 qr=0 qname=eth.test.p53" "$out"
check "interface: the answer" wait_for 2 grep -q 'src=10.53.1.1 dst=10.53.1.2 qr=1 qname=eth.test.p53' "$out"
live_stop "$pid"
check_fails "interface: the host's own outgoing queries are not captured" grep -q 'outgoing.test.p53' "$out"

# c. errors the agent logs as capture_degraded.
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

done_testing
