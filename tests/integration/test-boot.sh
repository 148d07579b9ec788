#!/bin/bash
# shellcheck disable=SC2317 # functions run through check, wait_for and traps
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The .deb on a booted Debian 12: a minimal root made with debootstrap,
# the package installed into it with apt while no systemd runs there (as
# when an image is built), then the root booted with systemd-nspawn in its
# own network namespace, so every nftables rule stays inside it. From inside
# it checks that the service runs after boot without anyone starting it,
# unprivileged with only its capabilities; that the table is in place and
# the journal has the events; that status says enforcing; that reload
# works and a broken drop-in is refused while the old configuration stays;
# that stop and failed restarts leave the rule in place; that removing the
# package keeps the rule and purging it deletes it; and that installing it
# on the running system starts it. Then it powers the container off.
#
# The debootstrapped root is cached as a tarball in
# /var/cache/port53guard-test (PORT53GUARD_TEST_CACHE), one per day; the
# .deb comes from packaging/build-deb.sh --tree --reuse, so a .deb that
# test-package.sh just built from the same files is used as it is
# (PORT53GUARD_DEB=FILE tests that .deb instead).

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
p53_init
require_root

cache=${PORT53GUARD_TEST_CACHE:-/var/cache/port53guard-test}
suite=bookworm
include=systemd,systemd-sysv,dbus,nftables,procps,libmnl0,libnftnl11,libpcap0.8,libinih1,libjansson4,libcap-ng0
boot_timeout=120

work=
nspawn_pid=
leader=
mounted_nspawn_run=no

# ------------------------------------------------------------- cleanup ---

nspawn_gone() {
	! p53_alive "$nspawn_pid"
}

boot_cleanup() {
	local rc=$?
	trap - EXIT
	if [ -n "$nspawn_pid" ] && p53_alive "$nspawn_pid"; then
		# nspawn turns SIGTERM into a clean poweroff of the container;
		# KILL if that takes too long.
		kill -TERM "$nspawn_pid" 2>/dev/null
		wait_for 30 nspawn_gone || kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	if [ "$mounted_nspawn_run" = yes ]; then
		umount /run/systemd/nspawn 2>/dev/null || umount -l /run/systemd/nspawn 2>/dev/null
	fi
	if [ -n "$work" ] && [ -d "$work" ]; then
		rm -rf --one-file-system "$work"
	fi
	(exit "$rc")
	p53_cleanup
}
trap boot_cleanup EXIT

# --------------------------------------------------------------- tools ---

need_tools() {
	local c missing=no
	for c in debootstrap systemd-nspawn nsenter zstd; do
		command -v "$c" >/dev/null 2>&1 || missing=yes
	done
	[ "$missing" = no ] && return 0
	echo "# installing debootstrap, systemd-container, zstd" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		debootstrap debian-archive-keyring systemd-container util-linux zstd >&2 ||
		skip "cannot install debootstrap and systemd-nspawn"
	for c in debootstrap systemd-nspawn nsenter zstd; do
		command -v "$c" >/dev/null 2>&1 || skip "no $c after installing it"
	done
}
need_tools

# The Debian mirror this machine's apt uses for $suite.
debian_mirror() {
	local m
	m=$(
		{
			cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
				awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
					if ($(i + 1) == s) print $i }'
			cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
				awk -v s="$suite" '
					/^[[:space:]]*$/ { if (t && u && ok) print u; t = u = ok = 0; next }
					$1 == "Types:" { for (i = 2; i <= NF; i++) if ($i == "deb") t = 1 }
					$1 == "URIs:" { u = $2 }
					$1 == "Suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
					END { if (t && u && ok) print u }'
		} | head -n 1
	)
	echo "${m:-http://deb.debian.org/debian}"
}

# --------------------------------------------------------- the root fs ---

# Echoes the cached tarball of a debootstrapped root, making it if needed.
root_tarball() {
	local mirror key tarball tmp
	mirror=$(debian_mirror)
	key=$(printf '%s %s %s\n' "$suite" "$include" "$mirror" | sha256sum | cut -c1-12)
	tarball=$cache/debian12-minbase-$(date +%Y%m%d)-$key.tar.zst
	mkdir -p "$cache"
	(
		flock 9
		[ -s "$tarball" ] && exit 0
		# Yesterday's roots are stale: their packages have had updates.
		find "$cache" -maxdepth 1 -name 'debian12-minbase-*.tar.zst' ! -name "$(basename "$tarball")" -delete
		tmp=$(mktemp -d "$cache/debootstrap.XXXXXX") || exit 1
		echo "# debootstrap $suite from $mirror (cached as $tarball)" >&2
		if ! debootstrap --variant=minbase --include="$include" "$suite" "$tmp/root" "$mirror" \
			>"$tmp/log" 2>&1; then
			sed 's/^/# debootstrap: /' "$tmp/log" | tail -n 40 >&2
			rm -rf --one-file-system "$tmp"
			exit 1
		fi
		chroot "$tmp/root" apt-get clean
		tar -C "$tmp/root" --numeric-owner --xattrs --xattrs-include='*' -I 'zstd -T0 -3' \
			-cf "$tmp/root.tar.zst" . &&
			mv "$tmp/root.tar.zst" "$tarball"
		rc=$?
		rm -rf --one-file-system "$tmp"
		exit $rc
	) 9>"$cache/.lock" || return 1
	echo "$tarball"
}

# ------------------------------------------------------------- helpers ---

# Runs a command inside the booted container, in all its namespaces.
in_ct() {
	nsenter -t "$leader" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 DEBIAN_FRONTEND=noninteractive "$@"
}

in_chroot() {
	chroot "$work/root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# The cursor just past the journal's last entry, to look for events after it.
journal_cursor() {
	in_ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'
}

# journal_has EVENT [CURSOR]: the unit logged EVENT (after CURSOR). Without
# a cursor this is the operators' own query; journalctl 252 finds nothing
# when --after-cursor is combined with a field match, so after a cursor the
# field is matched in the JSON export.
journal_has() {
	if [ -z "${2:-}" ]; then
		in_ct journalctl -q --no-pager -u port53guard "PORT53GUARD_EVENT=$1" -o cat | grep -q .
	else
		in_ct journalctl -q --no-pager -u port53guard --after-cursor="$2" -o json |
			grep -qF "\"PORT53GUARD_EVENT\":\"$1\""
	fi
}

main_pid() {
	in_ct systemctl show -p MainPID --value port53guard
}

table_present() {
	in_ct nft list table inet port53guard >/dev/null 2>&1
}

drop_rule_present() {
	# Without netbase's /etc/protocols (a minimal root), nft prints 17.
	in_ct nft list table inet port53guard 2>/dev/null | grep -qE 'l4proto (udp|17) counter .*drop'
}

service_active() {
	in_ct systemctl is-active --quiet port53guard
}

dump_service() {
	{
		echo "--- systemctl status port53guard"
		in_ct systemctl status --no-pager -l port53guard
		echo "--- journalctl -u port53guard -b"
		in_ct journalctl --no-pager -b -u port53guard -o short-monotonic | tail -n 120
	} 2>&1 | sed 's/^/# /' >&2
}

# --------------------------------------------------------------- build ---

if [ -n "${PORT53GUARD_DEB:-}" ]; then
	deb=$PORT53GUARD_DEB
else
	deb=$("$src/packaging/build-deb.sh" --tree --reuse --nocheck | tail -n 1)
fi
check "the .deb is built" test -f "$deb"
[ -f "$deb" ] || done_testing

tarball=$(root_tarball)
check "debootstrap makes a Debian 12 root (cached)" test -s "$tarball"
[ -s "${tarball:-}" ] || done_testing

work=$(mktemp -d /var/tmp/port53guard-boot.XXXXXX)
mkdir "$work/root"
tar -C "$work/root" --numeric-owner --xattrs --xattrs-include='*' -I zstd -xf "$tarball"
check "the root is Debian 12" grep -q '^VERSION_ID="12"' "$work/root/etc/os-release"

# ---------------------------------------- install while nothing runs ---

# Not /tmp: the booted container mounts a tmpfs over it.
cp "$deb" "$work/root/var/tmp/port53guard.deb"
install_in_chroot() {
	in_chroot apt-get -o Dpkg::Use-Pty=0 install -y -q /var/tmp/port53guard.deb && return 0
	# A dependency that the cached root lacks: fetch the package lists.
	cp /etc/resolv.conf "$work/root/etc/resolv.conf" 2>/dev/null
	in_chroot apt-get update -q && in_chroot apt-get -o Dpkg::Use-Pty=0 install -y -q /var/tmp/port53guard.deb
}
check "apt-get installs the .deb into the root (no systemd running)" install_in_chroot
check "postinst enabled the unit without a running systemd" \
	test -L "$work/root/etc/systemd/system/multi-user.target.wants/port53guard.service"

# ---------------------------------------------------------------- boot ---

if ! mountpoint -q /run/systemd/nspawn; then
	mkdir -p /run/systemd/nspawn
	mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn && mounted_nspawn_run=yes
fi
machine=p53boot$$

find_leader() {
	local c
	# shellcheck disable=SC2013 # one pid per word
	for c in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
		if [ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ]; then
			leader=$c
			return 0
		fi
	done
	return 1
}

# boot_container WHAT: boots the root with systemd-nspawn in its own network
# namespace (a fresh one each time: no nftables table survives a reboot)
# and waits until the boot is done; false when it does not boot.
boot_container() {
	leader=
	setsid systemd-nspawn --keep-unit --register=no --private-network -M "$machine" \
		-D "$work/root" -b </dev/null >"$work/console.log" 2>&1 &
	nspawn_pid=$!
	wait_for 30 find_leader
	find_leader
	check "systemd-nspawn boots the root$1 (pid 1 of the container found)" test -n "$leader"
	if [ -z "$leader" ]; then
		sed 's/^/# console: /' "$work/console.log" >&2
		return 1
	fi
	# systemctl needs the manager's socket, which comes a moment after pid 1.
	wait_for 30 in_ct test -S /run/systemd/private
	state=$(timeout "$boot_timeout" nsenter -t "$leader" -a env -i PATH=/usr/bin:/bin \
		systemctl is-system-running --wait 2>&1)
	echo "# system state after boot: $state" >&2
	check "the container finishes booting$1 (running or degraded: $state)" \
		grep -qxE 'running|degraded' <<<"$state"
	if [ "$state" != running ]; then
		in_ct systemctl --failed --no-pager 2>&1 | sed 's/^/# /' >&2
	fi
	return 0
}

poweroff_container() {
	in_ct systemctl poweroff >/dev/null 2>&1
	wait_for 60 nspawn_gone
	check "the container powers off within 60 s$1" nspawn_gone
	wait "$nspawn_pid" 2>/dev/null
	nspawn_rc=$?
	assert_eq "systemd-nspawn exits 0 after the poweroff$1" 0 "$nspawn_rc"
	[ "$nspawn_rc" = 0 ] || tail -n 30 "$work/console.log" | sed 's/^/# console: /' >&2
	nspawn_pid=
}

boot_container "" || done_testing

# -------------------------------------------------- the running agent ---

wait_for 20 service_active
check "port53guard is active after boot, started by nobody but systemd" service_active
service_active || dump_service
assert_eq "the unit is enabled" enabled "$(in_ct systemctl is-enabled port53guard 2>&1)"
in_ct systemd-analyze verify --man=no port53guard.service >"$work/verify.out" 2>&1
verify_rc=$?
sed 's/^/# verify: /' "$work/verify.out" >&2
assert_eq "systemd-analyze verify on the installed unit exits 0" 0 "$verify_rc"

pid=$(main_pid)
if [ -n "$pid" ] && [ "$pid" != 0 ]; then
	in_ct cat "/proc/$pid/status" >"$work/status.proc" 2>/dev/null
	uid=$(awk '/^Uid:/ { print $2 }' "$work/status.proc")
	check "the agent does not run as root (uid $uid)" test -n "$uid" -a "$uid" != 0
	# CAP_DAC_READ_SEARCH (2), CAP_NET_ADMIN (12), CAP_NET_RAW (13),
	# CAP_SYS_PTRACE (19), CAP_SYS_ADMIN (21): nothing else, ever.
	assert_eq "its capability bounding set is the five it needs" 0000000000283004 \
		"$(awk '/^CapBnd:/ { print $2 }' "$work/status.proc")"
	assert_eq "it cannot gain privileges (NoNewPrivs)" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' "$work/status.proc")"
else
	check "the agent has a main pid" false
fi

wait_for 10 drop_rule_present
check "nft list table inet port53guard shows the UDP:53 drop rule" drop_rule_present
in_ct nft list table inet port53guard 2>&1 | sed 's/^/# nft: /' >&2
wait_for 10 journal_has rules_applied
check "journalctl -u port53guard PORT53GUARD_EVENT=rules_applied finds the event" journal_has rules_applied
in_ct port53guard status >"$work/status.out" 2>&1
status_rc=$?
sed 's/^/# status: /' "$work/status.out" >&2
assert_eq "port53guard status exits 0" 0 "$status_rc"
check "port53guard status says enforcing" grep -qE '^enforcement: +enforcing' "$work/status.out"
check "the status file is in /run/port53guard" in_ct test -s /run/port53guard/status.json

# ---------------------------------------------------------------- drift ---

# Nobody but the agent has touched the table: it must not take its own
# commits for drift. (In a container the kernel reports the committing
# process by its pid outside the container, not by the agent's own pid.)
sleep 2
check_fails "no rules_drift while nobody else touches the table" journal_has rules_drift
drift_lines=$(in_ct journalctl -q --no-pager -u port53guard PORT53GUARD_EVENT=rules_drift -o cat | wc -l)
echo "# rules_drift events so far: $drift_lines" >&2
# Someone deletes the table by hand while the agent runs: either the kernel
# refuses (the agent owns the table) or the agent restores it. Either way the
# rule is back in place moments later.
in_ct nft delete table inet port53guard >/dev/null 2>&1
sleep 2
check "a table deleted by hand while the agent runs is back (or was never gone)" drop_rule_present

# ------------------------------------------------------------- reload ---

cursor=$(journal_cursor)
pid=$(main_pid)
check "systemctl reload port53guard succeeds" in_ct systemctl reload port53guard
wait_for 10 journal_has config_reloaded "$cursor"
check "the reload is logged (config_reloaded)" journal_has config_reloaded "$cursor"
check "the agent is still active after reload" service_active
assert_eq "reload keeps the same process" "$pid" "$(main_pid)"

# A broken drop-in: reload refuses it and keeps the running configuration.
printf '[rules]\nallow = 10.0.0.0/33\n' >"$work/root/etc/port53guard/conf.d/99-broken.conf"
cursor=$(journal_cursor)
check "systemctl reload with a broken drop-in returns (the signal is sent)" in_ct systemctl reload port53guard
wait_for 10 journal_has config_invalid "$cursor"
check "the broken drop-in is logged (config_invalid)" journal_has config_invalid "$cursor"
in_ct journalctl -q --no-pager -u port53guard --after-cursor="$cursor" -o cat 2>&1 | sed 's/^/# journal: /' >&2
invalid_names_file() {
	in_ct journalctl -q --no-pager -u port53guard --after-cursor="$1" -o json |
		grep -F '"PORT53GUARD_EVENT":"config_invalid"' |
		grep -qF '"PORT53GUARD_FILE":"/etc/port53guard/conf.d/99-broken.conf"'
}
check "config_invalid names the file" invalid_names_file "$cursor"
check "the agent keeps running on the old configuration" service_active
assert_eq "it is the same process" "$pid" "$(main_pid)"
check "the drop rule is still there" drop_rule_present
in_ct port53guard check-config >/dev/null 2>"$work/check.err"
check_rc=$?
sed 's/^/# check-config: /' "$work/check.err" >&2
assert_eq "port53guard check-config exits 1 on the broken drop-in" 1 "$check_rc"
check "check-config names file and line" grep -qF /etc/port53guard/conf.d/99-broken.conf:2 "$work/check.err"

# A restart with the broken drop-in: nothing stands between the start and
# the rule; the agent runs on the last known good rules and says so.
cursor=$(journal_cursor)
check "systemctl restart succeeds while the drop-in is broken" in_ct systemctl restart port53guard
wait_for 10 service_active
check "the agent is active with the broken drop-in" service_active
check "the rule is in place" drop_rule_present
wait_for 10 journal_has rules_fallback "$cursor"
check "rules_fallback in the journal says which rules are in force" journal_has rules_fallback "$cursor"
in_ct port53guard -c /dev/null status >/dev/null 2>&1
assert_eq "status is not OK on a fallback (exit 3)" 3 "$?"
rm -f "$work/root/etc/port53guard/conf.d/99-broken.conf"
check "systemctl restart works once the drop-in is fixed" in_ct systemctl restart port53guard
wait_for 10 service_active
check "the agent is active again" service_active

# --------------------------------------------------------- stop, remove ---

check "systemctl stop port53guard" in_ct systemctl stop port53guard
check "the rule stays in place after stop (keep_on_stop = yes)" drop_rule_present
check "once stopped, nft delete table inet port53guard lifts the rule" \
	in_ct nft delete table inet port53guard
check_fails "the table is gone" table_present
check "systemctl start port53guard" in_ct systemctl start port53guard
wait_for 10 service_active
wait_for 10 drop_rule_present
check "start puts the rule back" drop_rule_present

in_ct apt-get remove -y -q port53guard >"$work/remove.out" 2>&1
remove_rc=$?
sed 's/^/# apt-get remove: /' "$work/remove.out" >&2
assert_eq "apt-get remove exits 0" 0 "$remove_rc"
check "remove says how to lift the rule" grep -qF 'nft delete table inet port53guard' "$work/remove.out"
check "remove keeps the rule (nothing opens port 53 behind the operator's back)" table_present
check_fails "the service is gone" service_active
check "remove keeps the configuration" test -f "$work/root/etc/port53guard/port53guard.conf"

in_ct apt-get purge -y -q port53guard >"$work/purge.out" 2>&1
purge_rc=$?
sed 's/^/# apt-get purge: /' "$work/purge.out" >&2
assert_eq "apt-get purge exits 0" 0 "$purge_rc"
check_fails "purge deletes the table inet port53guard" table_present
check "purge removes /etc/port53guard" test ! -e "$work/root/etc/port53guard"
check "purge removes the state" test ! -e "$work/root/var/lib/port53guard" -a ! -e "$work/root/var/lib/private/port53guard"
check_fails "the package is gone" in_ct dpkg -s port53guard

# ----------------------------------------- install on a running system ---

in_ct apt-get install -y -q /var/tmp/port53guard.deb >"$work/install.out" 2>&1
install_rc=$?
sed 's/^/# apt-get install: /' "$work/install.out" >&2
assert_eq "apt-get install on the running system exits 0" 0 "$install_rc"
wait_for 20 service_active
check "postinst starts the service at once" service_active
wait_for 10 drop_rule_present
check "the rule is back" drop_rule_present

# ======================================= begin: report (evidence) ===
# The service is active; it is stopped and the rule lifted for a few
# seconds, then started again. port53guard report, run inside the
# container from its journal, shows that gap with its cause and a coverage
# below 1, and the HTML holds the SVG timeline.

# report_gap_json: the report's JSON has a gap of at least 3 s, caused by
# the agent not running or the rules removed, that begins at or after the
# stop (seconds since the epoch in $report_stop_at); coverage below 1.
report_gap_json() {
	in_ct port53guard report --since -10m --format json >"$work/report.json" 2>"$work/report.err"
	[ "$?" = 3 ] || return 1
	python3 - "$work/report.json" "$report_stop_at" <<'EOF'
import calendar, json, sys, time
r = json.load(open(sys.argv[1]))
stop = int(sys.argv[2])
def t(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
gaps = [g for g in r["gaps"] if g["cause"] in ("agent_not_running", "rules_removed")
        and g["seconds"] >= 3 and t(g["start"]) >= stop - 1]
sys.exit(0 if gaps and 0 < r["coverage"]["ratio"] < 1 else 1)
EOF
}
wait_for 20 service_active
check "report: the service is active before the gap" service_active
report_stop_at=$(date +%s)
check "report: systemctl stop port53guard" in_ct systemctl stop port53guard
check "report: port53guard remove lifts the rule" in_ct port53guard remove
check_fails "report: no rule while stopped" table_present
sleep 4
check "report: systemctl start port53guard" in_ct systemctl start port53guard
wait_for 10 service_active
wait_for 10 drop_rule_present
check "report: the rule is back after the start" drop_rule_present
wait_for 15 report_gap_json
check "report --since -10m --format json: the gap (agent_not_running or rules_removed, >= 3 s) and coverage below 1" \
	report_gap_json
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("# report: coverage", r["coverage"]); [print("# report: gap", g) for g in r["gaps"]]' \
	"$work/report.json" >&2 2>/dev/null
check "report --format html -o FILE writes the file" \
	in_ct sh -c 'port53guard report --since -10m --format html -o /var/tmp/report.html; [ $? = 3 ]'
check "report: the HTML holds the SVG timeline" grep -q '<svg xmlns="http://www.w3.org/2000/svg" id="timeline"' "$work/root/var/tmp/report.html"
# ========================================= end: report (evidence) ===

[ "$P53_FAILED" = 0 ] || dump_service

# ------------------------------------------------------------ poweroff ---

poweroff_container ""

# ------------------------------------- boot with a broken drop-in ---

# The next boot finds a broken drop-in (and no table: a new network
# namespace). The rule must be in place all the same, and the journal must
# say why the configured rules are not the ones in force.
printf '[rules]\nallow = 10.0.0.0/33\n' >"$work/root/etc/port53guard/conf.d/99-broken.conf"
if boot_container " with a broken drop-in"; then
	wait_for 20 service_active
	check "broken drop-in at boot: port53guard is active" service_active
	wait_for 10 drop_rule_present
	check "broken drop-in at boot: the UDP:53 drop rule is in place" drop_rule_present
	in_ct nft list table inet port53guard 2>&1 | sed 's/^/# nft: /' >&2
	wait_for 10 journal_has config_invalid
	check "broken drop-in at boot: config_invalid in the journal" journal_has config_invalid
	check "broken drop-in at boot: rules_fallback in the journal" journal_has rules_fallback
	in_ct journalctl -q --no-pager -b -u port53guard PORT53GUARD_EVENT=rules_fallback -o cat 2>&1 |
		sed 's/^/# journal: /' >&2
	check "broken drop-in at boot: the last known good from before the reboot is in force" bash -c \
		"$(declare -f in_ct); leader=$leader; in_ct journalctl -q --no-pager -b -u port53guard PORT53GUARD_EVENT=rules_fallback -o json | grep -qF '\"PORT53GUARD_RULES\":\"last_known_good\"'"
	in_ct port53guard -c /dev/null status >"$work/status2.out" 2>&1
	assert_eq "broken drop-in at boot: status is not OK (exit 3)" 3 "$?"
	sed 's/^/# status: /' "$work/status2.out" >&2
	[ "$P53_FAILED" = 0 ] || dump_service
	poweroff_container " (second boot)"
fi

done_testing
