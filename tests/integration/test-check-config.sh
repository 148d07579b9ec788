#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317 # helpers below run through check
#
# The command line end to end: check-config on real files (effective values
# with their origins, one precise line per error, warnings that keep exit 0),
# comments, conf.d ordering, --help everywhere, and the usage exit codes.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
P=${PORT53GUARD:?PORT53GUARD must name the port53guard binary}
[ -x "$P" ] || skip "$P is not built"

d="$P53_TMP/cfg"
mkdir -p "$d"

# Every subcommand is started below (with --help or a bad option); should
# one ever act instead, it must not touch the host: as root, run it in a
# namespace of its own, and never let it run for long.
wrap=(timeout 20)
sandbox=
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
	sandbox=$(ns_add cli) || exit 1
	wrap=(ip netns exec "$sandbox" timeout 20)
	# The interfaces the files below exempt exist there (and only there):
	# check-config warns about an exempt interface that does not.
	ip -n "$sandbox" link add wg0 type veth peer name docker0 || exit 1
fi

# run ARGS...: runs port53guard, leaving $rc, $out (stdout) and $err (stderr).
run() {
	rc=0
	"${wrap[@]}" "$P" "$@" >"$P53_TMP/out" 2>"$P53_TMP/err" </dev/null || rc=$?
	out=$(<"$P53_TMP/out")
	err=$(<"$P53_TMP/err")
}

has() { grep -qF -- "$2" <<<"$1"; }
line_count() { if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi; }
# No control byte (but the newlines between lines) and no DEL.
printable() { ! printf '%s' "$1" | tr -d '\n' | LC_ALL=C grep -q '[[:cntrl:]]'; }

# --- a valid file ---------------------------------------------------------------
cat >"$d/p.conf" <<'EOF'
# port53guard test configuration
[agent]
mode = monitor

[rules]
allow = 10.0.0.0/8
    2001:db8::/32
exempt_interfaces = wg0
EOF
run -c "$d/p.conf" check-config
assert_eq "valid file: exit 0" 0 "$rc"
if [ -n "$sandbox" ]; then
	assert_eq "valid file: nothing on stderr" "" "$err"
else
	check "valid file: at most the missing-interface warning" \
		test -z "$(grep -v 'warning: exempt_interface_missing:' <<<"$err")"
fi
check "valid file: mode from FILE:LINE" has "$out" "mode = monitor  ; from $d/p.conf:3"
check "valid file: list continued on an indented line" \
	has "$out" "allow = 10.0.0.0/8, 2001:db8::/32  ; from $d/p.conf:7"
check "valid file: exempt_interfaces from FILE:LINE" has "$out" "exempt_interfaces = wg0  ; from $d/p.conf:8"
check "valid file: unset keys are defaults" has "$out" "log_format = text  ; default"
check "valid file: section headers" has "$out" "[capture]"
check "valid file: lists the file read" has "$out" "#   $d/p.conf"
run check-config -c "$d/p.conf"
assert_eq "-c after the subcommand works too" 0 "$rc"
check "-c after the subcommand: same effective value" has "$out" "mode = monitor  ; from $d/p.conf:3"
run --config="$d/p.conf" check-config
assert_eq "--config=FILE works" 0 "$rc"

# --- one line per error ------------------------------------------------------------
# expect_error NAME CONTENT LINE KEY VALUE: the file holds CONTENT; the error
# must be exit 1 and exactly one stderr line naming file:LINE, KEY and VALUE.
n=0
expect_error() {
	local name=$1 content=$2 line=$3 key=$4 value=$5 f
	n=$((n + 1))
	f="$d/err$n.conf"
	printf '%b' "$content" >"$f"
	run -c "$f" check-config
	assert_eq "$name: exit 1" 1 "$rc"
	assert_eq "$name: exactly one line on stderr" 1 "$(line_count "$err")"
	check "$name: names $f:$line" has "$err" "$f:$line:"
	[ -n "$key" ] && check "$name: names the key" has "$err" "$key"
	[ -n "$value" ] && check "$name: names the value" has "$err" "$value"
	check "$name: the line is printable" printable "$err"
	assert_eq "$name: nothing on stdout" "" "$out"
}

expect_error "unknown section" '[agent]\nmode = auto\n[nope]\n' 3 "[nope]" ""
expect_error "unknown key" '[agent]\nfoo = 1\n' 2 "[agent] foo" '"1"'
expect_error "key outside a section" 'mode = auto\n' 1 "mode" '"auto"'
expect_error "bad CIDR" '[rules]\nallow = 10.0.0.0/8, 10.0.0.1/24\n' 2 "[rules] allow" '"10.0.0.1/24" has host bits'
expect_error "prefix out of range" '[rules]\nallow = 1.2.3.4/33\n' 2 "allow" "1.2.3.4/33"
expect_error "bad number" '[agent]\n\nsummary_interval = soon\n' 3 "summary_interval" '"soon"'
expect_error "number out of range" '[capture]\nbuffer_size = 2G\n' 2 "buffer_size" '"2G"'
expect_error "sample_above below its range" '[capture]\nsample_above = 999\n' 2 "sample_above" '"999"'
expect_error "sample_above not a rate" '[capture]\nsample_above = sometimes\n' 2 "sample_above" '"sometimes"'
expect_error "bad enum" '[agent]\nlog_format = xml\n' 2 "log_format" '"xml"'
expect_error "bad bool" '[rules]\nkeep_on_stop = perhaps\n' 2 "keep_on_stop" '"perhaps"'
expect_error "bad interface name" '[rules]\nexempt_interfaces = eth0 a/b\n' 2 "exempt_interfaces" '"a/b"'
expect_error "relative path" '[rules]\npolicy_file = sg.json\n' 2 "policy_file" '"sg.json"'
expect_error "overlong line" "[rules]\nallow = $(printf '10.0.0.0/8, %.0s' $(seq 20))\n" 2 "" \
	"line longer than 198 characters (not counting a comment)"
expect_error "overlong value line with a comment after it" \
	"[output]\nstatus_file = /$(printf 'a%.0s' $(seq 184)) # short\n" 2 "" "longer than 198 characters"
expect_error "NUL byte" '[agent]\nmode = auto\n#\0\n' 3 "" "NUL"
expect_error "syntax error" '[agent]\nmode auto\n' 2 "" "syntax error"
expect_error "hostile value" '[agent]\nmode = \033[2J\033]0;x\a\r\n' 2 "mode" '\x1b[2J'
expect_error "bad internal interface name" '[rules]\ninternal_interfaces = docker0 br/0\n' 2 \
	"internal_interfaces" '"br/0"'
expect_error "empty internal_interfaces" '[rules]\ninternal_interfaces =\n' 2 "internal_interfaces" \
	"expected auto, none or interface names"
expect_error "metrics file equals status file" \
	'[output]\nstatus_file = /run/x\nmetrics_file = /run/x\n' 3 "metrics_file" "/run/x"

# An allow list that covers a whole family would refuse no one.
for everything in "0.0.0.0/0" "::/0" "192.0.2.0/24, 0.0.0.0/0"; do
	expect_error "allow = $everything" "[rules]\nallow = $everything\n" 2 "[rules] allow" "mode = monitor"
done
expect_error "allow: 0.0.0.0/1 + 128.0.0.0/1 is everything too" \
	'[rules]\nallow = 0.0.0.0/1\n  198.51.100.0/24\nallow = 128.0.0.0/1\n' 4 '"128.0.0.0/1"' \
	"with the other entries, allows all of IPv4 (0.0.0.0/0)"
expect_error "allow: ::/1 + 8000::/1 is everything too" \
	'[rules]\nallow = 8000::/1 ::/1\n' 2 "allow" "allows all of IPv6 (::/0)"
# A scalar set twice in one file: both lines named.
expect_error "mode set twice" '[agent]\nmode = monitor\nlog_level = info\n\nmode = enforce\n' 5 \
	'[agent] mode = "enforce"' "set twice in this file, on line 2 and on line 5"
expect_error "an indented key" '[rules]\nexempt_interfaces = wg0\n    keep_on_stop = no\n' 3 "" "indented key"
expect_error "a bare * as an interface" '[rules]\nexempt_interfaces = *\n' 2 "exempt_interfaces" \
	"would match every interface"
expect_error "a quote in an interface name" "[capture]\ninterfaces = eth0 'eth1'\n" 2 "[capture] interfaces" \
	"is not an interface name"
expect_error "a comment glued to an item" '[rules]\nexempt_interfaces = docker0,# not eth0\n' 2 \
	"exempt_interfaces" '"#" looks like a comment'

# run refuses it as check-config does, naming the same line, and fails
# closed: it keeps running on the built-in refuse (so timeout stops it).
printf '[agent]\nmode = monitor\n[rules]\nallow = 0.0.0.0/1, 128.0.0.0/1\n[output]\nstatus_file = %s/everything.json\n' "$d" >"$d/everything.conf"
if [ -n "$sandbox" ]; then
	rc=0
	ip netns exec "$sandbox" timeout 3 "$P" -c "$d/everything.conf" run >"$P53_TMP/out" 2>"$P53_TMP/err" </dev/null || rc=$?
	err=$(<"$P53_TMP/err")
	assert_eq "run: allow covering everything: the agent keeps running (stopped by timeout)" 124 "$rc"
	check "run: the built-in refuse is in force instead" grep -q "error event=rules_fallback rules=builtin" <<<"$err"
else
	run -c "$d/everything.conf" run
	assert_eq "run: allow covering everything, no CAP_NET_ADMIN: exit 1" 1 "$rc"
fi
check "run: names the line and suggests monitor" \
	grep -q "config_invalid.*$d/everything.conf.*line=4.*mode = monitor" <<<"$err"

# --- comments ---------------------------------------------------------------------------
cat >"$d/comments.conf" <<EOF
# $(printf 'a long comment line %.0s' $(seq 15))
[rules] ; the rule
exempt_interfaces = docker0   # not eth0 (uplink)
    ; $(printf 'x%.0s' $(seq 300))
  wg0 ; $(printf 'y%.0s' $(seq 300))
allow = 192.0.2.0/24	# lab
EOF
run -c "$d/comments.conf" check-config
assert_eq "comments: exit 0" 0 "$rc"
check "comments: the comment is not a list item" \
	has "$out" "exempt_interfaces = docker0, wg0  ; from $d/comments.conf:5"
check "comments: a tab before '#' starts one too" has "$out" "allow = 192.0.2.0/24  ; from $d/comments.conf:6"
if [ -n "$sandbox" ]; then
	assert_eq "comments: no warning" "" "$err"
	run -c "$d/comments.conf" apply --dry-run
	assert_eq "comments: apply --dry-run: exit 0" 0 "$rc"
	check "comments: the dry run exempts docker0" grep -q 'iifname.*"docker0"' <<<"$out"
	check_fails "comments: the dry run does not exempt eth0" grep -q '"eth0"\|"#"\|"not"\|"(uplink)"' <<<"$out"
fi

# --- warnings: exit 0, one line each on stderr ----------------------------------------------
printf '[rules]\nallow = 10.0.0.0/8\n  10.0.0.0/7, 2001:db8::/31\n' >"$d/broad.conf"
run -c "$d/broad.conf" check-config
assert_eq "allow_broad: exit 0" 0 "$rc"
assert_eq "allow_broad: one line per broad entry" 2 "$(line_count "$err")"
check "allow_broad: IPv4 entry, code, file and line" has "$err" \
	"port53guard check-config: warning: allow_broad: $d/broad.conf:3: [rules] allow = \"10.0.0.0/7\": a broad allow entry (shorter than /8)"
check "allow_broad: IPv6 entry" has "$err" "allow_broad: $d/broad.conf:3: [rules] allow = \"2001:db8::/31\""
check "allow_broad: the effective configuration still printed" has "$out" "allow = 10.0.0.0/8, 10.0.0.0/7"

printf '[rules]\nexempt_interfaces = dokcer0 veth*\n' >"$d/typo.conf"
run -c "$d/typo.conf" check-config
assert_eq "dokcer0: exit 0" 0 "$rc"
assert_eq "dokcer0: one warning line (a prefix is not looked up)" 1 "$(line_count "$err")"
check "dokcer0: code, file and line" has "$err" \
	"port53guard check-config: warning: exempt_interface_missing: $d/typo.conf:2: [rules] exempt_interfaces = \"dokcer0\": no such interface"
if [ -n "$sandbox" ]; then
	check "dokcer0: did you mean docker0" has "$err" 'did you mean "docker0"?'
	# The agent logs the same warning when it starts.
	conf=$(agent_conf "$d/agent" '[agent]' 'mode = monitor' '[rules]' 'exempt_interfaces = dokcer0')
	if pid=$(agent_start "$sandbox" "$conf" "$d/agent.log"); then
		check "agent: exempt_interface_missing logged at start" \
			log_has "$d/agent.log" exempt_interface_missing 'value=dokcer0.*did you mean'
		agent_stop "$pid"
	else
		check "agent: starts with a missing exempt interface" false
	fi
fi

run -c "$d/missing.conf" check-config
assert_eq "missing -c file: exit 1" 1 "$rc"
assert_eq "missing -c file: one line" 1 "$(line_count "$err")"
check "missing -c file: names it" has "$err" "$d/missing.conf"
mkdir "$d/dir.conf"
run -c "$d/dir.conf" check-config
assert_eq "a directory as the file: exit 1" 1 "$rc"
check "a directory as the file: says so" has "$err" "$d/dir.conf: cannot read file"
ln -s /nonexistent/p.conf "$d/dangling.conf"
run -c "$d/dangling.conf" check-config
assert_eq "dangling symlink: exit 1" 1 "$rc"

# The built-in default path may be missing: then the defaults are used.
if [ ! -e /etc/port53guard/port53guard.conf ] && [ ! -e /etc/port53guard/conf.d ]; then
	run check-config
	assert_eq "missing default file: exit 0" 0 "$rc"
	check "missing default file: built-in defaults" has "$out" "none (built-in defaults)"
fi

# --- conf.d, end to end ------------------------------------------------------------
c="$P53_TMP/cd"
mkdir -p "$c/conf.d"
printf '[agent]\nmode = monitor\nlog_level = debug\n[rules]\nallow = 10.0.0.0/8\n' >"$c/main.conf"
printf '[agent]\nmode = auto\n' >"$c/conf.d/20-b.conf"
printf '[agent]\nmode = enforce\n[rules]\nallow = 192.0.2.0/24\n' >"$c/conf.d/10-a.conf"
printf '[agent]\n\nlog_format = json\n' >"$c/conf.d/9-c.conf"
printf '[agent]\nmode = broken\n' >"$c/conf.d/30-d.conf.disabled"
printf '[agent]\nmode = broken\n' >"$c/conf.d/.40-e.conf"
run -c "$c/main.conf" check-config
assert_eq "conf.d: exit 0" 0 "$rc"
assert_eq "conf.d: files read in byte order" \
	"$c/main.conf $c/conf.d/10-a.conf $c/conf.d/20-b.conf $c/conf.d/9-c.conf" \
	"$(sed -n 's/^#   //p' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
check "conf.d: the last file wins" has "$out" "mode = auto  ; from $c/conf.d/20-b.conf:2"
check "conf.d: a later file replaces a list" has "$out" "allow = 192.0.2.0/24  ; from $c/conf.d/10-a.conf:4"
check "conf.d: keys a drop-in leaves alone keep their origin" \
	has "$out" "log_level = debug  ; from $c/main.conf:3"
check "conf.d: 9-c.conf is read last" has "$out" "log_format = json  ; from $c/conf.d/9-c.conf:3"
printf '[agent]\nmode = never\n' >"$c/conf.d/50-bad.conf"
run -c "$c/main.conf" check-config
assert_eq "conf.d: a bad drop-in fails" 1 "$rc"
check "conf.d: the error names the drop-in" has "$err" "$c/conf.d/50-bad.conf:2:"

# --- the interfaces and what set internal makes of them ---------------------------
if [ -n "${sandbox:-}" ]; then
	ip -n "$sandbox" link add br-c type bridge &&
		ip -n "$sandbox" link add vc0 master br-c type veth peer name vc1 &&
		ip -n "$sandbox" link add br-l type bridge &&
		ip -n "$sandbox" link add link vc1 name mvl0 type macvlan &&
		ip -n "$sandbox" link set mvl0 master br-l || exit 1
	iface_line() { grep -E "^# interface $1 +kind=$2 +$3 +$4" <<<"$out" >/dev/null; }
	printf '[rules]\nexempt_interfaces = mvl0\n' >"$d/if-auto.conf"
	run -c "$d/if-auto.conf" check-config
	assert_eq "interfaces (auto): exit 0" 0 "$rc"
	check "interfaces: the default is auto" has "$out" "internal_interfaces = auto  ; default"
	check "interfaces (auto): lo is local" iface_line lo loopback local "loopback"
	check "interfaces (auto): a bridge of veths is internal" iface_line br-c bridge internal \
		"bridge with only virtual ports"
	check "interfaces (auto): a veth is internal" iface_line vc0 veth internal "kind veth exists only inside the host"
	check "interfaces (auto): a bridge with a macvlan port is outside, the port named" \
		iface_line br-l bridge outside "bridge with port mvl0 \(macvlan\)"
	check "interfaces (auto): an exempt interface says so" iface_line mvl0 macvlan outside \
		".*accepted anyway: in exempt_interfaces"
	printf '[rules]\ninternal_interfaces = none\n' >"$d/if-none.conf"
	run -c "$d/if-none.conf" check-config
	check "interfaces (none): nothing internal" iface_line br-c bridge outside "internal_interfaces = none"
	printf '[rules]\ninternal_interfaces = br-*\n' >"$d/if-list.conf"
	run -c "$d/if-list.conf" check-config
	check "interfaces (list): a listed bridge with a NIC-like port is internal" \
		iface_line br-l bridge internal "listed in internal_interfaces"
	check "interfaces (list): an unlisted veth is outside" iface_line vc0 veth outside "not listed in"
	check "interfaces: every line is printable" printable "$out"
fi

# --- help and usage --------------------------------------------------------------------
run --help
assert_eq "--help: exit 0" 0 "$rc"
check "--help: usage on stdout" has "$out" "Usage: port53guard"
run -h
assert_eq "-h: exit 0" 0 "$rc"
commands=$(sed -n '/^Commands:/,/^$/{/^  [a-z]/{s/^  \([a-z-]*\).*/\1/;p}}' <<<"$out")
check "--help lists commands" test -n "$commands"
check "--help lists check-config" grep -qx check-config <<<"$commands"
for cmd in $commands; do
	run "$cmd" --help
	if [ "$rc" = 0 ]; then
		check "$cmd --help: usage" has "$out" "Usage: port53guard"
	else
		assert_eq "$cmd --help: exit 2 when not available" 2 "$rc"
		check "$cmd --help: says it is not available" has "$err" "not available in this version"
	fi
	run "$cmd" --no-such-option
	assert_eq "$cmd --no-such-option: exit 2" 2 "$rc"
	run -c "$d/p.conf" "$cmd" -h
	check "$cmd -h after -c: exit 0 or 2 (not available)" test "$rc" = 0 -o "$rc" = 2
done

run --version
assert_eq "--version: exit 0" 0 "$rc"
check "--version: names the program" has "$out" "port53guard "
run version
assert_eq "version: exit 0" 0 "$rc"
check "version: names libpcap" has "$out" "libpcap"
run -V
assert_eq "-V: exit 0" 0 "$rc"

run frobnicate
assert_eq "unknown command: exit 2" 2 "$rc"
check "unknown command: named" has "$err" "frobnicate"
run --no-such-option check-config
assert_eq "unknown option: exit 2" 2 "$rc"
run
assert_eq "no command: exit 2" 2 "$rc"
run check-config -c
assert_eq "-c without a file: exit 2" 2 "$rc"
run check-config extra-argument
assert_eq "check-config takes no operands: exit 2" 2 "$rc"

done_testing
