#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Regenerates the capture fixtures in this directory from real traffic.
# The committed .pcap files are what the tests read; run this only to
# change them (as root: it creates network namespaces):
#
#   tests/data/make-fixtures.sh [OUTDIR]      # default: this directory
#
# How they are made: two namespaces joined by a veth pair (lib.sh's ns_link:
# server 198.51.100.17 / 2001:db8:53:1::1, client 198.51.100.18 /
# 2001:db8:53:1::2; the committed captures were recorded when those links
# were 10.53.1.0/24 and fd53:1::/64, and test-capture's summary checks name
# those addresses: regenerating means updating them); dnsmasq
# (lib.sh's start_dnsmasq: zone test.p53) answers in the server namespace;
# dig and kdig ask from the client namespace; tcpdump captures inside the
# server namespace, unfiltered except for port 53:
#
#   dns-eth.pcap     Ethernet (DLT_EN10MB) on the server's veth: dig and kdig,
#                    IPv4 and IPv6, UDP and TCP (handshakes included), with
#                    and without EDNS, A, AAAA, TXT, ANY, an NXDOMAIN, a CHAOS
#                    class query, a 4-label name and a label holding a dot.
#   dns-sll2.pcap    tcpdump -i any -y LINUX_SLL2 (DLT_LINUX_SLL2, 276): what the
#                    agent captures; both directions, so SLL2 packet types vary.
#   dns-sll.pcap     tcpdump -i any (DLT_LINUX_SLL, 113).
#   dns-escape.pcap  one query (and its NXDOMAIN answer) whose name holds a
#                    newline (0x0a) and ESC [ 3 1 m (0x1b...): a terminal
#                    escape in a label. dig sends it from "\010" and "\027".
#   dns-eth.pcapng   dns-eth.pcap rewritten as pcapng by editcap.
#   dns-truncated.pcap  dns-eth.pcap cut 10 bytes into its last record, as a
#                    capture ends when the disk fills or the writer dies.
#
# The expected values are not stored: tests/integration/test-capture.sh
# compares port53guard replay with tshark on these same files.
#
# The fuzzer's seeds, tests/fuzz/corpus/dns/*, are cut from these captures:
# one file per packet, its first byte naming the link type for fuzz-dns.c
# (0 Ethernet, 1 SLL, 2 SLL2). "make-fixtures.sh --corpus-only" redoes just
# that, from the committed captures, without root.

here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/../fuzz/corpus/dns

# make_corpus: every packet of the classic pcap fixtures as a seed file.
make_corpus() {
	mkdir -p "$corpus" || return 1
	rm -f "$corpus"/pkt-*
	python3 - "$corpus" "$here"/dns-eth.pcap "$here"/dns-sll.pcap "$here"/dns-sll2.pcap \
		"$here"/dns-escape.pcap <<-'PY'
	import os, struct, sys
	selector = {1: 0, 113: 1, 276: 2}       # fuzz-dns.c's links[] index
	out = sys.argv[1]
	for path in sys.argv[2:]:
	    data = open(path, "rb").read()
	    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
	    link = struct.unpack(endian + "I", data[20:24])[0]
	    off, n = 24, 0
	    while off + 16 <= len(data):
	        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
	        pkt = data[off + 16:off + 16 + caplen]
	        off += 16 + caplen
	        name = "pkt-%s-%03d" % (os.path.basename(path).split(".")[0], n)
	        with open(os.path.join(out, name), "wb") as f:
	            f.write(bytes([selector[link]]) + pkt)
	        n += 1
	PY
	echo "# $(ls "$corpus" | wc -l) seeds in $corpus" >&2
}

if [ "${1:-}" = --corpus-only ]; then
	make_corpus
	exit
fi
out=$(cd "${1:-$here}" && pwd) || exit 1
. "$here/../integration/lib.sh"
p53_init
require_root
require_cmd ip dig kdig dnsmasq tcpdump editcap

srv=$(ns_add srv) || exit 1
cli=$(ns_add cli) || exit 1
ns_link "$srv" "$cli" 1 || exit 1
start_dnsmasq "$srv" >/dev/null || exit 1
srv_if=$(link_if 1 a)

# capture_start FILE TCPDUMP-ARGS...: tcpdump in the server namespace,
# packet-buffered (-U) and in immediate mode (a packet in a ring block that
# has not timed out yet would be lost when tcpdump stops); echoes the pid.
capture_start() {
	local file=$1 log pid
	shift
	log="$P53_TMP/tcpdump.$(p53_next)"
	pid=$(spawn "$srv" "$log" tcpdump -n -U --immediate-mode -s 0 -w "$file" "$@" port 53) || return 1
	if ! wait_for 5 grep -q "listening on" "$log"; then
		sed 's/^/# /' "$log" >&2
		return 1
	fi
	echo "$pid"
}

gone() { ! p53_alive "$1"; }

# capture_stop PID: lets the kernel hand over the last packets, then stops
# tcpdump (not our child: spawn ran in a command substitution).
capture_stop() {
	sleep 0.5
	kill -INT "$1" 2>/dev/null
	wait_for 5 gone "$1"
}

q_dig() { ip netns exec "$cli" dig +time=2 +tries=1 "$@" >/dev/null; }
q_kdig() { ip netns exec "$cli" kdig +time=2 +retry=0 "$@" >/dev/null; }

# The conversation in dns-eth.pcap, one exchange per line.
eth_queries() {
	local s4=198.51.100.17 s6=2001:db8:53:1::1
	q_dig "@$s4" host.test.p53 A                    # EDNS with a cookie
	q_dig "@$s4" host.test.p53 AAAA +noedns
	q_dig "@$s4" host.test.p53 TXT +tcp
	q_dig "@$s4" host.test.p53 ANY +noedns
	q_dig "@$s4" nope.test.p53 A                    # NXDOMAIN
	q_dig "@$s4" version.bind TXT CH                # class CHAOS
	q_dig "@$s4" a.b.host.test.p53 A +norecurse
	q_dig "@$s4" 'dot\.in.test.p53' A               # a label holding "."
	q_dig "@$s6" host.test.p53 AAAA
	q_dig "@$s6" host.test.p53 TXT +tcp +noedns
	q_kdig "@$s4" host.test.p53 A
	q_kdig "@$s4" host.test.p53 AAAA +edns
	q_kdig "@$s4" host.test.p53 ANY +tcp
	q_kdig "@$s6" host.test.p53 A +tcp +edns
	q_kdig "@$s6" host.test.p53 TXT
}

n_packets() { tcpdump -r "$out/$1" 2>/dev/null | wc -l; }

make_capture() {
	local file=$1 queries=$2 pid
	shift 2
	pid=$(capture_start "$out/$file" "$@") || exit 1
	"$queries"
	capture_stop "$pid"
	echo "# $file: $(n_packets "$file") packets" >&2
}

any_queries() {
	q_dig @198.51.100.17 host.test.p53 A
	q_dig @2001:db8:53:1::1 host.test.p53 AAAA +tcp
	q_kdig @198.51.100.17 host.test.p53 TXT +edns
}

escape_query() {
	q_dig @198.51.100.17 'esc\010line\027[31mred.test.p53' A
}

make_capture dns-eth.pcap eth_queries -i "$srv_if"
make_capture dns-sll2.pcap any_queries -i any -y LINUX_SLL2
make_capture dns-sll.pcap any_queries -i any -y LINUX_SLL
make_capture dns-escape.pcap escape_query -i "$srv_if"
editcap -F pcapng "$out/dns-eth.pcap" "$out/dns-eth.pcapng" || exit 1
size=$(stat -c %s "$out/dns-eth.pcap")
head -c "$((size - 10))" "$out/dns-eth.pcap" >"$out/dns-truncated.pcap" || exit 1

# Every exchange above must be in the files: dig or kdig failing, or a
# capture stopping early, would leave a fixture that silently tests less.
[ "$out" = "$here" ] && make_corpus
check "dns-eth.pcap: 15 exchanges and 4 TCP handshakes" test "$(n_packets dns-eth.pcap)" -ge 60
check "dns-sll2.pcap: both directions" test "$(n_packets dns-sll2.pcap)" -ge 12
check "dns-sll.pcap: both directions" test "$(n_packets dns-sll.pcap)" -ge 12
check "dns-escape.pcap: query and answer" test "$(n_packets dns-escape.pcap)" -eq 2
done_testing
