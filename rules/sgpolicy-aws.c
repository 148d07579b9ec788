/* SPDX-License-Identifier: GPL-2.0-or-later */
/* AWS EC2 describe-security-groups ({"SecurityGroups": [...]}, one group
 * per element) or one SecurityGroup object. Security groups only allow:
 * order does not matter, the groups of an instance combine, and what no
 * rule allows is refused. Each IpRanges and Ipv6Ranges element becomes
 * one accepting entry with its own Description. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sgpolicy-import.h"

/* "-1" is every protocol; names are lower case in the API, but hand-edited
 * files vary. */
static int read_protocol(const struct sgpolicy_parser *ps, json_t *obj, enum sgpolicy_proto *ret)
{
	json_t *v = json_object_get(obj, "IpProtocol");
	char text[24];
	const char *s;

	if (!v)
		return sgp_fail(ps, "IpProtocol", NULL, "missing");
	if (json_is_integer(v)) {
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = text;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
	} else {
		return sgp_fail(ps, "IpProtocol", NULL, "not a string");
	}
	if (strcmp(s, "-1") == 0) {
		*ret = SGPOLICY_PROTO_ALL;
		return 0;
	}
	if (sgp_protocol(s, ret) == 0)
		return 0;
	return sgp_fail(ps, "IpProtocol", s, "not tcp, udp, icmp, icmpv6, -1 or a protocol number");
}

/* FromPort/ToPort for TCP and UDP; -1 (every protocol) has none, and for
 * ICMP they are a type and a code. */
static int read_ports(const struct sgpolicy_parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	int64_t from = 0, to = 0;
	bool has_from, has_to;
	char why[64];
	int r;

	if (e->proto == SGPOLICY_PROTO_ALL) {
		e->port_dns = true;
		snprintf(e->port, sizeof(e->port), "ALL");
		return 0;
	}
	if (e->proto != SGPOLICY_PROTO_TCP && e->proto != SGPOLICY_PROTO_UDP)
		return 0;
	r = sgp_integer(ps, obj, "FromPort", -1, 65535, false, &from, &has_from);
	if (r == 0)
		r = sgp_integer(ps, obj, "ToPort", -1, 65535, false, &to, &has_to);
	if (r < 0)
		return r;
	if (!has_from || !has_to) {
		snprintf(why, sizeof(why), "missing for %s", sgpolicy_proto_name(e->proto));
		return sgp_fail(ps, has_from ? "ToPort" : "FromPort", NULL, why);
	}
	if (from == -1 && to == -1) {
		e->port_dns = true;
		snprintf(e->port, sizeof(e->port), "ALL");
		return 0;
	}
	if (from < 0 || to < 0 || from > to) {
		snprintf(why, sizeof(why), "%lld", (long long)to);
		return sgp_fail(ps, "ToPort", why, "not a range with FromPort");
	}
	e->port_dns = from <= RULESET_DNS_PORT && RULESET_DNS_PORT <= to;
	/* Both are 0 to 65535 here. */
	if (from == to)
		snprintf(e->port, sizeof(e->port), "%u", (unsigned)from & 0xffffu);
	else
		snprintf(e->port, sizeof(e->port), "%u-%u", (unsigned)from & 0xffffu, (unsigned)to & 0xffffu);
	return 0;
}

/* One IpRanges or Ipv6Ranges element: an entry of its own. */
static int parse_range(struct sgpolicy_parser *ps, const struct sgpolicy_entry *proto, json_t *range,
		       const char *key)
{
	struct sgpolicy_entry e = *proto;
	const char *cidr = NULL, *desc = NULL;
	int r;

	if (!json_is_object(range))
		return sgp_fail(ps, NULL, NULL, "not an object");
	r = sgp_req_string(ps, range, key, &cidr);
	if (r == 0)
		r = sgp_opt_string(ps, range, "Description", "Description", &desc);
	if (r == 0)
		r = sgp_add_source(ps, key, cidr, &e);
	if (r == 0 && (e.sources[0].family == AF_INET6) != ps->at.sub_v6)
		r = sgp_fail(ps, key, cidr, ps->at.sub_v6 ? "not IPv6" : "not IPv4");
	if (r < 0)
		return r;
	e.sub = ps->at.sub;
	e.sub_v6 = ps->at.sub_v6;
	sgpolicy_text(e.description, sizeof(e.description), desc ? desc : "");
	return sgp_add_entry(ps, &e);
}

static int parse_ranges(struct sgpolicy_parser *ps, const struct sgpolicy_entry *e, json_t *obj, bool v6)
{
	const char *list = v6 ? "Ipv6Ranges" : "IpRanges";
	json_t *ranges, *range;
	size_t i;
	int r = sgp_opt_array(ps, obj, list, list, &ranges);

	if (r < 0 || !ranges)
		return r;
	json_array_foreach(ranges, i, range) {
		ps->at.sub = (unsigned)i + 1;
		ps->at.sub_v6 = v6;
		r = parse_range(ps, e, range, v6 ? "CidrIpv6" : "CidrIp");
		if (r < 0)
			return r;
	}
	ps->at.sub = 0;
	ps->at.sub_v6 = false;
	return 0;
}

/* PrefixListIds and UserIdGroupPairs: one skipped entry per reference,
 * each with its own description. */
static int parse_references(struct sgpolicy_parser *ps, const struct sgpolicy_entry *proto, json_t *obj)
{
	static const struct {
		const char *list, *key, *what;
	} refs[] = {
		{ "PrefixListIds", "PrefixListId", "prefix list" },
		{ "UserIdGroupPairs", "GroupId", "security group" },
	};
	const char *id, *desc;
	json_t *items, *item;
	size_t i;
	int r;

	for (size_t k = 0; k < sizeof(refs) / sizeof(refs[0]); k++) {
		r = sgp_opt_array(ps, obj, refs[k].list, refs[k].list, &items);
		if (r < 0)
			return r;
		json_array_foreach(items, i, item) {
			struct sgpolicy_entry e = *proto;
			char ref[SGPOLICY_TEXT_MAX] = "";

			id = desc = NULL;
			if (!json_is_object(item))
				return sgp_fail(ps, refs[k].list, NULL, "holds a non-object");
			r = sgp_opt_string(ps, item, refs[k].key, refs[k].key, &id);
			if (r == 0)
				r = sgp_opt_string(ps, item, "Description", "Description", &desc);
			if (r < 0)
				return r;
			sgp_append_reference(ref, sizeof(ref), refs[k].what, id ? id : "?");
			sgpolicy_text(e.description, sizeof(e.description), desc ? desc : "");
			r = sgp_add_unresolved(ps, &e, ref);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int parse_permission(struct sgpolicy_parser *ps, json_t *obj)
{
	struct sgpolicy_entry e;
	int r;

	if (!json_is_object(obj))
		return sgp_fail(ps, NULL, NULL, "not an object");
	sgp_entry_init(ps, &e);
	e.action = SGPOLICY_ACCEPT;
	r = read_protocol(ps, obj, &e.proto);
	if (r == 0)
		r = read_ports(ps, obj, &e);
	if (r == 0)
		r = parse_references(ps, &e, obj);
	if (r == 0)
		r = parse_ranges(ps, &e, obj, false);
	if (r == 0)
		r = parse_ranges(ps, &e, obj, true);
	return r;
}

static int parse_group(struct sgpolicy_parser *ps, json_t *g)
{
	const char *gid = NULL;
	json_t *in, *eg, *e;
	size_t i;
	int r;

	if (!json_is_object(g)) {
		r = sgp_begin_group(ps, SGPOLICY_FORMAT_AWS, NULL, true);
		return r < 0 ? r : sgp_fail(ps, NULL, NULL, "not an object");
	}
	if (json_is_string(json_object_get(g, "GroupId")))
		gid = json_string_value(json_object_get(g, "GroupId"));
	r = sgp_begin_group(ps, SGPOLICY_FORMAT_AWS, gid, true);
	if (r == 0)
		r = sgp_opt_array(ps, g, "IpPermissionsEgress", "IpPermissionsEgress", &eg);
	if (r == 0)
		r = sgp_opt_array(ps, g, "IpPermissions", "IpPermissions", &in);
	if (r < 0)
		return r;
	ps->n_egress += eg ? json_array_size(eg) : 0;
	if (!in)
		return 0;
	json_array_foreach(in, i, e) {
		r = sgp_begin_entry(ps, (unsigned)i + 1, "IpPermissions");
		if (r == 0)
			r = parse_permission(ps, e);
		if (r < 0)
			return r;
	}
	sgp_end_entries(ps);
	return 0;
}

static int parse(struct sgpolicy_parser *ps, json_t *doc)
{
	json_t *groups = json_object_get(doc, "SecurityGroups"), *g;
	size_t i;
	int r;

	if (!groups)
		return parse_group(ps, doc);
	if (!json_is_array(groups))
		return sgp_fail(ps, "SecurityGroups", NULL, "not an array");
	if (json_array_size(groups) == 0)
		return sgp_fail(ps, "SecurityGroups", NULL, "empty: no security group");
	json_array_foreach(groups, i, g) {
		r = parse_group(ps, g);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool detect(json_t *doc)
{
	return json_object_get(doc, "SecurityGroups") || json_object_get(doc, "IpPermissions");
}

const struct sgpolicy_importer sgpolicy_aws = {
	.format = SGPOLICY_FORMAT_AWS,
	.api = "describe-security-groups",
	.shape = "SecurityGroups or IpPermissions",
	.detect = detect,
	.parse = parse,
};
