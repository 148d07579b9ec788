#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Drift: other processes change or delete the table. With table_owner=no
# the agent must log rules_drift naming the culprit and restore the table
# within a second; with ownership (the default where the kernel keeps owned
# tables, Linux 6.9+) the kernel refuses the change in the first place.
# Lost events (ENOBUFS) must lead to a full resync.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd dig dnsmasq nft python3

srv=$(ns_add srv)
cli=$(ns_add cli)
ns_link "$srv" "$cli" 1
start_dnsmasq "$srv" >/dev/null
dir=$P53_TMP/drift

restored_within_1s() {
	wait_for 1 bash -c "ip netns exec $srv nft list table inet port53guard 2>/dev/null | grep -q 'counter packets .* drop'"
}

# ---- table_owner=no: detect and repair ----------------------------------
conf=$(agent_conf "$dir/repair" '[rules]' 'table_owner = no')
pid=$(agent_start "$srv" "$conf" "$dir/repair.log")
check "table installed without owner flag" bash -c "! ip netns exec $srv nft list table inet port53guard | grep -q 'flags owner'"

ip netns exec "$srv" nft flush ruleset
check "nft flush ruleset: restored within 1 s" restored_within_1s
check "rules_drift names nft and its pid" wait_for 2 log_has "$dir/repair.log" rules_drift 'pid=[1-9][0-9]* comm=nft change="table deleted'
check "rules_restored logged" wait_for 2 log_has "$dir/repair.log" rules_restored
check "refusing again after the flush" dig_times_out "$cli" 198.51.100.17 host.test.p53

ip netns exec "$srv" nft delete table inet port53guard
check "nft delete table: restored within 1 s" restored_within_1s
assert_eq "two drifts logged" 2 "$(log_count "$dir/repair.log" rules_drift)"

# A hand edit: an accept rule slipped in before the refuse.
ip netns exec "$srv" nft insert rule inet port53guard ingress udp dport 53 accept
check "hand edit: rules_drift (rules changed)" wait_for 2 log_has "$dir/repair.log" rules_drift 'change="rules changed"'
check "hand edit: the extra rule is gone" wait_for 1 bash -c "! ip netns exec $srv nft list chain inet port53guard ingress | grep -q 'udp dport 53 accept$'"
check "hand edit: refusing" dig_times_out "$cli" 198.51.100.17 host.test.p53
assert_eq "one table" 1 "$(table_count "$srv")"

# Another table is none of our business.
ip netns exec "$srv" nft add table inet other
ip netns exec "$srv" nft add chain inet other c
sleep 0.3
assert_eq "changes to another table are not drift" 3 "$(log_count "$dir/repair.log" rules_drift)"
ip netns exec "$srv" nft delete table inet other

# ---- lost events: overflow the event socket while the agent is stopped ----
# Each element of a big set is one notification; 8 MiB of them overflow
# the socket while the agent cannot read, and the table is deleted meanwhile.
kill -STOP "$pid"
{
	echo 'add table ip flood'
	echo 'add set ip flood s { type ipv4_addr; }'
	for i in $(seq 0 39); do
		printf 'add element ip flood s { '
		for j in $(seq 0 4999); do printf '10.%d.%d.%d, ' "$i" $((j / 256)) $((j % 256)); done
		echo '}'
	done
} >"$dir/flood.nft"
ip netns exec "$srv" nft -f "$dir/flood.nft"
ip netns exec "$srv" nft delete table ip flood
ip netns exec "$srv" nft delete table inet port53guard
kill -CONT "$pid"
check "ENOBUFS: events_lost logged" wait_for 5 log_has "$dir/repair.log" events_lost
check "ENOBUFS: the full resync restores the table" wait_for 6 bash -c "ip netns exec $srv nft list table inet port53guard >/dev/null 2>&1"
check "ENOBUFS: refusing again" dig_times_out "$cli" 198.51.100.17 host.test.p53
agent_stop "$pid"
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null

# ---- ownership: the kernel refuses other processes ----------------------
conf=$(agent_conf "$dir/owner")
pid=$(agent_start "$srv" "$conf" "$dir/owner.log")
if log_has "$dir/owner.log" table_flags 'used=owner,persist'; then
	check_fails "owned table: nft delete table is refused" ip netns exec "$srv" nft delete table inet port53guard
	ip netns exec "$srv" nft flush ruleset
	assert_eq "owned table: nft flush ruleset leaves it" 1 "$(table_count "$srv")"
	check "owned table: still refusing" dig_times_out "$cli" 198.51.100.17 host.test.p53
	agent_stop "$pid" KILL
	assert_eq "owned and persistent: the table outlives a SIGKILL" 1 "$(table_count "$srv")"
	check "after the owner died, remove works" ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove
else
	check "kernel without owned persistent tables: logged" log_has "$dir/owner.log" table_flags 'used=none'
	agent_stop "$pid"
fi

# ---- 50,000 ranges: our own commits do not overflow the event socket ------
# Applying such a table sends some 100,000 element notifications; they are
# the agent's own and are dropped before they queue, so neither the start
# nor a reload (which replaces the table) may lose events and resync.
big=$dir/big
conf=$(agent_conf "$big" '[rules]' 'table_owner = no')
mkdir -p "$big/conf.d"
python3 - "$big/conf.d/50-allow.conf" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("[rules]\n")
    for i in range(50000):      # every other /64: no two ranges merge
        f.write("allow = 2001:db8:%x:%x::/64\n" % (i // 16384, (i % 16384) * 2))
PY
pid=$(agent_start "$srv" "$conf" "$big/agent.log")
check "50,000 ranges: the table is installed" wait_for 10 log_has "$big/agent.log" rules_applied
check "50,000 ranges: the allowlist is in the kernel" \
	bash -c "ip netns exec $srv '$PORT53GUARD' -c '$conf' apply --verify | grep -q ' 0 IPv4 and 50000 IPv6 allowlist ranges'"
sleep 1                         # the events of the commit have been read
check_fails "50,000 ranges: no events_lost after the start" log_has "$big/agent.log" events_lost
kill -HUP "$pid"
check "50,000 ranges: reloaded" wait_for 10 log_has "$big/agent.log" config_reloaded
check "50,000 ranges: the reload re-applied the table" \
	wait_for 10 bash -c "[ \$(grep -c ' event=rules_applied' '$big/agent.log') -ge 2 ]"
sleep 1
check_fails "50,000 ranges: no events_lost after the reload" log_has "$big/agent.log" events_lost
check_fails "50,000 ranges: no rules_drift from our own commits" log_has "$big/agent.log" rules_drift
check "50,000 ranges: still refusing" dig_times_out "$cli" 198.51.100.17 host.test.p53

# The periodic verification reads only this table's objects: another
# process adding and deleting a table all the time neither fails it nor
# freezes the drop counters that status reports.
ip netns exec "$srv" bash -c "while :; do nft add table ip p53churn; nft delete table ip p53churn; done" \
	>/dev/null 2>&1 &
churn=$!
register_pid "$churn"
dig_times_out "$cli" 198.51.100.17 churn1.test.p53
dig_times_out "$cli" 198.51.100.17 churn2.test.p53
# Through apply --verify: nft would list all 50,000 elements, slowly.
kernel_drops=$(ip netns exec "$srv" "$PORT53GUARD" -c "$conf" apply --verify |
	awk '/# UDP:53 from 0.0.0.0\/0 and ::\/0: refuse/ { print $4; exit }')
status_drops() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["drops"]["udp"]["packets"])' \
		"$big/status.json" 2>/dev/null
}
status_current() { [ "$(status_drops)" = "$kernel_drops" ]; }
check "churn: status reports the kernel's drop counter ($kernel_drops) within 12 s" wait_for 12 status_current
sleep 6                         # one more verification under churn
kill "$churn" 2>/dev/null
wait "$churn" 2>/dev/null
ip netns exec "$srv" nft delete table ip p53churn 2>/dev/null
check_fails "churn: no rules_verify_failed" log_has "$big/agent.log" rules_verify_failed
check_fails "churn: no rules_drift" log_has "$big/agent.log" rules_drift
agent_stop "$pid"
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null

done_testing
