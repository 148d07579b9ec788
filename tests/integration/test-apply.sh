#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# "port53guard apply" against the real kernel, real servers and real clients,
# all inside network namespaces:
#
#   inet  198.51.100.18 --+                       +-- 198.51.100.50  res   (unbound: the
#   (the internet)        |                       |   server's own upstream)
#                         +-- srv: dnsmasq :53 ---+
#   ok    198.51.100.34 --+   dnsmasq :5353,      +-- 198.51.100.66  mgmt  (reaches srv
#   (allowlisted)             a TCP service :22        over an exempt interface)
#
# Each link also carries 2001:db8:53:IDX::1 (srv) and 2001:db8:53:IDX::2 (the other side).

here=$(dirname "$0")
. "$here/lib.sh"
p53_init
require_root
require_cmd ip dig dnsmasq unbound nft python3 capsh awk stdbuf mkfifo
PORT53GUARD=${PORT53GUARD:-$here/../../build/port53guard}
[ -x "$PORT53GUARD" ] || skip "no port53guard binary at $PORT53GUARD"

srv=$(ns_add srv) || exit 1
inet=$(ns_add inet) || exit 1
ok=$(ns_add ok) || exit 1
res=$(ns_add res) || exit 1
mgmt=$(ns_add mgmt) || exit 1
ns_link "$srv" "$inet" 1 || exit 1
ns_link "$srv" "$ok" 2 || exit 1
ns_link "$srv" "$res" 3 || exit 1
ns_link "$srv" "$mgmt" 4 || exit 1
mgmt_if=$(link_if 4 a)

start_dnsmasq "$srv" >/dev/null || exit 1
start_unbound "$res" 198.51.100.50 >/dev/null || exit 1
start_unbound "$res" 2001:db8:53:3::2 >/dev/null || exit 1
spawn "$srv" "$P53_TMP/dnsmasq5353.log" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv \
	--no-hosts --user=root --group=root --pid-file="$P53_TMP/dnsmasq5353.pid" --port=5353 \
	--host-record=host.test.p53,192.0.2.53,2001:db8:53::53 >/dev/null
spawn "$srv" "$P53_TMP/http22.log" python3 -m http.server 22 --bind :: >/dev/null
wait_for 5 dig_query "$srv" 127.0.0.1 host.test.p53 -p 5353 || { echo "# no dnsmasq on 5353" >&2; exit 1; }

tcp_connect() {          # NS ADDR PORT: a TCP handshake completes
	ip netns exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}
wait_for 10 tcp_connect "$srv" 127.0.0.1 22 || { echo "# no TCP service on 22" >&2; exit 1; }

p53g() {                 # NS ARGS...: the program under test inside NS
	local ns=$1
	shift
	ip netns exec "$ns" "$PORT53GUARD" "$@"
}

listing() {              # the table without counters
	ip netns exec "$srv" nft -s list table inet port53guard 2>&1
}

table_count() {
	ip netns exec "$srv" nft list tables | grep -c 'table inet port53guard$'
}

tables_are() {           # N: wait_for's condition
	[ "$(table_count)" = "$1" ]
}

# verify_counter CONF COMMENT-START: packets of that rule, read through our own code.
verify_counter() {
	p53g "$srv" -c "$1" apply --verify | awk -v c="# $2" 'index($0, c) { print $4; exit }'
}

# json_counter COMMENT-START: the same counter, read by nft.
json_counter() {
	ip netns exec "$srv" nft -j list table inet port53guard | python3 -c '
import json, sys
want = sys.argv[1]
for item in json.load(sys.stdin)["nftables"]:
    rule = item.get("rule")
    if rule and rule.get("comment", "").startswith(want):
        print(next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e))
        break
' "$1"
}

write_conf() {           # FILE PROTOCOLS EXEMPT [ALLOW...]
	local file=$1 protocols=$2 exempt=$3
	shift 3
	{
		echo "[rules]"
		echo "protocols = $protocols"
		echo "exempt_interfaces = $exempt"
		# The veths between these namespaces stand for NICs: none is
		# host-internal (the host topology further down tests auto).
		echo "internal_interfaces = none"
		for a in "$@"; do
			echo "allow = $a"
		done
	} >"$file"
}

conf=$P53_TMP/udp.conf
conf_tcp=$P53_TMP/tcp.conf
conf_other=$P53_TMP/other.conf
write_conf "$conf" udp "$mgmt_if" 198.51.100.32/28 2001:db8:53:2::/64
write_conf "$conf_tcp" "udp, tcp" "$(link_if 4 '*')" 198.51.100.34 2001:db8:53:2::2
write_conf "$conf_other" udp "$mgmt_if" 198.51.100.32/28 2001:db8:53:2::/64 192.0.2.0/24

REFUSE_UDP="UDP:53 from 0.0.0.0/0 and ::/0: refuse"
ALLOW4_UDP="UDP:53 from the IPv4 allowlist"

# A table of another tool: port53guard must never touch it.
ip netns exec "$srv" nft -f - <<'EOF' || exit 1
table inet bystander {
	chain input { type filter hook input priority 0; policy accept; counter comment "not ours"; }
}
EOF
bystander_before=$(ip netns exec "$srv" nft -s list table inet bystander)

# --- before: everybody is answered --------------------------------------------
for fam in 4 6; do
	a=$([ $fam = 4 ] && echo 198.51.100.17 || echo 2001:db8:53:1::1)
	b=$([ $fam = 4 ] && echo 198.51.100.33 || echo 2001:db8:53:2::1)
	check "before apply: internet client answered over UDP/IPv$fam" dig_query "$inet" "$a" host.test.p53
	check "before apply: allowlisted client answered over UDP/IPv$fam" dig_query "$ok" "$b" host.test.p53
done

# --- dry run: nft syntax, nothing touched -----------------------------------------
# Without CAP_NET_ADMIN: a dry run must not need (or use) netlink at all.
ip netns exec "$srv" capsh --drop=cap_net_admin -- -c \
	"exec '$PORT53GUARD' -c '$conf' apply --dry-run" >"$P53_TMP/dry.nft" 2>"$P53_TMP/dry.err"
assert_eq "dry run exits 0 without CAP_NET_ADMIN" 0 "$?"
check "dry run is accepted by nft -c -f" ip netns exec "$srv" nft -c -f "$P53_TMP/dry.nft"
check "dry run shows the refuse rule" grep -q "meta l4proto udp counter drop comment \"$REFUSE_UDP" "$P53_TMP/dry.nft"
check "dry run shows the dispatch to chain dns" grep -q "^	*udp dport 53 jump dns comment" "$P53_TMP/dry.nft"
check "dry run shows the set of internal interfaces" grep -q "^	*set internal {" "$P53_TMP/dry.nft"
assert_eq "dry run created no table" 0 "$(table_count)"

# --- apply: UDP refused for the world, nothing else changes ----------------------
out=$(p53g "$srv" -c "$conf" apply)
assert_eq "apply exits 0" 0 "$?"
check "apply says what it installed" grep -q "table inet port53guard installed: .* rules; UDP:53 refused" <<<"$out"
assert_eq "apply prints three lines" 3 "$(wc -l <<<"$out")"
check "apply says no interface is internal (internal_interfaces = none)" \
	grep -q "^internal interfaces .*: 0$" <<<"$out"
check "apply --verify: the table matches" p53g "$srv" -c "$conf" apply --verify

check "internet client: UDP/IPv4 query times out" dig_times_out "$inet" 198.51.100.17 host.test.p53
check "internet client: UDP/IPv6 query times out" dig_times_out "$inet" 2001:db8:53:1::1 host.test.p53
check "allowlisted client: answered over UDP/IPv4" dig_query "$ok" 198.51.100.33 host.test.p53
check "allowlisted client: answered over UDP/IPv6" dig_query "$ok" 2001:db8:53:2::1 host.test.p53
check "exempt interface: answered over UDP/IPv4" dig_query "$mgmt" 198.51.100.65 host.test.p53
check "exempt interface: answered over UDP/IPv6" dig_query "$mgmt" 2001:db8:53:4::1 host.test.p53
check "loopback: answered on 127.0.0.1" dig_query "$srv" 127.0.0.1 host.test.p53
check "loopback: answered on ::1" dig_query "$srv" ::1 host.test.p53
check "server's own queries to its resolver (IPv4) work" dig_query "$srv" 198.51.100.50 host.test.p53
check "server's own queries to its resolver (IPv6) work" dig_query "$srv" 2001:db8:53:3::2 host.test.p53
check "TCP/53 still answered when only UDP is refused" dig_query "$inet" 198.51.100.17 host.test.p53 +tcp
check "UDP service on port 5353 unaffected (IPv4)" dig_query "$inet" 198.51.100.17 host.test.p53 -p 5353
check "UDP service on port 5353 unaffected (IPv6)" dig_query "$inet" 2001:db8:53:1::1 host.test.p53 -p 5353
check "TCP service on port 22 unaffected (IPv4)" tcp_connect "$inet" 198.51.100.17 22
check "TCP service on port 22 unaffected (IPv6)" tcp_connect "$inet" 2001:db8:53:1::1 22

# --- applying twice: one table, the same table ------------------------------------
first=$(listing)
check "apply again exits 0" p53g "$srv" -c "$conf" apply
assert_eq "applying twice leaves one table" 1 "$(table_count)"
assert_eq "applying twice gives an identical listing" "$first" "$(listing)"
check "the listing carries the refuse comment" grep -q "comment \"$REFUSE_UDP" <<<"$first"

# --- counters: exactly the queries the internet client sent ------------------------
p53g "$srv" -c "$conf" apply --force >/dev/null # a fresh table: counters at 0
assert_eq "fresh table: drop counter 0" 0 "$(verify_counter "$conf" "$REFUSE_UDP")"
sent=0
for a in 198.51.100.17 2001:db8:53:1::1 198.51.100.17 2001:db8:53:1::1 198.51.100.17; do
	dig_times_out "$inet" "$a" "q$sent.test.p53" && sent=$((sent + 1))   # +tries=1: one packet each
done
assert_eq "internet client sent 5 unanswered queries" 5 "$sent"
for _ in 1 2 3; do
	dig_query "$ok" 198.51.100.33 host.test.p53
done
assert_eq "drop counter via apply --verify = queries sent" "$sent" "$(verify_counter "$conf" "$REFUSE_UDP")"
assert_eq "drop counter via nft -j = queries sent" "$sent" "$(json_counter "$REFUSE_UDP")"
assert_eq "IPv4 allowlist accept counter = allowlisted queries" 3 "$(verify_counter "$conf" "$ALLOW4_UDP")"

# --- drift is reported ----------------------------------------------------------------
ip netns exec "$srv" nft insert rule inet port53guard ingress udp dport 53 accept
p53g "$srv" -c "$conf" apply --verify >"$P53_TMP/verify.out"
assert_eq "apply --verify exits 3 on a changed table" 3 "$?"
check "apply --verify names the difference" grep -q "differs from the configuration: chain ingress rule 1" "$P53_TMP/verify.out"
check "apply repairs it" p53g "$srv" -c "$conf" apply
assert_eq "repaired table is the configured one" "$first" "$(listing)"

# --- TCP refused only when configured (exempt by wildcard this time) --------------
check "apply with protocols udp, tcp" p53g "$srv" -c "$conf_tcp" apply
check "TCP/53 from the internet client now fails (IPv4)" dig_times_out "$inet" 198.51.100.17 host.test.p53 +tcp
check "TCP/53 from the internet client now fails (IPv6)" dig_times_out "$inet" 2001:db8:53:1::1 host.test.p53 +tcp
check "TCP/53 from the allowlisted client answered" dig_query "$ok" 198.51.100.33 host.test.p53 +tcp
check "TCP/53 over the exempt (wildcard) interface answered" dig_query "$mgmt" 2001:db8:53:4::1 host.test.p53 +tcp
check "TCP service on port 22 still unaffected" tcp_connect "$inet" 198.51.100.17 22
check "UDP service on port 5353 still unaffected" dig_query "$inet" 198.51.100.17 host.test.p53 -p 5353

# --- a batch the kernel refuses leaves the previous table as it was ---------------
# The kernel allows 1024 hooks per hook point. A replacement briefly holds the
# old and the new chain, so with the hook nearly full, the kernel refuses the
# new chain in the middle of the transaction (after the table's deletion).
check "apply the configuration to keep" p53g "$srv" -c "$conf" apply
kept=$(listing)
filled=0
for n in 1023 1022 1021 1020 1019 1018 1017 1016; do
	{
		echo "table inet filler {"
		for i in $(seq "$n"); do
			echo "chain c$i { type filter hook prerouting priority 0; }"
		done
		echo "}"
	} >"$P53_TMP/filler.nft"
	ip netns exec "$srv" nft -f "$P53_TMP/filler.nft" 2>/dev/null && { filled=1; break; }
done
assert_eq "prerouting hook filled to the kernel's limit" 1 "$filled"
p53g "$srv" -c "$conf_other" apply >"$P53_TMP/fail.out" 2>"$P53_TMP/fail.err"
assert_eq "refused batch: apply exits 1" 1 "$?"
assert_eq "refused batch: one error line" 1 "$(wc -l <"$P53_TMP/fail.err")"
check "refused batch: the error names the chain and the kernel's reason" \
	grep -q "cannot install rules: chain ingress .*: Argument list too long" "$P53_TMP/fail.err"
assert_eq "refused batch: previous table untouched" "$kept" "$(listing)"
check "refused batch: previous table still verifies" p53g "$srv" -c "$conf" apply --verify
check "refused batch: internet client still refused" dig_times_out "$inet" 198.51.100.17 host.test.p53
check "refused batch: allowlisted client still answered" dig_query "$ok" 198.51.100.33 host.test.p53
ip netns exec "$srv" nft delete table inet filler
check "with room on the hook the same apply succeeds" p53g "$srv" -c "$conf_other" apply

# --- no CAP_NET_ADMIN: one clear line, exit 1, nothing changed ------------------------
before=$(listing)
ip netns exec "$srv" capsh --drop=cap_net_admin -- -c "exec '$PORT53GUARD' -c '$conf' apply" \
	>"$P53_TMP/nocap.out" 2>"$P53_TMP/nocap.err"
assert_eq "without CAP_NET_ADMIN: exit 1" 1 "$?"
assert_eq "without CAP_NET_ADMIN: one clear line" \
	"port53guard apply: cannot install rules: permission denied (needs CAP_NET_ADMIN; run as root)" \
	"$(cat "$P53_TMP/nocap.err")"
assert_eq "without CAP_NET_ADMIN: nothing on stdout" "" "$(cat "$P53_TMP/nocap.out")"
assert_eq "without CAP_NET_ADMIN: table unchanged" "$before" "$(listing)"

# --- a table another process owns is left alone ------------------------------------
# "flags owner" ties the table to one netlink socket: the kernel refuses
# everyone else. nft -i keeps its socket open while it reads the fifo.
check "remove before the ownership test" p53g "$srv" remove
mkfifo "$P53_TMP/hold.fifo"
ip netns exec "$srv" nft -i <"$P53_TMP/hold.fifo" >/dev/null 2>&1 &
register_pid $!
exec 7>"$P53_TMP/hold.fifo"
echo 'add table inet port53guard { flags owner; }' >&7
check "another process owns table inet port53guard" wait_for 5 tables_are 1
owned=$(listing)
p53g "$srv" -c "$conf" apply >/dev/null 2>"$P53_TMP/owned.err"
assert_eq "owned by another process: apply exits 1" 1 "$?"
check "owned by another process: the error says so" \
	grep -q "permission denied: table inet port53guard is owned by another process" "$P53_TMP/owned.err"
assert_eq "owned by another process: one error line" 1 "$(wc -l <"$P53_TMP/owned.err")"
p53g "$srv" remove >/dev/null 2>&1
assert_eq "owned by another process: remove exits 1" 1 "$?"
assert_eq "owned by another process: its table untouched" "$owned" "$(listing)"
exec 7>&-
check "the owner's table goes with its socket" wait_for 5 tables_are 0
check "then apply succeeds" p53g "$srv" -c "$conf" apply

# --- 10,000 CIDRs in one transaction ---------------------------------------------------
big=$P53_TMP/big.conf
python3 - "$big" "$mgmt_if" <<'EOF'
import ipaddress, random, sys
random.seed(53)
with open(sys.argv[1], "w") as f:
    f.write("[rules]\nprotocols = udp\nexempt_interfaces = %s\ninternal_interfaces = none\n" % sys.argv[2])
    f.write("allow = 198.51.100.32/28\nallow = 2001:db8:53:2::/64\n")
    for i in range(6998):
        net = ipaddress.ip_network((random.getrandbits(32) & ~0xff, 24 + random.randrange(9)), strict=False)
        f.write("allow = %s\n" % net)
    for i in range(3000):
        net = ipaddress.ip_network(((0x2001 << 112) | random.getrandbits(96) << 16, 112), strict=False)
        f.write("allow = %s\n" % net)
EOF
assert_eq "big configuration holds 10,000 prefixes" 10000 "$(grep -c '^allow' "$big")"
# nft monitor prints one "new generation" line per committed transaction
# (line buffered here, so lines show up as they happen). Marker transactions
# first prove that the monitor is listening.
ip netns exec "$srv" stdbuf -oL nft monitor >"$P53_TMP/monitor.out" 2>&1 &
monitor=$!
register_pid "$monitor"
marked() {
	ip netns exec "$srv" nft add table inet marker
	ip netns exec "$srv" nft delete table inet marker
	grep -q 'delete table inet marker' "$P53_TMP/monitor.out"
}
check "nft monitor is listening" wait_for 5 marked
seen=$(wc -l <"$P53_TMP/monitor.out")
check "10,000-prefix allowlist applies" p53g "$srv" -c "$big" apply
check "10,000-prefix allowlist verifies" p53g "$srv" -c "$big" apply --verify
wait_for 5 grep -q '^# new generation.*(port53guard)' "$P53_TMP/monitor.out"
kill "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null
assert_eq "10,000 prefixes: one transaction (one new generation)" 1 \
	"$(tail -n +$((seen + 1)) "$P53_TMP/monitor.out" | grep -c '^# new generation')"
n4=$(ip netns exec "$srv" nft -j list set inet port53guard allow4 |
	python3 -c 'import json,sys; print(sum(len(i["set"].get("elem", [])) for i in json.load(sys.stdin)["nftables"] if "set" in i))')
n6=$(ip netns exec "$srv" nft -j list set inet port53guard allow6 |
	python3 -c 'import json,sys; print(sum(len(i["set"].get("elem", [])) for i in json.load(sys.stdin)["nftables"] if "set" in i))')
want=$(p53g "$srv" -c "$big" apply --verify | sed -n 's/.*(\([0-9]*\) rules, \([0-9]*\) IPv4 and \([0-9]*\) IPv6.*/\2 \3/p')
assert_eq "nft lists the merged ranges the program reports" "$want" "$n4 $n6"
check "10,000 prefixes: allowlisted client answered" dig_query "$ok" 2001:db8:53:2::1 host.test.p53
check "10,000 prefixes: internet client refused" dig_times_out "$inet" 198.51.100.17 host.test.p53

# --- the edges of the address space, and nft -f loading the dry run ------------
# Interval sets need care at both ends: a range from address 0 has no gap
# below it, one that ends at the top has no end key. Our table and the one
# nft -f makes from the dry run must be identical, and verify accepts both.
same_as_nft() {          # CONF
	local ours
	p53g "$srv" -c "$1" apply >/dev/null || return 1
	ours=$(listing)
	p53g "$srv" -c "$1" apply --dry-run >"$P53_TMP/same.nft" || return 1
	ip netns exec "$srv" nft -f "$P53_TMP/same.nft" || return 1
	[ "$ours" = "$(listing)" ] || { diff <(echo "$ours") <(listing) >&2; return 1; }
	p53g "$srv" -c "$1" apply --verify >/dev/null
}
edges=$P53_TMP/edges.conf
everyone=$P53_TMP/everyone.conf
write_conf "$edges" "udp, tcp" "$mgmt_if" 0.0.0.0/8 255.255.255.0/24 198.51.100.32/28 ::/127 \
	ffff::/16 2001:db8:53:2::/64 192.0.2.1 192.0.2.2
write_conf "$everyone" udp "" 0.0.0.0/0 ::/0
check "edges: our table equals nft -f of the dry run" same_as_nft "$edges"
check "edges: nft lists the top range as a prefix" grep -q "255.255.255.0/24" <<<"$(listing)"
# An allowlist of everyone would refuse no one: the configuration is refused.
p53g "$srv" -c "$everyone" apply >/dev/null 2>"$P53_TMP/everyone.err"
assert_eq "allowlist 0.0.0.0/0 and ::/0: apply refuses the configuration" 1 "$?"
check "allowlist 0.0.0.0/0: the error suggests mode = monitor" grep -q 'all of IPv4.*mode = monitor' "$P53_TMP/everyone.err"
check "10,000 prefixes: our table equals nft -f of the dry run" same_as_nft "$big"

# --- remove restores answers -------------------------------------------------------------
check "remove exits 0" p53g "$srv" remove
assert_eq "remove leaves no table" 0 "$(table_count)"
check "after remove: internet client answered over UDP/IPv4" dig_query "$inet" 198.51.100.17 host.test.p53
check "after remove: internet client answered over UDP/IPv6" dig_query "$inet" 2001:db8:53:1::1 host.test.p53
check "remove again (already gone) exits 0" p53g "$srv" remove
p53g "$srv" -c "$conf" apply --verify >/dev/null
assert_eq "apply --verify exits 3 when the table is missing" 3 "$?"
assert_eq "another tool's table was never touched" "$bystander_before" \
	"$(ip netns exec "$srv" nft -s list table inet bystander)"

# ==== A host that routes for its containers (internal_interfaces = auto) ====
#
#   out (the internet)                 host (forwarding on)                ctr (a container)
#   198.51.100.2, .3  ---- veth ---- hu0 + macvlan up0 198.51.100.1
#   2001:db8:100::2                          2001:db8:100::1
#   unbound :53 (upstream)                br-ctr 203.0.113.1 ---- veth ---- 203.0.113.2
#                                          2001:db8:113::1                  2001:db8:113::2
#   lan (a LAN host)                                                        dnsmasq :53
#   192.0.2.2 ---- veth ---- hl0 + macvlan lm0, a port of br-lan 192.0.2.1
#
# A veth is host-internal by kind, so the host's uplink and its LAN port
# stand for NICs as macvlans over veths: kind macvlan is outside, and a
# bridge with a macvlan port (br-lan) is a LAN bridge, outside too.
host=$(ns_add host) || exit 1
out=$(ns_add out) || exit 1
ctr=$(ns_add ctr) || exit 1
lan=$(ns_add lan) || exit 1
# arp_ignore=1: only the macvlan answers ARP for its address; otherwise the
# veth under it answers too, and IPv4 would arrive on the (internal) veth.
ip netns exec "$host" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
	net.ipv4.conf.all.arp_ignore=1 >/dev/null || exit 1
# uplink
ip -n "$host" link add hu0 type veth peer name ou0 netns "$out" || exit 1
ip -n "$host" link add link hu0 name up0 type macvlan mode bridge || exit 1
ip -n "$host" addr add 198.51.100.1/24 dev up0 || exit 1
ip -n "$host" addr add 2001:db8:100::1/64 dev up0 nodad || exit 1
ip -n "$out" addr add 198.51.100.2/24 dev ou0 || exit 1
ip -n "$out" addr add 198.51.100.3/24 dev ou0 || exit 1
ip -n "$out" addr add 2001:db8:100::2/64 dev ou0 nodad || exit 1
# container bridge
ip -n "$host" link add br-ctr type bridge || exit 1
ip -n "$host" link add vc0 type veth peer name eth0 netns "$ctr" || exit 1
ip -n "$host" link set vc0 master br-ctr || exit 1
ip -n "$host" addr add 203.0.113.1/24 dev br-ctr || exit 1
ip -n "$host" addr add 2001:db8:113::1/64 dev br-ctr nodad || exit 1
ip -n "$ctr" addr add 203.0.113.2/24 dev eth0 || exit 1
ip -n "$ctr" addr add 2001:db8:113::2/64 dev eth0 nodad || exit 1
# LAN bridge with a "NIC" port
ip -n "$host" link add br-lan type bridge || exit 1
ip -n "$host" link add hl0 type veth peer name eth0 netns "$lan" || exit 1
ip -n "$host" link add link hl0 name lm0 type macvlan mode bridge || exit 1
ip -n "$host" link set lm0 master br-lan || exit 1
ip -n "$host" addr add 192.0.2.1/24 dev br-lan || exit 1
ip -n "$lan" addr add 192.0.2.2/24 dev eth0 || exit 1
for l in hu0 up0 br-ctr vc0 br-lan hl0 lm0; do ip -n "$host" link set "$l" up || exit 1; done
ip -n "$out" link set ou0 up || exit 1
ip -n "$ctr" link set eth0 up || exit 1
ip -n "$lan" link set eth0 up || exit 1
ip -n "$out" route add 203.0.113.0/24 via 198.51.100.1 || exit 1
ip -n "$out" -6 route add 2001:db8:113::/64 via 2001:db8:100::1 || exit 1
ip -n "$ctr" route add default via 203.0.113.1 || exit 1
ip -n "$ctr" -6 route add default via 2001:db8:113::1 || exit 1
start_dnsmasq "$host" >/dev/null || exit 1
start_dnsmasq "$ctr" >/dev/null || exit 1
start_unbound "$out" 198.51.100.2 >/dev/null || exit 1

hconf=$P53_TMP/host.conf
printf '[rules]\nallow = 198.51.100.3/32\n' >"$hconf"      # internal_interfaces: the default, auto

# Every path answers before the table goes in, so a refusal below is ours.
check "host: before apply, outside -> host answered (IPv4)" wait_for 5 dig_query "$out" 198.51.100.1 host.test.p53
check "host: before apply, outside -> host answered (IPv6)" wait_for 5 dig_query "$out" 2001:db8:100::1 host.test.p53
check "host: before apply, LAN -> host through br-lan answered" wait_for 5 dig_query "$lan" 192.0.2.1 host.test.p53
check "host: before apply, container -> upstream (routed) answered" wait_for 5 dig_query "$ctr" 198.51.100.2 host.test.p53

p53g "$host" -c "$hconf" apply --dry-run >"$P53_TMP/host.nft"
check "host: the dry run lists the virtual interfaces in set internal" \
	bash -c "sed -n '/set internal/,/}/p' '$P53_TMP/host.nft' | tr -d '\t\n' | grep -qF '{\"br-ctr\",\"hl0\",\"hu0\",\"vc0\"}'"
check "host: the dry run loads with nft -c -f" ip netns exec "$host" nft -c -f "$P53_TMP/host.nft"
p53g "$host" -c "$hconf" check-config >"$P53_TMP/host.check"
check "check-config: br-ctr internal, a bridge with only virtual ports" \
	grep -qE '^# interface br-ctr +kind=bridge +internal +bridge with only virtual ports' "$P53_TMP/host.check"
check "check-config: br-lan outside, its macvlan port named" \
	grep -qE '^# interface br-lan +kind=bridge +outside +bridge with port lm0 \(macvlan\)' "$P53_TMP/host.check"
check "check-config: up0 outside (macvlan)" grep -qE '^# interface up0 +kind=macvlan +outside' "$P53_TMP/host.check"
check "check-config: lo is local" grep -qE '^# interface lo +kind=loopback +local' "$P53_TMP/host.check"
check "host: apply" p53g "$host" -c "$hconf" apply
check "host: apply --verify" p53g "$host" -c "$hconf" apply --verify

check "host: outside -> host refused (IPv4)" dig_times_out "$out" 198.51.100.1 host.test.p53
check "host: outside -> host refused (IPv6)" dig_times_out "$out" 2001:db8:100::1 host.test.p53
check "host: outside -> host through the LAN bridge (macvlan port) refused" dig_times_out "$lan" 192.0.2.1 host.test.p53
check "host: allowlisted outside source -> host answered" dig_query "$out" 198.51.100.1 host.test.p53 -b 198.51.100.3
check "host: container -> upstream resolver outside (routed through the host) answered" \
	dig_query "$ctr" 198.51.100.2 host.test.p53
check "host: container -> resolver on the host's bridge address answered (IPv4)" dig_query "$ctr" 203.0.113.1 host.test.p53
check "host: container -> resolver on the host's bridge address answered (IPv6)" dig_query "$ctr" 2001:db8:113::1 host.test.p53
check "host: outside -> container, routed (not addressed to the host), answered (IPv4)" \
	dig_query "$out" 203.0.113.2 host.test.p53
check "host: outside -> container, routed, answered (IPv6)" dig_query "$out" 2001:db8:113::2 host.test.p53

# Only the routing decides now: with no internal interface, the container's
# routed queries still pass, its queries to the host are refused.
hnone=$P53_TMP/host-none.conf
printf '[rules]\nallow = 198.51.100.3/32\ninternal_interfaces = none\n' >"$hnone"
check "host, internal none: apply" p53g "$host" -c "$hnone" apply
check "host, internal none: container -> upstream (routed) still answered" dig_query "$ctr" 198.51.100.2 host.test.p53
check "host, internal none: container -> host refused" dig_times_out "$ctr" 203.0.113.1 host.test.p53
hlist=$P53_TMP/host-list.conf
printf '[rules]\ninternal_interfaces = br-*\n' >"$hlist"
check "host, internal br-*: apply" p53g "$host" -c "$hlist" apply
assert_eq "host, internal br-*: the set holds the names that match" '"br-ctr","br-lan"' \
	"$(ip netns exec "$host" nft -j list set inet port53guard internal |
		python3 -c 'import json,sys; print(",".join(sorted(json.dumps(e) for i in json.load(sys.stdin)["nftables"] if "set" in i for e in i["set"].get("elem", []))))')"
check "host, internal br-*: LAN -> host through br-lan answered (listed by the operator)" \
	dig_query "$lan" 192.0.2.1 host.test.p53

# A port published to a container by DNAT on the host's address is still
# the host's: the raw-priority hook sees the destination before DNAT.
check "host: apply again (auto)" p53g "$host" -c "$hconf" apply
ip netns exec "$host" nft -f - <<'NFT' || exit 1
table ip p53nat {
	chain pre { type nat hook prerouting priority dstnat; policy accept; iifname "up0" udp dport 53 dnat to 203.0.113.2; }
}
NFT
check "host: outside -> port 53 published to the container by DNAT refused" \
	dig_times_out "$out" 198.51.100.1 host.test.p53
check "host: the refuse counted it" \
	bash -c "ip netns exec '$host' nft list chain inet port53guard dns | grep -q 'meta l4proto udp counter packets [1-9]'"
check "host: remove" p53g "$host" remove
check "host: without the table the DNAT path answers (the case is sound)" dig_query "$out" 198.51.100.1 host.test.p53
ip netns exec "$host" nft delete table ip p53nat

# The agent keeps set internal current: a new bridge is in the set within a
# second of appearing, and leaves it when it goes.
. "$here/agent.sh"
# table_owner = no: the drift case below edits the set as another process.
aconf=$(agent_conf "$P53_TMP/agent" '[rules]' 'internal_interfaces = auto' 'allow = 198.51.100.3/32' \
	'table_owner = no')
apid=$(agent_start "$host" "$aconf" "$P53_TMP/agent.log") || exit 1
in_set() { ip netns exec "$host" nft list set inet port53guard internal | grep -q "\"$1\""; }
check "agent: br-ctr in the set at start" wait_for 5 in_set br-ctr
check "agent: rules_applied counts the internal interfaces" log_has "$P53_TMP/agent.log" rules_applied 'internal_interfaces=4'
ip -n "$host" link add br-new type bridge
t0=${EPOCHREALTIME/./}
check "agent: a new bridge is in the set within 1 s" wait_for 1 in_set br-new
echo "# br-new in set internal after $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"
check "agent: internal_interfaces_changed logged with the name" \
	wait_for 2 log_has "$P53_TMP/agent.log" internal_interfaces_changed 'added=br-new removed="" '
counter_before=$(drop_counter "$host")
dig_times_out "$out" 198.51.100.1 host.test.p53
check "agent: the set update kept the counters (no table replace)" \
	test "$(drop_counter "$host")" -gt "${counter_before:-0}"
ip -n "$host" link del br-new
not_in_set() { ! in_set "$1"; }
check "agent: a removed bridge leaves the set within 1 s" wait_for 1 not_in_set br-new
check "agent: outside -> host still refused" dig_times_out "$out" 198.51.100.1 host.test.p53
check "agent: container -> host's bridge address answered" dig_query "$ctr" 203.0.113.1 host.test.p53
# Someone else's edit of the set is drift: taken out again.
check "agent: another process adds up0 to the set" \
	ip netns exec "$host" nft add element inet port53guard internal '{ "up0" }'
check "agent: a foreign element is taken out again" wait_for 7 not_in_set up0
check "agent: the drift is logged" log_has "$P53_TMP/agent.log" rules_drift
check "agent: outside -> host refused after the repair" dig_times_out "$out" 198.51.100.1 host.test.p53
agent_stop "$apid"

# --- an unchanged table is left alone: counters kept; --force replaces it ---------
check "no-op: start from a fresh table" p53g "$srv" -c "$conf" apply --force
handle() { ip netns exec "$srv" nft -a list tables | sed -n 's/^table inet port53guard.*# handle //p'; }
h0=$(handle)
refused=0
for a in 198.51.100.17 2001:db8:53:1::1 198.51.100.17; do
	dig_times_out "$inet" "$a" "noop$refused.test.p53" && refused=$((refused + 1))
done
assert_eq "no-op: 3 queries refused and counted" 3 "$(verify_counter "$conf" "$REFUSE_UDP")"
out=$(p53g "$srv" -c "$conf" apply)
assert_eq "no-op: apply of the same configuration exits 0" 0 "$?"
check "no-op: apply says the table is unchanged" \
	grep -q "^table inet port53guard unchanged: it already matches the configuration" <<<"$out"
assert_eq "no-op: the counters are kept" 3 "$(verify_counter "$conf" "$REFUSE_UDP")"
assert_eq "no-op: the same table (same handle)" "$h0" "$(handle)"
out=$(p53g "$srv" -c "$conf" apply --force)
check "--force: the table is installed anew" grep -q "^table inet port53guard installed:" <<<"$out"
assert_eq "--force: the counters start again at 0" 0 "$(verify_counter "$conf" "$REFUSE_UDP")"
check_fails "--force with --verify is refused" p53g "$srv" -c "$conf" apply --force --verify
# Every part of the table counts: an element of set internal this apply
# would not install, a changed allowlist, an extra rule.
ip netns exec "$srv" nft add element inet port53guard internal '{ "lo" }'
check "no-op: an extra element of set internal is replaced" \
	bash -c "ip netns exec '$srv' '$PORT53GUARD' -c '$conf' apply | grep -q '^table inet port53guard installed:'"
check "no-op: set internal is empty again" \
	bash -c "! ip netns exec '$srv' nft list set inet port53guard internal | grep -q '\"lo\"'"
# Elements of an allowlist set, read back range by range: one more range
# below, right after (a key the kernel then holds twice) or above the
# configured ones, or up to the last address, is a change.
for extra in 10.0.0.0/16 198.51.100.48/28 203.0.113.0/24 255.255.255.0/24; do
	p53g "$srv" -c "$conf" apply >/dev/null
	ip netns exec "$srv" nft add element inet port53guard allow4 "{ $extra }"
	check "no-op: an extra allow4 element $extra is replaced" \
		bash -c "ip netns exec '$srv' '$PORT53GUARD' -c '$conf' apply | grep -q '^table inet port53guard installed:'"
done
check "no-op: another process adds an allow6 element" \
	ip netns exec "$srv" nft add element inet port53guard allow6 '{ 2001:db8:ffff::/48 }'
check "no-op: an extra allow6 element is replaced" \
	bash -c "ip netns exec '$srv' '$PORT53GUARD' -c '$conf' apply | grep -q '^table inet port53guard installed:'"
ip netns exec "$srv" nft delete element inet port53guard allow6 '{ 2001:db8:53:2::/64 }'
check "no-op: a missing allow6 element is put back" \
	bash -c "ip netns exec '$srv' '$PORT53GUARD' -c '$conf' apply | grep -q '^table inet port53guard installed:'"
check "no-op: and then the table is unchanged" \
	bash -c "ip netns exec '$srv' '$PORT53GUARD' -c '$conf' apply | grep -q '^table inet port53guard unchanged:'"
check "no-op: a changed allowlist is installed" \
	bash -c "ip netns exec '$srv' '$PORT53GUARD' -c '$conf_other' apply | grep -q '^table inet port53guard installed:'"
ip netns exec "$srv" nft add rule inet port53guard dns counter
check "no-op: an extra rule is replaced" \
	bash -c "ip netns exec '$srv' '$PORT53GUARD' -c '$conf_other' apply | grep -q '^table inet port53guard installed:'"
check "no-op: the repaired table verifies" p53g "$srv" -c "$conf_other" apply --verify

# --- verification while another process changes the ruleset all the time ----------
# 50,000 ranges, and a loop that adds and deletes an unrelated table: only
# this table's own objects are read, so the churn elsewhere does not matter.
huge=$P53_TMP/huge.conf
write_conf "$huge" udp "$mgmt_if" 198.51.100.32/28
python3 - "$huge" <<'PY'
import sys
with open(sys.argv[1], "a") as f:
    for i in range(50000 - 1):  # every other /64: no two ranges merge
        f.write("allow = 2001:db8:%x:%x::/64\n" % (i // 16384, (i % 16384) * 2))
PY
check "churn: 50,000 ranges apply" p53g "$srv" -c "$huge" apply
ip netns exec "$srv" bash -c "n=0; while :; do nft add table ip p53churn && nft delete table ip p53churn; n=\$((n + 1)); echo \$n >'$P53_TMP/churn.n'; done" \
	>/dev/null 2>&1 &
churn=$!
register_pid "$churn"
wait_for 5 test -s "$P53_TMP/churn.n"
n0=$(cat "$P53_TMP/churn.n")
passed=0
for i in 1 2 3; do
	p53g "$srv" -c "$huge" apply --verify >"$P53_TMP/churn$i.out" 2>&1 && passed=$((passed + 1))
	grep -h "matches\|differs\|cannot" "$P53_TMP/churn$i.out" | sed 's/^/# /'
done
n1=$(cat "$P53_TMP/churn.n")
out=$(p53g "$srv" -c "$huge" apply)
check "churn: apply of the same 50,000 ranges leaves the table alone" \
	grep -q "^table inet port53guard unchanged:" <<<"$out"
kill "$churn" 2>/dev/null
wait "$churn" 2>/dev/null
ip netns exec "$srv" nft delete table ip p53churn 2>/dev/null
echo "# $((n1 - n0)) add/delete rounds of another table during the three verifications"
check "churn: the other table kept changing meanwhile" test "$((n1 - n0))" -ge 3
assert_eq "churn: apply --verify passes 3 of 3 with 50,000 ranges" 3 "$passed"
check "churn: the table holds 50,000 ranges" \
	grep -q " 1 IPv4 and 49999 IPv6 allowlist ranges)" "$P53_TMP/churn1.out"

done_testing
