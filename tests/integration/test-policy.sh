#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A cloud security group's policy mirrored on the host, against the real
# kernel, a real dnsmasq and real dig, all inside network namespaces:
#
#   inet      10.53.1.2 --+
#   (the internet)        +-- srv: dnsmasq :53, then `apply` and the agent
#   internal  10.53.2.2 --+
#   (the VPC)
#
# Each link also carries fd53:IDX::1 (srv) and fd53:IDX::2 (the client).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd ip dig dnsmasq nft python3
PORT53GUARD=${PORT53GUARD:-$(dirname "$0")/../../build/port53guard}
[ -x "$PORT53GUARD" ] || skip "no port53guard binary at $PORT53GUARD"

srv=$(ns_add srv) || exit 1
inet=$(ns_add inet) || exit 1
internal=$(ns_add internal) || exit 1
ns_link "$srv" "$inet" 1 || exit 1
ns_link "$srv" "$internal" 2 || exit 1
start_dnsmasq "$srv" >/dev/null || exit 1
dir=$P53_TMP/policy
mkdir -p "$dir"

p53g() {                 # ARGS...: the program under test inside srv
	ip netns exec "$srv" "$PORT53GUARD" "$@"
}

listing() {
	ip netns exec "$srv" nft list table inet port53guard 2>&1
}

# entry INDEX PROTOCOL PORT CIDR ACTION DESCRIPTION [IPV6CIDR]: one ingress
# entry as the API writes it, every field present.
entry() {
	printf '{"PolicyIndex": %s, "Protocol": "%s", "Port": "%s", ' "$1" "$2" "$3"
	printf '"ServiceTemplate": {"ServiceId": "", "ServiceGroupId": ""}, '
	printf '"CidrBlock": "%s", "Ipv6CidrBlock": "%s", "SecurityGroupId": "", ' "$4" "${7:-}"
	printf '"AddressTemplate": {"AddressId": "", "AddressGroupId": ""}, '
	printf '"Action": "%s", "PolicyDescription": "%s", "ModifyTime": "2024-05-02 09:14:51"}' "$5" "$6"
}

# policy FILE ENTRY...: the whole API response around the entries, as the
# console's API Explorer shows it.
policy() {
	local file=$1 sep=
	shift
	{
		printf '{"Response": {"SecurityGroupPolicySet": {"Version": "3", "Ingress": [\n'
		for e in "$@"; do
			printf '%s  %s\n' "$sep" "$e"
			sep=,
		done
		printf '], "Egress": [%s]}, "RequestId": "6b1e2f0a-0c4d-4e59-9a3b-2d7f8c6e5a41"}}\n' \
			"$(entry 0 ALL ALL 0.0.0.0/0 ACCEPT "")"
	} >"$file.tmp" && mv "$file.tmp" "$file"
}

internal_only() {        # FILE: the VPC may resolve, the rest is refused
	policy "$1" \
		"$(entry 0 UDP 53 10.53.2.0/24 ACCEPT "internal clients")" \
		"$(entry 1 TCP 22 0.0.0.0/0 ACCEPT "ssh from anywhere")" \
		"$(entry 2 ALL ALL 0.0.0.0/0 DROP "refuse the rest")"
}

write_conf() {           # FILE POLICY [EXTRA LINES...]
	local file=$1 pol=$2
	shift 2
	# internal_interfaces = none: the harness's veths stand for NICs.
	printf '[rules]\npolicy_file = %s\ninternal_interfaces = none\n' "$pol" >"$file"
	for l in "$@"; do printf '%s\n' "$l" >>"$file"; done
}

internal_answered() { dig_query "$internal" 10.53.2.1 host.test.p53; }
inet_answered() { dig_query "$inet" 10.53.1.1 host.test.p53; }
inet_refused() { dig_times_out "$inet" 10.53.1.1 host.test.p53; }

internal_only "$dir/internal.json"
write_conf "$dir/internal.conf" "$dir/internal.json"

# --- check-config ----------------------------------------------------------------
out=$(p53g -c "$dir/internal.conf" check-config 2>"$dir/check.err")
assert_eq "check-config with a valid policy exits 0" 0 "$?"
check "check-config summarises the policy" grep -qxF \
	"# policy_file: 1 security group, 3 ingress entries: 2 rules for port 53, 1 out of scope, 0 skipped" <<<"$out"
check "check-config: one warning, for the egress entry" grep -qxF \
	"port53guard check-config: warning: $dir/internal.json: 1 egress entry ignored: only inbound rules are mirrored" \
	"$dir/check.err"

internal_only "$dir/bad.json"
sed -i 's/"Port": "22"/"Port": "53-"/' "$dir/bad.json"
write_conf "$dir/bad.conf" "$dir/bad.json"
p53g -c "$dir/bad.conf" check-config >"$dir/bad.out" 2>"$dir/bad.err"
assert_eq "check-config with a malformed policy exits 1" 1 "$?"
assert_eq "the error names file, group, entry, PolicyIndex, field and value" \
	"port53guard: invalid policy: $dir/bad.json: group 1, ingress entry 2 (PolicyIndex 1): Port \"53-\": not a port, range or list" \
	"$(cat "$dir/bad.err")"
write_conf "$dir/missing.conf" "$dir/no-such.json"
p53g -c "$dir/missing.conf" check-config >/dev/null 2>"$dir/missing.err"
assert_eq "check-config with a missing policy file exits 1" 1 "$?"
check "the error names the missing file" grep -qF "$dir/no-such.json: cannot read: No such file or directory" \
	"$dir/missing.err"

# --- dry run: the mirrored table, out-of-scope entries as comments -----------------
p53g -c "$dir/internal.conf" apply --dry-run >"$dir/dry.nft" 2>"$dir/dry.err"
assert_eq "dry run exits 0" 0 "$?"
check "dry run is accepted by nft -c -f" ip netns exec "$srv" nft -c -f "$dir/dry.nft"
check "dry run: the internal accept with its PolicyIndex" grep -qF \
	'meta l4proto udp ip saddr 10.53.2.0/24 counter accept comment "cloud policy group 1 PolicyIndex 0: internal clients"' \
	"$dir/dry.nft"
check "dry run: the policy's drop of 0.0.0.0/0" grep -qF \
	'meta l4proto udp ip saddr 0.0.0.0/0 counter drop comment "cloud policy group 1 PolicyIndex 2: refuse the rest"' \
	"$dir/dry.nft"
check "dry run: the SSH entry listed as out of scope" grep -qxF \
	"# out of scope: group 1, ingress entry 2 (PolicyIndex 1): TCP:22 from 0.0.0.0/0 ACCEPT (ssh from anywhere)" \
	"$dir/dry.nft"
# Order: loopback, the policy in PolicyIndex order, then the final refuse.
order=$(grep -oE 'comment "(loopback|cloud policy group 1 PolicyIndex [0-9]|UDP:53 from 0.0.0.0/0 and ::/0)' "$dir/dry.nft" |
	sed 's/comment "//' | tr '\n' '|')
assert_eq "dry run: rules in order" \
	"loopback|cloud policy group 1 PolicyIndex 0|cloud policy group 1 PolicyIndex 2|UDP:53 from 0.0.0.0/0 and ::/0|" "$order"
assert_eq "dry run created no table" 0 "$(table_count "$srv")"

# --- apply: exactly the policy's results -------------------------------------------------
check "before apply: the internet client is answered" inet_answered
check "apply with the policy exits 0" p53g -c "$dir/internal.conf" apply
check "internal client (accepted by PolicyIndex 0) is answered" internal_answered
check "internet client (dropped by PolicyIndex 2) times out" inet_refused
check "IPv6: no entry accepts it, so the implicit refuse applies (internal)" \
	dig_times_out "$internal" fd53:2::1 host.test.p53
check "IPv6: the internet client times out too" dig_times_out "$inet" fd53:1::1 host.test.p53
check "TCP/53 is not refused (protocols = udp)" dig_query "$inet" 10.53.1.1 host.test.p53 +tcp
check "loopback is still answered" dig_query "$srv" 127.0.0.1 host.test.p53
check "nft lists the comment with PolicyIndex 0" grep -qF \
	'comment "cloud policy group 1 PolicyIndex 0: internal clients"' <<<"$(listing)"
check "nft lists the comment with PolicyIndex 2" grep -qF \
	'comment "cloud policy group 1 PolicyIndex 2: refuse the rest"' <<<"$(listing)"
check "apply --verify: the table matches" p53g -c "$dir/internal.conf" apply --verify
drop=$(p53g -c "$dir/internal.conf" apply --verify |
	awk '/# cloud policy group 1 PolicyIndex 2/ { print $4; exit }')
assert_eq "the policy's drop counted the internet client's query" 1 "$drop"

# The host's own allowlist comes first: it accepts what the policy drops.
write_conf "$dir/allow.conf" "$dir/internal.json" "allow = 10.53.1.2"
check "apply with an allowlist on top of the policy" p53g -c "$dir/allow.conf" apply
check "allowlisted internet client is answered despite the policy's drop" inet_answered
check "internal client still answered" internal_answered

# Templates and other groups cannot be resolved here: skipped, with a warning.
policy "$dir/tmpl.json" \
	"$(entry 0 UDP 53 10.53.2.0/24 ACCEPT "internal clients")" \
	'{"PolicyIndex": 1, "Protocol": "UDP", "Port": "53", "AddressTemplate": {"AddressId": "ipm-9kq3vx1c", "AddressGroupId": ""}, "Action": "ACCEPT", "PolicyDescription": "partners"}' \
	"$(entry 2 ALL ALL 0.0.0.0/0 DROP "refuse the rest")"
write_conf "$dir/tmpl.conf" "$dir/tmpl.json"
p53g -c "$dir/tmpl.conf" apply >/dev/null 2>"$dir/tmpl.err"
assert_eq "apply with a template entry exits 0" 0 "$?"
check "apply warns about the skipped template entry" grep -qF \
	"port53guard apply: warning: $dir/tmpl.json: group 1, ingress entry 2 (PolicyIndex 1) \"partners\": skipped: refers to address template ipm-9kq3vx1c" \
	"$dir/tmpl.err"
check "the template entry is not in the table" bash -c "! grep -q 'PolicyIndex 1' <<<'$(listing)'"

policy "$dir/public.json" "$(entry 0 UDP 53 0.0.0.0/0 ACCEPT "DNS for everybody")"
write_conf "$dir/public.conf" "$dir/public.json"
p53g -c "$dir/public.conf" apply --dry-run >/dev/null 2>"$dir/public.err"
assert_eq "dry run with a public policy exits 0" 0 "$?"
check "dry run names the public accept" grep -qF \
	"port53guard apply: warning: $dir/public.json: group 1, ingress entry 1 (PolicyIndex 0): UDP:53 from 0.0.0.0/0 ACCEPT (DNS for everybody): DNS is answered for everybody on IPv4, here as in the cloud (policy_allows_public_dns)" \
	"$dir/public.err"

before=$(listing)
p53g -c "$dir/bad.conf" apply >/dev/null 2>"$dir/apply-bad.err"
assert_eq "apply with a malformed policy exits 1" 1 "$?"
check "apply names the bad field" grep -qF 'Port "53-": not a port, range or list' "$dir/apply-bad.err"
assert_eq "apply with a malformed policy leaves the table alone" "$before" "$(listing)"
check "remove" p53g remove

# --- the agent: start, reload, a malformed reload, the public DNS finding --------------------
conf=$(agent_conf "$dir/agent" '[rules]' "policy_file = $dir/agent/policy.json")
internal_only "$dir/agent/policy.json"
log=$dir/agent.log
pid=$(agent_start "$srv" "$conf" "$log") || exit 1
check "agent: the table is there" test "$(table_count "$srv")" = 1
check "agent: policy_loaded logged" log_has "$log" policy_loaded "groups=1 entries=3 rules=2 out_of_scope=1 skipped=0"
check "agent: the egress warning logged" log_has "$log" policy_egress_ignored "entries=1"
check "agent: internal client answered" internal_answered
check "agent: internet client refused" inet_refused
check "agent: no policy_allows_public_dns for this policy" bash -c "! grep -q 'event=policy_allows_public_dns' '$log'"

# The internet client's /24 is accepted now.
policy "$dir/agent/policy.json" \
	"$(entry 0 UDP 53 10.53.2.0/24 ACCEPT "internal clients")" \
	"$(entry 1 UDP 53 10.53.1.0/24 ACCEPT "partner network")" \
	"$(entry 2 ALL ALL 0.0.0.0/0 DROP "refuse the rest")"
applied=$(log_count "$log" rules_applied)
kill -HUP "$pid"
check "reload: the new rules are applied" wait_for 5 bash -c \
	"[ \$(grep -c ' event=rules_applied ' '$log') -gt $applied ]"
check "reload: the internet client is answered now" wait_for 5 inet_answered
check "reload: the internal client still answered" internal_answered
check "reload: nft lists the new entry" grep -qF 'comment "cloud policy group 1 PolicyIndex 1: partner network"' \
	<<<"$(listing)"

# A malformed policy keeps the rules in place.
kept=$(ip netns exec "$srv" nft -s list table inet port53guard)
printf '{"Response": {"SecurityGroupPolicySet": {"Ingress": [%s]}}}\n' \
	"$(entry 0 UDP 53-x 10.53.2.0/24 ACCEPT "typo")" >"$dir/agent/policy.json"
kill -HUP "$pid"
check "malformed reload: rules_invalid names the field" wait_for 5 log_has "$log" rules_invalid \
	'ingress entry 1 (PolicyIndex 0): Port \\"53-x\\": not a port, range or list'
check "malformed reload: config_kept logged" wait_for 5 log_has "$log" config_kept
assert_eq "malformed reload: the table is unchanged" "$kept" "$(ip netns exec "$srv" nft -s list table inet port53guard)"
check "malformed reload: internet client still answered (old rules)" inet_answered
check "malformed reload: the agent is still running" p53_alive "$pid"

# The cloud answers DNS for everybody: mirrored, and said on every reload.
policy "$dir/agent/policy.json" \
	"$(entry 0 TCP 22 0.0.0.0/0 ACCEPT "ssh")" \
	"$(entry 1 UDP 53 0.0.0.0/0 ACCEPT "DNS for everybody")" \
	"$(entry 2 ALL ALL 0.0.0.0/0 DROP "")"
kill -HUP "$pid"
check "public policy: policy_allows_public_dns logged" wait_for 5 log_has "$log" policy_allows_public_dns \
	'source=0.0.0.0/0 group=1 entry=2 policy_index=1 description="DNS for everybody"'
check "public policy: mirrored faithfully, the internet client is answered" wait_for 5 inet_answered
check "public policy: IPv6 still refused (no ::/0 accept)" dig_times_out "$inet" fd53:1::1 host.test.p53
n=$(log_count "$log" policy_allows_public_dns)
kill -HUP "$pid"
check "public policy: logged again on the next reload" wait_for 5 bash -c \
	"[ \$(grep -c ' event=policy_allows_public_dns ' '$log') -gt $n ]"
check "agent stops" agent_stop "$pid"

# And at start.
pid=$(agent_start "$srv" "$conf" "$dir/agent2.log") || exit 1
check "public policy: policy_allows_public_dns logged at start" \
	log_has "$dir/agent2.log" policy_allows_public_dns 'source=0.0.0.0/0'
check "every agent log line is one event" bash -c "! grep -v ' event=' '$log' '$dir/agent2.log'"
check "agent stops again" agent_stop "$pid"
# In a sanitizer build a leak or an undefined operation shows up here.
check_fails "no sanitizer report from the agent" grep -E 'Sanitizer|runtime error' "$log" "$dir/agent2.log"
check "remove" p53g remove

done_testing
