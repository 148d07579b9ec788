#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The rule refuses what the cloud rule refuses, on a realistic host
# (lib.sh topo_host): an uplink and a LAN bridge towards the outside, a
# docker-like bridge with NAT and a published port, a libvirt-like bridge
# with a routed VM, a macvlan namespace, forwarding on. With the agent
# enforcing, checked with dig:
#
#   outside -> host address, v4 and v6           refused
#   outside -> published container port          refused
#   outside -> host through the LAN bridge       refused
#   container/VM -> upstream resolver (routed)   answered
#   container/VM -> host resolver on its bridge  answered
#   container -> another container               answered
#   allowlisted outside source -> host           answered
#
# Then scan and the agent name the macvlan listener the host rule cannot
# reach, and in auto mode only a query from outside addressed to the host
# triggers enforcement, and the capture counts each such query once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd dig dnsmasq nft python3 jq ss
PG=${PORT53GUARD:?PORT53GUARD must name the binary}

if ! topo_host; then
	echo "# the host topology could not be built" >&2
	exit 1
fi
h=$TOPO_HOST o=$TOPO_OUT c1=$TOPO_C1 c2=$TOPO_C2 vm=$TOPO_VM
dir=$P53_TMP/host
mkdir -p "$dir"

# host_conf NAME NAMESPACES [ini lines...]: the agent's config for one run.
host_conf() {
	local d=$dir/$1 walk=$2 l
	shift 2
	mkdir -p "$d"
	{
		printf '[agent]\nsummary_interval = 1s\n'
		printf '[output]\nstatus_file = %s/status.json\nmetrics_file = %s/metrics/port53guard.prom\n' "$d" "$d"
		printf '[listeners]\nrescan_interval = 1s\nnamespaces = %s\n' "$walk"
		printf '[rules]\nallow = %s/32, %s/128\n' "$TOPO_ALLOWED_V4" "$TOPO_ALLOWED_V6"
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$d/port53guard.conf"
	echo "$d/port53guard.conf"
}

# The rows. Each is "DESCRIPTION|NS|SERVER|WHO|dig options"; WHO "-" means
# refused (no reply at all).
refused_rows=(
	"outside -> host uplink address (IPv4)|$o|$TOPO_HOST_V4|host|-b $TOPO_CLIENT_V4"
	"outside -> host uplink address (IPv6)|$o|$TOPO_HOST_V6|host|-b $TOPO_CLIENT_V6"
	"outside -> port 53 published by DNAT to a container (IPv4)|$o|$TOPO_PUBLISHED_V4|container1|-b $TOPO_CLIENT_V4"
	"outside -> port 53 published by DNAT to a container (IPv6)|$o|$TOPO_PUBLISHED_V6|container1|-b $TOPO_CLIENT_V6"
	"outside -> host through the LAN bridge (IPv4)|$o|$TOPO_LAN_V4|host|"
	"outside -> host through the LAN bridge (IPv6)|$o|$TOPO_LAN_V6|host|"
)
internal_rows=(
	"container -> upstream resolver outside (routed, NAT, IPv4)|$c1|$TOPO_UPSTREAM_V4|upstream|"
	"container -> upstream resolver outside (routed, NAT, IPv6)|$c1|$TOPO_UPSTREAM_V6|upstream|"
	"other container -> upstream resolver outside (routed, NAT)|$c2|$TOPO_UPSTREAM_V4|upstream|"
	"VM -> upstream resolver outside (routed, IPv4)|$vm|$TOPO_UPSTREAM_V4|upstream|"
	"VM -> upstream resolver outside (routed, IPv6)|$vm|$TOPO_UPSTREAM_V6|upstream|"
	"container -> host resolver on docker0 (IPv4)|$c2|$TOPO_DOCKER_V4|hostbridge|"
	"container -> host resolver on docker0 (IPv6)|$c2|$TOPO_DOCKER_V6|hostbridge|"
	"VM -> host resolver on virbr0 (IPv4)|$vm|$TOPO_VIRBR_V4|hostbridge|"
	"VM -> host resolver on virbr0 (IPv6)|$vm|$TOPO_VIRBR_V6|hostbridge|"
	"container -> another container on the bridge (IPv4)|$c2|$TOPO_C1_V4|container1|"
	"container -> another container on the bridge (IPv6)|$c2|$TOPO_C1_V6|container1|"
)
allowed_rows=(
	"allowlisted outside source -> host (IPv4)|$o|$TOPO_HOST_V4|host|-b $TOPO_ALLOWED_V4"
	"allowlisted outside source -> host (IPv6)|$o|$TOPO_HOST_V6|host|-b $TOPO_ALLOWED_V6"
)

# row_answered PREFIX ROW / row_refused PREFIX ROW: one test point. An
# answer may take a second try on a loaded machine; a refusal is one try
# that gets no reply at all.
row_answered() {
	local desc ns server who opts
	IFS='|' read -r desc ns server who opts <<<"$2"
	# shellcheck disable=SC2086
	check "$1: $desc: answered by $who" wait_for 2 dig_answered "$ns" "$server" "$who" $opts
}
row_refused() {
	local desc ns server who opts
	IFS='|' read -r desc ns server who opts <<<"$2"
	# shellcheck disable=SC2086
	check "$1: $desc: refused" dig_refused "$ns" "$server" $opts
}

others() { ip netns exec "$h" nft list table ip dockerlike; }
dockerlike_before=$(others)

# ---- without the agent every path works (so a refusal below is the rule's) ----
for r in "${refused_rows[@]}" "${internal_rows[@]}" "${allowed_rows[@]}"; do
	row_answered "no agent" "$r"
done
check "no agent: outside -> listener in the macvlan namespace: answered" \
	dig_answered "$o" "$TOPO_MVL_V4" macvlan -b "$TOPO_CLIENT_V4"
check "no agent: outside -> host, IPv6 with a destination options header: answered" \
	udp_query_answered "$o" "$TOPO_HOST_V6" "$TOPO_CLIENT_V6" dstopts
# The uplink stands for a NIC only if the outside reaches the host's
# addresses at the macvlan's MAC, never at the veth's under it.
up0_mac=$(ip -n "$h" -o link show up0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
for a in "$TOPO_HOST_V4" "$TOPO_PUBLISHED_V4" "$TOPO_HOST_V6" "$TOPO_PUBLISHED_V6"; do
	assert_eq "topology: the outside reaches $a at up0's MAC" "$up0_mac" \
		"$(ip -n "$o" neigh show to "$a" dev wan | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2)"
done

# ---- enforce ---------------------------------------------------------------------
conf=$(host_conf enforce yes)
# The classification the kernel decides by: the container and VM bridges
# and their ports are internal; the uplink and the LAN bridge (and its NIC
# port) are not. (The veths under the macvlans carry no address.)
internal_set() {
	ip netns exec "$h" "$PG" -c "$conf" apply --dry-run 2>&1 |
		sed -n '/set internal {/,/}/p' | grep -o '"[^"]*"' | tr -d '"' | sort | tr '\n' ' '
}
set_now=$(internal_set)
for i in docker0 vethc1 vethc2 virbr0 vnet0; do
	check "apply --dry-run: $i is in the internal set" grep -qw "$i" <<<"$set_now"
done
for i in up0 brlan lanp; do
	check "apply --dry-run: $i is not in the internal set" bash -c "! grep -qw '$i' <<<'$set_now'"
done
log=$dir/enforce.log
pid=$(agent_start "$h" "$conf" "$log") || exit 1
assert_eq "enforce: the table is there" 1 "$(table_count "$h")"
for r in "${refused_rows[@]}"; do
	row_refused "enforce" "$r"
done
check "enforce: outside -> host, IPv6 with a destination options header: refused" \
	udp_query_refused "$o" "$TOPO_HOST_V6" "$TOPO_CLIENT_V6" dstopts
for r in "${internal_rows[@]}" "${allowed_rows[@]}"; do
	row_answered "enforce" "$r"
done
# The host rule cannot reach a namespace with a link of its own: the query
# is answered, which is why the agent must say so.
check "enforce: outside -> macvlan namespace is out of the host rule's reach (answered)" \
	dig_answered "$o" "$TOPO_MVL_V4" macvlan -b "$TOPO_CLIENT_V4"
check "enforce: listener_unfiltered names the listener in the macvlan namespace" \
	wait_for 5 log_has "$log" listener_unfiltered "netns=$TOPO_MVL "
check "enforce: but not container1's, behind its veth on docker0" \
	bash -c "$(declare -f log_has); ! log_has '$log' listener_unfiltered 'netns=$TOPO_C1 '"
check "enforce: nor the outside namespace's (veths, and addresses on lo, which is no link)" \
	bash -c "$(declare -f log_has); ! log_has '$log' listener_unfiltered 'netns=$TOPO_OUT '"
# Only the host's own answers to the allowlisted outside client are
# recursion this host offers; forwarded replies, answers to containers and
# the VM, and the macvlan namespace's answers are not.
check "enforce: no recursion_offered but for the allowlisted outside client" \
	bash -c "! grep ' event=recursion_offered ' '$log' | grep -Ev ' querier=($TOPO_ALLOWED_V4|$TOPO_ALLOWED_V6) '"
assert_eq "enforce: the docker-like table is untouched" "$dockerlike_before" "$(others)"
agent_stop "$pid"
check "remove lifts the table" ip netns exec "$h" "$PG" -c "$conf" remove
row_answered "after remove" "${refused_rows[0]}"

# ---- scan: the macvlan listener ------------------------------------------------------
# The host's own public resolver goes, and no other namespace of the
# topology has a link of its own: only the macvlan namespace can make scan
# exit 3.
kill "$TOPO_PID_HOST"
wait_for 5 bash -c "! ip netns exec $h ss -Hlnu 'sport = :53' | grep -q '$TOPO_HOST_V4:53'"
ip netns exec "$h" "$PG" -c "$conf" scan --json >"$dir/scan.json" 2>"$dir/scan.err"
assert_eq "scan: no public listener of the host's own is left" 0 "$(jq -r .public "$dir/scan.json")"
rc=0
ip netns exec "$h" "$PG" -c "$conf" scan >"$dir/scan.txt" 2>>"$dir/scan.err" || rc=$?
assert_eq "scan: the listener out of the host rule's reach makes it exit 3" 3 "$rc"
check "scan: it names the listener in the macvlan namespace" \
	grep -Eq "^unfiltered: udp .* in namespace $TOPO_MVL " "$dir/scan.txt"
check "scan: not container1's, behind its veth on docker0" \
	bash -c "! grep -Eq '^unfiltered: .* in namespace $TOPO_C1 ' '$dir/scan.txt'"
check "scan: nor the outside namespace's (veths, and addresses on lo, which is no link)" \
	bash -c "! grep -Eq '^unfiltered: .* in namespace $TOPO_OUT ' '$dir/scan.txt'"

# ---- auto: only a query from outside to the host triggers -------------------------
conf=$(host_conf auto no '[agent]' 'mode = auto')
log=$dir/auto.log
pid=$(agent_start "$h" "$conf" "$log") || exit 1
summaries() { grep -c ' event=summary ' "$log"; }
summaries_ge() { [ "$(summaries)" -ge "$1" ]; }
# summary_seen: the queries count of the latest summary line.
summary_seen() { grep ' event=summary ' "$log" | tail -n1 | sed -n 's/.* queries=\([0-9]*\).*/\1/p'; }
summary_seen_is() { [ "$(summary_seen)" = "$1" ]; }
status_seen_is() { [ "$(jq -r .queries.seen "$dir/auto/status.json" 2>/dev/null)" = "$1" ]; }
tables_are() { [ "$(table_count "$h")" = "$1" ]; }
# settle: two more summaries, so that the agent has read what was sent.
settle() {
	local n
	n=$(summaries)
	wait_for 5 summaries_ge $((n + 2))
}
assert_eq "auto: no table at start" 0 "$(table_count "$h")"
for r in "${internal_rows[@]}"; do
	row_answered "auto" "$r"
done
check "auto: outside -> macvlan namespace (not addressed to the host): answered" \
	dig_answered "$o" "$TOPO_MVL_V4" macvlan -b "$TOPO_CLIENT_V4"
check "auto: outside -> macvlan namespace (IPv6): answered" \
	dig_answered "$o" "$TOPO_MVL_V6" macvlan -b "$TOPO_CLIENT_V6"
settle
check "auto: container, VM and macvlan traffic did not trigger (no enforcement_started)" \
	bash -c "! grep -q ' event=enforcement_started' '$log'"
check "auto: nor inbound_query" bash -c "! grep -q ' event=inbound_query' '$log'"
check "auto: nor recursion_offered" bash -c "! grep -q ' event=recursion_offered' '$log'"
assert_eq "auto: still no table" 0 "$(table_count "$h")"
assert_eq "auto: none of it is an inbound query (summary queries=0)" 0 "$(summary_seen)"

send_udp_query "$o" "$TOPO_HOST_V4" "$TOPO_CLIENT_V4"
check "auto: one query from outside to the host triggers enforcement" \
	wait_for 5 log_has "$log" enforcement_started "trigger=\"query from $TOPO_CLIENT_V4\""
check "auto: the table is there" wait_for 3 tables_are 1

# One packet per query, each seen on stacked devices (macvlan over veth,
# macvlan port of a bridge): each counts once. Traffic that is not an
# inbound query goes in between and must not count.
send_udp_query "$o" "$TOPO_HOST_V6" "$TOPO_CLIENT_V6"
send_udp_query "$o" "$TOPO_PUBLISHED_V4" "$TOPO_CLIENT_V4"
send_udp_query "$o" "$TOPO_PUBLISHED_V6" "$TOPO_CLIENT_V6"
send_udp_query "$o" "$TOPO_LAN_V4"
send_udp_query "$o" "$TOPO_LAN_V6"
send_udp_query "$o" "$TOPO_MVL_V4" "$TOPO_CLIENT_V4"
send_udp_query "$c1" "$TOPO_UPSTREAM_V4"
send_udp_query "$vm" "$TOPO_UPSTREAM_V6"
send_udp_query "$vm" "$TOPO_VIRBR_V4"
send_udp_query "$c2" "$TOPO_C1_V4"
send_udp_query "$c2" "$TOPO_C1_V6"
send_udp_query "$c1" "$TOPO_UPSTREAM_V6"
send_udp_query "$o" "$TOPO_HOST_V4" "$TOPO_CLIENT_V4"
sent=7
wait_for 5 summary_seen_is "$sent"
settle
assert_eq "auto: the summary counts the $sent queries sent from outside to the host" "$sent" "$(summary_seen)"
check "auto: so does the status file" wait_for 7 status_seen_is "$sent"

# A destination options header between IPv6 and UDP: the rule refuses it
# (above), and the live capture must see it as well.
send_udp_query "$o" "$TOPO_HOST_V6" "$TOPO_CLIENT_V6" dstopts
sent=$((sent + 1))
check "auto: an IPv6 query with a destination options header is seen by the capture" \
	wait_for 5 summary_seen_is "$sent"
agent_stop "$pid"
ip netns exec "$h" "$PG" -c "$conf" remove >&2

done_testing
