#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What the agent must never do, and what it must not keep:
#
#   - filter anything but inbound port-53 traffic: an SSH-like TCP service
#     on port 22, a UDP service on port 1053, DNS over loopback and the
#     server's own queries to a resolver in another namespace keep working,
#     probed without a pause from before the agent starts through enforce,
#     reload, drift repair, SIGKILL and auto mode after its trigger;
#   - keep capabilities it does not need: once its sockets are open, the
#     root agent started outside systemd (the process holding the packet
#     socket) has only cap_net_admin and cap_net_raw in its effective,
#     permitted and bounding sets; its scan helper (supervisor and scan
#     process) only cap_sys_admin, cap_sys_ptrace, cap_dac_read_search;
#     nothing inheritable or ambient anywhere (read from /proc/PID/status);
#     the scan through the helper still names owners and finds listeners in
#     other namespaces (also after a reload from namespaces = no to yes), the
#     scan process killed with SIGKILL comes back and the next rescan works;
#   - write its status and metrics files other than whole: regular files,
#     mode 0644 whatever the umask, owned by root, replaced atomically (a
#     reader during hundreds of rewrites never sees a partial file).
#
# Elsewhere: symlinks planted at the status and metrics files
# (test-faults.sh), escaping of hostile query names in the log
# (test-agent.sh, and fuzz-log for every byte the parser lets through).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd dig dnsmasq nft python3 jq

srv=$(ns_add srv)
cli=$(ns_add cli)
res=$(ns_add res)
ns_link "$srv" "$cli" 1
ns_link "$srv" "$res" 2        # srv 198.51.100.33, the resolver 198.51.100.34
dns_srv=$(start_dnsmasq "$srv")
dns_res=$(start_dnsmasq "$res")
dir=$P53_TMP/security
mkdir -p "$dir"

# ---- the services that must stay reachable ----------------------------------
spawn "$srv" "$dir/services.log" python3 -c '
import socket, threading
def tcp():
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", 22)); s.listen(64)
    while True:
        c, _ = s.accept()
        def serve(c=c):
            with c:
                f = c.makefile("rwb", buffering=0)
                for line in f:
                    f.write(line)
        threading.Thread(target=serve, daemon=True).start()
def udp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 1053))
    while True:
        d, a = s.recvfrom(2048); s.sendto(d, a)
threading.Thread(target=tcp, daemon=True).start()
udp()' >/dev/null
wait_for 5 bash -c "ip netns exec $srv ss -ltn | grep -q ':22 ' && ip netns exec $srv ss -lun | grep -q ':1053 '"

# prober NS OUT KIND...: every 0.1 s, each kind once, until the stop file
# (bounded at 10 minutes). A line per failure: "fail KIND TIME ERROR".
prober_py='
import os, socket, struct, sys, time
out, stop, kinds = sys.argv[1], sys.argv[2], sys.argv[3:]
def dns(server):
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(1)
    q = struct.pack(">HHHHHH", 0x2222, 0x0100, 1, 0, 0, 0) + b"\x04host\x04test\x03p53\x00" + struct.pack(">HH", 1, 1)
    s.sendto(q, (server, 53)); r = s.recv(512); s.close()
    assert r[:2] == b"\x22\x22" and struct.unpack(">H", r[6:8])[0] >= 1, "no answer record"
def tcp22(addr):
    c = socket.create_connection((addr, 22), timeout=1); c.sendall(b"ssh-like\n")
    assert c.makefile("rb").readline() == b"ssh-like\n", "bad echo"; c.close()
def udp1053(addr):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(1)
    s.sendto(b"ping", (addr, 1053)); assert s.recv(64) == b"ping", "bad echo"; s.close()
probes = {"tcp22": lambda: tcp22("198.51.100.17"), "tcp22v6": lambda: tcp22("2001:db8:53:1::1"),
          "udp1053": lambda: udp1053("198.51.100.17"), "udp1053v6": lambda: udp1053("2001:db8:53:1::1"),
          "dns_loopback": lambda: dns("127.0.0.1"), "dns_loopback6": lambda: dns("::1"),
          "dns_outgoing": lambda: dns("198.51.100.34"), "dns_outgoing6": lambda: dns("2001:db8:53:2::2")}
end = time.time() + 600
with open(out, "w", buffering=1) as f:
    while not os.path.exists(stop) and time.time() < end:
        for k in kinds:
            try:
                probes[k](); f.write("ok %s\n" % k)
            except Exception as e:
                f.write("fail %s %.3f %r\n" % (k, time.time(), e))
        time.sleep(0.1)
'
ip netns exec "$cli" python3 -c "$prober_py" "$dir/probe-cli.out" "$dir/probe.stop" \
	tcp22 tcp22v6 udp1053 udp1053v6 </dev/null >/dev/null 2>&1 &
register_pid $!
probe_cli=$!
ip netns exec "$srv" python3 -c "$prober_py" "$dir/probe-srv.out" "$dir/probe.stop" \
	dns_loopback dns_loopback6 dns_outgoing dns_outgoing6 </dev/null >/dev/null 2>&1 &
register_pid $!
probe_srv=$!
check "the probes run before the agent" wait_for 5 bash -c \
	"grep -q '^ok udp1053v6' '$dir/probe-cli.out' && grep -q '^ok dns_outgoing6' '$dir/probe-srv.out'"

# phase_ok NAME: since the last phase, probes of every side answered and
# none failed.
declare -A seen_lines=([cli]=0 [srv]=0)
phase_ok() {
	local name=$1 side n
	sleep 1         # ten rounds of probes at least
	for side in cli srv; do
		n=$(wc -l <"$dir/probe-$side.out")
		sed -n "$((seen_lines[$side] + 1)),${n}p" "$dir/probe-$side.out" >"$dir/phase.out"
		seen_lines[$side]=$n
		check "$name: $side probes answered ($(grep -c '^ok' "$dir/phase.out") ok)" \
			bash -c "! grep '^fail' '$dir/phase.out' && grep -q '^ok' '$dir/phase.out'"
	done
}

# ---- enforce ------------------------------------------------------------------
conf=$(agent_conf "$dir/enf" '[rules]' 'table_owner = no')
pid=$(agent_start "$srv" "$conf" "$dir/enf.log")
check "enforce: inbound DNS is refused (the rules are live)" dig_times_out "$cli" 198.51.100.17 host.test.p53
phase_ok "enforce"

# ---- reload -------------------------------------------------------------------
printf 'protocols = udp,tcp\n' >>"$conf"
kill -HUP "$pid"
check "reload applied (UDP and TCP refused)" wait_for 5 log_has "$dir/enf.log" rules_applied 'reason=reload .*protocols=udp,tcp'
check "reload: inbound DNS over TCP is refused too" dig_times_out "$cli" 198.51.100.17 host.test.p53 +tcp
phase_ok "reload"

# ---- drift repair -------------------------------------------------------------
ip netns exec "$srv" nft delete table inet port53guard
check "drift: the table is restored" wait_for 2 log_has "$dir/enf.log" rules_restored
check "drift: inbound DNS is refused again" dig_times_out "$cli" 198.51.100.17 host.test.p53
phase_ok "drift repair"

# ---- SIGKILL --------------------------------------------------------------------
agent_stop "$pid" KILL
assert_eq "SIGKILL: the table stays" 1 "$(table_count "$srv")"
phase_ok "after SIGKILL"
ip netns exec "$srv" "$PORT53GUARD" -c "$conf" remove >/dev/null

# ---- auto, after its trigger ---------------------------------------------------------
aconf=$(agent_conf "$dir/auto" '[agent]' 'mode = auto')
pid=$(agent_start "$srv" "$aconf" "$dir/auto.log")
check "auto: the public dnsmasq triggers enforcement" wait_for 5 log_has "$dir/auto.log" enforcement_started
check "auto: inbound DNS is refused" dig_times_out "$cli" 198.51.100.17 host.test.p53
phase_ok "auto after trigger"
agent_stop "$pid"
ip netns exec "$srv" "$PORT53GUARD" -c "$aconf" remove >/dev/null
touch "$dir/probe.stop"
wait_for 5 bash -c "$(declare -f p53_alive); ! p53_alive $probe_cli && ! p53_alive $probe_srv"
assert_eq "no probe failed at any moment, transitions included" 0 \
	"$(cat "$dir/probe-cli.out" "$dir/probe-srv.out" | grep -c '^fail')"
grep '^fail' "$dir/probe-cli.out" "$dir/probe-srv.out" | head -5 | sed 's/^/# /' >&2

# ---- capabilities: the agent and its scan helper ----------------------------------
# caps_of PID FIELD: the named capabilities of a /proc/PID/status field.
caps_of() {
	python3 - "$1" "$2" <<-'PY'
	import sys
	names = {0: "chown", 1: "dac_override", 2: "dac_read_search", 3: "fowner", 4: "fsetid",
	         5: "kill", 6: "setgid", 7: "setuid", 8: "setpcap", 9: "linux_immutable",
	         10: "net_bind_service", 11: "net_broadcast", 12: "net_admin", 13: "net_raw",
	         14: "ipc_lock", 15: "ipc_owner", 16: "sys_module", 17: "sys_rawio", 18: "sys_chroot",
	         19: "sys_ptrace", 20: "sys_pacct", 21: "sys_admin", 22: "sys_boot", 23: "sys_nice",
	         24: "sys_resource", 25: "sys_time", 26: "sys_tty_config", 27: "mknod", 28: "lease",
	         29: "audit_write", 30: "audit_control", 31: "setfcap", 32: "mac_override",
	         33: "mac_admin", 34: "syslog", 35: "wake_alarm", 36: "block_suspend",
	         37: "audit_read", 38: "perfmon", 39: "bpf", 40: "checkpoint_restore"}
	for line in open("/proc/%s/status" % sys.argv[1]):
	    k, v = line.split(":", 1)
	    if k == sys.argv[2]:
	        bits = int(v, 16)
	        print(",".join("cap_" + names.get(i, str(i)) for i in range(64) if bits >> i & 1) or "none")
	PY
}
sorted() { tr , '\n' | sort | paste -sd,; }
# helper_of AGENT, scanner_of AGENT: the scan helper's supervisor and its
# scan process (prctl names).
helper_of() { pgrep -P "$1" -x port53guard-hlp | head -n 1; }
scanner_of() {
	local h
	h=$(helper_of "$1")
	[ -n "$h" ] && pgrep -P "$h" -x port53guard-scn | head -n 1
}
# holds_packet_socket PID: one of its descriptors is an AF_PACKET socket.
holds_packet_socket() {
	local inode
	for inode in $(awk 'NR > 1 { print $NF }' "/proc/$1/net/packet"); do
		find "/proc/$1/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q . && return 0
	done
	return 1
}
# listeners_of JSON NS...: the listeners of these namespaces, one canonical
# line each (every field but the two the scan command adds), sorted.
listeners_of() {
	python3 - "$@" <<-'PY'
	import json, sys
	doc = json.load(open(sys.argv[1]))
	keep = set(sys.argv[2:])
	for l in doc["listeners"]:
	    l.pop("exposure_text", None), l.pop("refused_by_rules", None)
	rows = [json.dumps(l, sort_keys=True) for l in doc["listeners"] if l["netns"]["name"] in keep]
	print("\n".join(sorted(rows)))
	PY
}
for ns_opt in no yes; do
	cconf=$(agent_conf "$dir/caps-$ns_opt")
	clog=$dir/caps-$ns_opt.log
	sed -i "s/^namespaces = no$/namespaces = $ns_opt/" "$cconf"
	pid=$(agent_start "$srv" "$cconf" "$clog")
	wait_for 3 log_has "$clog" privileges_dropped
	wait_for 3 bash -c "$(declare -f helper_of scanner_of); test -n \"\$(scanner_of $pid)\""
	hlp=$(helper_of "$pid")
	scn=$(scanner_of "$pid")
	check "namespaces=$ns_opt: the agent runs its scan helper (supervisor ${hlp:-none}, scan process ${scn:-none})" \
		test -n "$hlp" -a -n "$scn"
	check "namespaces=$ns_opt: the agent holds the packet socket" holds_packet_socket "$pid"
	for p in $hlp $scn; do
		check_fails "namespaces=$ns_opt: $(cat "/proc/$p/comm") holds no packet socket" holds_packet_socket "$p"
	done
	for field in CapEff CapPrm CapBnd; do
		assert_eq "namespaces=$ns_opt: the agent's $field is cap_net_admin and cap_net_raw only" \
			cap_net_admin,cap_net_raw "$(caps_of "$pid" "$field" | sorted)"
		for p in $hlp $scn; do
			assert_eq "namespaces=$ns_opt: $(cat "/proc/$p/comm")'s $field is what the scan needs" \
				cap_dac_read_search,cap_sys_admin,cap_sys_ptrace "$(caps_of "$p" "$field" | sorted)"
		done
	done
	for p in "$pid" $hlp $scn; do
		assert_eq "namespaces=$ns_opt: $(cat "/proc/$p/comm"): nothing inheritable" none "$(caps_of "$p" CapInh)"
		assert_eq "namespaces=$ns_opt: $(cat "/proc/$p/comm"): nothing ambient" none "$(caps_of "$p" CapAmb)"
	done
	# What it kept is enough: a reload re-opens the capture and re-applies.
	kill -HUP "$pid"
	check "namespaces=$ns_opt: after the drop a reload still applies the rules" \
		wait_for 5 log_has "$clog" rules_applied 'reason=reload'
	check "namespaces=$ns_opt: and re-opens the capture" \
		wait_for 5 bash -c "test \$(grep -c ' event=capture_started ' '$clog') = 2"
	check "namespaces=$ns_opt: listeners are still named after the drop (pid $dns_srv, dnsmasq)" \
		log_has "$clog" listener_found "pid=$dns_srv comm=dnsmasq exe=/usr/sbin/dnsmasq unit="
	if [ "$ns_opt" = no ]; then
		check_fails "namespaces=no: the resolver's namespace is not scanned" \
			log_has "$clog" listener_found "netns=$res "
		# The helper holds CAP_SYS_ADMIN whatever the configuration.
		sed -i 's/^namespaces = no$/namespaces = yes/' "$cconf"
		kill -HUP "$pid"
		check "reload from namespaces = no to yes: the resolver in another namespace is found" \
			wait_for 5 log_has "$clog" listener_found "pid=$dns_res comm=dnsmasq .* netns=$res "
		check_fails "reload from namespaces = no to yes: no scan failed" log_has "$clog" listener_scan_failed
		agent_stop "$pid"
		continue
	fi
	check "namespaces=yes: the resolver in another namespace is found and named (pid $dns_res)" \
		log_has "$clog" listener_found "pid=$dns_res comm=dnsmasq exe=/usr/sbin/dnsmasq unit=.* netns=$res "
	# What crossed the socket is what the scan finds in-process (run by
	# root, as the scan command is): every field of every listener, owner
	# (pid, comm, exe, unit, container) included.
	wait_for 3 test -s "$dir/caps-yes/status.json"
	ip netns exec "$srv" "$PORT53GUARD" -c "$cconf" scan --json >"$dir/scan.json" 2>/dev/null
	listeners_of "$dir/caps-yes/status.json" "$srv" "$res" >"$dir/via-helper.txt"
	listeners_of "$dir/scan.json" "$srv" "$res" >"$dir/in-process.txt"
	check "namespaces=yes: the helper found $(wc -l <"$dir/via-helper.txt") listeners in $srv and $res" \
		test "$(wc -l <"$dir/via-helper.txt")" -ge 6
	check "namespaces=yes: the agent's listeners (through the helper) are the in-process scan's, field for field" \
		cmp -s "$dir/via-helper.txt" "$dir/in-process.txt"
	diff "$dir/via-helper.txt" "$dir/in-process.txt" | head -5 | sed 's/^/# /' >&2

	# ---- the scan process killed: it comes back and the next rescan works ----
	kill -KILL "$scn"
	check "SIGKILL: a new scan process runs" wait_for 5 bash -c \
		"$(declare -f helper_of scanner_of); n=\$(scanner_of $pid); test -n \"\$n\" -a \"\$n\" != $scn"
	check "SIGKILL: its death is logged" wait_for 5 log_has "$clog" listener_scan_failed 'the scan process died'
	assert_eq "SIGKILL: the supervisor is the same" "$hlp" "$(helper_of "$pid")"
	spawn "$cli" "$dir/late.log" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
time.sleep(600)' >/dev/null
	check "SIGKILL: the next rescan finds a listener started after it (in $cli)" \
		wait_for 10 log_has "$clog" listener_found "comm=python3 .* netns=$cli "
	check "SIGKILL: enforcement went on (the table is there)" test "$(table_count "$srv")" = 1
	check "SIGKILL: the agent still runs" p53_alive "$pid"

	# ---- the supervisor killed: nothing can restart the scan with its
	# privileges, so listeners go unscanned; the verdict must say so.
	stale() {
		ip netns exec "$srv" "$PORT53GUARD" -c "$cconf" status --json 2>/dev/null |
			jq -e '.verdict.findings[] | select(.code == "listener_scan_stale" and .severity == "at_risk")' >/dev/null
	}
	check_fails "before the supervisor dies: no listener_scan_stale" stale
	kill -KILL "$hlp"
	check "supervisor SIGKILL: logged, with what it means" wait_for 5 log_has "$clog" listener_scan_failed \
		'the scan helper exited.*listeners are not scanned until the agent restarts'
	# rescan_interval = 1s: stale after 2 x 1 s + 15 s, seen at the next status write.
	check "supervisor SIGKILL: status finds listener_scan_stale within 25 s" \
		wait_for 25 stale
	assert_eq "supervisor SIGKILL: status exits 3" 3 "$(status_code "$srv" "$cconf")"
	check "supervisor SIGKILL: enforcement went on" test "$(table_count "$srv")" = 1
	agent_stop "$pid"
	check "stop: the helper is gone with the agent" bash -c "! kill -0 $hlp 2>/dev/null && ! pgrep -P $hlp >/dev/null"
done

# ---- the status and metrics files -------------------------------------------------------
fconf=$(agent_conf "$dir/files")
pid=$(agent_start "$srv" "$fconf" "$dir/files.log" sh -c 'umask 077; exec "$@"' sh)
status=$dir/files/status.json
metrics=$dir/files/metrics/port53guard.prom
wait_for 3 test -f "$metrics"
for f in "$status" "$metrics"; do
	assert_eq "$(basename "$f"): a regular file, mode 0644 under umask 077, owned by root" \
		"regular file 644 0 0" "$(stat -c '%F %a %u %g' "$f")"
done
# A reader in a tight loop while SIGHUPs make the agent rewrite both files
# hundreds of times (one at a time: signals sent while one is pending merge):
# each read must be a whole file.
python3 - "$status" "$metrics" "$dir/reader.stop" >"$dir/reader.out" 2>&1 <<-'PY' &
import json, os, sys, time
status, metrics, stop = sys.argv[1:4]
reads = bad = changes = 0
last = {}
end = time.time() + 180
while not os.path.exists(stop) and time.time() < end:
    for path in (status, metrics):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            bad += 1; print("missing", path); continue
        ino = os.fstat(fd).st_ino
        changes += last.get(path, ino) != ino
        last[path] = ino
        data = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        os.close(fd)
        reads += 1
        try:
            if path == status:
                assert json.loads(data)["pid"] > 0
            else:
                assert data.endswith(b"\n") and b"\nport53guard_build_info{" in data
        except Exception as e:
            bad += 1; print("partial", path, len(data), repr(e))
print("reads", reads, "bad", bad, "replacements", changes)
PY
reader=$!
register_pid "$reader"
python3 - "$pid" "$dir/files.log" 200 >"$dir/hup.out" <<-'PY'
import os, signal, sys, time
pid, log, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def reloads():
    with open(log, errors="replace") as f:
        return sum(" event=config_reloaded " in l for l in f)
base = reloads()
for i in range(1, n + 1):
    os.kill(pid, signal.SIGHUP)
    end = time.time() + 5
    while reloads() < base + i and time.time() < end:
        time.sleep(0.002)
print(reloads() - base)
PY
touch "$dir/reader.stop"
wait "$reader"
read -r _ reads _ bad _ replaced < <(tail -n 1 "$dir/reader.out")
echo "# reader: $reads reads, $bad partial or missing, saw the files replaced $replaced times"
assert_eq "200 reloads, each rewriting both files" 200 "$(cat "$dir/hup.out")"
check "the reader saw the files replaced under it ($replaced times)" test "${replaced:-0}" -ge 100
check "the reader read them often ($reads reads)" test "${reads:-0}" -ge 1000
assert_eq "no read saw a partial or missing file" 0 "${bad:-x}"
check "no temporary file is left behind" bash -c "ls -A '$dir/files' '$dir/files/metrics' >'$dir/ls.out' && ! grep -q '\.tmp$' '$dir/ls.out'"
agent_stop "$pid"

# An instrumented build reports memory errors, undefined behaviour and leaks
# (at exit) on stderr, which is each agent's log here.
check "no sanitizer report in any agent log" bash -c "! grep -l -E 'Sanitizer|runtime error:' '$dir'/*.log"
done_testing
