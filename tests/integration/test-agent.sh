#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The agent end to end: the real daemon in a server namespace with a real
# dnsmasq, an "internet" client and an allowlisted client, real dig.
# Modes, reload, SIGKILL and restart, status, metrics through a real
# node_exporter, listener events, and the traffic events with hostile names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd dig dnsmasq nft python3 curl jq prometheus-node-exporter

srv=$(ns_add srv)
cli=$(ns_add cli)
alw=$(ns_add alw)
oth=$(ns_add oth)
ns_link "$srv" "$cli" 1
ns_link "$srv" "$alw" 2
ns_link "$srv" "$oth" 3
dir=$P53_TMP/agent
mkdir -p "$dir"

# ---- enforce (the default mode) ------------------------------------------
dpid=$(start_dnsmasq "$srv")
check "before the agent, the internet client is answered" dig_query "$cli" 198.51.100.17 host.test.p53
conf=$(agent_conf "$dir/enforce" '[rules]' 'allow = 198.51.100.32/28')
pid=$(agent_start "$srv" "$conf" "$dir/enforce.log")
check "enforce: the table is there" test "$(table_count "$srv")" = 1
check "enforce: internet client times out (IPv4)" dig_times_out "$cli" 198.51.100.17 host.test.p53
check "enforce: internet client times out (IPv6)" dig_times_out "$cli" 2001:db8:53:1::1 host.test.p53
check "enforce: allowlisted client is answered" dig_query "$alw" 198.51.100.33 host.test.p53
check "enforce: loopback inside the server is answered" dig_query "$srv" 127.0.0.1 host.test.p53
check "enforce: rules_applied logged" log_has "$dir/enforce.log" rules_applied 'reason=start'
# dnsmasq also answers TCP:53 on the wildcard while protocols = udp.
assert_eq "enforce: status exits 3 (a public TCP:53 listener, protocols = udp)" 3 "$(status_code "$srv" "$conf")"
assert_eq "enforce: the finding is tcp53_public" tcp53_public \
	"$(ip netns exec "$srv" "$PORT53GUARD" -c "$conf" status --json | jq -r '[.verdict.findings[].code] | join(" ")')"
check "enforce: status says enforcing" bash -c "ip netns exec $srv $PORT53GUARD -c $conf status | grep -q '^enforcement: *enforcing'"
check "enforce: status --json is JSON with the mode" bash -c \
	"ip netns exec $srv $PORT53GUARD -c $conf status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"mode\"]==\"enforce\" and d[\"enforcement\"][\"enforcing\"]'"

# The dnsmasq started before the agent is a public listener.
check "listener_found for dnsmasq (public, comm and pid)" log_has "$dir/enforce.log" listener_found \
	"proto=udp addr=0.0.0.0 port=53 exposure=public .*comm=dnsmasq"

# ---- traffic events: source, qname, and a hostile name logged escaped ----
send_query "$cli" 198.51.100.17 "b'plain'"
check "dns_queries names the internet client and the name" wait_for 6 log_has "$dir/enforce.log" dns_queries 'src=198.51.100.18 .*qname=plain.test.p53'
# One summary row per source shows one name: send the hostile one alone.
send_query "$cli" 198.51.100.17 "b'evil\\n\\x1b[2Jname'"
check "the hostile qname is logged escaped" wait_for 6 log_has "$dir/enforce.log" dns_queries 'evil\\\\010\\\\027\[2Jname.test.p53'
check "no raw ESC byte reaches the log" bash -c "! grep -q $'\\x1b' '$dir/enforce.log'"
check "every log line is one event" bash -c "! grep -v ' event=' '$dir/enforce.log'"

# ---- metrics through a real node_exporter's textfile collector ----------
ip netns exec "$srv" prometheus-node-exporter --web.listen-address=127.0.0.1:9153 \
	--collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$dir/enforce/metrics" >"$dir/node_exporter.log" 2>&1 &
register_pid $!
metrics() { ip netns exec "$srv" curl -fsS http://127.0.0.1:9153/metrics; }
check "node_exporter serves port53guard_rules_enforced 1" wait_for 10 bash -c \
	"$(declare -f metrics); export srv=$srv; metrics | grep -qx 'port53guard_rules_enforced 1'"
check "node_exporter serves the drop counter" wait_for 12 bash -c \
	"$(declare -f metrics); export srv=$srv; metrics | grep -q '^port53guard_dropped_packets_total{proto=\"udp\"} [1-9]'"
check "node_exporter reports no textfile error" bash -c \
	"$(declare -f metrics); export srv=$srv; metrics | grep -qx 'node_textfile_scrape_error 0'"

# ---- reload --------------------------------------------------------------
printf '[rules]\nallow = 198.51.100.32/28, not-a-cidr\n' >"$dir/enforce/port53guard.conf.new"
cp "$dir/enforce/port53guard.conf" "$dir/enforce/port53guard.conf.good"
cat "$dir/enforce/port53guard.conf.good" "$dir/enforce/port53guard.conf.new" >"$conf"
kill -HUP "$pid"
check "SIGHUP with a broken config logs config_invalid with file and line" \
	wait_for 5 log_has "$dir/enforce.log" config_invalid "file=$conf line=[0-9]* section=rules key=allow"
check "the old rules stay: internet client still refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
check "the old rules stay: allowlisted client still answered" dig_query "$alw" 198.51.100.33 host.test.p53

# A stream of queries from the third client during a good reload: none may
# be answered (no gap), while the newly allowlisted client gets through.
ip netns exec "$oth" python3 - 198.51.100.49 >"$dir/stream.out" 2>&1 <<'PY' &
import socket, struct, sys, time
s = socket.socket(); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.02)
q = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x04host\x04test\x03p53\x00" + struct.pack(">HH", 1, 1)
sent = answered = 0
end = time.time() + 3
while time.time() < end:
    s.sendto(q, (sys.argv[1], 53)); sent += 1
    try:
        s.recv(512); answered += 1
    except socket.timeout:
        pass
print(sent, answered)
PY
stream=$!
sleep 1
sed -i 's|^allow = 198.51.100.32/28$|allow = 198.51.100.32/28, 198.51.100.16/28|' "$dir/enforce/port53guard.conf.good"
cp "$dir/enforce/port53guard.conf.good" "$conf"
kill -HUP "$pid"
wait "$stream"
check "reload adding 198.51.100.16/28 lets that client through" wait_for 5 dig_query "$cli" 198.51.100.17 host.test.p53
check "reload logged config_reloaded" log_has "$dir/enforce.log" config_reloaded
read -r sent answered <"$dir/stream.out"
check "the stream during the reload was sent ($sent queries)" test "${sent:-0}" -gt 50
assert_eq "no query of the non-allowlisted client was answered during the reload" 0 "${answered:-x}"
assert_eq "still one table after reload" 1 "$(table_count "$srv")"

# ---- an unchanged table is kept: counters survive a reload and a restart ---
sed -i 's|^allow = .*|allow = 198.51.100.32/28|' "$conf"
kill -HUP "$pid"
wait_for 5 dig_times_out "$cli" 198.51.100.17 host.test.p53
dig_times_out "$cli" 2001:db8:53:1::1 host.test.p53
kept_events() { grep -c " event=rules_applied .*reason=$2 .*table_change=$3 " "$1"; }
n0=$(drop_counter "$srv")
check "drops were counted before the unchanged reload ($n0)" test "${n0:-0}" -gt 0
kill -HUP "$pid"
check "unchanged reload: rules_applied says the table was kept" \
	wait_for 5 bash -c "$(declare -f kept_events); [ \$(kept_events '$dir/enforce.log' reload kept) -ge 1 ]"
assert_eq "unchanged reload: the drop counter is kept" "$n0" "$(drop_counter "$srv")"

# ---- SIGKILL, then restart ------------------------------------------------
agent_stop "$pid" KILL
assert_eq "after SIGKILL the table is still in the kernel" 1 "$(table_count "$srv")"
check "after SIGKILL the internet client is still refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
assert_eq "status after SIGKILL: not running (exit 1)" 1 "$(status_code "$srv" "$conf")"
# The listing without ownership lines: the killed agent's table lost its
# owner when the agent died; the restarted agent owns it again.
listing() { ip netns exec "$srv" nft -s list table inet port53guard | sed -e 's/ # progname.*//' -e '/^\tflags /d'; }
before=$(listing)
n1=$(drop_counter "$srv")
pid=$(agent_start "$srv" "$conf" "$dir/restart.log")
assert_eq "restart leaves one table" 1 "$(table_count "$srv")"
assert_eq "restart installs the same table (no duplicate rules)" "$before" "$(listing)"
# The dead agent's table has no owner left (persist kept it): the new
# agent takes it over as it is, where the kernel allows that.
if grep -q ' event=table_flags .*used=owner,persist' "$dir/restart.log"; then
	assert_eq "restart: rules_applied says the orphaned table was taken over" 1 \
		"$(kept_events "$dir/restart.log" start adopted)"
	check "restart: the table is owned again (by the new agent)" \
		bash -c "ip netns exec '$srv' nft list table inet port53guard | grep -q '^[[:space:]]*flags owner'"
else
	assert_eq "restart: rules_applied says the table was kept" 1 "$(kept_events "$dir/restart.log" start kept)"
fi
assert_eq "restart: the drop counter is kept" "$n1" "$(drop_counter "$srv")"
kill -HUP "$pid"
check "unchanged reload after the restart: kept" \
	wait_for 5 bash -c "$(declare -f kept_events); [ \$(kept_events '$dir/restart.log' reload kept) -ge 1 ]"
assert_eq "unchanged reload after the restart: the drop counter is kept" "$n1" "$(drop_counter "$srv")"
# A changed configuration still replaces the table.
sed -i 's|^allow = .*|allow = 198.51.100.32/28, 203.0.113.0/24|' "$conf"
kill -HUP "$pid"
check "changed reload: rules_applied says the table was replaced" \
	wait_for 5 bash -c "$(declare -f kept_events); [ \$(kept_events '$dir/restart.log' reload replaced) -ge 1 ]"
assert_eq "changed reload: the new table's drop counter starts at 0" 0 "$(drop_counter "$srv")"
sed -i 's|^allow = .*|allow = 198.51.100.32/28|' "$conf"
kill -HUP "$pid"
wait_for 5 bash -c "$(declare -f kept_events); [ \$(kept_events '$dir/restart.log' reload replaced) -ge 2 ]"
agent_stop "$pid"
check "SIGTERM with keep_on_stop=yes logs rules_kept and how to lift them" log_has "$dir/restart.log" rules_kept 'lift_with="port53guard remove"'
assert_eq "and the table stays" 1 "$(table_count "$srv")"
check "remove lifts it" ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove
check "the internet client is answered again" dig_query "$cli" 198.51.100.17 host.test.p53

# ---- keep_on_stop=no ------------------------------------------------------
conf=$(agent_conf "$dir/nokeep" '[rules]' 'keep_on_stop = no')
pid=$(agent_start "$srv" "$conf" "$dir/nokeep.log")
assert_eq "keep_on_stop=no: table while running" 1 "$(table_count "$srv")"
agent_stop "$pid"
assert_eq "keep_on_stop=no: table gone after SIGTERM" 0 "$(table_count "$srv")"
check "keep_on_stop=no: rules_removed logged" log_has "$dir/nokeep.log" rules_removed

# ---- monitor ---------------------------------------------------------------
conf=$(agent_conf "$dir/monitor" '[agent]' 'mode = monitor')
pid=$(agent_start "$srv" "$conf" "$dir/monitor.log")
assert_eq "monitor: no table" 0 "$(table_count "$srv")"
check "monitor: internet client answered" dig_query "$cli" 198.51.100.17 host.test.p53
check "monitor: the query is reported" wait_for 6 log_has "$dir/monitor.log" dns_queries 'src=198.51.100.18 '
check "monitor: answered queries are counted" wait_for 8 bash -c "grep ' event=dns_queries ' '$dir/monitor.log' | grep 'src=198.51.100.18 ' | grep -qv 'answered=0'"
assert_eq "monitor: status exits 3 (mode_monitor: not compliant)" 3 "$(status_code "$srv" "$conf")"
agent_stop "$pid"
assert_eq "status of a stopped agent: exit 1" 1 "$(status_code "$srv" "$conf")"

# ---- auto, triggered by a public listener ----------------------------------
conf=$(agent_conf "$dir/auto1" '[agent]' 'mode = auto')
pid=$(agent_start "$srv" "$conf" "$dir/auto1.log")
check "auto: the public dnsmasq triggers enforcement" wait_for 5 log_has "$dir/auto1.log" enforcement_started 'reason="public listener on port 53"'
assert_eq "auto (listener): table installed" 1 "$(table_count "$srv")"
check "auto (listener): internet client refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
agent_stop "$pid"
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove

# ---- auto, triggered by a query --------------------------------------------
# dnsmasq bound to loopback and the veth addresses only: no public listener.
kill "$dpid"
wait_for 5 bash -c "! ip netns exec $srv ss -lnu | grep -q ':53 '"
start_dnsmasq "$srv" --bind-interfaces --listen-address=127.0.0.1,198.51.100.17,198.51.100.33,198.51.100.49 >/dev/null
conf=$(agent_conf "$dir/auto2" '[agent]' 'mode = auto' '[rules]' 'allow = 198.51.100.32/28')
pid=$(agent_start "$srv" "$conf" "$dir/auto2.log")
assert_eq "auto: no table before a trigger" 0 "$(table_count "$srv")"
check "auto: an allowlisted query does not trigger" dig_query "$alw" 198.51.100.33 host.test.p53
sleep 0.5
assert_eq "auto: still no table after the allowlisted query" 0 "$(table_count "$srv")"
dig_query "$cli" 198.51.100.17 host.test.p53 >/dev/null
check "auto: the outside query triggers enforcement" wait_for 3 log_has "$dir/auto2.log" enforcement_started 'trigger="query from 198.51.100.18"'
check "auto (query): internet client now refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
assert_eq "auto (query): status exits 0" 0 "$(status_code "$srv" "$conf")"
# ---- listeners come and go (dnsmasq holds no wildcard now) -----------------------------------------------
ip netns exec "$srv" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("2001:db8:53:1::1", 53)); s.listen(); time.sleep(4)' &
lpid=$!
register_pid "$lpid"
check "a new TCP listener gives listener_found" wait_for 5 log_has "$dir/auto2.log" listener_found "proto=tcp addr=2001:db8:53:1::1 port=53"
wait "$lpid"
check "its exit gives listener_gone" wait_for 5 log_has "$dir/auto2.log" listener_gone "proto=tcp addr=2001:db8:53:1::1 port=53"

agent_stop "$pid"
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove

# ---- no CAP_NET_ADMIN: the agent cannot do its job and says so once ----------
# (A refused apply with the capability is retried instead: test-failclosed.)
if command -v setpriv >/dev/null; then
	conf=$(agent_conf "$dir/nocap" '[agent]' 'mode = auto')
	rc=0
	ip netns exec "$srv" setpriv --bounding-set=-net_admin -- timeout 10 "$PORT53GUARD" -c "$conf" run \
		</dev/null >"$dir/nocap.log" 2>&1 || rc=$?
	assert_eq "without CAP_NET_ADMIN the agent exits 1" 1 "$rc"
	check "with one agent_failed step=rules naming the capability" log_has "$dir/nocap.log" agent_failed \
		'step=rules error="no CAP_NET_ADMIN'
	check "and no rules_apply_failed or capture_degraded before it" bash -c \
		"! grep -qE ' event=(rules_apply_failed|capture_degraded) ' '$dir/nocap.log'"
	assert_eq "status: the agent does not run (exit 1)" 1 "$(status_code "$srv" "$conf")"
fi

# ---- two agents at once ------------------------------------------------------
conf=$(agent_conf "$dir/two")
pid=$(agent_start "$srv" "$conf" "$dir/two-a.log")
rc=0
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" run >"$dir/two-b.log" 2>&1 || rc=$?
assert_eq "a second agent in the same namespace refuses (exit 1)" 1 "$rc"
check "with a clear error" grep -q 'another port53guard agent runs in this network namespace' "$dir/two-b.log"
check "the first is undisturbed" kill -0 "$pid"
assert_eq "the first still enforces" 0 "$(status_code "$srv" "$conf")"
agent_stop "$pid"

done_testing
