#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fail closed: from the agent's start to its stop the refuse rule is in the
# kernel, whatever goes wrong (README, Reliability):
#
#   a broken drop-in at start        the built-in refuse (no saved state) or
#                                    the last known good within 3 s,
#                                    rules_fallback, status not OK; a valid
#                                    reload replaces it
#   an unreadable policy at start    the last known good
#   a FIFO in conf.d or as config    check-config answers at once; the agent
#                                    enforces and answers SIGTERM
#   auto mode triggered, restarted   enforces at once, no rules_removed;
#                                    `remove` or another mode forgets it
#   the lock squatted by nobody      the agent starts and enforces
#   a refused first apply            retried with back-off, logged once, the
#                                    rules appear without a restart
#   no CAP_NET_ADMIN                 one agent_failed step=rules, exit 1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd dig dnsmasq nft python3 setpriv flock mkfifo timeout

srv=$(ns_add srv)
cli=$(ns_add cli)
alw=$(ns_add alw)
ns_link "$srv" "$cli" 1
ns_link "$srv" "$alw" 2
# The internet client comes from outside also for the built-in refuse,
# whose internal_interfaces is the default (auto): its link is a macvlan,
# not a veth. The allowlisted client's veth stays host-internal there, so
# its listener addresses are never public. The client reaches that link's
# address through the host, over its uplink.
ns_uplink "$srv" 1
ip -n "$cli" route add "$(link_net 2)" via "$(link_addr 1 1)"
dir=$P53_TMP/fc
mkdir -p "$dir"
# The cloud policy fixture's VPC range (CidrBlock 10.0.0.0/8) as the range
# every ns_link network is in, as 10.0.0.0/8 held the old ones: whether the
# policy is in force shows in the internet client's answers. The committed
# fixture stays as the unit tests read it.
vpc_net=198.51.100.0/24
sed "s|\"CidrBlock\": \"10\.0\.0\.0/8\"|\"CidrBlock\": \"$vpc_net\"|" \
	"$TESTS_DATA/policy/vpc-allowlist.json" >"$dir/vpc-allowlist.json"
grep -q "\"CidrBlock\": \"$vpc_net\"" "$dir/vpc-allowlist.json" || {
	echo "# the policy fixture no longer accepts 10.0.0.0/8" >&2
	exit 1
}
dpid=$(start_dnsmasq "$srv")

# agent_bg NS CONF LOG [wrapper...]: starts the agent without waiting for a
# status file (a fallback may write it elsewhere); prints its pid.
agent_bg() {
	local ns=$1 conf=$2 log=$3
	shift 3
	ip netns exec "$ns" "$@" "$PORT53GUARD" -c "$conf" run </dev/null >"$log" 2>&1 &
	register_pid $!
	echo $!
}

has_table() { test "$(table_count "$srv")" = 1; }
no_table() { test "$(table_count "$srv")" = 0; }
# status_with STATUS_FILE: `status`'s exit code for a status file, through a
# configuration of its own (the agent's may be the broken one).
status_with() {
	mkdir -p "$dir/st"
	printf '[output]\nstatus_file = %s\n' "$1" >"$dir/st/p.conf"
	status_code "$srv" "$dir/st/p.conf"
}
# started_without LOG EVENT: the agent of LOG started and never logged EVENT.
started_without() { log_has "$1" agent_started && ! log_has "$1" "$2"; }
json_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# within SECONDS CMD...: CMD succeeds within SECONDS of the moment saved in $t0.
within() {
	local secs=$1
	shift
	wait_for "$secs" "$@" || return 1
	local now=${EPOCHREALTIME/./}
	[ $(((now - t0) / 1000)) -le $((secs * 1000)) ]
}

# ============ a broken drop-in at start, nothing saved: the built-in refuse ===
# dnsmasq also answers TCP on every address: refuse TCP:53 too, or the
# verdict says tcp53_public and status cannot be 0 once the fallback ends.
conf=$(agent_conf "$dir/b" '[rules]' 'allow = 198.51.100.32/28' 'protocols = udp,tcp')
mkdir -p "$dir/b/conf.d"
printf '[rules]\nallow = 198.51.100.32/28 not-a-cidr\n' >"$dir/b/conf.d/50-broken.conf"
check "nothing saved yet" test -z "$(ls -A "$PORT53GUARD_STATE_DIR")"
t0=${EPOCHREALTIME/./}
pid=$(agent_bg "$srv" "$conf" "$dir/b1.log")
check "broken drop-in: the rule is in the kernel within 3 s" within 3 has_table
check "broken drop-in: config_invalid names the drop-in" log_has "$dir/b1.log" config_invalid "file=$dir/b/conf.d/50-broken.conf line=2"
check "broken drop-in: rules_fallback says the built-in refuse is in force and why" \
	log_has "$dir/b1.log" rules_fallback 'rules=builtin reason="the configuration is invalid: .*50-broken.conf:2'
check "broken drop-in: rules_fallback is an error" grep -q ' error event=rules_fallback ' "$dir/b1.log"
check "broken drop-in: the agent keeps running" kill -0 "$pid"
check "broken drop-in: the internet client is refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
check "broken drop-in: the built-in refuse allows nobody (the broken allowlist is not used)" \
	bash -c "! ip netns exec $srv nft list set inet port53guard allow4 | grep -q elements"
check "broken drop-in: loopback is still answered" dig_query "$srv" 127.0.0.1 host.test.p53
fstatus=$PORT53GUARD_RUN_DIR/status.json
check "broken drop-in: the status file is written (default place, in the run directory)" wait_for 3 test -s "$fstatus"
assert_eq "broken drop-in: status says config_fallback" True "$(json_field "$fstatus" 'd["enforcement"]["fallback"]["active"]')"
assert_eq "broken drop-in: status is not OK (exit 3)" 3 "$(status_with "$fstatus")"
# The operator's own command, with the broken configuration itself: it
# cannot be loaded, so the status file is looked for at the default place.
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" status >"$dir/bs.out" 2>"$dir/bs.err"
assert_eq "broken drop-in: status with the broken configuration exits 3" 3 "$?"
check "broken drop-in: it names the invalid drop-in" grep -q "50-broken.conf" "$dir/bs.err"
check "broken drop-in: it says where it reads the status file" grep -qF "default place, $fstatus" "$dir/bs.err"
check "broken drop-in: it shows the agent's fallback" grep -q '^FALLBACK: ' "$dir/bs.out"
check "broken drop-in: it shows that the rules are enforced" grep -qE '^enforcement: +enforcing' "$dir/bs.out"
# Fixed: a valid reload replaces the fallback.
rm "$dir/b/conf.d/50-broken.conf"
kill -HUP "$pid"
check "fixed drop-in, SIGHUP: config_reloaded" wait_for 5 log_has "$dir/b1.log" config_reloaded
check "fixed drop-in, SIGHUP: rules_fallback_ended" log_has "$dir/b1.log" rules_fallback_ended
check "fixed drop-in: the configured allowlist is in force" wait_for 3 dig_query "$alw" 198.51.100.33 host.test.p53
check "fixed drop-in: the internet client is still refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
check "fixed drop-in: the status file is the configured one again" wait_for 6 test -s "$dir/b/status.json"
assert_eq "fixed drop-in: status exits 0" 0 "$(status_code "$srv" "$conf")"
check "the applied inputs are saved as the last known good" test -s "$PORT53GUARD_STATE_DIR"/lkg-netns-*.json
check "the saved state is not readable by others" test "$(stat -c %a "$PORT53GUARD_STATE_DIR"/lkg-netns-*.json)" = 600
check "the saved configuration hash is sha256sum's over the files read" bash -c \
	"test \"\$(sha256sum '$conf' | sha256sum | cut -d' ' -f1)\" = \"\$(python3 -c 'import json,glob; print(json.load(open(glob.glob(\"$PORT53GUARD_STATE_DIR/lkg-*\")[0]))[\"config_sha256\"])')\""
agent_stop "$pid"

# ============ a broken drop-in at start with a last known good ================
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null
printf '[rules]\nallow = 198.51.100.32/28 not-a-cidr\n' >"$dir/b/conf.d/50-broken.conf"
rm -f "$dir/b/status.json"
t0=${EPOCHREALTIME/./}
pid=$(agent_bg "$srv" "$conf" "$dir/b2.log")
check "last known good: the rule is in the kernel within 3 s" within 3 has_table
check "last known good: rules_fallback names it, with its time and hashes" \
	log_has "$dir/b2.log" rules_fallback 'rules=last_known_good saved_at=[0-9T:-]*Z config_sha256=[0-9a-f]\{64\} '
check "last known good: its allowlist holds" wait_for 3 dig_query "$alw" 198.51.100.33 host.test.p53
check "last known good: the internet client is refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
check "last known good: the status file is the saved configuration's" wait_for 3 test -s "$dir/b/status.json"
assert_eq "last known good: status is not OK (exit 3)" 3 "$(status_with "$dir/b/status.json")"
check "last known good: status says why" bash -c \
	"ip netns exec $srv $PORT53GUARD -c $dir/st/p.conf status | grep -q '^FALLBACK: *last known good rules'"
agent_stop "$pid"
check "last known good: SIGTERM served, the rules stay" has_table
rm "$dir/b/conf.d/50-broken.conf"

# A policy file that cannot be read at start (a symlink is never followed):
# the last known good too.
ln -sf "$dir/vpc-allowlist.json" "$dir/b/policy-link.json"
printf '[rules]\npolicy_file = %s\n' "$dir/b/policy-link.json" >"$dir/b/conf.d/60-policy.conf"
pid=$(agent_bg "$srv" "$conf" "$dir/b3.log")
check "unreadable policy: rules_invalid names it" wait_for 3 log_has "$dir/b3.log" rules_invalid 'policy-link.json'
check "unreadable policy: the last known good is in force" log_has "$dir/b3.log" rules_fallback 'rules=last_known_good'
check "unreadable policy: its allowlist holds" wait_for 3 dig_query "$alw" 198.51.100.33 host.test.p53
check "unreadable policy: the policy's accept of $vpc_net is not in force" dig_times_out "$cli" 198.51.100.17 host.test.p53
# The file fixed (a regular file now), then a reload: the configured rules.
rm "$dir/b/policy-link.json"
cp "$dir/vpc-allowlist.json" "$dir/b/policy-link.json"
kill -HUP "$pid"
check "policy fixed, SIGHUP: rules_fallback_ended" wait_for 5 log_has "$dir/b3.log" rules_fallback_ended
check "policy fixed: its accept of $vpc_net is in force" wait_for 3 dig_query "$cli" 198.51.100.17 host.test.p53
agent_stop "$pid"
rm "$dir/b/conf.d/60-policy.conf"

# ============ FIFOs where files are expected ==================================
mkfifo "$dir/b/conf.d/40-fifo.conf"
rc=0
timeout 2 "$PORT53GUARD" -c "$conf" check-config >"$dir/cc.out" 2>&1 || rc=$?
assert_eq "FIFO in conf.d: check-config returns within 2 s with an error" 1 "$rc"
check "FIFO in conf.d: one clear line naming it" grep -q "40-fifo.conf: cannot read file: is a FIFO" "$dir/cc.out"
mkfifo "$dir/fifo.conf"
rc=0
timeout 2 "$PORT53GUARD" -c "$dir/fifo.conf" check-config >"$dir/cc2.out" 2>&1 || rc=$?
assert_eq "FIFO as the configuration: check-config returns within 2 s with an error" 1 "$rc"
rc=0
timeout 2 "$PORT53GUARD" -c /dev/null check-config >"$dir/cc3.out" 2>&1 || rc=$?
assert_eq "/dev/null as the configuration: valid and empty" 0 "$rc"

ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null
t0=${EPOCHREALTIME/./}
pid=$(agent_bg "$srv" "$conf" "$dir/f1.log")
check "FIFO in conf.d: the agent enforces within 3 s" within 3 has_table
check "FIFO in conf.d: rules_fallback" log_has "$dir/f1.log" rules_fallback
check "FIFO in conf.d: the agent answers SIGTERM" agent_stop "$pid"
check "FIFO in conf.d: agent_stopped logged" log_has "$dir/f1.log" agent_stopped
rm "$dir/b/conf.d/40-fifo.conf"

ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null
t0=${EPOCHREALTIME/./}
pid=$(agent_bg "$srv" "$dir/fifo.conf" "$dir/f2.log")
check "FIFO as the configuration: the agent enforces within 3 s" within 3 has_table
check "FIFO as the configuration: the agent answers SIGTERM" agent_stop "$pid"

# A FIFO appearing before a reload: refused at once, the loop goes on
# (without table ownership, so that the table can be deleted to prove it).
oconf=$(agent_conf "$dir/f3" '[rules]' 'table_owner = no')
pid=$(agent_start "$srv" "$oconf" "$dir/f3.log")
mkdir -p "$dir/f3/conf.d"
mkfifo "$dir/f3/conf.d/40-fifo.conf"
kill -HUP "$pid"
check "FIFO at reload: config_invalid and config_kept at once" wait_for 2 log_has "$dir/f3.log" config_kept
# reload_ms LOG: milliseconds from reload_requested to config_kept, by the
# events' own time stamps.
reload_ms() {
	python3 - "$1" <<'PY'
import datetime, sys
t = {}
for line in open(sys.argv[1]):
    for ev in ("reload_requested", "config_kept"):
        if f" event={ev} " in line and ev not in t:
            t[ev] = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
print(int((t["config_kept"] - t["reload_requested"]).total_seconds() * 1000))
PY
}
ms=$(reload_ms "$dir/f3.log")
check "FIFO at reload: the reload held the loop ${ms:-?} ms (at most 100)" test "${ms:-1000}" -le 100
check "FIFO at reload: the rules stay" has_table
check "FIFO at reload: the table can be deleted (not owned)" ip netns exec "$srv" nft delete table inet port53guard
check "FIFO at reload: the deleted table is repaired (the loop runs)" wait_for 6 has_table
check "FIFO at reload: the agent answers SIGTERM" agent_stop "$pid"

# ============ auto mode remembers its trigger ================================
# dnsmasq on loopback and the veth's address only: no public listener to
# trigger. The internet client asks it there, through its uplink.
kill "$dpid"
wait_for 5 bash -c "! ip netns exec $srv ss -lnu | grep -q ':53 '"
start_dnsmasq "$srv" --bind-interfaces --listen-address=127.0.0.1,198.51.100.33 >/dev/null
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null
aconf=$(agent_conf "$dir/auto" '[agent]' 'mode = auto' '[rules]' 'allow = 198.51.100.32/28')
pid=$(agent_start "$srv" "$aconf" "$dir/a1.log")
check "auto: no table before a trigger" no_table
check "auto: no table means nothing to remove" started_without "$dir/a1.log" rules_removed
dig_query "$cli" 198.51.100.33 host.test.p53 >/dev/null
check "auto: the outside query triggers enforcement" wait_for 3 log_has "$dir/a1.log" enforcement_started
check "auto: the trigger is saved" test -s "$PORT53GUARD_STATE_DIR"/auto-netns-*.json
agent_stop "$pid" KILL
pid=$(agent_start "$srv" "$aconf" "$dir/a2.log")
check "auto, restarted: the outside query is refused right after the restart" dig_times_out "$cli" 198.51.100.33 host.test.p53
check "auto, restarted: enforcement_remembered names the trigger" log_has "$dir/a2.log" enforcement_remembered 'trigger="query from 198.51.100.18"'
check "auto, restarted: no rules_removed" started_without "$dir/a2.log" rules_removed
check "auto, restarted: rules applied at start" log_has "$dir/a2.log" rules_applied 'reason=start'
assert_eq "auto, restarted: status exits 0 (enforcing)" 0 "$(status_code "$srv" "$aconf")"
agent_stop "$pid"
check "auto, SIGTERM: the table stays" has_table
check "remove lifts the rule" ip netns exec "$srv" "$PORT53GUARD" -c "$aconf" remove
check "remove also forgets the trigger" bash -c "! ls '$PORT53GUARD_STATE_DIR'/auto-* 2>/dev/null"
pid=$(agent_start "$srv" "$aconf" "$dir/a3.log")
check "auto after remove: waits again (no table)" no_table
check "auto after remove: the internet client is answered" dig_query "$cli" 198.51.100.33 host.test.p53
check "auto after remove: which triggers again" wait_for 3 log_has "$dir/a3.log" enforcement_started
agent_stop "$pid"
# An explicit change of mode forgets it too.
mconf=$(agent_conf "$dir/monitor" '[agent]' 'mode = monitor')
pid=$(agent_start "$srv" "$mconf" "$dir/a4.log")
check "monitor: the table is lifted" no_table
check "monitor: the saved trigger is forgotten" bash -c "! ls '$PORT53GUARD_STATE_DIR'/auto-* 2>/dev/null"
agent_stop "$pid"
pid=$(agent_start "$srv" "$aconf" "$dir/a5.log")
check "auto after monitor: waits again (no table)" no_table
agent_stop "$pid"
# A table in the kernel without a saved trigger (state lost): kept.
ip netns exec "$srv" "$PORT53GUARD" -c "$aconf" apply >/dev/null
pid=$(agent_start "$srv" "$aconf" "$dir/a6.log")
check "auto with a table already in the kernel: it stays" has_table
check "auto with a table already in the kernel: no rules_removed" started_without "$dir/a6.log" rules_removed
check "auto with a table already in the kernel: enforcement_remembered says so" \
	log_has "$dir/a6.log" enforcement_remembered 'in the kernel at start'
check "auto with a table already in the kernel: the internet client is refused" dig_times_out "$cli" 198.51.100.33 host.test.p53
agent_stop "$pid"
ip netns exec "$srv" "$PORT53GUARD" -c "$aconf" remove >/dev/null

# ============ the lock ============================================================
# A user without privileges binds the old abstract socket name and tries the
# lock file: neither keeps the agent from starting.
chmod 755 "$P53_TMP"
ip netns exec "$srv" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0port53guard/agent")
time.sleep(30)' &
squat=$!
register_pid "$squat"
check "nobody holds the old abstract socket name" wait_for 3 bash -c \
	"ip netns exec $srv ss -xl | grep -q '@port53guard/agent'"
inode=$(ip netns exec "$srv" stat -L -c %i /proc/self/ns/net)
lockfile=$PORT53GUARD_RUN_DIR/agent-$inode.lock
check "nobody cannot take the lock file before the agent" bash -c \
	"! ip netns exec $srv setpriv --reuid=65534 --regid=65534 --clear-groups flock -n '$lockfile' true"
lconf=$(agent_conf "$dir/lock")
pid=$(agent_start "$srv" "$lconf" "$dir/l1.log")
check "abstract socket squatted by nobody: the agent enforces" has_table
check "abstract socket squatted by nobody: no agent_failed" started_without "$dir/l1.log" agent_failed
assert_eq "the run directory: 0755" 755 "$(stat -c %a "$PORT53GUARD_RUN_DIR")"
assert_eq "the lock file: 0600, root's" "600 0" "$(stat -c '%a %u' "$lockfile")"
check "nobody cannot open the lock file the agent holds" bash -c \
	"! ip netns exec $srv setpriv --reuid=65534 --regid=65534 --clear-groups flock -n '$lockfile' true"
rc=0
ip netns exec "$srv" "$PORT53GUARD" -c "$lconf" run </dev/null >"$dir/l2.log" 2>&1 || rc=$?
assert_eq "a second agent in the namespace: exit 1" 1 "$rc"
check "a second agent: the error names the holder's pid" log_has "$dir/l2.log" agent_failed \
	"step=lock error=\"another port53guard agent runs in this network namespace (pid $pid)\""
# Another namespace has its own lock: agents run side by side.
cconf=$(agent_conf "$dir/lock-cli" '[capture]' 'responses = no')
cpid=$(agent_start "$cli" "$cconf" "$dir/l3.log")
check "an agent in another namespace runs beside it" kill -0 "$cpid"
check "and the first is undisturbed" kill -0 "$pid"
agent_stop "$cpid"
ip netns exec "$cli" "$PORT53GUARD" -c "$cconf" remove >/dev/null
agent_stop "$pid"
kill "$squat" 2>/dev/null
chmod 700 "$P53_TMP"

# ============ a refused first apply, retried until it succeeds ===============
# The kernel allows 1024 hooks per hook point: with prerouting full, the
# agent's table cannot be added.
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null
filled=0
for n in 1024 1023 1022 1021 1020; do
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
rconf=$(agent_conf "$dir/retry")
pid=$(agent_start "$srv" "$rconf" "$dir/r1.log")
check "refused first apply: rules_apply_failed" wait_for 3 log_has "$dir/r1.log" rules_apply_failed 'reason=start'
check "refused first apply: the agent keeps running" kill -0 "$pid"
assert_eq "refused first apply: status exits 3 (should enforce, does not)" 3 "$(status_code "$srv" "$rconf")"
sleep 3.5
assert_eq "refused first apply: retried, but logged once" 1 "$(log_count "$dir/r1.log" rules_apply_failed)"
ip netns exec "$srv" nft delete table inet filler
check "hook freed: the rules appear without a restart" wait_for 20 has_table
check "hook freed: rules_restored logged" log_has "$dir/r1.log" rules_restored
check "hook freed: the internet client is refused" dig_times_out "$cli" 198.51.100.33 host.test.p53
assert_eq "hook freed: status exits 0" 0 "$(status_code "$srv" "$rconf")"
agent_stop "$pid"

# ============ no CAP_NET_ADMIN: one line, exit 1 ================================
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null
rc=0
ip netns exec "$srv" setpriv --bounding-set=-net_admin -- timeout 10 "$PORT53GUARD" -c "$rconf" run \
	</dev/null >"$dir/nocap.log" 2>&1 || rc=$?
assert_eq "no CAP_NET_ADMIN: exit 1" 1 "$rc"
assert_eq "no CAP_NET_ADMIN: exactly one agent_failed, step=rules" 1 "$(log_count "$dir/nocap.log" agent_failed)"
check "no CAP_NET_ADMIN: it names the capability" log_has "$dir/nocap.log" agent_failed 'step=rules error="no CAP_NET_ADMIN'
check "no CAP_NET_ADMIN: no contradictory event before it" bash -c \
	"! grep -E ' event=(capture_degraded|rules_apply_failed|rules_applied|agent_started) ' '$dir/nocap.log'"
check "no CAP_NET_ADMIN: no table" no_table

check "no sanitizer report in any agent log" bash -c "! grep -l -E 'Sanitizer|runtime error:' '$dir'/*.log"
done_testing
