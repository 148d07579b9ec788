/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Huawei Cloud VPC v3 ListSecurityGroupRules ({"security_group_rules":
 * [...]}, filtered by one security_group_id) or ShowSecurityGroup
 * ({"security_group": {"id", "security_group_rules": [...]}}). Rules are
 * evaluated by priority (1 first), deny before allow at equal priority;
 * what matches nothing is refused. An instance's groups are matched in
 * their order, so one document holds one group. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sgpolicy-import.h"

static int read_action(const struct sgpolicy_parser *ps, json_t *obj, enum sgpolicy_action *ret)
{
	const char *s = NULL;
	int r = sgp_req_string(ps, obj, "action", &s);

	if (r < 0)
		return r;
	if (strcasecmp(s, "allow") == 0)
		*ret = SGPOLICY_ACCEPT;
	else if (strcasecmp(s, "deny") == 0)
		*ret = SGPOLICY_DROP;
	else
		return sgp_fail(ps, "action", s, "not allow or deny");
	return 0;
}

/* null, "" (and "any", as the console shows it) stand for every protocol. */
static int read_protocol(const struct sgpolicy_parser *ps, json_t *obj, enum sgpolicy_proto *ret)
{
	const char *s = NULL;
	int r = sgp_opt_string(ps, obj, "protocol", "protocol", &s);

	if (r < 0)
		return r;
	if (!s || strcasecmp(s, "any") == 0) {
		*ret = SGPOLICY_PROTO_ALL;
		return 0;
	}
	if (sgp_protocol(s, ret) == 0)
		return 0;
	return sgp_fail(ps, "protocol", s, "not tcp, udp, icmp, icmpv6, gre or a protocol number");
}

/* multiport: "53", "22,23-30", or empty for every port. */
static int read_ports(const struct sgpolicy_parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	const char *s = NULL, *why;
	int r = sgp_opt_string(ps, obj, "multiport", "multiport", &s);

	if (r < 0)
		return r;
	if (e->proto != SGPOLICY_PROTO_TCP && e->proto != SGPOLICY_PROTO_UDP &&
	    e->proto != SGPOLICY_PROTO_ALL)
		return 0;               /* ICMP types and codes, other protocols */
	if (!s) {
		e->port_dns = true;
		sgpolicy_text(e->port, sizeof(e->port), "ALL");
		return 0;
	}
	why = sgp_parse_ports(s, false, &e->port_dns);
	if (why)
		return sgp_fail(ps, "multiport", s, why);
	sgpolicy_text(e->port, sizeof(e->port), s);
	return 0;
}

static int read_ethertype(const struct sgpolicy_parser *ps, json_t *obj, int *ret_family)
{
	const char *s = NULL;
	int r = sgp_opt_string(ps, obj, "ethertype", "ethertype", &s);

	if (r < 0)
		return r;
	if (!s || strcasecmp(s, "IPv4") == 0)
		*ret_family = AF_INET;          /* the API's default */
	else if (strcasecmp(s, "IPv6") == 0)
		*ret_family = AF_INET6;
	else
		return sgp_fail(ps, "ethertype", s, "not IPv4 or IPv6");
	return 0;
}

static int read_references(const struct sgpolicy_parser *ps, json_t *obj, char *buf, size_t len)
{
	static const struct sgp_reference refs[] = {
		{ NULL, "remote_group_id", "remote_group_id", "security group" },
		{ NULL, "remote_address_group_id", "remote_address_group_id", "address group" },
	};

	return sgp_read_references(ps, obj, refs, sizeof(refs) / sizeof(refs[0]), buf, len);
}

/* remote_ip_prefix of the rule's ethertype; none (and no remote group)
 * means every address of that family. */
static int read_source(const struct sgpolicy_parser *ps, json_t *obj, int family,
		       struct sgpolicy_entry *e)
{
	const char *s = NULL;
	int r = sgp_opt_string(ps, obj, "remote_ip_prefix", "remote_ip_prefix", &s);

	if (r < 0)
		return r;
	r = sgp_add_source(ps, "remote_ip_prefix", s ? s : family == AF_INET ? "0.0.0.0/0" : "::/0", e);
	if (r < 0)
		return r;
	if (e->sources[0].family != family)
		return sgp_fail(ps, "remote_ip_prefix", s,
				family == AF_INET ? "not IPv4, as its ethertype IPv4 says" :
						    "not IPv6, as its ethertype IPv6 says");
	return 0;
}

static int read_direction(const struct sgpolicy_parser *ps, json_t *obj, bool *ret_ingress)
{
	const char *s = NULL;
	int r = sgp_req_string(ps, obj, "direction", &s);

	if (r < 0)
		return r;
	if (strcasecmp(s, "ingress") == 0)
		*ret_ingress = true;
	else if (strcasecmp(s, "egress") == 0)
		*ret_ingress = false;
	else
		return sgp_fail(ps, "direction", s, "not ingress or egress");
	return 0;
}

static int parse_rule(struct sgpolicy_parser *ps, json_t *obj)
{
	struct sgpolicy_entry e;
	char ref[SGPOLICY_TEXT_MAX];
	const char *id = NULL, *desc = NULL;
	int64_t prio = 0;
	bool present, ingress = true;
	int family = AF_INET, r;

	if (!json_is_object(obj))
		return sgp_fail(ps, NULL, NULL, "not an object");
	r = sgp_opt_string(ps, obj, "id", "id", &id);
	if (r == 0)
		sgp_set_rule_id(ps, id);
	if (r == 0)
		r = read_direction(ps, obj, &ingress);
	if (r < 0)
		return r;
	if (!ingress) {
		ps->n_egress++;
		return 0;
	}
	r = sgp_integer(ps, obj, "priority", 1, 100, true, &prio, &present);
	if (r == 0 && !present)
		r = sgp_fail(ps, "priority", NULL, "missing (a VPC v3 export has it)");
	if (r < 0)
		return r;
	sgp_set_index(ps, prio);
	sgp_entry_init(ps, &e);
	r = read_action(ps, obj, &e.action);
	if (r == 0)
		r = sgp_opt_string(ps, obj, "description", "description", &desc);
	if (r == 0)
		r = read_references(ps, obj, ref, sizeof(ref));
	if (r < 0)
		return r;
	sgpolicy_text(e.description, sizeof(e.description), desc ? desc : "");
	if (ref[0])
		return sgp_add_unresolved(ps, &e, ref);
	r = read_protocol(ps, obj, &e.proto);
	if (r == 0)
		r = read_ports(ps, obj, &e);
	if (r == 0)
		r = read_ethertype(ps, obj, &family);
	if (r == 0)
		r = read_source(ps, obj, family, &e);
	return r < 0 ? r : sgp_add_entry(ps, &e);
}

/* The group's id: ShowSecurityGroup's, else the rules' security_group_id,
 * which must be one: the groups of an instance are matched in their order,
 * which a mixed list does not tell. */
static int group_id(json_t *holder, json_t *rules, const char **ret)
{
	const char *gid = NULL, *other;
	json_t *rule;
	size_t i;

	if (json_is_string(json_object_get(holder, "id")))
		gid = json_string_value(json_object_get(holder, "id"));
	json_array_foreach(rules, i, rule) {
		json_t *v = json_object_get(rule, "security_group_id");

		if (!json_is_string(v) || !json_string_length(v))
			continue;
		other = json_string_value(v);
		if (!gid) {
			gid = other;
		} else if (strcmp(gid, other) != 0) {
			*ret = gid;
			return 1;
		}
	}
	*ret = gid;
	return 0;
}

static int parse(struct sgpolicy_parser *ps, json_t *doc)
{
	json_t *holder = doc, *rules, *sg = json_object_get(doc, "security_group"), *e;
	const char *gid = NULL;
	size_t i;
	int mixed, r;

	if (sg && !json_is_null(sg)) {
		if (!json_is_object(sg))
			return sgp_fail(ps, "security_group", NULL, "not an object");
		holder = sg;
	}
	r = sgp_opt_array(ps, holder, "security_group_rules", "security_group_rules", &rules);
	if (r < 0)
		return r;
	mixed = rules ? group_id(holder, rules, &gid) : 0;
	r = sgp_begin_group(ps, SGPOLICY_FORMAT_HUAWEI, gid, false);
	if (r == 0 && mixed)
		r = sgp_fail(ps, "security_group_id", NULL,
			     "rules of several security groups in one document: export one group per "
			     "document (ListSecurityGroupRules --security_group_id) and list them in the "
			     "instance's order");
	if (r < 0 || !rules)
		return r;
	json_array_foreach(rules, i, e) {
		r = sgp_begin_entry(ps, (unsigned)i + 1, "security_group_rules");
		if (r == 0)
			r = parse_rule(ps, e);
		if (r < 0)
			return r;
	}
	sgp_end_entries(ps);
	return 0;
}

static bool detect(json_t *doc)
{
	return json_object_get(doc, "security_group_rules") || json_object_get(doc, "security_group");
}

const struct sgpolicy_importer sgpolicy_huawei = {
	.format = SGPOLICY_FORMAT_HUAWEI,
	.api = "ListSecurityGroupRules",
	.shape = "security_group_rules",
	.detect = detect,
	.parse = parse,
};
