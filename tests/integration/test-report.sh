#!/bin/bash
# shellcheck disable=SC2317 # functions run through check
# SPDX-License-Identifier: GPL-2.0-or-later
#
# port53guard report over a journal with a known history: agent events in
# export format (two boots, a drift, a reload into monitor mode and back, a
# stop, a hole, a reboot without stop, a fallback) written into a journal
# file by systemd-journal-remote, read with --directory and --file. Checks
# the JSON contract (coverage, each gap's cause and seconds, boots,
# changes, listeners, recursion, queries, the seal flag), the text screen,
# the HTML (self-contained, SVG timeline, rendered by headless Chromium:
# the screenshot is not blank and the timeline's colours are drawn), the
# window options and usage errors; then the Prometheus alert rules with
# promtool.
. "$(dirname "$0")/lib.sh"
p53_init
require_cmd jq python3

src=$(cd "$(dirname "$0")/../.." && pwd)
PG=$PORT53GUARD
remote=
for c in /usr/lib/systemd/systemd-journal-remote /lib/systemd/systemd-journal-remote; do
	[ -x "$c" ] && remote=$c && break
done
[ -n "$remote" ] || skip "needs systemd-journal-remote"

dir=$P53_TMP/report
mkdir -p "$dir/j"

# The history, in seconds after T0 = 2026-11-02T00:00:00Z; boot A started
# at T0-100, boot B at T0+2800. Summaries every 60 s (queries +10, drops
# +8 each) except in the hole (2010..2430) and around the reboot.
python3 - >"$dir/events.export" <<'EOF'
T0 = 1793577600
BA, BB = "a" * 32, "b" * 32
bootstart = {BA: T0 - 100, BB: T0 + 2800}
seq = []
def ev(t, boot, name, prio=6, **f):
    seq.append((t, len(seq), boot, name, prio, f))
ev(-90, BA, "agent_started", version="0.1.0", mode="enforce", pid=100, config_files=1)
ev(-88, BA, "rules_applied", reason="start", rules=3)
ev(100, BA, "listener_found", 4, proto="udp", addr="0.0.0.0", port=53, exposure="public", pid=321,
   comm="dnsmasq<b>", unit="dnsmasq.service")
ev(100, BA, "listener_found", 6, proto="udp", addr="127.0.0.53", port=53, exposure="local", pid=99,
   comm="systemd-resolve")
ev(150, BA, "recursion_offered", 4, querier="198.51.100.7", querier_port=5353, server="192.0.2.1",
   qname="example.com", qtype="A")
ev(200, BA, "listener_gone", 6, proto="udp", addr="0.0.0.0", port=53, exposure="public", pid=321, comm="dnsmasq")
ev(600, BA, "rules_drift", 4, pid=4242, comm="nft", change="table deleted", generation=7)
ev(600.5, BA, "rules_restored", 5, cause="change by another process", took_ms=3, repairs=1)
ev(900, BA, "rules_removed", 4, reason="reload: the mode no longer enforces")
ev(900, BA, "config_reloaded", files=2, mode="monitor", hash="1" * 64)
ev(1200, BA, "rules_applied", reason="reload")
ev(1200, BA, "config_reloaded", files=2, mode="enforce", hash="2" * 64)
ev(1500, BA, "agent_stopping", signal="Terminated", sender_pid=1)
ev(1500.2, BA, "rules_kept", 5, reason="keep_on_stop=yes")
ev(1500.2, BA, "agent_stopped", exit_status=0)
ev(1510, BA, "agent_started", version="0.1.0", mode="enforce", pid=200, config_files=1)
ev(1510.5, BA, "rules_applied", reason="start")
ev(2805, BB, "agent_started", version="0.1.0", mode="enforce", pid=300, config_files=1)
ev(2806, BB, "rules_applied", reason="start")
ev(3000, BB, "rules_fallback", 3, rules="builtin", reason="config invalid", config_sha256="3" * 64)
ev(3100, BB, "rules_applied", reason="reload")
ev(3100, BB, "config_reloaded", files=1, mode="enforce")
cum = {"q": 0, "d": 0}
t, first_b = -30, True
while t < 3600:
    boot = BA if t < 2700 else BB
    if t == 1530 or (boot == BB and first_b):
        cum = {"q": 0, "d": 0}
        first_b = boot == BA
    if not (2010 < t < 2430 or 2700 < t < 2810):
        mon = 900 < t < 1200
        cum["q"] += 10; cum["d"] += 8
        ev(t, boot, "summary", mode="monitor" if mon else "enforce", enforcing="no" if mon else "yes",
           queries=cum["q"], dropped_udp=cum["d"], dropped_tcp=0)
    t += 60
# the kernel's first message of boot B; boot A's has been vacuumed, so that
# boot starts at its first entry left (the agent's start at T0-90)
ev(2800, BB, "", 6, _kernel=True)
seq.sort(key=lambda e: (e[0], e[1]))
for t, _, boot, name, prio, f in seq:
    rt = int(round((T0 + t) * 1e6))
    lines = [f"__REALTIME_TIMESTAMP={rt}", f"__MONOTONIC_TIMESTAMP={rt - bootstart[boot] * 1000000}",
             f"_BOOT_ID={boot}", "_HOSTNAME=auditee"]
    if f.get("_kernel"):
        lines += ["_TRANSPORT=kernel", "PRIORITY=5", "MESSAGE=Linux version 6.1.0"]
    else:
        lines += ["SYSLOG_IDENTIFIER=port53guard", f"PRIORITY={prio}", f"MESSAGE=event={name}",
                  f"PORT53GUARD_EVENT={name}"]
        lines += [f"PORT53GUARD_{k.upper()}={v}" for k, v in f.items()]
    print("\n".join(lines) + "\n")
EOF
"$remote" -o "$dir/j/remote.journal" - <"$dir/events.export" 2>"$dir/remote.err"
check "systemd-journal-remote writes the journal file" test -s "$dir/j/remote.journal"

W=(--since 2026-11-02T00:00:00Z --until 2026-11-02T01:00:00Z)
rep() { "$PG" report "$@"; }

rep -D "$dir/j" "${W[@]}" --format json >"$dir/r.json"
assert_eq "report exits 3 when the window has gaps" 3 "$?"
check "the JSON parses" jq -e . "$dir/r.json"
j() { jq -r "$1" "$dir/r.json"; }
assert_eq "schema_version" 1 "$(j .schema_version)"
assert_eq "window" "2026-11-02T00:00:00.000Z 2026-11-02T01:00:00.000Z" "$(j '"\(.window.since) \(.window.until)"')"
assert_eq "window_seconds" 3600 "$(j .coverage.window_seconds)"
assert_eq "enforced_seconds: the window less the gaps" 2693.2 "$(j .coverage.enforced_seconds)"
assert_eq "coverage ratio" 0.748111 "$(j .coverage.ratio)"
assert_eq "each gap: start, seconds, cause" \
	"00:10:00.000 0.5 drift|00:15:00.000 300 mode_monitor|00:25:00.200 10.3 agent_not_running|00:34:30.000 360 unknown|00:44:30.000 130 unknown|00:46:40.000 6 agent_not_running|00:50:00.000 100 config_fallback" \
	"$(j '[.gaps[] | "\(.start[11:23]) \(.seconds) \(.cause)"] | join("|")')"
assert_eq "the drift names the culprit" "pid 4242 (nft): table deleted" "$(j '.gaps[0].detail')"
assert_eq "the stop says how it stopped" "agent stopped (Terminated)" "$(j '.gaps[2].detail')"
check "the hole says the journal has no entries" grep -q 'no entries from the running agent for 420 s' "$dir/r.json"
check "the lost boot says it ended without agent_stopped" grep -q 'boot aaaaaaaaaaaa ended without agent_stopped' "$dir/r.json"
assert_eq "the gaps' seconds add up to the window less enforced" 906.8 "$(j '[.gaps[].seconds] | add * 10 | round / 10')"
assert_eq "boots: ids, kernel start, rules after" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 2026-11-01T23:58:30.000Z null|bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 2026-11-02T00:46:40.000Z 6" \
	"$(j '[.boots[] | "\(.boot_id) \(.start) \(.rules_after_seconds)"] | join("|")')"
assert_eq "changes: kinds in order" \
	"config_reloaded config_reloaded agent_started agent_started rules_fallback config_reloaded" \
	"$(j '[.changes[].kind] | join(" ")')"
assert_eq "changes carry the content hash when the event has one" "$(printf '1%.0s' $(seq 64)) null" \
	"$(j '"\(.changes[0].hash) \(.changes[2].hash)"')"
assert_eq "public listeners only, with owner, first and last seen" \
	"udp 0.0.0.0 53 dnsmasq<b> (pid 321, unit dnsmasq.service) 2026-11-02T00:01:40.000Z 2026-11-02T00:03:20.000Z false" \
	"$(j '[.listeners[] | "\(.proto) \(.address) \(.port) \(.owner) \(.first_seen) \(.last_seen) \(.listening)"] | join("|")')"
assert_eq "recursion offered" "198.51.100.7 example.com" "$(j '[.recursion_offered[] | "\(.querier) \(.qname)"] | join("|")')"
# 52 summaries fall in the window; each adds 10 queries and 8 drops.
assert_eq "queries: inbound and refused from the summaries" "520 416 2026-11-02" \
	"$(j '"\(.queries.inbound_total) \(.queries.refused_total) \(.queries.by_day[0].date)"')"
assert_eq "journal: not sealed, one file, first and last entry" \
	"false 1 2026-11-01T23:58:30.000Z 2026-11-02T00:59:30.000Z" \
	"$(j '"\(.journal.sealed) \(.journal.files) \(.journal.first_entry) \(.journal.last_entry)"')"
assert_eq "host from the journal" auditee "$(j .host)"

# --file reads the same; a file whose header says sealed is reported so.
cp "$dir/j/remote.journal" "$dir/sealed.journal"
printf '\001' | dd of="$dir/sealed.journal" bs=1 seek=8 conv=notrunc status=none
assert_eq "--file: the same coverage" 0.748111 "$(rep --file "$dir/j/remote.journal" "${W[@]}" --format json | jq -r .coverage.ratio)"
assert_eq "--file on a sealed file: sealed true" "true 1" \
	"$(rep --file "$dir/sealed.journal" "${W[@]}" --format json | jq -r '"\(.journal.sealed) \(.journal.sealed_files)"')"

# A window without gaps exits 0 and covers everything.
rep -D "$dir/j" --since 2026-11-02T00:00:00Z --until 2026-11-02T00:08:00Z --format json >"$dir/clean.json"
assert_eq "a window without gaps exits 0" 0 "$?"
assert_eq "... with ratio 1 and no gaps" "1 0" "$(jq -r '"\(.coverage.ratio) \(.gaps | length)"' "$dir/clean.json")"
assert_eq "an ISO 8601 offset is honoured" "2026-11-02T00:00:00.000Z" \
	"$(rep -D "$dir/j" --since 2026-11-02T08:00:00+08:00 --until 2026-11-02T00:08:00Z --format json | jq -r .window.since)"
assert_eq "--since boot: the journal's newest boot" "2026-11-02T00:46:40.000Z" \
	"$(rep -D "$dir/j" --since boot --format json | jq -r .window.since)"
assert_eq "the last 10 minutes of an old journal: all unknown" "0 unknown" \
	"$(rep -D "$dir/j" --since -10m --format json | jq -r '"\(.coverage.ratio) \([.gaps[].cause] | unique | join(","))"')"
assert_eq "the default window is 24 hours" 86400 "$(rep -D "$dir/j" --format json | jq -r .coverage.window_seconds)"
rep -D "$dir/j" --since yesterday >/dev/null 2>"$dir/usage.err"
assert_eq "a bad WHEN is a usage error" 2 "$?"
check "... naming the value" grep -q "invalid value 'yesterday' for --since" "$dir/usage.err"
rep -D "$dir/j" --file "$dir/j/remote.journal" >/dev/null 2>&1
assert_eq "--directory and --file together: usage error" 2 "$?"
rep -D "$dir/j" --since -1h --until -2h >/dev/null 2>&1
assert_eq "since after until: usage error" 2 "$?"
rep -D "$dir/j" --format pdf >/dev/null 2>&1
assert_eq "an unknown format: usage error" 2 "$?"
rep -D "$dir/nonexistent" --format json >/dev/null 2>&1
rc=$?
check "a missing directory is an error or an empty report, never a crash" test "$rc" -le 3

# ---- text: one screen ----
rep -D "$dir/j" "${W[@]}" >"$dir/r.txt"
sed 's/^/# text: /' "$dir/r.txt" >&2
check "text: the coverage line" grep -q '^coverage:  74.811% enforced (2693.2 of 3600.0 s), 7 gaps$' "$dir/r.txt"
check "text: the fallback gap" grep -q 'config_fallback   rules in force: builtin' "$dir/r.txt"
check "text: the seal status" grep -q '^journal:   1 file, sealed: no' "$dir/r.txt"
check "text: fits one screen (24 lines of at most 132 columns)" \
	awk 'length > 132 { bad = 1 } END { exit bad || NR > 24 }' "$dir/r.txt"

# ---- HTML ----
rep -D "$dir/j" "${W[@]}" --format html -o "$dir/r.html"
assert_eq "-o FILE: exit 3 and the file written" "3 yes" "$? $([ -s "$dir/r.html" ] && echo yes)"
(cd "$dir" && rep -D "$dir/j" "${W[@]}" --format html -o bare.html)
check "-o with a bare file name writes into the current directory" grep -q '<svg' "$dir/bare.html"
check "HTML: an inline SVG timeline" grep -q '<svg xmlns="http://www.w3.org/2000/svg" id="timeline"' "$dir/r.html"
check "HTML: the drift is drawn with its culprit" grep -q '<title>drift 2026-11-02T00:10:00.000Z 0.500 s: pid 4242 (nft)' "$dir/r.html"
check_fails "HTML: no script, no external asset" grep -Eqi '<script|src=|<link|url\(|@import' "$dir/r.html"
check "HTML: values are escaped" grep -q 'dnsmasq&lt;b&gt;' "$dir/r.html"
check "HTML: prints on A4" grep -q '@page{size:A4' "$dir/r.html"

chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chrome" ]; then
	timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
		--user-data-dir="$dir/chrome" --window-size=1000,700 --screenshot="$dir/r.png" \
		"file://$dir/r.html" >"$dir/chrome.log" 2>&1
	check "chromium renders a screenshot" test -s "$dir/r.png"
	# Counts pixels of the timeline's colours in the PNG (zlib, no extra
	# package): enforced green, and the gaps' red, purple, grey, amber.
	python3 - "$dir/r.png" >"$dir/pixels.txt" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if typ == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0
        bpp = 3 if ctype == 2 else 4
    elif typ == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
counts = {}
want = {"enforced": (0x2e, 0x7d, 0x32), "agent_not_running": (0xc6, 0x28, 0x28), "mode_monitor": (0x6a, 0x1b, 0x9a),
        "unknown": (0x75, 0x75, 0x75), "config_fallback": (0xf9, 0xa8, 0x25)}
colours = set()
i = 0
for y in range(h):
    f = raw[i]; i += 1
    line = bytearray(raw[i:i + stride]); i += stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = tuple(line[x:x + 3])
        colours.add(px)
        for k, v in want.items():
            if px == v:
                counts[k] = counts.get(k, 0) + 1
    prev = line
print("colours", len(colours))
for k in want:
    print(k, counts.get(k, 0))
EOF
	sed 's/^/# pixels: /' "$dir/pixels.txt" >&2
	px() { awk -v k="$1" '$1 == k { print $2 }' "$dir/pixels.txt"; }
	check "the screenshot is not blank (many colours)" test "$(px colours)" -gt 20
	check "the timeline is drawn: enforced green" test "$(px enforced)" -gt 2000
	check "the gaps are drawn: agent_not_running, mode_monitor, unknown, config_fallback" \
		test "$(px agent_not_running)" -gt 20 -a "$(px mode_monitor)" -gt 200 -a "$(px unknown)" -gt 200 \
		-a "$(px config_fallback)" -gt 100
else
	echo "# chromium not installed: the screenshot checks are skipped" >&2
fi

# ---- Prometheus alert rules ----
if command -v promtool >/dev/null 2>&1; then
	check "promtool check rules" promtool check rules "$src/packaging/prometheus/port53guard.rules.yml"
	(cd "$src/packaging/prometheus" && promtool test rules port53guard.rules.test.yml) >"$dir/promtool.out" 2>&1
	rc=$?
	sed 's/^/# promtool: /' "$dir/promtool.out" >&2
	assert_eq "promtool test rules: every alert fires and stays quiet as tested" 0 "$rc"
else
	echo "# promtool not installed: the alert rule tests are skipped" >&2
fi

done_testing
