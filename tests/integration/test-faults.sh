#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Faults, each with its documented outcome (README, Reliability):
#
#   SIGKILL while a batch is applied  the kernel holds the old table or the
#                                     new one, exactly, never a mix (a
#                                     10,000 and a 12,000 address allowlist,
#                                     FAULT_KILLS kills, default 30, spread
#                                     over the whole reload)
#   status/metrics directory missing  created (0755 whatever the umask),
#                                     and the files written
#   ... read-only                     output_write_failed once, enforcement
#                                     goes on, the file is left as it was;
#                                     output_write_recovered when writable
#   a symlink planted at the file     never written through: the link's
#                                     target is unchanged and the link is
#                                     replaced by a regular file; a planted
#                                     temporary is removed, not followed; a
#                                     symlinked directory is refused
#   a FIFO at the status file or as   `status` answers at once (not
#   the cloud policy file             running); the reload is refused
#                                     (rules_invalid, config_kept) and the
#                                     loop goes on
#   no CAP_NET_RAW / no such capture  enforcement runs, capture_degraded,
#   interface                         "degraded" in the status
#   configuration deleted, SIGHUP     config_invalid, config_kept: the old
#                                     rules and allowlist stay
#   an interface added after start    its queries are refused and reported
#                                     (capture on "any")
#
# Covered elsewhere: lost nftables events (ENOBUFS) and their full resync in
# test-drift.sh; two agents at once in test-agent.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd dig dnsmasq nft python3 nsenter setpriv

KILLS=${FAULT_KILLS:-30}

srv=$(ns_add srv)
cli=$(ns_add cli)
alw=$(ns_add alw)
ns_link "$srv" "$cli" 1
ns_link "$srv" "$alw" 2
start_dnsmasq "$srv" >/dev/null
dir=$P53_TMP/faults
mkdir -p "$dir"

status_field() {
	ip netns exec "$srv" "$PORT53GUARD" -c "$1" status --json |
		python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$2"
}

# ============ SIGKILL while a batch is being applied ==========================
# Two allowlists of single addresses that never touch, so each address stays
# one element: A (10,000 in 10.200.0.0/14) and B (12,000 in 10.220.0.0/14),
# FAULT_ALLOW_SIZES="A B" to change them. After every kill the kernel's
# table is read back: anything but exactly A's elements or exactly B's, with
# the same six rules (one dispatch, five in chain dns), is a torn table.
read -r size_a size_b <<<"${FAULT_ALLOW_SIZES:-10000 12000}"
python3 - "$dir" "$size_a" "$size_b" <<-'PY'
import hashlib, sys
def gen(n, base, name):
    a = ["10.%d.%d.%d" % (base + i // 32768, (i // 128) % 256, 2 * (i % 128)) for i in range(n)]
    with open("%s/allow-%s.ini" % (sys.argv[1], name), "w") as f:
        f.write("[rules]\nallow =\n")
        for i in range(0, n, 12):
            f.write("\t" + ", ".join(a[i:i + 12]) + "\n")
    digest = hashlib.sha256("\n".join(sorted(a)).encode()).hexdigest()[:16]
    with open("%s/allow-%s.want" % (sys.argv[1], name), "w") as f:
        f.write("%d 0 6 %s\n" % (n, digest))
gen(int(sys.argv[2]), 200, "a")
gen(int(sys.argv[3]), 220, "b")
PY
declare -A want=([a]="$(cat "$dir/allow-a.want")" [b]="$(cat "$dir/allow-b.want")")

# table_shape NS: "ELEMENTS4 ELEMENTS6 RULES DIGEST-OF-ELEMENTS4", or "none".
table_shape() {
	ip netns exec "$1" nft -j list table inet port53guard 2>/dev/null | python3 -c '
import hashlib, json, sys
try:
    d = json.load(sys.stdin)["nftables"]
except Exception:
    print("none"); sys.exit()
sets = {o["set"]["name"]: o["set"].get("elem", []) for o in d if "set" in o}
rules = sum(1 for o in d if "rule" in o)
a4 = sorted(e if isinstance(e, str) else json.dumps(e) for e in sets.get("allow4", []))
print(len(a4), len(sets.get("allow6", [])), rules, hashlib.sha256("\n".join(a4).encode()).hexdigest()[:16])'
}

kconf=$(agent_conf "$dir/kill")
cp "$kconf" "$dir/kill/base.ini"
use_allow() {           # use_allow a|b: the agent's configuration gets that list
	cat "$dir/kill/base.ini" "$dir/allow-$1.ini" >"$kconf.new" && mv "$kconf.new" "$kconf"
}
use_allow a
pid=$(agent_start "$srv" "$kconf" "$dir/kill-start.log")
assert_eq "allowlist A ($size_a addresses) is in the kernel, element for element" "${want[a]}" "$(table_shape "$srv")"
use_allow b
kill -HUP "$pid"
wait_for 30 log_has "$dir/kill-start.log" rules_applied 'reason=reload'
apply_ms=$(grep ' event=rules_applied .*reason=reload' "$dir/kill-start.log" | sed -n 's/.*took_ms=\([0-9]*\).*/\1/p' | tail -1)
# The whole reload, from the signal to the event: reading and building too.
reload_ms=$(python3 - "$dir/kill-start.log" <<-'PY'
import datetime, sys
t = {}
for l in open(sys.argv[1]):
    for ev in ("reload_requested", "rules_applied"):
        if " event=%s " % ev in l:
            t[ev] = datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
print(int((t["rules_applied"] - t["reload_requested"]).total_seconds() * 1000))
PY
)
assert_eq "allowlist B ($size_b addresses) replaces it (reload ${reload_ms:-?} ms, apply ${apply_ms:-?} ms)" \
	"${want[b]}" "$(table_shape "$srv")"
agent_stop "$pid" KILL
# Kill delays spread over twice the whole reload (at least 400 ms): kill i
# lands at a random moment of the i-th of KILLS slices, the slices denser
# at the start (delay = max * x^3): reading and building take the first tens
# of milliseconds, the kernel's transaction most of the rest, and a SIGKILL
# cannot stop a transaction the kernel is committing.
max_ms=$(( ${reload_ms:-200} * 2 ))
[ "$max_ms" -ge 400 ] || max_ms=400
cur=b torn=0 kept_old=0 got_new=0 unstarted=none
for i in $(seq "$KILLS"); do
	next=$([ "$cur" = a ] && echo b || echo a)
	use_allow "$cur"
	pid=$(agent_start "$srv" "$kconf" "$dir/kill-$i.log") || { unstarted=$i; break; }
	use_allow "$next"
	delay=$(awk -v i="$i" -v n="$KILLS" -v m="$max_ms" -v r="$RANDOM" \
		'BEGIN { x = (i - 1 + r / 32768) / n; printf "%d", m * x * x * x }')
	kill -HUP "$pid"
	sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
	agent_stop "$pid" KILL
	shape=$(table_shape "$srv")
	echo "# kill $i: ${want[$cur]%% *} -> ${want[$next]%% *} addresses, killed ${delay} ms after SIGHUP: the kernel holds ${shape%% *}"
	if [ "$shape" = "${want[$cur]}" ]; then
		kept_old=$((kept_old + 1))
	elif [ "$shape" = "${want[$next]}" ]; then
		got_new=$((got_new + 1))
		cur=$next
	else
		torn=$((torn + 1))
		echo "# kill $i after $delay ms: the kernel holds \"$shape\" (old ${want[$cur]}, new ${want[$next]})" >&2
		sed 's/^/#   /' "$dir/kill-$i.log" >&2
		break
	fi
done
echo "# $KILLS kills within 0..$max_ms ms of SIGHUP: old table kept $kept_old times, new table $got_new times"
assert_eq "the agent started again before every kill" none "$unstarted"
assert_eq "no kill left a torn table" 0 "$torn"
assert_eq "every kill left exactly the old or the new table" "$KILLS" $((kept_old + got_new))
if [ "$KILLS" -ge 10 ]; then
	check "kills landed both before and after the commit (old $kept_old, new $got_new)" \
		test "$kept_old" -gt 0 -a "$got_new" -gt 0
fi
assert_eq "one table after all the kills" 1 "$(table_count "$srv")"
check "and it still refuses the internet client" dig_times_out "$cli" 198.51.100.17 host.test.p53
ip netns exec "$srv" "$PORT53GUARD" -c "$kconf" remove >/dev/null

# ============ the status and metrics directories ==============================
# Missing: created (one level), then written.
oconf=$(agent_conf "$dir/out" '[rules]' 'allow = 198.51.100.32/28')
sed -i "s|^status_file = .*|status_file = $dir/out/run/status.json|" "$oconf"
check "the status directory does not exist yet" test ! -e "$dir/out/run"
pid=$(agent_start "$srv" "$oconf" "$dir/out.log" sh -c 'umask 077; exec "$@"' sh)
check "missing status directory: created and the status written" test -f "$dir/out/run/status.json"
check "missing metrics directory: created and the metrics written" wait_for 2 test -f "$dir/out/metrics/port53guard.prom"
assert_eq "the created status directory is 0755 even under umask 077" 755 "$(stat -c %a "$dir/out/run")"
assert_eq "the created metrics directory is 0755 even under umask 077" 755 "$(stat -c %a "$dir/out/metrics")"

# Read-only: a read-only bind mount seen only by the agent (its own mount
# namespace from ip netns exec), so nothing outlives it.
nsenter -t "$pid" -m -- mount --bind "$dir/out/run" "$dir/out/run"
nsenter -t "$pid" -m -- mount -o remount,bind,ro "$dir/out/run"
nsenter -t "$pid" -m -- mount --bind "$dir/out/metrics" "$dir/out/metrics"
nsenter -t "$pid" -m -- mount -o remount,bind,ro "$dir/out/metrics"
frozen=$(cat "$dir/out/run/status.json")
check "read-only status directory: output_write_failed" wait_for 7 log_has "$dir/out.log" output_write_failed \
	'file=status .*error="Read-only file system" effect="enforcement goes on; this file is not updated"'
check "read-only metrics directory: output_write_failed" wait_for 2 log_has "$dir/out.log" output_write_failed 'file=metrics'
sleep 5.5
assert_eq "warned once per file, not at every rewrite" 2 "$(log_count "$dir/out.log" output_write_failed)"
check "the status file was left as it was" test "$frozen" = "$(cat "$dir/out/run/status.json")"
check "enforcement goes on: the agent runs" kill -0 "$pid"
check "enforcement goes on: the internet client is refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
check "enforcement goes on: the allowlisted client is answered" dig_query "$alw" 198.51.100.33 host.test.p53
check "no temporary file is left behind" bash -c "ls -A '$dir/out/run' >'$dir/ls.out' && ! grep -q tmp '$dir/ls.out'"
nsenter -t "$pid" -m -- umount "$dir/out/run"
nsenter -t "$pid" -m -- umount "$dir/out/metrics"
check "writable again: output_write_recovered" wait_for 7 log_has "$dir/out.log" output_write_recovered 'file=status'
check "and the status file is fresh again" test "$frozen" != "$(cat "$dir/out/run/status.json")"

# A symlink planted where the status file goes: never followed.
echo precious >"$dir/victim"
ln -sf "$dir/victim" "$dir/out/run/status.json.planted"
mv -T "$dir/out/run/status.json.planted" "$dir/out/run/status.json"
echo precious2 >"$dir/victim2"
ln -s "$dir/victim2" "$dir/out/run/.status.json.$pid.tmp"
kill -HUP "$pid"        # a reload writes the status at once
check "after the next write the status file is a regular file again" \
	wait_for 3 bash -c "test -f '$dir/out/run/status.json' && test ! -L '$dir/out/run/status.json'"
assert_eq "the symlink's target is unchanged" precious "$(cat "$dir/victim")"
assert_eq "the planted temporary's target is unchanged" precious2 "$(cat "$dir/victim2")"
check "the planted temporary link is gone" test ! -L "$dir/out/run/.status.json.$pid.tmp"
check "the new status file is the agent's JSON" bash -c "python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"pid\"] == int(sys.argv[2])' '$dir/out/run/status.json' $pid"
ln -sf "$dir/victim" "$dir/out/metrics/port53guard.prom"
check "the metrics file is replaced, not written through" \
	wait_for 7 bash -c "test -f '$dir/out/metrics/port53guard.prom' && test ! -L '$dir/out/metrics/port53guard.prom'"
assert_eq "the metrics symlink's target is unchanged" precious "$(cat "$dir/victim")"
agent_stop "$pid"

# A FIFO planted at the status file: `status` must not wait for a writer.
rm -f "$dir/out/run/status.json"
mkfifo "$dir/out/run/status.json"
rc=0
ip netns exec "$srv" timeout 5 "$PORT53GUARD" -c "$oconf" status >"$dir/fifo.out" 2>&1 || rc=$?
assert_eq "a FIFO at the status file: status answers at once, not running (exit 1)" 1 "$rc"
rm -f "$dir/out/run/status.json"

# A symlinked status directory is refused.
mkdir -p "$dir/elsewhere"
ln -s "$dir/elsewhere" "$dir/linkdir"
lconf=$(agent_conf "$dir/lnk")
sed -i "s|^status_file = .*|status_file = $dir/linkdir/status.json|" "$lconf"
ip netns exec "$srv" "$PORT53GUARD" -c "$lconf" run </dev/null >"$dir/lnk.log" 2>&1 &
pid=$!
register_pid "$pid"
check "symlinked status directory: output_write_failed" wait_for 5 log_has "$dir/lnk.log" output_write_failed \
	'file=status .*error="Too many levels of symbolic links"'
check "nothing written through the directory link" test -z "$(ls -A "$dir/elsewhere")"
check "enforcement goes on" dig_times_out "$cli" 198.51.100.17 host.test.p53
agent_stop "$pid"

# ============ capture impossible =============================================
nconf=$(agent_conf "$dir/noraw")
pid=$(agent_start "$srv" "$nconf" "$dir/noraw.log" setpriv --bounding-set=-net_raw --)
check "no CAP_NET_RAW: capture_degraded" log_has "$dir/noraw.log" capture_degraded 'effect="no traffic reports; enforcement goes on"'
check "no CAP_NET_RAW: the rules are applied" log_has "$dir/noraw.log" rules_applied 'reason=start'
check "no CAP_NET_RAW: the internet client is refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
assert_eq "no CAP_NET_RAW: status says the capture is degraded" degraded "$(status_field "$nconf" 'd["capture"]["state"]')"
assert_eq "no CAP_NET_RAW: status exits 3 (capture_degraded)" 3 "$(status_code "$srv" "$nconf")"
assert_eq "no CAP_NET_RAW: capture_degraded is a finding, still enforcing" "True True" \
	"$(status_field "$nconf" '"capture_degraded" in [f["code"] for f in d["verdict"]["findings"]], d["enforcement"]["enforcing"]' | tr -d '(),')"
check "no CAP_NET_RAW: status shows it" bash -c "ip netns exec $srv $PORT53GUARD -c $nconf status | grep -qi degraded"
agent_stop "$pid"

iconf=$(agent_conf "$dir/noif" '[capture]' 'interfaces = p53nosuch0')
pid=$(agent_start "$srv" "$iconf" "$dir/noif.log")
check "no such capture interface: capture_degraded naming it" log_has "$dir/noif.log" capture_degraded 'p53nosuch0'
check "no such capture interface: the internet client is refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
assert_eq "no such capture interface: status says degraded" degraded "$(status_field "$iconf" 'd["capture"]["state"]')"
check "the summary says so too" wait_for 3 log_has "$dir/noif.log" summary 'capture=degraded'
agent_stop "$pid"

# ============ the configuration file deleted, then SIGHUP ======================
dconf=$(agent_conf "$dir/del" '[rules]' 'allow = 198.51.100.32/28')
pid=$(agent_start "$srv" "$dconf" "$dir/del.log")
before=$(ip netns exec "$srv" nft list table inet port53guard | sed 's/counter packets [0-9]* bytes [0-9]*//')
cp "$dconf" "$dir/del.ini"
rm -f "$dconf"
kill -HUP "$pid"
check "config deleted: config_invalid names the file" wait_for 5 log_has "$dir/del.log" config_invalid "file=$dconf .*No such file"
check "config deleted: config_kept" log_has "$dir/del.log" config_kept
check "config deleted: the agent runs on" kill -0 "$pid"
assert_eq "config deleted: the rules are unchanged" "$before" \
	"$(ip netns exec "$srv" nft list table inet port53guard | sed 's/counter packets [0-9]* bytes [0-9]*//')"
check "config deleted: the allowlisted client is still answered" dig_query "$alw" 198.51.100.33 host.test.p53
check "config deleted: the internet client is still refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
check "config deleted: the status keeps being written" bash -c \
	"m=\$(stat -c %Y '$dir/del/status.json'); sleep 5.5; test \$(stat -c %Y '$dir/del/status.json') -gt \$m"

# A FIFO as the cloud policy file: the reload must not wait for a writer
# (the loop would stop: no drift repair, no status).
mkfifo "$dir/policy.fifo"
{ cat "$dir/del.ini"; printf 'policy_file = %s\n' "$dir/policy.fifo"; } >"$dconf"
kill -HUP "$pid"
check "policy file is a FIFO: the reload is refused at once" wait_for 5 bash -c \
	"test \$(grep -c ' event=config_kept ' '$dir/del.log') -ge 2"
check "policy file is a FIFO: named in rules_invalid" log_has "$dir/del.log" rules_invalid "policy.fifo"
check "policy file is a FIFO: the agent still answers signals" bash -c \
	"kill -HUP $pid; sleep 1; test \$(grep -c ' event=reload_requested ' '$dir/del.log') -ge 3"
check "policy file is a FIFO: the old allowlist still holds" dig_query "$alw" 198.51.100.33 host.test.p53

# ============ an interface that appears after start ============================
late=$(ns_add late)
ns_link "$srv" "$late" 3
# The name of a source's first query in an interval is the one reported.
send_query "$late" 198.51.100.49 "b'late'"
check "late interface: its client is refused" dig_times_out "$late" 198.51.100.49 host.test.p53
check "late interface: its queries are reported (capture on any)" \
	wait_for 6 log_has "$dir/del.log" dns_queries 'src=198.51.100.50 .*qname=late.test.p53'
agent_stop "$pid"
ip netns exec "$srv" "$PORT53GUARD" -c "$kconf" remove >/dev/null

# An instrumented build reports memory errors, undefined behaviour and leaks
# (at exit) on stderr, which is each agent's log here.
check "no sanitizer report in any agent log" bash -c "! grep -l -E 'Sanitizer|runtime error:' '$dir'/*.log"
done_testing
