#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The compliance verdict end to end: the real agent next to a real dnsmasq
# (UDP and TCP on the wildcard), status and its exit code, the status JSON,
# compliance_changed events, the metrics through a real node_exporter, and
# scan reading the live table.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd dig dnsmasq nft python3 curl jq prometheus-node-exporter

srv=$(ns_add srv)
cli=$(ns_add cli)
alw=$(ns_add alw)
ns_link "$srv" "$cli" 1
ns_link "$srv" "$alw" 2
dir=$P53_TMP/verdict
mkdir -p "$dir"
start_dnsmasq "$srv" >/dev/null || exit 1

PG=$PORT53GUARD
st() { ip netns exec "$srv" "$PG" -c "$conf" status "$@"; }
# sj JQ-FILTER: one value of status --json, raw.
sj() { st --json 2>/dev/null | jq -r "$1"; }
codes() { sj '[.verdict.findings[].code] | join(" ")'; }
# reload_with LINES...: rewrites the config's extra lines, SIGHUP, and waits
# for the reload to be written to the status file.
reload_with() {
	local n
	n=$(log_count "$log" config_reloaded)
	conf=$(agent_conf "$dir/a" "$@")
	kill -HUP "$pid"
	wait_for 5 bash -c "[ \$(grep -c ' event=config_reloaded' '$log') -gt $n ]"
	sleep 0.3
}

# ---- allow = 192.0.2.0/24, protocols = udp: the public TCP:53 is open ------
conf=$(agent_conf "$dir/a" '[rules]' 'allow = 192.0.2.0/24, 198.51.100.32/28' 'protocols = udp')
log=$dir/a.log
pid=$(agent_start "$srv" "$conf" "$log") || exit 1
assert_eq "protocols=udp with a public TCP listener: status exits 3" 3 "$(status_code "$srv" "$conf")"
assert_eq "the finding is tcp53_public (a /24 allow is not broad)" "tcp53_public" "$(codes)"
assert_eq "state not_compliant" not_compliant "$(sj .verdict.state)"
assert_eq "its severity" not_compliant "$(sj '.verdict.findings[0].severity')"
since=$(sj '.verdict.findings[0].since_unix')
check "compliance_changed warning with the code" \
	log_has "$log" compliance_changed 'state=not_compliant previous=unknown codes=tcp53_public'
check "compliance_changed is a warning" grep -q ' warning event=compliance_changed' "$log"
check "status prints the verdict first" bash -c "$(declare -f st); conf=$conf srv=$srv PG=$PG; st | head -n1 | grep -qx 'compliance: *NOT COMPLIANT'"
check "status names the finding" bash -c "$(declare -f st); conf=$conf srv=$srv PG=$PG; st | grep -q 'tcp53_public'"

# ---- typed JSON ----------------------------------------------------------------
assert_eq "schema_version 2" 2 "$(sj .schema_version)"
assert_eq "enforcing is a boolean" boolean "$(sj '.enforcement.enforcing | type')"
assert_eq "enforcing_since_unix is a number" number "$(sj '.enforcement.enforcing_since_unix | type')"
assert_eq "no trigger in enforce mode: null" null "$(sj '.enforcement.trigger | type')"
assert_eq "an IPv4 listener's v6only is null" null \
	"$(sj '[.listeners[] | select(.family == "ipv4")][0].v6only | type')"
assert_eq "a listener without a unit: null, not \"-\"" null \
	"$(sj '[.listeners[] | select(.owner.comm == "dnsmasq")][0].owner.unit | type')"
assert_eq "the owner's pid is a number" number \
	"$(sj '[.listeners[] | select(.owner.comm == "dnsmasq")][0].owner.pid | type')"
assert_eq "config reload outcome is a boolean" true "$(sj .config.last_reload_success)"
assert_eq "capture error is null when running" null "$(sj '.capture.error | type')"

# ---- protocols = udp,tcp: compliant, exit 0, since kept -------------------------
reload_with '[rules]' 'allow = 192.0.2.0/24, 198.51.100.32/28' 'protocols = udp, tcp'
assert_eq "protocols=udp,tcp: status exits 0" 0 "$(status_code "$srv" "$conf")"
assert_eq "state compliant" compliant "$(sj .verdict.state)"
assert_eq "no findings" 0 "$(sj '.verdict.findings | length')"
check "compliance_changed notice (better)" grep -q ' notice event=compliance_changed state=compliant previous=not_compliant' "$log"
check "outside TCP query refused now" dig_times_out "$cli" 198.51.100.17 host.test.p53 +tcp

# ---- a broad allow entry: allow_broad, at risk ----------------------------------
reload_with '[rules]' 'allow = 192.0.2.0/24, 198.51.100.32/28, 192.0.0.0/7' 'protocols = udp, tcp'
assert_eq "allow 192.0.0.0/7: status exits 3" 3 "$(status_code "$srv" "$conf")"
assert_eq "the finding is allow_broad" allow_broad "$(codes)"
assert_eq "state at_risk" at_risk "$(sj .verdict.state)"
check "compliance_changed warning (worse)" grep -q ' warning event=compliance_changed state=at_risk previous=compliant codes=allow_broad' "$log"
since=$(sj '.verdict.findings[0].since_unix')
sleep 1.2
touch "$conf"
kill -HUP "$pid"
sleep 0.5
assert_eq "since is kept across recomputations" "$since" "$(sj '.verdict.findings[0].since_unix')"

# ---- metrics through a real node_exporter -----------------------------------------
# A local listener whose command name holds an escape sequence and a quote:
# its listener_info labels must stay one valid, escaped series.
spawn "$srv" "$dir/hostile.log" python3 -c '
import ctypes, socket, time
ctypes.CDLL(None).prctl(15, b"p53\x1b[2J\"q", 0, 0, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.2", 53))
print("ready", flush=True)
time.sleep(600)' >/dev/null
wait_for 5 grep -q ready "$dir/hostile.log"
ip netns exec "$srv" prometheus-node-exporter --web.listen-address=127.0.0.1:9154 \
	--collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$dir/a/metrics" >"$dir/node_exporter.log" 2>&1 &
register_pid $!
for i in 1 2 3; do
	dig_query "$cli" 198.51.100.17 "q$i.test.p53" >/dev/null
	dig_query "$alw" 198.51.100.33 host.test.p53 >/dev/null
done
sleep 5.5       # one status interval: the counters are written
ip netns exec "$srv" curl -fsS --retry 20 --retry-connrefused --retry-delay 1 \
	http://127.0.0.1:9154/metrics >"$dir/metrics.txt"
m() { grep -E "^$1 " "$dir/metrics.txt" | awk '{print $2}'; }
assert_eq "node_exporter: no textfile error" 0 "$(m node_textfile_scrape_error)"
assert_eq "port53guard_compliant 0 while at risk" 0 "$(m port53guard_compliant)"
assert_eq "finding{allow_broad} 1" 1 "$(m 'port53guard_finding\{code="allow_broad",severity="at_risk"\}')"
assert_eq "finding{tcp53_public} 0 (every known code is a series)" 0 \
	"$(m 'port53guard_finding\{code="tcp53_public",severity="not_compliant"\}')"
check "enforcing_since is a real time" test "$(m port53guard_enforcing_since_timestamp_seconds | cut -d. -f1 | sed 's/e+09//')" != 0
assert_eq "config_last_reload_success 1" 1 "$(m port53guard_config_last_reload_success)"
check "config_last_reload_timestamp_seconds set" grep -Eq '^port53guard_config_last_reload_timestamp_seconds [1-9]' "$dir/metrics.txt"
check "listener_info for dnsmasq's UDP wildcard socket" grep -Eq \
	'^port53guard_listener_info\{address="0\.0\.0\.0",comm="dnsmasq",container="",exposure="public",proto="udp",unit=""\} 1$' \
	"$dir/metrics.txt"
check "listener_info: the hostile comm escaped like the log, then for the format" grep -qF \
	'comm="p53\\x1b[2J\\\"q"' "$dir/metrics.txt"
check "no raw escape byte in the metrics file" bash -c "! grep -q \$'\\x1b' '$dir/a/metrics/port53guard.prom'"
seen=$(m port53guard_queries_seen_total)
allowed=$(m 'port53guard_queries_total\{result="allowlisted"\}')
other=$(m 'port53guard_queries_total\{result="not_allowlisted"\}')
check "queries were seen ($seen)" test "${seen:-0}" -ge 6
check "some were allowlisted ($allowed)" test "${allowed:-0}" -ge 3
assert_eq "queries_total{result} sums to queries_seen_total" "$seen" "$((allowed + other))"
check "answered/unanswered are a separate family" grep -q '^port53guard_query_outcomes_total{outcome="answered"}' "$dir/metrics.txt"
assert_eq "capture_sample_rate 1: a few queries are all counted" 1 "$(m port53guard_capture_sample_rate)"

# ---- reload into monitor: the rules are lifted, a warning, not compliant ----------
reload_with '[agent]' 'mode = monitor' '[rules]' 'protocols = udp, tcp'
check "rules_removed is a warning" grep -q ' warning event=rules_removed' "$log"
assert_eq "monitor: no table" 0 "$(table_count "$srv")"
assert_eq "monitor: status exits 3" 3 "$(status_code "$srv" "$conf")"
assert_eq "monitor: mode_monitor, not compliant" "not_compliant mode_monitor" \
	"$(sj '"\(.verdict.state) \([.verdict.findings[].code] | join(" "))"')"

# ---- scan reads the live table --------------------------------------------------
reload_with '[rules]' 'protocols = udp, tcp'
scan_json() { ip netns exec "$srv" "$PG" -c "$conf" scan --json 2>/dev/null; }
refused() { scan_json | jq -r '[.listeners[] | select(.address == "0.0.0.0") | "\(.proto):\(.refused_by_rules.udp),\(.refused_by_rules.tcp)"] | sort | join(" ")'; }
assert_eq "scan after apply: the wildcard sockets are refused for UDP and TCP" "tcp:true,true udp:true,true" "$(refused)"
assert_eq "scan --json: the rules as read from the kernel" "true true true" \
	"$(scan_json | jq -r '"\(.rules.table) \(.rules.refuse_udp) \(.rules.refuse_tcp)"')"
agent_stop "$pid"
check "after stop the table stays (keep_on_stop)" test "$(table_count "$srv")" = 1

# ---- status after stop: exit 1, the last known report labelled ------------------
assert_eq "status after stop: exit 1" 1 "$(status_code "$srv" "$conf")"
st >"$dir/stopped.txt" 2>&1
check "status after stop: agent_not_running first" bash -c "head -n2 '$dir/stopped.txt' | grep -q agent_not_running"
check "status after stop: labelled as last known, with when" grep -q '^last known, as of 20[0-9-]*T' "$dir/stopped.txt"
check "status after stop: the last known listeners are dnsmasq's, not none" \
	grep -Eq '^  udp +0\.0\.0\.0 +public +pid [0-9]+ +dnsmasq' "$dir/stopped.txt"
assert_eq "status --json after stop: running false" false "$(sj .running)"
assert_eq "status --json after stop: not compliant, agent_not_running first" "not_compliant agent_not_running" \
	"$(sj '"\(.verdict.state) \(.verdict.findings[0].code)"')"
assert_eq "status --json after stop: the last known verdict kept" compliant "$(sj .last_known_verdict.state)"

ip netns exec "$srv" "$PG" -c "$conf" remove >/dev/null
assert_eq "scan after remove: nothing refused" "tcp:false,false udp:false,false" "$(refused)"
ip netns exec "$srv" "$PG" -c "$conf" scan >"$dir/scan.txt" 2>&1
check "scan text: UDP and TCP offered" grep -q '^verdict: .*UDP:53 and TCP:53 are offered to the network$' "$dir/scan.txt"
check "scan text: rules line" grep -qx 'rules: no table inet port53guard' "$dir/scan.txt"
uconf=$(agent_conf "$dir/u" '[rules]' 'protocols = udp')
ip netns exec "$srv" "$PG" -c "$uconf" apply >/dev/null
ip netns exec "$srv" "$PG" -c "$uconf" scan >"$dir/scan.txt" 2>&1
check "scan text after apply (udp): refused for UDP; TCP:53 open" \
	grep -q '^verdict: [0-9]* public listeners on port 53: refused by port53guard for UDP; TCP:53 open$' "$dir/scan.txt"
check "scan text: compliance names tcp53_public" grep -q '^compliance: not_compliant (tcp53_public)$' "$dir/scan.txt"
assert_eq "scan --json: compliance object" not_compliant \
	"$(ip netns exec "$srv" "$PG" -c "$uconf" scan --json 2>/dev/null | jq -r .compliance.state)"
ip netns exec "$srv" "$PG" -c "$uconf" remove >/dev/null

# ---- an exempt interface that carries the default route --------------------------
ip -n "$srv" route add default via 198.51.100.18
conf=$(agent_conf "$dir/x" '[rules]' "exempt_interfaces = $(link_if 1 a)" 'protocols = udp, tcp')
log=$dir/x.log
pid=$(agent_start "$srv" "$conf" "$log") || exit 1
assert_eq "exempt uplink: exempt_uplink, not compliant" "not_compliant exempt_uplink" \
	"$(sj '"\(.verdict.state) \([.verdict.findings[].code] | join(" "))"')"
agent_stop "$pid"
ip netns exec "$srv" "$PG" -c "$conf" remove >/dev/null

done_testing
