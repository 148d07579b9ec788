#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A cloud security group's policy mirrored on the host, against the real
# kernel, a real dnsmasq and real dig, all inside network namespaces:
#
#   inet      198.51.100.18 --+
#   (the internet)            +-- srv: dnsmasq :53, then `apply` and the agent
#   internal  198.51.100.34 --+
#   (the VPC)
#
# srv is 198.51.100.17 and .33; each link also carries 2001:db8:53:IDX::1
# (srv) and 2001:db8:53:IDX::2 (the client): lib.sh's ns_link.
# Tencent Cloud first, then the same checks for Alibaba Cloud, Huawei Cloud
# and AWS exports, then the agent following an atomic replace of the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent.sh"
p53_init
require_root
require_cmd ip dig dnsmasq nft python3 jq
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
		"$(entry 0 UDP 53 198.51.100.32/28 ACCEPT "internal clients")" \
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

internal_answered() { dig_query "$internal" 198.51.100.33 host.test.p53; }
inet_answered() { dig_query "$inet" 198.51.100.17 host.test.p53; }
inet_refused() { dig_times_out "$inet" 198.51.100.17 host.test.p53; }

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
	"port53guard: invalid policy: $dir/bad.json: Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1): Port \"53-\": not a port, range or list" \
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
	'meta l4proto udp ip saddr 198.51.100.32/28 counter accept comment "cloud policy group 1 PolicyIndex 0: internal clients"' \
	"$dir/dry.nft"
check "dry run: the policy's drop of 0.0.0.0/0" grep -qF \
	'meta l4proto udp ip saddr 0.0.0.0/0 counter drop comment "cloud policy group 1 PolicyIndex 2: refuse the rest"' \
	"$dir/dry.nft"
check "dry run: the SSH entry listed as out of scope" grep -qxF \
	"# out of scope: Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1): TCP:22 from 0.0.0.0/0 ACCEPT (ssh from anywhere)" \
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
	dig_times_out "$internal" 2001:db8:53:2::1 host.test.p53
check "IPv6: the internet client times out too" dig_times_out "$inet" 2001:db8:53:1::1 host.test.p53
check "TCP/53 is not refused (protocols = udp)" dig_query "$inet" 198.51.100.17 host.test.p53 +tcp
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
write_conf "$dir/allow.conf" "$dir/internal.json" "allow = 198.51.100.18"
check "apply with an allowlist on top of the policy" p53g -c "$dir/allow.conf" apply
check "allowlisted internet client is answered despite the policy's drop" inet_answered
check "internal client still answered" internal_answered

# Templates and other groups cannot be resolved here: skipped, with a warning.
policy "$dir/tmpl.json" \
	"$(entry 0 UDP 53 198.51.100.32/28 ACCEPT "internal clients")" \
	'{"PolicyIndex": 1, "Protocol": "UDP", "Port": "53", "AddressTemplate": {"AddressId": "ipm-9kq3vx1c", "AddressGroupId": ""}, "Action": "ACCEPT", "PolicyDescription": "partners"}' \
	"$(entry 2 ALL ALL 0.0.0.0/0 DROP "refuse the rest")"
write_conf "$dir/tmpl.conf" "$dir/tmpl.json"
p53g -c "$dir/tmpl.conf" apply >/dev/null 2>"$dir/tmpl.err"
assert_eq "apply with a template entry exits 0" 0 "$?"
check "apply warns about the skipped template entry" grep -qF \
	"port53guard apply: warning: $dir/tmpl.json: Tencent Cloud group 1, ingress entry 2 (PolicyIndex 1) \"partners\": skipped: refers to address template ipm-9kq3vx1c" \
	"$dir/tmpl.err"
check "the template entry is not in the table" bash -c "! grep -q 'PolicyIndex 1' <<<'$(listing)'"

policy "$dir/public.json" "$(entry 0 UDP 53 0.0.0.0/0 ACCEPT "DNS for everybody")"
write_conf "$dir/public.conf" "$dir/public.json"
p53g -c "$dir/public.conf" apply --dry-run >/dev/null 2>"$dir/public.err"
assert_eq "dry run with a public policy exits 0" 0 "$?"
check "dry run names the public accept" grep -qF \
	"port53guard apply: warning: $dir/public.json: Tencent Cloud group 1, ingress entry 1 (PolicyIndex 0): UDP:53 from 0.0.0.0/0 ACCEPT (DNS for everybody): DNS is answered for everybody on IPv4, here as in the cloud (policy_allows_public_dns)" \
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
	"$(entry 0 UDP 53 198.51.100.32/28 ACCEPT "internal clients")" \
	"$(entry 1 UDP 53 198.51.100.16/28 ACCEPT "partner network")" \
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
	"$(entry 0 UDP 53-x 198.51.100.32/28 ACCEPT "typo")" >"$dir/agent/policy.json"
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
	'proto=udp source=0.0.0.0/0 provider=tencent group=1 group_id="" entry=2 policy_index=1 rule_id="" description="DNS for everybody"'
check "public policy: mirrored faithfully, the internet client is answered" wait_for 5 inet_answered
check "public policy: IPv6 still refused (no ::/0 accept)" dig_times_out "$inet" 2001:db8:53:1::1 host.test.p53
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

# --- every provider: VPC answered, internet refused over IPv4 and IPv6, the tie refused -----

# Alibaba Cloud DescribeSecurityGroupAttribute: listed out of Priority
# order; at Priority 10 an Accept of 0.0.0.0/0 ties with a Drop, and Drop wins.
alibaba_policy() {       # FILE [EXTRA PERMISSION...]
	local file=$1 extra=
	shift
	for e in "$@"; do extra="$extra, $e"; done
	cat >"$file.tmp" <<-EOF
	{"RequestId": "CEF72CEB-54B6-4AE8-B225-F876FF7BA984", "RegionId": "cn-hangzhou",
	 "SecurityGroupId": "sg-bp1dnsvpc0000000001", "SecurityGroupName": "dns", "VpcId": "vpc-bp1test",
	 "InnerAccessPolicy": "Accept", "Permissions": {"Permission": [
	  {"SecurityGroupRuleId": "sgr-a1", "Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1",
	   "SourceCidrIp": "0.0.0.0/0", "Ipv6SourceCidrIp": "", "SourceGroupId": "", "SourcePrefixListId": "",
	   "Policy": "Drop", "Priority": 100, "Description": "拒绝其他所有访问", "NicType": "intranet"},
	  {"SecurityGroupRuleId": "sgr-a2", "Direction": "ingress", "IpProtocol": "UDP", "PortRange": "53/53",
	   "SourceCidrIp": "0.0.0.0/0", "Ipv6SourceCidrIp": "", "SourceGroupId": "", "SourcePrefixListId": "",
	   "Policy": "Accept", "Priority": "10", "Description": "误开放的公网 DNS", "NicType": "intranet"},
	  {"SecurityGroupRuleId": "sgr-a3", "Direction": "ingress", "IpProtocol": "udp", "PortRange": "53/53",
	   "SourceCidrIp": "0.0.0.0/0", "Ipv6SourceCidrIp": "", "SourceGroupId": "", "SourcePrefixListId": "",
	   "Policy": "Drop", "Priority": 10, "Description": "同优先级拒绝优先", "NicType": "intranet"},
	  {"SecurityGroupRuleId": "sgr-a4", "Direction": "ingress", "IpProtocol": "UDP", "PortRange": "1/65535",
	   "SourceCidrIp": "198.51.100.32/28", "Ipv6SourceCidrIp": "", "SourceGroupId": "", "SourcePrefixListId": "",
	   "Policy": "Accept", "Priority": 1, "Description": "VPC 内网客户端", "NicType": "intranet"},
	  {"SecurityGroupRuleId": "sgr-a5", "Direction": "ingress", "IpProtocol": "UDP", "PortRange": "53/53",
	   "SourceCidrIp": "", "Ipv6SourceCidrIp": "2001:db8:53:2::/64", "SourceGroupId": "", "SourcePrefixListId": "",
	   "Policy": "Accept", "Priority": 1, "Description": "VPC IPv6", "NicType": "intranet"},
	  {"SecurityGroupRuleId": "sgr-a6", "Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
	   "SourceCidrIp": "0.0.0.0/0", "Ipv6SourceCidrIp": "", "SourceGroupId": "", "SourcePrefixListId": "",
	   "Policy": "Accept", "Priority": 1, "Description": "SSH", "NicType": "intranet"},
	  {"SecurityGroupRuleId": "sgr-a7", "Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1",
	   "SourceCidrIp": "", "Ipv6SourceCidrIp": "", "SourceGroupId": "sg-bp1apptier000000001", "SourcePrefixListId": "",
	   "Policy": "Accept", "Priority": 1, "Description": "应用层", "NicType": "intranet"}$extra]}}
	EOF
	mv "$file.tmp" "$file"
}

# Huawei Cloud ListSecurityGroupRules: deny wins the priority 10 tie; an
# empty protocol and multiport are everything.
huawei_rule() {          # ID PROTOCOL MULTIPORT ETHERTYPE REMOTE ACTION PRIORITY DESCRIPTION [REMOTE_GROUP]
	printf '{"id": "%s", "description": "%s", "security_group_id": "0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f", ' "$1" "$8"
	printf '"direction": "ingress", "protocol": %s, "ethertype": "%s", "multiport": %s, ' "$2" "$4" "$3"
	printf '"action": "%s", "priority": %s, "remote_group_id": %s, "remote_ip_prefix": %s, ' "$6" "$7" "${9:-null}" "$5"
	printf '"remote_address_group_id": null, "created_at": "2024-04-02T08:11:27.000+00:00", '
	printf '"updated_at": "2024-04-02T08:11:27.000+00:00", "project_id": "060576782980d5762f9ec014dd2f1148"}'
}

huawei_policy() {        # FILE
	{
		printf '{"request_id": "e2f9dd2d3ea9c6e1", "security_group_rules": [\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000001 null null IPv4 '"0.0.0.0/0"' deny 100 "拒绝其他 IPv4"; printf ',\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000002 '"udp"' '"53"' IPv4 '"0.0.0.0/0"' allow 10 "误开放"; printf ',\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000003 '"udp"' '"53,5353"' IPv4 '"0.0.0.0/0"' deny 10 "同优先级拒绝优先"; printf ',\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000004 '"udp"' '"22,23-30,53"' IPv4 '"198.51.100.32/28"' allow 1 "VPC 内网"; printf ',\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000005 '""' '""' IPv6 '"2001:db8:53:2::/64"' allow 1 "VPC IPv6"; printf ',\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000006 null null IPv6 null deny 100 "拒绝其他 IPv6"; printf ',\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000007 null null IPv4 null allow 1 "同组互通" \
			'"0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f"'; printf ',\n'
		huawei_rule 9f0e1d2c-0000-4000-8000-000000000008 '"tcp"' '"22"' IPv4 '"0.0.0.0/0"' allow 1 "SSH"
		printf '\n], "page_info": {"current_count": 8}}\n'
	} >"$1.tmp" && mv "$1.tmp" "$1"
}

# AWS describe-security-groups: allow only, two groups combine.
aws_policy() {           # FILE [EXTRA IPRANGE...]
	local file=$1 extra=
	shift
	for e in "$@"; do extra="$extra, $e"; done
	cat >"$file.tmp" <<-EOF
	{"SecurityGroups": [
	 {"Description": "dns", "GroupName": "dns", "GroupId": "sg-0a1b2c3d4e5f60718", "OwnerId": "123456789012",
	  "VpcId": "vpc-0123456789abcdef0", "IpPermissions": [
	   {"FromPort": 53, "ToPort": 53, "IpProtocol": "udp",
	    "IpRanges": [{"CidrIp": "198.51.100.32/28", "Description": "VPC 内网"}$extra],
	    "Ipv6Ranges": [{"CidrIpv6": "2001:db8:53:2::/64", "Description": "VPC IPv6"}],
	    "PrefixListIds": [{"PrefixListId": "pl-0123456789abcdef0", "Description": "partners"}], "UserIdGroupPairs": []},
	   {"FromPort": 22, "ToPort": 22, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "SSH"}],
	    "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}],
	  "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
	   "PrefixListIds": [], "UserIdGroupPairs": []}]},
	 {"Description": "monitoring", "GroupName": "monitoring", "GroupId": "sg-0b2c3d4e5f6071829",
	  "OwnerId": "123456789012", "VpcId": "vpc-0123456789abcdef0", "IpPermissions": [
	   {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "monitoring"}],
	    "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}], "IpPermissionsEgress": []}]}
	EOF
	mv "$file.tmp" "$file"
}

internal6_answered() { dig_query "$internal" 2001:db8:53:2::1 host.test.p53; }
inet6_refused() { dig_times_out "$inet" 2001:db8:53:1::1 host.test.p53; }

# provider_checks NAME SUMMARY DRY_RULE OUT_OF_SCOPE: check-config, the dry
# run and real traffic for the export in $dir/NAME.json.
provider_checks() {
	local name=$1 summary=$2 rule=$3 scope=$4
	write_conf "$dir/$name.conf" "$dir/$name.json"
	out=$(p53g -c "$dir/$name.conf" check-config 2>"$dir/$name.check.err")
	assert_eq "$name: check-config exits 0" 0 "$?"
	check "$name: check-config summarises the policy" grep -qxF "$summary" <<<"$out"
	p53g -c "$dir/$name.conf" apply --dry-run >"$dir/$name.nft" 2>/dev/null
	assert_eq "$name: dry run exits 0" 0 "$?"
	check "$name: dry run is accepted by nft -c -f" ip netns exec "$srv" nft -c -f "$dir/$name.nft"
	check "$name: dry run keeps the Chinese description in the comment" grep -qF "$rule" "$dir/$name.nft"
	check "$name: dry run lists the SSH rule as out of scope" grep -qxF "$scope" "$dir/$name.nft"
	check "$name: apply" p53g -c "$dir/$name.conf" apply
	check "$name: VPC client answered over IPv4" internal_answered
	check "$name: VPC client answered over IPv6" internal6_answered
	check "$name: internet client refused over IPv4" inet_refused
	check "$name: internet client refused over IPv6" inet6_refused
	check "$name: nft lists the description in UTF-8" grep -qF "comment ${rule#*comment }" <<<"$(listing)"
	check "$name: apply --verify: the table matches" p53g -c "$dir/$name.conf" apply --verify
	check "$name: remove" p53g remove
}

alibaba_policy "$dir/alibaba.json"
provider_checks alibaba \
	"# policy_file: 1 security group, 8 ingress entries: 5 rules for port 53, 1 out of scope, 2 skipped" \
	'meta l4proto udp ip saddr 0.0.0.0/0 counter drop comment "cloud policy group 1 Priority 10: 同优先级拒绝优先"' \
	"# out of scope: Alibaba Cloud group 1 (sg-bp1dnsvpc0000000001), permission 6 (Priority 1, rule sgr-a6): TCP:22/22 from 0.0.0.0/0 ACCEPT (SSH)"
order=$(grep -oE 'comment "cloud policy group 1 Priority [0-9]+: [^"]*' "$dir/alibaba.nft" | sed 's/comment "cloud policy group 1 //' | tr '\n' '|')
assert_eq "alibaba: Priority order, Drop before Accept at Priority 10" \
	"Priority 1: VPC 内网客户端|Priority 1: VPC IPv6|Priority 10: 同优先级拒绝优先|Priority 10: 误开放的公网 DNS|Priority 100: 拒绝其他所有访问|" \
	"$order"
check "alibaba: the skipped security group is named" grep -qF \
	"port53guard check-config: warning: $dir/alibaba.json: Alibaba Cloud group 1 (sg-bp1dnsvpc0000000001), permission 7 (Priority 1, rule sgr-a7) \"应用层\": skipped: refers to security group sg-bp1apptier000000001" \
	"$dir/alibaba.check.err"
check "alibaba: InnerAccessPolicy Accept is named as skipped" grep -qF \
	"port53guard check-config: warning: $dir/alibaba.json: Alibaba Cloud group 1 (sg-bp1dnsvpc0000000001): skipped: refers to the group's own instances (InnerAccessPolicy Accept)" \
	"$dir/alibaba.check.err"

# TCP:53 accepted from everybody is reported even with protocols = udp.
alibaba_policy "$dir/alibaba-tcp.json" \
	'{"SecurityGroupRuleId": "sgr-a8", "Direction": "ingress", "IpProtocol": "TCP", "PortRange": "53/53", "SourceCidrIp": "0.0.0.0/0", "Policy": "Accept", "Priority": 1, "Description": "TCP DNS"}'
write_conf "$dir/alibaba-tcp.conf" "$dir/alibaba-tcp.json"
p53g -c "$dir/alibaba-tcp.conf" apply --dry-run >/dev/null 2>"$dir/alibaba-tcp.err"
assert_eq "alibaba: dry run with a public TCP:53 accept exits 0" 0 "$?"
check "alibaba: the public TCP:53 accept is reported" grep -qxF \
	"port53guard apply: warning: $dir/alibaba-tcp.json: Alibaba Cloud group 1 (sg-bp1dnsvpc0000000001), permission 8 (Priority 1, rule sgr-a8): TCP:53/53 from 0.0.0.0/0 ACCEPT (TCP DNS): DNS over TCP is answered for everybody on IPv4, here as in the cloud (policy_allows_public_dns)" \
	"$dir/alibaba-tcp.err"
check_fails "alibaba: no UDP finding for it" grep -q "DNS is answered for everybody" "$dir/alibaba-tcp.err"

huawei_policy "$dir/huawei.json"
provider_checks huawei \
	"# policy_file: 1 security group, 8 ingress entries: 6 rules for port 53, 1 out of scope, 1 skipped" \
	'meta l4proto udp ip saddr 0.0.0.0/0 counter drop comment "cloud policy group 1 priority 10: 同优先级拒绝优先"' \
	"# out of scope: Huawei Cloud group 1 (0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f), rule 8 (priority 1, id 9f0e1d2c-0000-4000-8000-000000000008): TCP:22 from 0.0.0.0/0 ACCEPT (SSH)"
order=$(grep -oE 'comment "cloud policy group 1 priority [0-9]+: [^"]*' "$dir/huawei.nft" | sed 's/comment "cloud policy group 1 //' | tr '\n' '|')
assert_eq "huawei: priority order, deny before allow at priority 10" \
	"priority 1: VPC 内网|priority 1: VPC IPv6|priority 10: 同优先级拒绝优先|priority 10: 误开放|priority 100: 拒绝其他 IPv4|priority 100: 拒绝其他 IPv6|" \
	"$order"

aws_policy "$dir/aws.json"
provider_checks aws \
	"# policy_file: 2 security groups, 5 ingress entries: 3 rules for port 53, 1 out of scope, 1 skipped" \
	'meta l4proto udp ip saddr 198.51.100.32/28 counter accept comment "cloud policy group 1 permission 1: VPC 内网"' \
	"# out of scope: AWS group 1 (sg-0a1b2c3d4e5f60718), permission 2, IpRanges 1: TCP:22 from 0.0.0.0/0 ACCEPT (SSH)"

# Errors name the provider, the group, the rule and the field.
python3 - "$dir/alibaba.json" "$dir/alibaba-bad.json" <<-'EOF'
	import json, sys
	d = json.load(open(sys.argv[1]))
	d["Permissions"]["Permission"][2]["PortRange"] = "53"
	json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
	EOF
write_conf "$dir/alibaba-bad.conf" "$dir/alibaba-bad.json"
p53g -c "$dir/alibaba-bad.conf" check-config >/dev/null 2>"$dir/alibaba-bad.err"
assert_eq "alibaba: check-config with a bad PortRange exits 1" 1 "$?"
assert_eq "alibaba: the error names provider, group, rule, field and value" \
	"port53guard: invalid policy: $dir/alibaba-bad.json: Alibaba Cloud group 1 (sg-bp1dnsvpc0000000001), permission 3 (Priority 10, rule sgr-a3): PortRange \"53\": not FROM/TO (53/53, 1/65535 or -1/-1)" \
	"$(cat "$dir/alibaba-bad.err")"
sed 's/"ethertype": "IPv6", "multiport": ""/"ethertype": "IPv4", "multiport": ""/' "$dir/huawei.json" >"$dir/huawei-bad.json"
write_conf "$dir/huawei-bad.conf" "$dir/huawei-bad.json"
p53g -c "$dir/huawei-bad.conf" check-config >/dev/null 2>"$dir/huawei-bad.err"
assert_eq "huawei: check-config with a prefix of the wrong family exits 1" 1 "$?"
assert_eq "huawei: the error names provider, group, rule id, field and value" \
	"port53guard: invalid policy: $dir/huawei-bad.json: Huawei Cloud group 1 (0a4e1bc8-5a1b-4e8b-9b38-0f2b8e8c3c5f), rule 5 (priority 1, id 9f0e1d2c-0000-4000-8000-000000000005): remote_ip_prefix \"2001:db8:53:2::/64\": not IPv4, as its ethertype IPv4 says" \
	"$(cat "$dir/huawei-bad.err")"
sed 's/"FromPort": 22, "ToPort": 22/"FromPort": 22, "ToPort": 2/' "$dir/aws.json" >"$dir/aws-bad.json"
write_conf "$dir/aws-bad.conf" "$dir/aws-bad.json"
p53g -c "$dir/aws-bad.conf" check-config >/dev/null 2>"$dir/aws-bad.err"
assert_eq "aws: check-config with a reversed port range exits 1" 1 "$?"
assert_eq "aws: the error names provider, group, permission, field and value" \
	"port53guard: invalid policy: $dir/aws-bad.json: AWS group 1 (sg-0a1b2c3d4e5f60718), permission 2: ToPort \"2\": not a range with FromPort" \
	"$(cat "$dir/aws-bad.err")"
write_conf "$dir/forced.conf" "$dir/alibaba.json" "policy_format = tencent"
p53g -c "$dir/forced.conf" check-config >/dev/null 2>"$dir/forced.err"
assert_eq "policy_format = tencent refuses an Alibaba export" \
	"port53guard: invalid policy: $dir/alibaba.json: policy_format is tencent, but this is no DescribeSecurityGroupPolicies export (no Response, SecurityGroupPolicySet, Ingress or Egress)" \
	"$(cat "$dir/forced.err")"
write_conf "$dir/forced-ok.conf" "$dir/alibaba.json" "policy_format = alibaba"
check "policy_format = alibaba reads it" p53g -c "$dir/forced-ok.conf" check-config

# Several files combined in binding order: a Tencent group that drops the
# internet, then the AWS groups; mixed providers still read.
internal_only "$dir/mix-a.json"
jq -s . "$dir/mix-a.json" "$dir/aws.json" >"$dir/mixed.json"
write_conf "$dir/mixed.conf" "$dir/mixed.json"
out=$(p53g -c "$dir/mixed.conf" check-config 2>/dev/null)
check "mixed providers: 3 groups read" grep -qF "# policy_file: 3 security groups" <<<"$out"

# --- the agent follows the file: an atomic mv over it, no SIGHUP ---------------------------
mkdir -p "$dir/watch"
conf=$(agent_conf "$dir/watch" '[rules]' "policy_file = $dir/watch/policy.json")
alibaba_policy "$dir/watch/policy.json"
log=$dir/watch.log
pid=$(agent_start "$srv" "$conf" "$log") || exit 1
check "watch: the agent watches the policy file" log_has "$log" policy_watched "file=$dir/watch/policy.json"
check "watch: policy_loaded names the provider" log_has "$log" policy_loaded "format=alibaba"
check "watch: policy_rule_skipped states the consequence" log_has "$log" policy_rule_skipped \
	'provider=alibaba group=1 group_id=sg-bp1dnsvpc0000000001 entry=7 policy_index=1 rule_id=sgr-a7 action=ACCEPT description=应用层 refers_to="security group sg-bp1apptier000000001" effect="its ACCEPT is not mirrored'
check "watch: internet refused (the tie)" inet_refused
check "watch: VPC answered" internal_answered
applied=$(log_count "$log" rules_applied)
# Configuration management: a new file beside it, renamed over it.
aws_policy "$dir/watch/policy.json" '{"CidrIp": "198.51.100.16/28", "Description": "合作伙伴"}'
check "watch: policy_changed logged for the rename" wait_for 5 log_has "$log" policy_changed "change=replaced"
check "watch: policy_loaded for the new provider, with the file's SHA-256" wait_for 5 log_has "$log" policy_loaded \
	"format=aws version=\"\" hash=$(sha256sum <"$dir/watch/policy.json" | cut -d' ' -f1) groups=2 entries=5 rules=4 out_of_scope=1 skipped=1"
check "watch: the new rules are applied" wait_for 5 bash -c \
	"[ \$(grep -c ' event=rules_applied ' '$log') -gt $applied ]"
check "watch: the internet client is answered now" wait_for 5 inet_answered
check "watch: nft lists the new rule" grep -qF 'comment "cloud policy group 1 permission 1: 合作伙伴"' <<<"$(listing)"
check "watch: IPv6 internet still refused" inet6_refused
assert_eq "watch: no SIGHUP was needed" 0 "$(log_count "$log" reload_requested)"

# A malformed replacement keeps the rules in force.
kept=$(ip netns exec "$srv" nft -s list table inet port53guard)
printf '{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "udp", "FromPort": 53}]}]}\n' \
	>"$dir/watch/next.json"
mv "$dir/watch/next.json" "$dir/watch/policy.json"
check "watch: malformed: rules_invalid names provider, group and field" wait_for 5 log_has "$log" rules_invalid \
	'AWS group 1 (sg-1), permission 1: ToPort: missing for UDP'
check "watch: malformed: config_kept logged" wait_for 5 log_has "$log" config_kept "changed policy file is invalid"
assert_eq "watch: malformed: the table is unchanged" "$kept" "$(ip netns exec "$srv" nft -s list table inet port53guard)"
check "watch: malformed: the internet client is still answered (old rules)" inet_answered

# Written in place, then removed.
n=$(log_count "$log" policy_loaded)
huawei_policy "$dir/watch/hw.json"
cat "$dir/watch/hw.json" >"$dir/watch/policy.json"
check "watch: an in-place write is seen" wait_for 5 log_has "$log" policy_changed "change=written"
check "watch: the Huawei policy is loaded" wait_for 5 bash -c \
	"[ \$(grep -c ' event=policy_loaded ' '$log') -gt $n ] && grep ' event=policy_loaded ' '$log' | tail -1 | grep -q format=huawei"
check "watch: Huawei's tie refuses the internet" wait_for 5 inet_refused
rm "$dir/watch/policy.json"
check "watch: removal is seen" wait_for 5 log_has "$log" policy_changed "change=removed"
check "watch: removal: the rules stay" wait_for 5 log_has "$log" rules_invalid "cannot read"
check "watch: removal: VPC still answered" internal_answered
check "watch: removal: internet still refused" inet_refused
check "watch: agent stops" agent_stop "$pid"
check_fails "watch: no sanitizer report from the agent" grep -E 'Sanitizer|runtime error' "$log"
check "remove" p53g remove

done_testing
