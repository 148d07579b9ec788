#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317 # helpers below run through check
#
# Proves the integration harness itself: namespaces, links, routing, real
# servers answering over UDP and TCP on both families, the DNS probes and,
# above all, that nothing a test creates outlives it, on failure too.

here=$(dirname "$0")
. "$here/lib.sh"
p53_init
require_root
require_cmd ip dig dnsmasq unbound awk

rtr=$(ns_add rtr) || exit 1
cli=$(ns_add cli) || exit 1
srv=$(ns_add srv) || exit 1
ns_link "$rtr" "$cli" 1 router || exit 1
ns_link "$rtr" "$srv" 2 router || exit 1
start_dnsmasq "$srv" >/dev/null || exit 1

# --- servers answer: dnsmasq across the router, every transport ----------
for server in 198.51.100.34 2001:db8:53:2::2; do
	for transport in +notcp +tcp; do
		check "dnsmasq $server $transport A" \
			dig_query "$cli" "$server" host.test.p53 A "$transport"
		assert_eq "dnsmasq $server $transport A record" 192.0.2.53 \
			"$(ip netns exec "$cli" dig +short "@$server" host.test.p53 A "$transport" +time=1 +tries=1)"
	done
	assert_eq "dnsmasq $server AAAA record" 2001:db8:53::53 \
		"$(ip netns exec "$cli" dig +short "@$server" host.test.p53 AAAA +time=1 +tries=1)"
	assert_eq "dnsmasq $server TXT record" '"p53"' \
		"$(ip netns exec "$cli" dig +short "@$server" host.test.p53 TXT +time=1 +tries=1)"
done
check "dnsmasq answers on the directly linked side" dig_query "$rtr" 198.51.100.34 host.test.p53
check_fails "dig_query fails on a missing name (NXDOMAIN)" \
	dig_query "$cli" 198.51.100.34 nope.test.p53

# --- unbound bound to one address only --------------------------------------
start_unbound "$cli" 127.0.0.1 >/dev/null || exit 1
check "unbound answers on 127.0.0.1 in its namespace" dig_query "$cli" 127.0.0.1 host.test.p53
check "unbound answers AAAA over TCP" dig_query "$cli" 127.0.0.1 host.test.p53 AAAA +tcp
check "unbound does not answer on the link address" dig_times_out "$rtr" 198.51.100.18 host.test.p53
check_fails "dig_times_out fails when an answer arrives" dig_times_out "$cli" 127.0.0.1 host.test.p53

# --- polling ----------------------------------------------------------------
check "wait_for succeeds at once" wait_for 1 true
start=${EPOCHREALTIME/./}
check_fails "wait_for gives up on a command that never succeeds" wait_for 0.3 false
elapsed=$(((${EPOCHREALTIME/./} - start) / 1000))
check "wait_for waited about 0.3 s (${elapsed} ms)" test "$elapsed" -ge 250 -a "$elapsed" -lt 3000

# --- cleanup, on every way out ------------------------------------------------
# A child script creates a namespace and a server, records them, then ends
# in the way given; afterwards none of it may remain.
cat >"$P53_TMP/child.sh" <<'EOF'
. "$1/lib.sh"
p53_init
ns=$(ns_add doomed) || exit 1
pid=$(start_dnsmasq "$ns") || exit 1
echo "$ns $pid $P53_TMP" >"$2"
case $3 in
fail) exit 3 ;;
unset) echo "$no_such_variable" ;;
term) while :; do sleep 0.05; done ;;
esac
exit 0
EOF

gone() {
	local ns=$1 pid=$2 tmp=$3
	! ip netns list | awk '{ print $1 }' | grep -qxF -- "$ns" && ! p53_alive "$pid" && [ ! -e "$tmp" ]
}

for how in fail unset term; do
	rec="$P53_TMP/child-$how"
	rc=0
	if [ "$how" = term ]; then
		bash "$P53_TMP/child.sh" "$here" "$rec" "$how" &
		cpid=$!
		wait_for 10 test -s "$rec"
		kill -TERM "$cpid"
		wait "$cpid" || rc=$?
		assert_eq "child ended by SIGTERM keeps the signal's status" 143 "$rc"
	else
		bash "$P53_TMP/child.sh" "$here" "$rec" "$how" 2>/dev/null || rc=$?
		check "child ended by '$how' failed ($rc)" test "$rc" -ne 0
	fi
	[ "$how" = fail ] && assert_eq "exit status survives the cleanup" 3 "$rc"
	read -r dns dpid dtmp <"$rec"
	check "child ($how) had created namespace $dns" test -n "$dns"
	check "child ($how): namespace, dnsmasq and temp dir are gone" gone "$dns" "$dpid" "$dtmp"
done

done_testing
