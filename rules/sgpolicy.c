/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sgpolicy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Raw bytes of a bad value quoted in an error line: enough to recognise it,
 * bounded so one line stays one line. */
#define QUOTE_MAX 48

static const char *const proto_names[] = {
	[SGPOLICY_PROTO_ALL] = "ALL",
	[SGPOLICY_PROTO_TCP] = "TCP",
	[SGPOLICY_PROTO_UDP] = "UDP",
	[SGPOLICY_PROTO_ICMP] = "ICMP",
	[SGPOLICY_PROTO_ICMPV6] = "ICMPv6",
	[SGPOLICY_PROTO_GRE] = "GRE",
};

const char *sgpolicy_proto_name(enum sgpolicy_proto p)
{
	return (size_t)p < sizeof(proto_names) / sizeof(proto_names[0]) ? proto_names[p] : "?";
}

const char *sgpolicy_action_name(enum sgpolicy_action a)
{
	return a == SGPOLICY_DROP ? "DROP" : "ACCEPT";
}

/* ---- text from the file -------------------------------------------------- */

/* Keeps printable ASCII but quotes and backslashes (nft comments cannot
 * hold a quote, and nothing here should need escaping again); a UTF-8
 * sequence or any other byte becomes one '?', so a description written in
 * Chinese still shows where its words were. */
static void sanitise(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = 0;

	for (; *s && n + 1 < size; s++) {
		if (*s >= 0x80 && *s < 0xc0)
			continue;               /* UTF-8 continuation: counted with its lead */
		dst[n++] = (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') ? (char)*s : '?';
	}
	dst[n] = '\0';
}

/* A bad value for an error line: escaped, never raw. */
static void quote(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = 0, i;

	for (i = 0; s[i] && i < QUOTE_MAX && n + 5 < size; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			dst[n++] = (char)s[i];
		else
			n += (size_t)snprintf(dst + n, size - n, "\\x%02x", s[i]);
	}
	if (s[i] && n + 4 < size)
		n += (size_t)snprintf(dst + n, size - n, "...");
	dst[n] = '\0';
}

/* ---- parser state and errors --------------------------------------------- */

struct parser {
	struct sgpolicy *p;
	size_t cap_entries;
	size_t cap_warnings;
	size_t n_read;                  /* ingress entries read, skipped ones too */
	size_t n_egress;
	char *errbuf;
	size_t errlen;
	/* Where the parser is, for error lines: 0 means "not inside one". */
	unsigned group;
	unsigned position;
	bool has_index;
	int64_t index;
};

static void context(const struct parser *ps, char *buf, size_t len)
{
	char idx[48] = "";

	buf[0] = '\0';
	if (ps->has_index)
		snprintf(idx, sizeof(idx), " (PolicyIndex %" PRId64 ")", ps->index);
	if (ps->group && ps->position)
		snprintf(buf, len, "group %u, ingress entry %u%s: ", ps->group, ps->position, idx);
	else if (ps->group)
		snprintf(buf, len, "group %u: ", ps->group);
}

/* One error line: where, the field, its value (quoted, escaped) and why.
 * Returns -EINVAL so callers can return it at once. */
static int fail(const struct parser *ps, const char *field, const char *value, const char *why)
{
	char where[96], q[QUOTE_MAX * 4 + 8] = "";

	if (!ps->errbuf || ps->errlen == 0)
		return -EINVAL;
	context(ps, where, sizeof(where));
	if (value)
		quote(q, sizeof(q), value);
	snprintf(ps->errbuf, ps->errlen, "%s%s%s%s%s%s%s", where, field ? field : "",
		 value ? " \"" : "", q, value ? "\"" : "", field || value ? ": " : "", why);
	return -EINVAL;
}

/* An optional string member: NULL when absent, null or empty, as the API
 * writes fields that do not apply ("Ipv6CidrBlock": ""). */
static int opt_string(const struct parser *ps, json_t *obj, const char *key, const char *name,
		      const char **ret)
{
	json_t *v = json_object_get(obj, key);

	if (v && !json_is_null(v) && !json_is_string(v))
		return fail(ps, name, NULL, "not a string");
	*ret = v && json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
	return 0;
}

static int req_string(const struct parser *ps, json_t *obj, const char *key, const char **ret)
{
	const char *s = NULL;
	int r = opt_string(ps, obj, key, key, &s);

	if (r < 0)
		return r;
	if (!s)
		return fail(ps, key, NULL, "missing");
	*ret = s;
	return 0;
}

/* ---- one ingress entry --------------------------------------------------- */

static int read_index(struct parser *ps, json_t *obj, int64_t *ret)
{
	json_t *v = json_object_get(obj, "PolicyIndex");
	char text[32];
	json_int_t n;

	if (!v)
		return fail(ps, "PolicyIndex", NULL, "missing");
	if (!json_is_integer(v))
		return fail(ps, "PolicyIndex", NULL, "not a whole number");
	n = json_integer_value(v);
	if (n < 0 || n > INT32_MAX) {
		snprintf(text, sizeof(text), "%lld", (long long)n);
		return fail(ps, "PolicyIndex", text, "out of range (0 to 2147483647)");
	}
	ps->has_index = true;
	ps->index = n;
	*ret = n;
	return 0;
}

static int read_action(const struct parser *ps, json_t *obj, enum sgpolicy_action *ret)
{
	const char *s = NULL;
	int r = req_string(ps, obj, "Action", &s);

	if (r < 0)
		return r;
	if (strcasecmp(s, "ACCEPT") == 0)
		*ret = SGPOLICY_ACCEPT;
	else if (strcasecmp(s, "DROP") == 0)
		*ret = SGPOLICY_DROP;
	else
		return fail(ps, "Action", s, "not ACCEPT or DROP");
	return 0;
}

static int read_description(const struct parser *ps, json_t *obj, char *buf, size_t len)
{
	const char *s = NULL;
	int r = opt_string(ps, obj, "PolicyDescription", "PolicyDescription", &s);

	if (r == 0)
		sanitise(buf, len, s ? s : "");
	return r;
}

static void append_reference(char *buf, size_t len, const char *what, const char *id)
{
	char clean[SGPOLICY_TEXT_MAX];
	size_t used = strlen(buf);

	sanitise(clean, sizeof(clean), id);
	/* A cut-off list still names the first references in full. */
	if (used < len && snprintf(buf + used, len - used, "%s%s %s", used ? ", " : "", what, clean) < 0)
		buf[used] = '\0';
}

/* What the entry names that only the cloud can resolve; "" when nothing. */
static int read_references(const struct parser *ps, json_t *obj, char *buf, size_t len)
{
	static const struct {
		const char *holder, *key, *name, *what;
	} refs[] = {
		{ "AddressTemplate", "AddressId", "AddressTemplate.AddressId", "address template" },
		{ "AddressTemplate", "AddressGroupId", "AddressTemplate.AddressGroupId",
		  "address template group" },
		{ "ServiceTemplate", "ServiceId", "ServiceTemplate.ServiceId", "service template" },
		{ "ServiceTemplate", "ServiceGroupId", "ServiceTemplate.ServiceGroupId",
		  "service template group" },
		{ NULL, "SecurityGroupId", "SecurityGroupId", "security group" },
	};
	const char *id = NULL;
	int r;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		json_t *h = refs[i].holder ? json_object_get(obj, refs[i].holder) : obj;

		if (!h || json_is_null(h))
			continue;
		if (!json_is_object(h))
			return fail(ps, refs[i].holder, NULL, "not an object");
		r = opt_string(ps, h, refs[i].key, refs[i].name, &id);
		if (r < 0)
			return r;
		if (id)
			append_reference(buf, len, refs[i].what, id);
	}
	return 0;
}

static int read_protocol(const struct parser *ps, json_t *obj, enum sgpolicy_proto *ret)
{
	const char *s = NULL;
	int r = req_string(ps, obj, "Protocol", &s);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (strcasecmp(s, proto_names[i]) == 0) {
			*ret = (enum sgpolicy_proto)i;
			return 0;
		}
	return fail(ps, "Protocol", s, "not TCP, UDP, ICMP, ICMPv6, GRE or ALL");
}

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* One port number, 0 to 65535; leaves *p after it. */
static int port_number(const char **p, unsigned *ret)
{
	const char *s = *p;
	unsigned v = 0;
	size_t n = 0;

	for (; *s >= '0' && *s <= '9'; s++, n++)
		if (v <= 65535)
			v = v * 10 + (unsigned)(*s - '0');
	if (n == 0)
		return -EINVAL;
	if (v > 65535)
		return -ERANGE;
	*p = s;
	*ret = v;
	return 0;
}

/* "ALL", "53", "50-60", "53,80" or "20-21, 53": whether it covers 53, or
 * why it is not a port specification. */
static const char *parse_ports(const char *s, bool *ret_dns)
{
	const char *p = s;
	bool dns = false;
	unsigned a, b;

	if (strcasecmp(s, "ALL") == 0) {
		*ret_dns = true;
		return NULL;
	}
	for (;;) {
		p = skip_blanks(p);
		if (port_number(&p, &a) < 0)
			return *p >= '0' && *p <= '9' ? "port above 65535" : "not a port, range or list";
		b = a;
		p = skip_blanks(p);
		if (*p == '-') {
			p = skip_blanks(p + 1);
			if (port_number(&p, &b) < 0)
				return *p >= '0' && *p <= '9' ? "port above 65535" : "not a port, range or list";
			p = skip_blanks(p);
		}
		if (a > b)
			return "range starts above its end";
		dns = dns || (a <= RULESET_DNS_PORT && RULESET_DNS_PORT <= b);
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return "not a port, range or list";
	}
	*ret_dns = dns;
	return NULL;
}

/* Port only means something for TCP, UDP and ALL; for ICMP and GRE the API
 * writes "" or "ALL" and nothing there can reach port 53. */
static int read_port(const struct parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	const char *s = NULL, *why;
	int r = opt_string(ps, obj, "Port", "Port", &s);

	if (r < 0)
		return r;
	if (e->proto != SGPOLICY_PROTO_TCP && e->proto != SGPOLICY_PROTO_UDP &&
	    e->proto != SGPOLICY_PROTO_ALL) {
		e->port_dns = false;
		return 0;
	}
	if (!s && e->proto != SGPOLICY_PROTO_ALL)
		return fail(ps, "Port", NULL, e->proto == SGPOLICY_PROTO_TCP ? "missing for TCP"
									 : "missing for UDP");
	why = parse_ports(s ? s : "ALL", &e->port_dns);
	if (why)
		return fail(ps, "Port", s, why);
	sanitise(e->port, sizeof(e->port), s ? s : "ALL");
	return 0;
}

static int read_source(const struct parser *ps, json_t *obj, const char *key, struct sgpolicy_entry *e)
{
	const char *s = NULL;
	int r = opt_string(ps, obj, key, key, &s);

	if (r < 0 || !s)
		return r;
	r = cidr_parse(s, &e->sources[e->n_sources]);
	if (r == -ERANGE)
		return fail(ps, key, s, "prefix length out of range");
	if (r == -EBADMSG)
		return fail(ps, key, s, "host bits set below the prefix length");
	if (r < 0)
		return fail(ps, key, s, "not an address or prefix");
	e->n_sources++;
	return 0;
}

static int read_sources(const struct parser *ps, json_t *obj, struct sgpolicy_entry *e)
{
	int r = read_source(ps, obj, "CidrBlock", e);

	if (r == 0)
		r = read_source(ps, obj, "Ipv6CidrBlock", e);
	if (r == 0 && e->n_sources == 0)
		return fail(ps, "CidrBlock", NULL,
			    "missing (and no Ipv6CidrBlock, SecurityGroupId or AddressTemplate)");
	return r;
}

static int grow(void **array, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *a;

	if (n < *cap)
		return 0;
	a = reallocarray(*array, c, size);
	if (!a)
		return -ENOMEM;
	*array = a;
	*cap = c;
	return 0;
}

static int add_warning(struct parser *ps, const struct sgpolicy_warning *w)
{
	struct sgpolicy *p = ps->p;
	int r = grow((void **)&p->warnings, &ps->cap_warnings, p->n_warnings, sizeof(*w));

	if (r == 0)
		p->warnings[p->n_warnings++] = *w;
	return r;
}

static int add_unresolved(struct parser *ps, const struct sgpolicy_entry *e, const char *ref)
{
	struct sgpolicy_warning w = {
		.kind = SGPOLICY_WARN_UNRESOLVED,
		.group = e->group,
		.position = e->position,
		.index = e->index,
		.action = e->action,
	};

	memcpy(w.description, e->description, sizeof(w.description));
	snprintf(w.reference, sizeof(w.reference), "%s", ref);
	ps->p->n_skipped++;
	return add_warning(ps, &w);
}

static int add_entry(struct parser *ps, const struct sgpolicy_entry *e)
{
	struct sgpolicy *p = ps->p;
	int r = grow((void **)&p->entries, &ps->cap_entries, p->n_entries, sizeof(*e));

	if (r == 0)
		p->entries[p->n_entries++] = *e;
	return r;
}

static int parse_entry(struct parser *ps, json_t *obj)
{
	struct sgpolicy_entry e = { .group = ps->group, .position = ps->position };
	char ref[SGPOLICY_TEXT_MAX];
	int r;

	if (!json_is_object(obj))
		return fail(ps, NULL, NULL, "not an object");
	r = read_index(ps, obj, &e.index);
	if (r == 0)
		r = read_action(ps, obj, &e.action);
	if (r == 0)
		r = read_description(ps, obj, e.description, sizeof(e.description));
	if (r == 0)
		r = read_references(ps, obj, ref, sizeof(ref));
	if (r < 0)
		return r;
	if (ref[0])
		return add_unresolved(ps, &e, ref);
	r = read_protocol(ps, obj, &e.proto);
	if (r == 0)
		r = read_port(ps, obj, &e);
	if (r == 0)
		r = read_sources(ps, obj, &e);
	return r < 0 ? r : add_entry(ps, &e);
}

/* ---- groups and the whole file ------------------------------------------- */

/* The SecurityGroupPolicySet inside whatever wraps it; an API error
 * response says why there is no policy, so it is passed on. */
static int unwrap(const struct parser *ps, json_t *v, json_t **ret)
{
	json_t *resp = json_object_get(v, "Response"), *set, *err;
	const char *code = NULL, *msg = NULL;
	char why[64 + 3 * SGPOLICY_TEXT_MAX], c[SGPOLICY_TEXT_MAX], m[2 * SGPOLICY_TEXT_MAX];

	if (json_is_object(resp)) {
		err = json_object_get(resp, "Error");
		if (err) {
			json_unpack(err, "{s?s, s?s}", "Code", &code, "Message", &msg);
			sanitise(c, sizeof(c), code ? code : "?");
			sanitise(m, sizeof(m), msg ? msg : "");
			snprintf(why, sizeof(why), "the file holds an API error, not a policy: %s: %s", c, m);
			return fail(ps, NULL, NULL, why);
		}
		v = resp;
	}
	set = json_object_get(v, "SecurityGroupPolicySet");
	if (set && !json_is_object(set))
		return fail(ps, "SecurityGroupPolicySet", NULL, "not an object");
	if (set)
		v = set;
	if (!json_is_object(v) || (!json_object_get(v, "Ingress") && !json_object_get(v, "Egress") &&
				   !json_object_get(v, "Version")))
		return fail(ps, NULL, NULL, "not a security group policy (no SecurityGroupPolicySet, "
			    "Ingress or Egress)");
	*ret = v;
	return 0;
}

static int count_egress(struct parser *ps, json_t *set)
{
	json_t *eg = json_object_get(set, "Egress");

	if (!eg || json_is_null(eg))
		return 0;
	if (!json_is_array(eg))
		return fail(ps, "Egress", NULL, "not an array");
	ps->n_egress += json_array_size(eg);
	return 0;
}

static int parse_group(struct parser *ps, json_t *v)
{
	json_t *set, *in, *e;
	size_t i;
	int r = unwrap(ps, v, &set);

	if (r == 0)
		r = count_egress(ps, set);
	if (r < 0)
		return r;
	in = json_object_get(set, "Ingress");
	if (!in || json_is_null(in))
		return 0;
	if (!json_is_array(in))
		return fail(ps, "Ingress", NULL, "not an array");
	json_array_foreach(in, i, e) {
		if (++ps->n_read > SGPOLICY_MAX_ENTRIES)
			return fail(ps, "Ingress", NULL, "too many entries in the file (limit 20000)");
		ps->position = (unsigned)i + 1;
		ps->has_index = false;
		r = parse_entry(ps, e);
		if (r < 0)
			return r;
	}
	ps->position = 0;
	ps->has_index = false;
	return 0;
}

static int parse_root(struct parser *ps, json_t *root)
{
	json_t *g;
	size_t i;
	int r;

	if (json_is_object(root)) {
		ps->group = 1;
		ps->p->n_groups = 1;
		return parse_group(ps, root);
	}
	if (!json_is_array(root))
		return fail(ps, NULL, NULL, "not a JSON object or array");
	if (json_array_size(root) == 0)
		return fail(ps, NULL, NULL, "an empty list: no security group");
	if (json_array_size(root) > SGPOLICY_MAX_GROUPS)
		return fail(ps, NULL, NULL, "more than 64 security groups");
	ps->p->n_groups = json_array_size(root);
	json_array_foreach(root, i, g) {
		ps->group = (unsigned)i + 1;
		r = parse_group(ps, g);
		if (r < 0)
			return r;
	}
	return 0;
}

static int entry_order(const void *a, const void *b)
{
	const struct sgpolicy_entry *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	return 0;
}

static int finish(struct parser *ps)
{
	struct sgpolicy_warning w = { .kind = SGPOLICY_WARN_EGRESS, .count = ps->n_egress };

	if (ps->p->n_entries)
		qsort(ps->p->entries, ps->p->n_entries, sizeof(*ps->p->entries), entry_order);
	return ps->n_egress ? add_warning(ps, &w) : 0;
}

static json_t *load_json(const struct parser *ps, const void *data, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	char why[200], text[sizeof(jerr.text)];

	if (!root) {
		sanitise(text, sizeof(text), jerr.text);
		snprintf(why, sizeof(why), "not valid JSON: line %d, column %d: %s", jerr.line,
			 jerr.column, text);
		fail(ps, NULL, NULL, why);
	}
	return root;
}

int sgpolicy_parse(const void *data, size_t len, struct sgpolicy **ret, char *errbuf, size_t errlen)
{
	struct parser ps = { .errbuf = errbuf, .errlen = errlen };
	json_t *root;
	int r;

	if (len > SGPOLICY_MAX_SIZE) {
		fail(&ps, NULL, NULL, "larger than 8 MiB");
		return -EFBIG;
	}
	root = load_json(&ps, data, len);
	if (!root)
		return -EINVAL;
	ps.p = calloc(1, sizeof(*ps.p));
	r = ps.p ? parse_root(&ps, root) : -ENOMEM;
	json_decref(root);
	if (r == 0)
		r = finish(&ps);
	if (r < 0) {
		if (r == -ENOMEM)
			fail(&ps, NULL, NULL, "out of memory");
		sgpolicy_free(ps.p);
		return r;
	}
	*ret = ps.p;
	return 0;
}

void sgpolicy_free(struct sgpolicy *p)
{
	if (!p)
		return;
	free(p->entries);
	free(p->warnings);
	free(p);
}

/* ---- the mirror ------------------------------------------------------------ */

/* Which of the refused protocols' port 53 the entry can match. */
static unsigned entry_protos(const struct sgpolicy_entry *e, unsigned protos)
{
	unsigned m = 0;

	if (!e->port_dns)
		return 0;
	if (e->proto == SGPOLICY_PROTO_ALL || e->proto == SGPOLICY_PROTO_UDP)
		m |= RULESET_PROTO_UDP;
	if (e->proto == SGPOLICY_PROTO_ALL || e->proto == SGPOLICY_PROTO_TCP)
		m |= RULESET_PROTO_TCP;
	return m & protos;
}

static void rule_comment(const struct sgpolicy_entry *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "cloud policy group %u PolicyIndex %" PRId64, e->group, e->index);

	/* The description is cut to fit, never the group and index. */
	if (n > 0 && (size_t)n + 2 < len && e->description[0])
		snprintf(buf + n, len - (size_t)n, ": %.*s", (int)(len - (size_t)n - 3), e->description);
}

/* A /0 source matches only its own family, so 0.0.0.0/0 stays a prefix
 * rule: as "any" it would match IPv6 too. */
static struct ruleset_rule mirror_rule(const struct sgpolicy_entry *e, const struct cidr *src,
				       unsigned protos)
{
	struct ruleset_rule r = {
		.protos = protos,
		.match = RULESET_MATCH_CIDR,
		.cidr = *src,
		.verdict = e->action == SGPOLICY_DROP ? RULESET_DROP : RULESET_ACCEPT,
		.counter = true,
	};

	rule_comment(e, r.comment, sizeof(r.comment));
	return r;
}

/* The first entry with a /0 source of a family decides for all of it. */
static void note_public(struct sgpolicy_mirror *m, bool closed[2], const struct sgpolicy_entry *e,
			size_t idx)
{
	for (size_t s = 0; s < e->n_sources; s++) {
		int fam = e->sources[s].family == AF_INET ? 0 : 1;

		if (e->sources[s].prefix != 0 || closed[fam])
			continue;
		closed[fam] = true;
		if (e->action == SGPOLICY_ACCEPT)
			m->public_dns[fam] = idx;
	}
}

int sgpolicy_mirror_new(const struct sgpolicy *p, unsigned protos, struct sgpolicy_mirror **ret)
{
	struct sgpolicy_mirror *m = calloc(1, sizeof(*m));
	bool closed[2] = { false, false };

	protos |= RULESET_PROTO_UDP;
	if (m) {
		m->rules = calloc(p->n_entries * 4 + 1, sizeof(*m->rules));
		m->out_of_scope = calloc(p->n_entries + 1, sizeof(*m->out_of_scope));
	}
	if (!m || !m->rules || !m->out_of_scope) {
		sgpolicy_mirror_free(m);
		return -ENOMEM;
	}
	m->public_dns[0] = m->public_dns[1] = SGPOLICY_NONE;
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct sgpolicy_entry *e = &p->entries[i];
		unsigned mask = entry_protos(e, protos);

		if (!mask) {
			m->out_of_scope[m->n_out_of_scope++] = i;
			continue;
		}
		/* One rule per source and protocol, so the mirror lists exactly
		 * the rules the kernel gets. */
		for (size_t s = 0; s < e->n_sources && s < 2; s++)
			for (unsigned bit = RULESET_PROTO_UDP; bit <= RULESET_PROTO_TCP; bit <<= 1)
				if (mask & bit)
					m->rules[m->n_rules++] = mirror_rule(e, &e->sources[s], bit);
		if (mask & RULESET_PROTO_UDP)
			note_public(m, closed, e, i);
	}
	*ret = m;
	return 0;
}

void sgpolicy_mirror_free(struct sgpolicy_mirror *m)
{
	if (!m)
		return;
	free(m->rules);
	free(m->out_of_scope);
	free(m);
}

bool sgpolicy_mirror_public_dns(const struct sgpolicy_mirror *m)
{
	return m->public_dns[0] != SGPOLICY_NONE || m->public_dns[1] != SGPOLICY_NONE;
}

/* ---- messages -------------------------------------------------------------- */

static void sources_text(const struct sgpolicy_entry *e, char *buf, size_t len)
{
	char a[CIDR_STRLEN], b[CIDR_STRLEN];

	if (e->n_sources == 2)
		snprintf(buf, len, "%s and %s", cidr_format(&e->sources[0], a, sizeof(a)),
			 cidr_format(&e->sources[1], b, sizeof(b)));
	else
		snprintf(buf, len, "%s", e->n_sources ? cidr_format(&e->sources[0], a, sizeof(a)) : "-");
}

char *sgpolicy_entry_format(const struct sgpolicy_entry *e, char *buf, size_t len)
{
	char src[2 * CIDR_STRLEN + 8];

	sources_text(e, src, sizeof(src));
	snprintf(buf, len, "group %u, ingress entry %u (PolicyIndex %" PRId64 "): %s%s%s from %s %s%s%s%s",
		 e->group, e->position, e->index, sgpolicy_proto_name(e->proto), e->port[0] ? ":" : "",
		 e->port, src, sgpolicy_action_name(e->action), e->description[0] ? " (" : "",
		 e->description, e->description[0] ? ")" : "");
	return buf;
}

const char *sgpolicy_warning_effect(const struct sgpolicy_warning *w)
{
	if (w->kind == SGPOLICY_WARN_EGRESS)
		return "only inbound rules are mirrored";
	return w->action == SGPOLICY_ACCEPT
	       ? "its ACCEPT is not mirrored: those sources are refused here unless a later rule accepts them"
	       : "its DROP is not mirrored: a later rule may accept those sources here";
}

char *sgpolicy_warning_format(const struct sgpolicy_warning *w, char *buf, size_t len)
{
	if (w->kind == SGPOLICY_WARN_EGRESS) {
		snprintf(buf, len, "%zu egress %s ignored: %s", w->count,
			 w->count == 1 ? "entry" : "entries", sgpolicy_warning_effect(w));
		return buf;
	}
	snprintf(buf, len, "group %u, ingress entry %u (PolicyIndex %" PRId64 ")%s%s%s: skipped: "
		 "refers to %s, which only the cloud can resolve; %s",
		 w->group, w->position, w->index, w->description[0] ? " \"" : "", w->description,
		 w->description[0] ? "\"" : "", w->reference, sgpolicy_warning_effect(w));
	return buf;
}
