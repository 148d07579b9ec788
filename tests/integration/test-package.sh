#!/bin/bash
# shellcheck disable=SC2317 # functions run through check, wait_for and traps
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The packages: builds the .deb with dpkg-buildpackage and lints it with
# lintian, builds the .rpm with rpmbuild, and checks that both hold the
# binary, the unit, the configuration (as a conffile, as
# %config(noreplace)) and the man pages; that the shipped configuration
# names every key with its default; that the unit passes systemd-analyze
# verify and its exposure score stays at or below 3.0; and that the man
# pages render without a warning.
#
# Builds from the working tree (packaging/build-deb.sh --tree), so what is
# tested is what is checked out, committed or not; without the unit tests,
# which the "unit" suite runs anyway.

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
p53_init

# The tools come from packaging/test-deps.txt; as root, install what is
# missing rather than skip.
need_tools() {
	local missing=() c
	for c in dpkg-buildpackage lintian rpmbuild systemd-analyze man groff; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "# missing ${missing[*]}: installing packaging/test-deps.txt" >&2
	[ "$(id -u)" = 0 ] || skip "needs ${missing[*]} (packaging/test-deps.txt)"
	# shellcheck disable=SC2046
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		$(grep -hv '^\s*#' "$root/packaging/test-deps.txt" "$root/packaging/build-deps.txt" | awk 'NF') >&2 ||
		skip "cannot install packaging/test-deps.txt"
}
need_tools

# The results stay in packaging/out, where test-boot.sh picks up the .deb.
out=$root/packaging/out
x=$P53_TMP/deb-root
mkdir -p "$out" "$x"

# ------------------------------------------------------------------ .deb ---

deb=$("$root/packaging/build-deb.sh" --tree --nocheck --out "$out" | tail -n 1)
check "dpkg-buildpackage builds the .deb" test -f "$deb"
[ -f "$deb" ] || done_testing
changes=$(ls "$out"/port53guard_*.changes)

lintian --pedantic --display-info --fail-on error "$changes" >"$P53_TMP/lintian.out" 2>&1
lintian_rc=$?
sed 's/^/# lintian: /' "$P53_TMP/lintian.out" >&2
assert_eq "lintian exits 0 (no errors)" 0 "$lintian_rc"
assert_eq "lintian reports no error (E:)" "" "$(grep '^E:' "$P53_TMP/lintian.out")"
assert_eq "lintian reports no warning (W:) that is not overridden" "" "$(grep '^W:' "$P53_TMP/lintian.out")"

dpkg-deb -x "$deb" "$x"
dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$P53_TMP/deb.list"
sed 's/^/# deb: /' "$P53_TMP/deb.list" >&2
deb_has() { grep -qxF "$1" "$P53_TMP/deb.list"; }

unit=/lib/systemd/system/port53guard.service
deb_has /usr/lib/systemd/system/port53guard.service && unit=/usr/lib/systemd/system/port53guard.service
check "deb: /usr/sbin/port53guard" deb_has /usr/sbin/port53guard
check "deb: the binary is executable" test -x "$x/usr/sbin/port53guard"
check "deb: the unit $unit" deb_has "$unit"
check "deb: /etc/port53guard/port53guard.conf" deb_has /etc/port53guard/port53guard.conf
check "deb: the empty /etc/port53guard/conf.d/" deb_has /etc/port53guard/conf.d/
assert_eq "deb: conf.d/ is empty" "" "$(ls -A "$x/etc/port53guard/conf.d")"
check "deb: port53guard(8)" deb_has /usr/share/man/man8/port53guard.8.gz
check "deb: port53guard.conf(5)" deb_has /usr/share/man/man5/port53guard.conf.5.gz
check "deb: the lintian overrides" deb_has /usr/share/lintian/overrides/port53guard
assert_eq "deb: the configuration is the only conffile" /etc/port53guard/port53guard.conf \
	"$(dpkg-deb -I "$deb" conffiles)"
check "deb: the unit is the one in packaging/systemd" \
	cmp "$root/packaging/systemd/port53guard.service" "$x$unit"
check "deb: the configuration is packaging/port53guard.conf" \
	cmp "$root/packaging/port53guard.conf" "$x/etc/port53guard/port53guard.conf"

depends=$(dpkg-deb -f "$deb" Depends)
echo "# Depends: $depends" >&2
for lib in libc6 libpcap0.8 libmnl0 libsystemd0; do
	check "deb: Depends names $lib (from shlibs)" grep -qE "(^|, )$lib( |,|$)" <<<"$depends"
done
check "deb: Depends names procps (kill(1) for ExecReload=)" grep -qE '(^|, )procps( |,|$)' <<<"$depends"
check_fails "deb: does not depend on nftables" grep -qE '(^|, )nftables' <<<"$depends"

dpkg-deb -e "$deb" "$P53_TMP/control"
check "postinst enables the unit" grep -q 'deb-systemd-helper enable' "$P53_TMP/control/postinst"
check "postinst starts it only where systemd runs" grep -q '\[ -d /run/systemd/system \]' "$P53_TMP/control/postinst"
check "prerm stops it on removal" grep -q 'deb-systemd-invoke stop' "$P53_TMP/control/prerm"
check "prerm tells how to lift the rule" grep -q 'nft delete table inet port53guard' "$P53_TMP/control/prerm"
check "postrm deletes the table on purge" grep -q 'nft delete table inet port53guard' "$P53_TMP/control/postrm"
check "postrm removes the state on purge" grep -q 'rm -rf /var/lib/port53guard' "$P53_TMP/control/postrm"
for s in postinst prerm postrm; do
	check "$s is valid sh" sh -n "$P53_TMP/control/$s"
done

# The postrm's purge branch, run for real against stand-ins for nft and
# ischroot: it must delete exactly our table, and only outside a chroot.
fake=$P53_TMP/fakebin
mkdir -p "$fake"
cat >"$fake/nft" <<EOF
#!/bin/sh
echo "\$*" >>"$P53_TMP/nft.calls"
EOF
printf '#!/bin/sh\nexit "${FAKE_CHROOT:-1}"\n' >"$fake/ischroot"
chmod +x "$fake/nft" "$fake/ischroot"
# Runs the postrm's own part (up to #DEBHELPER#, which talks to the real
# system) with ACTION; the state directories are not touched.
postrm_own_part() {
	sed -n '1,/^#DEBHELPER#/p' "$root/packaging/debian/port53guard.postrm" |
		sed 's|^\([[:space:]]*\)rm -rf /var/lib/port53guard .*|\1: state removed|' >"$P53_TMP/postrm.own"
	PATH=$fake:$PATH sh -e "$P53_TMP/postrm.own" "$1"
}
: >"$P53_TMP/nft.calls"
check "postrm purge runs" postrm_own_part purge
assert_eq "postrm purge deletes the table inet port53guard and nothing else" \
	"$(printf 'list table inet port53guard\ndelete table inet port53guard')" "$(cat "$P53_TMP/nft.calls")"
check "postrm purge removes the state directories" grep -q ': state removed' "$P53_TMP/postrm.own"
: >"$P53_TMP/nft.calls"
FAKE_CHROOT=0 postrm_own_part purge >/dev/null 2>&1
assert_eq "postrm purge in a chroot leaves the host's table alone" "" "$(cat "$P53_TMP/nft.calls")"
: >"$P53_TMP/nft.calls"
check "postrm remove runs" postrm_own_part remove
assert_eq "postrm remove (no purge) leaves the table" "" "$(cat "$P53_TMP/nft.calls")"

# ----------------------------------------------- configuration and docs ---

# The packaged binary reads the packaged configuration: valid, and changing
# nothing (every line is a comment or a section).
bin=$x/usr/sbin/port53guard
conf=$x/etc/port53guard/port53guard.conf
check "check-config accepts the shipped configuration" "$bin" -c "$conf" check-config
"$bin" -c "$conf" check-config >"$P53_TMP/effective" 2>&1
sed 's/^/# /' "$P53_TMP/effective" >&2
keys=$(grep -cE '^[a-z_]+ = .*; (default|from .*)$' "$P53_TMP/effective")
check "check-config lists the keys (found $keys)" test "$keys" -ge 10
assert_eq "the shipped configuration sets nothing: every key is the default" "" \
	"$(grep -E '^[a-z_]+ = ' "$P53_TMP/effective" | grep -v '; default$')"
# Every key is in the shipped file, commented, with its default value; and
# in port53guard.conf(5).
section=
while IFS= read -r line; do
	case "$line" in
	\[*\]) section=$line ;;
	*' = '*'; default')
		key=${line%% = *}
		value=${line#* = }
		value=${value%  ; default}
		expect="#$key =${value:+ $value}"
		check "port53guard.conf documents $section $key with its default ($value)" \
			awk -v s="$section" -v e="$expect" '$0 == s { in_s = 1; next } /^\[/ { in_s = 0 } in_s && $0 == e { f = 1 } END { exit !f }' "$conf"
		check "port53guard.conf(5) documents $key" grep -qE "^\.BR $key \" = " "$root/packaging/man/port53guard.conf.5"
		;;
	esac
done <"$P53_TMP/effective"

for page in "$x/usr/share/man/man8/port53guard.8.gz" "$x/usr/share/man/man5/port53guard.conf.5.gz"; do
	name=$(basename "$page" .gz)
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>"$P53_TMP/man.err"
	assert_eq "man --warnings: $name renders without a warning" "" "$(cat "$P53_TMP/man.err")"
	zcat "$page" | groff -man -ww -z 2>"$P53_TMP/groff.err"
	assert_eq "groff -man -ww: $name has no warning" "" "$(cat "$P53_TMP/groff.err")"
done
# The commands the man page documents are the ones the binary has.
for cmd in $("$bin" --help | awk '/^Commands:/ { c = 1; next } c && NF == 0 { exit } c { print $1 }'); do
	check "port53guard(8) documents the $cmd command" \
		grep -qE "^\.(B|BR) ${cmd//-/\\\\-}( |$)" "$root/packaging/man/port53guard.8"
done

# ------------------------------------------------------------------ unit ---

# verify resolves ExecStart= and friends inside --root: give it the packaged
# binary and kill(1).
vroot=$P53_TMP/verify-root
mkdir -p "$vroot/bin" "$vroot/usr/sbin" "$vroot/usr/lib/systemd/system"
cp "$bin" "$vroot/usr/sbin/"
cp "$(type -P kill)" "$vroot/bin/kill"
cp "$x$unit" "$vroot/usr/lib/systemd/system/"
systemd-analyze verify --man=no --root="$vroot" port53guard.service >"$P53_TMP/verify.out" 2>&1
verify_rc=$?
sed 's/^/# verify: /' "$P53_TMP/verify.out" >&2
assert_eq "systemd-analyze verify exits 0" 0 "$verify_rc"
assert_eq "systemd-analyze verify says nothing" "" "$(cat "$P53_TMP/verify.out")"

systemd-analyze security --offline=yes --no-pager "$root/packaging/systemd/port53guard.service" \
	>"$P53_TMP/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for port53guard.service: \([0-9.]*\).*/\1/p' "$P53_TMP/security.out")
grep '✗' "$P53_TMP/security.out" | sed 's/^/# security: /' >&2
echo "# exposure score: $score" >&2
check "systemd-analyze security gives a score ($score)" test -n "$score"
check "the exposure score is at most 3.0 ($score)" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }'
unit_has() { grep -qxF "$1" "$root/packaging/systemd/port53guard.service"; }
for line in Type=notify \
	'ExecStart=/usr/sbin/port53guard run' 'ExecReload=/bin/kill -HUP $MAINPID' \
	Restart=always RestartSec=2s StartLimitIntervalSec=0 WatchdogSec=30s Before=network-pre.target\ shutdown.target \
	Wants=network-pre.target DefaultDependencies=no WantedBy=multi-user.target \
	'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_SYS_ADMIN' \
	RestrictNamespaces=net RuntimeDirectory=port53guard StateDirectory=port53guard; do
	check "unit: $line" unit_has "$line"
done
# A broken configuration must not keep the agent (and so the rule) from
# starting: the agent falls back itself, nothing before it may fail.
check_fails "unit: no ExecStartPre= that could fail the start" grep -q '^ExecStartPre=[^-]' "$root/packaging/systemd/port53guard.service"
check_fails "unit: no PrivateNetwork= (the agent guards the host's network)" \
	grep -q '^PrivateNetwork=' "$root/packaging/systemd/port53guard.service"
check_fails "unit: no ProtectProc= (the scan needs every process)" \
	grep -q '^ProtectProc=' "$root/packaging/systemd/port53guard.service"

# ------------------------------------------------------------------ .rpm ---

rpm=$("$root/packaging/build-rpm.sh" --tree --nocheck --out "$out" | tail -n 1)
check "rpmbuild builds the .rpm" test -f "$rpm"
if [ -f "$rpm" ]; then
	rpm -qlp "$rpm" >"$P53_TMP/rpm.list" 2>/dev/null
	sed 's/^/# rpm: /' "$P53_TMP/rpm.list" >&2
	rpm_has() { grep -qxE "$1" "$P53_TMP/rpm.list"; }
	check "rpm: /usr/sbin/port53guard" rpm_has /usr/sbin/port53guard
	check "rpm: the unit in /usr/lib/systemd/system" rpm_has /usr/lib/systemd/system/port53guard.service
	check "rpm: the preset that enables it" rpm_has /usr/lib/systemd/system-preset/80-port53guard.preset
	check "rpm: /etc/port53guard/port53guard.conf" rpm_has /etc/port53guard/port53guard.conf
	check "rpm: /etc/port53guard/conf.d" rpm_has /etc/port53guard/conf.d
	check "rpm: port53guard(8)" rpm_has '/usr/share/man/man8/port53guard\.8(\.gz)?'
	check "rpm: port53guard.conf(5)" rpm_has '/usr/share/man/man5/port53guard\.conf\.5(\.gz)?'
	rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" >"$P53_TMP/rpm.flags" 2>/dev/null
	check "rpm: the configuration is %config(noreplace)" \
		grep -qxE 'cn -rw-r--r-- /etc/port53guard/port53guard.conf' "$P53_TMP/rpm.flags"
	check "rpm: conf.d is a directory of the package" \
		grep -qxE '[a-z]* drwxr-xr-x /etc/port53guard/conf.d' "$P53_TMP/rpm.flags"
	rpm -qp --scripts "$rpm" >"$P53_TMP/rpm.scripts" 2>/dev/null
	check "rpm: requires kill(1) for ExecReload=" sh -c "rpm -qpR '$rpm' 2>/dev/null | grep -qx /usr/bin/kill"
	check "rpm: %post applies the preset" grep -q 'preset port53guard.service' "$P53_TMP/rpm.scripts"
	check "rpm: %preun disables and stops on erase" grep -q 'disable --now port53guard.service' "$P53_TMP/rpm.scripts"
	check "rpm: %postun restarts after an upgrade" grep -q 'try-restart port53guard.service' "$P53_TMP/rpm.scripts"
	rpm2cpio "$rpm" | (mkdir -p "$P53_TMP/rpm-root" && cd "$P53_TMP/rpm-root" && cpio -idm --quiet)
	check "rpm: the unit is the one in packaging/systemd" \
		cmp "$root/packaging/systemd/port53guard.service" "$P53_TMP/rpm-root/usr/lib/systemd/system/port53guard.service"
	check "rpm: the configuration is packaging/port53guard.conf" \
		cmp "$root/packaging/port53guard.conf" "$P53_TMP/rpm-root/etc/port53guard/port53guard.conf"
fi

done_testing
