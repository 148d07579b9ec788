/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Alibaba Cloud ECS DescribeSecurityGroupAttribute, as `aliyun ecs
 * DescribeSecurityGroupAttribute --SecurityGroupId sg-... --Direction
 * ingress` prints it: {"SecurityGroupId", "Permissions": {"Permission":
 * [...]}, ...}. The cloud sorts the rules of all the instance's groups
 * together: lower Priority first, Drop before Accept at equal Priority;
 * what matches nothing is refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sgpolicy-import.h"

static int read_policy(const struct sgpolicy_parser *ps, json_t *obj, enum sgpolicy_action *ret)
{
	const char *s = NULL;
	int r = sgp_opt_string(ps, obj, "Policy", "Policy", &s);

	if (r < 0)
		return r;
	if (!s || strcasecmp(s, "accept") == 0)
		*ret = SGPOLICY_ACCEPT;         /* the API's default */
	else if (strcasecmp(s, "drop") == 0)
		*ret = SGPOLICY_DROP;
	else
		return sgp_fail(ps, "Policy", s, "not Accept or Drop");
	return 0;
}

static int read_protocol(const struct sgpolicy_parser *ps, json_t *obj, enum sgpolicy_proto *ret)
{
	const char *s = NULL;
	int r = sgp_req_string(ps, obj, "IpProtocol", &s);

	if (r < 0)
		return r;
	if (strcasecmp(s, "all") == 0) {
		*ret = SGPOLICY_PROTO_ALL;
		return 0;
	}
	if ((s[0] < '0' || s[0] > '9') && sgp_protocol(s, ret) == 0)
		return 0;
	return sgp_fail(ps, "IpProtocol", s, "not TCP, UDP, ICMP, ICMPv6, GRE or ALL");
}

/* One side of "FROM/TO": -1 or 0 to 65535. */
static bool range_number(const char *s, const char *end, long *ret)
{
	char *stop;
	long v;

	if (s == end || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	v = strtol(s, &stop, 10);
	if (stop != end || v < -1 || v > 65535)
		return false;
	*ret = v;
	return true;
}

/* PortRange is "FROM/TO": "53/53", "1/65535", and "-1/-1" for all ports
 * (what ALL, ICMP and GRE rules carry). */
static int read_port(const struct sgpolicy_parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	const char *s = NULL, *slash;
	long a, b;
	int r = sgp_opt_string(ps, obj, "PortRange", "PortRange", &s);

	if (r < 0)
		return r;
	if (!s && (e->proto == SGPOLICY_PROTO_TCP || e->proto == SGPOLICY_PROTO_UDP))
		return sgp_fail(ps, "PortRange", NULL, e->proto == SGPOLICY_PROTO_TCP ? "missing for TCP"
										  : "missing for UDP");
	if (!s)
		s = "-1/-1";
	slash = strchr(s, '/');
	if (!slash || !range_number(s, slash, &a) || !range_number(slash + 1, slash + strlen(slash), &b))
		return sgp_fail(ps, "PortRange", s, "not FROM/TO (53/53, 1/65535 or -1/-1)");
	if ((a == -1) != (b == -1))
		return sgp_fail(ps, "PortRange", s, "-1 stands for all ports only as -1/-1");
	if (a > b)
		return sgp_fail(ps, "PortRange", s, "range starts above its end");
	if (e->proto != SGPOLICY_PROTO_TCP && e->proto != SGPOLICY_PROTO_UDP &&
	    e->proto != SGPOLICY_PROTO_ALL)
		return 0;               /* ICMP types, GRE: nothing reaches port 53 */
	e->port_dns = a == -1 || (a <= RULESET_DNS_PORT && RULESET_DNS_PORT <= b);
	sgpolicy_text(e->port, sizeof(e->port), s);
	return 0;
}

/* Sources only the cloud can resolve; "" when none. */
static int read_references(const struct sgpolicy_parser *ps, json_t *obj, char *buf, size_t len)
{
	static const struct sgp_reference refs[] = {
		{ NULL, "SourceGroupId", "SourceGroupId", "security group" },
		{ NULL, "SourcePrefixListId", "SourcePrefixListId", "prefix list" },
		{ NULL, "PortRangeListId", "PortRangeListId", "port list" },
	};

	return sgp_read_references(ps, obj, refs, sizeof(refs) / sizeof(refs[0]), buf, len);
}

static int read_sources(const struct sgpolicy_parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	static const char *const keys[] = { "SourceCidrIp", "Ipv6SourceCidrIp" };
	const char *s = NULL;
	int r;

	for (size_t i = 0; i < 2; i++) {
		r = sgp_opt_string(ps, obj, keys[i], keys[i], &s);
		if (r == 0 && s)
			r = sgp_add_source(ps, keys[i], s, e);
		if (r < 0)
			return r;
	}
	if (e->n_sources == 0)
		return sgp_fail(ps, "SourceCidrIp", NULL,
				"missing (and no Ipv6SourceCidrIp, SourceGroupId or SourcePrefixListId)");
	return 0;
}

/* "ingress" when absent, as --Direction ingress exports omit nothing but
 * hand-written files may. */
static int read_direction(const struct sgpolicy_parser *ps, json_t *obj, bool *ret_ingress)
{
	const char *s = NULL;
	int r = sgp_opt_string(ps, obj, "Direction", "Direction", &s);

	if (r < 0)
		return r;
	if (s && strcasecmp(s, "egress") == 0)
		*ret_ingress = false;
	else if (!s || strcasecmp(s, "ingress") == 0)
		*ret_ingress = true;
	else
		return sgp_fail(ps, "Direction", s, "not ingress or egress");
	return 0;
}

static int parse_permission(struct sgpolicy_parser *ps, json_t *obj)
{
	struct sgpolicy_entry e;
	char ref[SGPOLICY_TEXT_MAX];
	const char *id = NULL, *desc = NULL;
	int64_t prio = 1;
	bool present, ingress = true;
	int r;

	if (!json_is_object(obj))
		return sgp_fail(ps, NULL, NULL, "not an object");
	r = sgp_opt_string(ps, obj, "SecurityGroupRuleId", "SecurityGroupRuleId", &id);
	if (r == 0)
		sgp_set_rule_id(ps, id);
	if (r == 0)
		r = sgp_integer(ps, obj, "Priority", 1, 100, true, &prio, &present);
	if (r == 0)
		r = read_direction(ps, obj, &ingress);
	if (r < 0)
		return r;
	if (!ingress) {
		ps->n_egress++;
		return 0;
	}
	sgp_set_index(ps, prio);        /* 1 when absent: the API's default */
	sgp_entry_init(ps, &e);
	r = read_policy(ps, obj, &e.action);
	if (r == 0)
		r = sgp_opt_string(ps, obj, "Description", "Description", &desc);
	if (r == 0)
		r = read_references(ps, obj, ref, sizeof(ref));
	if (r < 0)
		return r;
	sgpolicy_text(e.description, sizeof(e.description), desc ? desc : "");
	if (ref[0])
		return sgp_add_unresolved(ps, &e, ref);
	r = read_protocol(ps, obj, &e.proto);
	if (r == 0)
		r = read_port(ps, obj, &e);
	if (r == 0)
		r = read_sources(ps, obj, &e);
	return r < 0 ? r : sgp_add_entry(ps, &e);
}

/* Permissions.Permission[] as the API and CLI write it; a bare array as
 * some SDKs serialise it. */
static int permissions(const struct sgpolicy_parser *ps, json_t *doc, json_t **ret)
{
	json_t *v = json_object_get(doc, "Permissions");

	if (json_is_array(v)) {
		*ret = v;
		return 0;
	}
	if (json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_object(v))
		return sgp_fail(ps, "Permissions", NULL, "not an object");
	return sgp_opt_array(ps, v, "Permission", "Permissions.Permission", ret);
}

/* InnerAccessPolicy "Accept": the group's own instances reach each other,
 * an implicit rule whose sources only the cloud knows. */
static int inner_access(struct sgpolicy_parser *ps, json_t *doc)
{
	struct sgpolicy_entry e;
	const char *s = NULL;
	int r = sgp_opt_string(ps, doc, "InnerAccessPolicy", "InnerAccessPolicy", &s);

	if (r < 0 || !s || strcasecmp(s, "drop") == 0)
		return r;
	if (strcasecmp(s, "accept") != 0)
		return sgp_fail(ps, "InnerAccessPolicy", s, "not Accept or Drop");
	sgp_entry_init(ps, &e);
	e.action = SGPOLICY_ACCEPT;
	return sgp_add_unresolved(ps, &e, "the group's own instances (InnerAccessPolicy Accept)");
}

static int parse(struct sgpolicy_parser *ps, json_t *doc)
{
	const char *gid = NULL;
	json_t *list, *e;
	size_t i;
	int r = sgp_opt_string(ps, doc, "SecurityGroupId", "SecurityGroupId", &gid);

	if (r == 0)
		r = sgp_begin_group(ps, SGPOLICY_FORMAT_ALIBABA, gid, true);
	if (r == 0)
		r = permissions(ps, doc, &list);
	if (r < 0)
		return r;
	json_array_foreach(list, i, e) {
		r = sgp_begin_entry(ps, (unsigned)i + 1, "Permissions");
		if (r == 0)
			r = parse_permission(ps, e);
		if (r < 0)
			return r;
	}
	sgp_end_entries(ps);
	return inner_access(ps, doc);
}

static bool detect(json_t *doc)
{
	return json_object_get(doc, "Permissions") != NULL;
}

const struct sgpolicy_importer sgpolicy_alibaba = {
	.format = SGPOLICY_FORMAT_ALIBABA,
	.api = "DescribeSecurityGroupAttribute",
	.shape = "Permissions",
	.detect = detect,
	.parse = parse,
};
