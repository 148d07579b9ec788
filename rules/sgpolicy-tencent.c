/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tencent Cloud VPC DescribeSecurityGroupPolicies: the whole API response
 * ({"Response": {...}}), what tccli prints ({"SecurityGroupPolicySet": {...},
 * "RequestId": ...}) or a bare SecurityGroupPolicySet ({"Version", "Ingress",
 * "Egress"}). Entries are evaluated by PolicyIndex, first match. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sgpolicy-import.h"

static int read_action(const struct sgpolicy_parser *ps, json_t *obj, enum sgpolicy_action *ret)
{
	const char *s = NULL;
	int r = sgp_req_string(ps, obj, "Action", &s);

	if (r < 0)
		return r;
	if (strcasecmp(s, "ACCEPT") == 0)
		*ret = SGPOLICY_ACCEPT;
	else if (strcasecmp(s, "DROP") == 0)
		*ret = SGPOLICY_DROP;
	else
		return sgp_fail(ps, "Action", s, "not ACCEPT or DROP");
	return 0;
}

/* What the entry names that only the cloud can resolve; "" when nothing. */
static int read_references(const struct sgpolicy_parser *ps, json_t *obj, char *buf, size_t len)
{
	static const struct sgp_reference refs[] = {
		{ "AddressTemplate", "AddressId", "AddressTemplate.AddressId", "address template" },
		{ "AddressTemplate", "AddressGroupId", "AddressTemplate.AddressGroupId", "address template group" },
		{ "ServiceTemplate", "ServiceId", "ServiceTemplate.ServiceId", "service template" },
		{ "ServiceTemplate", "ServiceGroupId", "ServiceTemplate.ServiceGroupId", "service template group" },
		{ NULL, "SecurityGroupId", "SecurityGroupId", "security group" },
	};

	return sgp_read_references(ps, obj, refs, sizeof(refs) / sizeof(refs[0]), buf, len);
}

/* Tencent spells the protocol by name only. */
static int read_protocol(const struct sgpolicy_parser *ps, json_t *obj, enum sgpolicy_proto *ret)
{
	static const enum sgpolicy_proto names[] = {
		SGPOLICY_PROTO_ALL, SGPOLICY_PROTO_TCP, SGPOLICY_PROTO_UDP,
		SGPOLICY_PROTO_ICMP, SGPOLICY_PROTO_ICMPV6, SGPOLICY_PROTO_GRE,
	};
	const char *s = NULL;
	int r = sgp_req_string(ps, obj, "Protocol", &s);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, sgpolicy_proto_name(names[i])) == 0) {
			*ret = names[i];
			return 0;
		}
	return sgp_fail(ps, "Protocol", s, "not TCP, UDP, ICMP, ICMPv6, GRE or ALL");
}

/* Port only means something for TCP, UDP and ALL; for ICMP and GRE the API
 * writes "" or "ALL" and nothing there can reach port 53. */
static int read_port(const struct sgpolicy_parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	const char *s = NULL, *why;
	int r = sgp_opt_string(ps, obj, "Port", "Port", &s);

	if (r < 0)
		return r;
	if (e->proto != SGPOLICY_PROTO_TCP && e->proto != SGPOLICY_PROTO_UDP &&
	    e->proto != SGPOLICY_PROTO_ALL) {
		e->port_dns = false;
		return 0;
	}
	if (!s && e->proto != SGPOLICY_PROTO_ALL)
		return sgp_fail(ps, "Port", NULL, e->proto == SGPOLICY_PROTO_TCP ? "missing for TCP"
									     : "missing for UDP");
	why = sgp_parse_ports(s ? s : "ALL", true, &e->port_dns);
	if (why)
		return sgp_fail(ps, "Port", s, why);
	sgpolicy_text(e->port, sizeof(e->port), s ? s : "ALL");
	return 0;
}

static int read_sources(const struct sgpolicy_parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	static const char *const keys[] = { "CidrBlock", "Ipv6CidrBlock" };
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
		return sgp_fail(ps, "CidrBlock", NULL,
				"missing (and no Ipv6CidrBlock, SecurityGroupId or AddressTemplate)");
	return 0;
}

static int parse_entry(struct sgpolicy_parser *ps, json_t *obj)
{
	struct sgpolicy_entry e;
	char ref[SGPOLICY_TEXT_MAX];
	const char *desc = NULL;
	int64_t index = 0;
	bool present;
	int r;

	if (!json_is_object(obj))
		return sgp_fail(ps, NULL, NULL, "not an object");
	r = sgp_integer(ps, obj, "PolicyIndex", 0, INT32_MAX, false, &index, &present);
	if (r < 0)
		return r;
	if (!present)
		return sgp_fail(ps, "PolicyIndex", NULL, "missing");
	sgp_set_index(ps, index);
	sgp_entry_init(ps, &e);
	r = read_action(ps, obj, &e.action);
	if (r == 0)
		r = sgp_opt_string(ps, obj, "PolicyDescription", "PolicyDescription", &desc);
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

/* The SecurityGroupPolicySet inside whatever wraps it; an API error
 * response says why there is no policy, so it is passed on. */
static int unwrap(const struct sgpolicy_parser *ps, json_t *v, json_t **ret)
{
	json_t *resp = json_object_get(v, "Response"), *set, *err;
	const char *code = NULL, *msg = NULL;
	char why[64 + 3 * SGPOLICY_TEXT_MAX], c[SGPOLICY_TEXT_MAX], m[2 * SGPOLICY_TEXT_MAX];

	if (json_is_object(resp)) {
		err = json_object_get(resp, "Error");
		if (err) {
			json_unpack(err, "{s?s, s?s}", "Code", &code, "Message", &msg);
			sgpolicy_text(c, sizeof(c), code ? code : "?");
			sgpolicy_text(m, sizeof(m), msg ? msg : "");
			snprintf(why, sizeof(why), "the file holds an API error, not a policy: %s: %s", c, m);
			return sgp_fail(ps, NULL, NULL, why);
		}
		v = resp;
	}
	set = json_object_get(v, "SecurityGroupPolicySet");
	if (set && !json_is_object(set))
		return sgp_fail(ps, "SecurityGroupPolicySet", NULL, "not an object");
	if (set)
		v = set;
	if (!json_is_object(v) || (!json_object_get(v, "Ingress") && !json_object_get(v, "Egress") &&
				   !json_object_get(v, "Version")))
		return sgp_fail(ps, NULL, NULL, "not a security group policy (no SecurityGroupPolicySet, "
				"Ingress or Egress)");
	*ret = v;
	return 0;
}

/* Version counts the group's changes: "7" in the SDK's model, a number in
 * some exports. */
static int read_version(struct sgpolicy_parser *ps, json_t *set)
{
	json_t *v = json_object_get(set, "Version");
	char text[32], clean[32];
	struct sgpolicy *p = ps->p;
	size_t used = strlen(p->version);

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_string(v))
		snprintf(text, sizeof(text), "%s", json_string_value(v));
	else
		return sgp_fail(ps, "Version", NULL, "not a string or number");
	sgpolicy_text(clean, sizeof(clean), text);
	if (clean[0] && used + strlen(clean) + 2 < sizeof(p->version))
		snprintf(p->version + used, sizeof(p->version) - used, "%s%s", used ? "," : "", clean);
	return 0;
}

static int parse(struct sgpolicy_parser *ps, json_t *doc)
{
	json_t *set, *in, *eg, *e;
	size_t i;
	int r = sgp_begin_group(ps, SGPOLICY_FORMAT_TENCENT, NULL, false);

	if (r == 0)
		r = unwrap(ps, doc, &set);
	if (r == 0)
		r = sgp_opt_array(ps, set, "Egress", "Egress", &eg);
	if (r == 0)
		r = sgp_opt_array(ps, set, "Ingress", "Ingress", &in);
	if (r == 0)
		r = read_version(ps, set);
	if (r < 0)
		return r;
	ps->n_egress += eg ? json_array_size(eg) : 0;
	if (!in)
		return 0;
	json_array_foreach(in, i, e) {
		r = sgp_begin_entry(ps, (unsigned)i + 1, "Ingress");
		if (r == 0)
			r = parse_entry(ps, e);
		if (r < 0)
			return r;
	}
	sgp_end_entries(ps);
	return 0;
}

static bool detect(json_t *doc)
{
	return json_object_get(doc, "Response") || json_object_get(doc, "SecurityGroupPolicySet") ||
	       json_object_get(doc, "Ingress") || json_object_get(doc, "Egress") ||
	       json_object_get(doc, "Version");
}

const struct sgpolicy_importer sgpolicy_tencent = {
	.format = SGPOLICY_FORMAT_TENCENT,
	.api = "DescribeSecurityGroupPolicies",
	.shape = "Response, SecurityGroupPolicySet, Ingress or Egress",
	.detect = detect,
	.parse = parse,
};
