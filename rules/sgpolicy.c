/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The common model: text, errors, helpers the importers share, the whole
 * file (one document or an array of them), evaluation order, the mirror
 * and messages. The exports themselves are read in sgpolicy-<provider>.c. */
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

#include "sgpolicy-import.h"

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
	[SGPOLICY_PROTO_OTHER] = "OTHER",
};

/* How each provider's messages and comments name things. */
static const struct {
	const char *name;       /* policy_format value */
	const char *title;      /* in messages */
	const char *noun;       /* one rule of a group */
	const char *index;      /* its order field; NULL: order free */
	const char *rule_id;    /* its id field */
} providers[] = {
	[SGPOLICY_FORMAT_AUTO] = { "auto", "cloud", "rule", "index", "id" },
	[SGPOLICY_FORMAT_TENCENT] = { "tencent", "Tencent Cloud", "ingress entry", "PolicyIndex", "id" },
	[SGPOLICY_FORMAT_ALIBABA] = { "alibaba", "Alibaba Cloud", "permission", "Priority", "rule" },
	[SGPOLICY_FORMAT_HUAWEI] = { "huawei", "Huawei Cloud", "rule", "priority", "id" },
	[SGPOLICY_FORMAT_AWS] = { "aws", "AWS", "permission", NULL, "rule" },
};

static unsigned provider_of(enum sgpolicy_format f)
{
	return (unsigned)f < _SGPOLICY_FORMAT_MAX ? (unsigned)f : SGPOLICY_FORMAT_AUTO;
}

const char *sgpolicy_format_name(enum sgpolicy_format f)
{
	return providers[provider_of(f)].name;
}

const char *sgpolicy_format_title(enum sgpolicy_format f)
{
	return providers[provider_of(f)].title;
}

int sgpolicy_format_from_string(const char *s, enum sgpolicy_format *ret)
{
	for (unsigned i = 0; i < _SGPOLICY_FORMAT_MAX; i++)
		if (strcmp(s, providers[i].name) == 0) {
			*ret = (enum sgpolicy_format)i;
			return 0;
		}
	return -EINVAL;
}

const char *sgpolicy_proto_name(enum sgpolicy_proto p)
{
	return (size_t)p < sizeof(proto_names) / sizeof(proto_names[0]) ? proto_names[p] : "?";
}

const char *sgpolicy_action_name(enum sgpolicy_action a)
{
	return a == SGPOLICY_DROP ? "DROP" : "ACCEPT";
}

/* ---- text from the file -------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s that is safe in a comment, a log
 * line and a terminal, or 0: no overlong forms, surrogates or values past
 * U+10FFFF, no C1 controls, line separators or bidi controls (they reorder
 * what a terminal shows after them). */
static size_t utf8_safe_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;       /* also stops at the NUL */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c ||
	    cp == 0xfeff)
		return 0;
	return n;
}

/* Descriptions are mostly Chinese: valid UTF-8 is kept as it is, so rule
 * comments and events show the words the operator wrote. Quotes and
 * backslashes cannot be in an nft comment and control bytes must not
 * reach a terminal: those, and bytes that are no safe UTF-8, become '?'
 * (an invalid sequence counts once). A cut never splits a character. */
void sgpolicy_text(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = 0, k;

	if (size == 0)
		return;
	while (*s) {
		if (*s < 0x80) {
			if (n + 2 > size)
				break;
			dst[n++] = (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') ? (char)*s : '?';
			s++;
			continue;
		}
		k = utf8_safe_len(s);
		if (k) {
			if (n + k + 1 > size)
				break;
			memcpy(dst + n, s, k);
			n += k;
			s += k;
			continue;
		}
		if (n + 2 > size)
			break;
		dst[n++] = '?';
		for (s++; (*s & 0xc0) == 0x80; s++)
			;
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

/* ---- where a rule is --------------------------------------------------------- */

char *sgpolicy_entry_where(const struct sgpolicy_entry *e, char *buf, size_t len)
{
	unsigned pv = provider_of(e->provider);
	char gid[SGPOLICY_ID_MAX + 4] = "", pos[48] = "", sub[32] = "", idx[48] = "", rid[SGPOLICY_ID_MAX + 16] = "";

	if (e->group_id[0])
		snprintf(gid, sizeof(gid), " (%s)", e->group_id);
	if (e->position)
		snprintf(pos, sizeof(pos), ", %s %u", providers[pv].noun, e->position);
	if (e->position && e->sub)
		snprintf(sub, sizeof(sub), ", %s %u", e->sub_v6 ? "Ipv6Ranges" : "IpRanges", e->sub);
	if (e->position && e->has_index && providers[pv].index)
		snprintf(idx, sizeof(idx), "%s %" PRId64, providers[pv].index, e->index);
	if (e->position && e->rule_id[0])
		snprintf(rid, sizeof(rid), "%s%s %s", idx[0] ? ", " : "", providers[pv].rule_id, e->rule_id);
	snprintf(buf, len, "%s group %u%s%s%s%s%s%s%s", providers[pv].title, e->group, gid, pos, sub,
		 idx[0] || rid[0] ? " (" : "", idx, rid, idx[0] || rid[0] ? ")" : "");
	return buf;
}

/* ---- parser state and errors --------------------------------------------- */

int sgp_fail(const struct sgpolicy_parser *ps, const char *field, const char *value, const char *why)
{
	char where[SGPOLICY_LINE_MAX / 2] = "", q[QUOTE_MAX * 4 + 8] = "";

	if (!ps->errbuf || ps->errlen == 0)
		return -EINVAL;
	if (ps->at.group) {
		sgpolicy_entry_where(&ps->at, where, sizeof(where) - 2);
		strcat(where, ": ");
	} else {
		/* Before the first group: the document, and its provider once known. */
		snprintf(where, sizeof(where), "%s%.0u%s%s%s", ps->doc ? "document " : "", ps->doc,
			 ps->doc && ps->at.provider ? " (" : ps->doc ? ": " : "",
			 ps->at.provider ? sgpolicy_format_title(ps->at.provider) : "",
			 ps->at.provider ? (ps->doc ? "): " : ": ") : "");
	}
	if (value)
		quote(q, sizeof(q), value);
	snprintf(ps->errbuf, ps->errlen, "%s%s%s%s%s%s%s", where, field ? field : "",
		 value ? " \"" : "", q, value ? "\"" : "", field || value ? ": " : "", why);
	return -EINVAL;
}

int sgp_opt_string(const struct sgpolicy_parser *ps, json_t *obj, const char *key, const char *name,
		   const char **ret)
{
	json_t *v = json_object_get(obj, key);

	if (v && !json_is_null(v) && !json_is_string(v))
		return sgp_fail(ps, name, NULL, "not a string");
	*ret = v && json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
	return 0;
}

int sgp_req_string(const struct sgpolicy_parser *ps, json_t *obj, const char *key, const char **ret)
{
	const char *s = NULL;
	int r = sgp_opt_string(ps, obj, key, key, &s);

	if (r < 0)
		return r;
	if (!s)
		return sgp_fail(ps, key, NULL, "missing");
	*ret = s;
	return 0;
}

int sgp_opt_array(const struct sgpolicy_parser *ps, json_t *obj, const char *key, const char *name,
		  json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	if (v && !json_is_null(v) && !json_is_array(v))
		return sgp_fail(ps, name, NULL, "not an array");
	*ret = v && json_is_array(v) ? v : NULL;
	return 0;
}

int sgp_integer(const struct sgpolicy_parser *ps, json_t *obj, const char *key, int64_t min,
		int64_t max, bool strings, int64_t *ret, bool *present)
{
	json_t *v = json_object_get(obj, key);
	char text[64], why[96];
	long long n = 0;
	const char *s;
	char *end;

	*present = v && !json_is_null(v);
	if (!*present)
		return 0;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
		snprintf(text, sizeof(text), "%lld", n);
	} else if (strings && json_is_string(v)) {
		s = json_string_value(v);
		errno = 0;
		n = strtoll(s, &end, 10);
		if (!*s || *end || errno || (*s != '-' && (*s < '0' || *s > '9')))
			return sgp_fail(ps, key, s, "not a whole number");
		snprintf(text, sizeof(text), "%s", s);
	} else {
		return sgp_fail(ps, key, NULL, "not a whole number");
	}
	if (n < min || n > max) {
		snprintf(why, sizeof(why), "out of range (%" PRId64 " to %" PRId64 ")", min, max);
		return sgp_fail(ps, key, text, why);
	}
	*ret = n;
	return 0;
}

/* ---- groups and rules ------------------------------------------------------ */

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

int sgp_begin_group(struct sgpolicy_parser *ps, enum sgpolicy_format f, const char *group_id,
		    bool pooled)
{
	struct sgpolicy *p = ps->p;
	unsigned g = (unsigned)p->n_groups + 1;

	memset(&ps->at, 0, sizeof(ps->at));
	ps->at.provider = f;
	ps->at.group = g;
	sgpolicy_text(ps->at.group_id, sizeof(ps->at.group_id), group_id ? group_id : "");
	if (p->n_groups >= SGPOLICY_MAX_GROUPS)
		return sgp_fail(ps, NULL, NULL, "more than 64 security groups");
	p->format = p->n_groups == 0 || p->format == f ? f : SGPOLICY_FORMAT_AUTO;
	p->n_groups++;
	/* Pooled providers evaluate the rules of all the instance's groups
	 * together: they all take the place of the first such group. */
	ps->at.rank = g;
	if (pooled) {
		if (!ps->pool_rank[f])
			ps->pool_rank[f] = g;
		ps->at.rank = ps->pool_rank[f];
	}
	return 0;
}

int sgp_begin_entry(struct sgpolicy_parser *ps, unsigned position, const char *list)
{
	ps->at.position = position;
	ps->at.sub = 0;
	ps->at.sub_v6 = false;
	ps->at.has_index = false;
	ps->at.index = 0;
	ps->at.rule_id[0] = '\0';
	if (++ps->n_read > SGPOLICY_MAX_ENTRIES)
		return sgp_fail(ps, list, NULL, "too many rules in the file (limit 20000)");
	return 0;
}

void sgp_end_entries(struct sgpolicy_parser *ps)
{
	ps->at.position = 0;
	ps->at.sub = 0;
	ps->at.has_index = false;
	ps->at.rule_id[0] = '\0';
}

void sgp_entry_init(const struct sgpolicy_parser *ps, struct sgpolicy_entry *e)
{
	memcpy(e, &ps->at, sizeof(*e));
}

void sgp_set_index(struct sgpolicy_parser *ps, int64_t index)
{
	ps->at.has_index = true;
	ps->at.index = index;
}

void sgp_set_rule_id(struct sgpolicy_parser *ps, const char *id)
{
	sgpolicy_text(ps->at.rule_id, sizeof(ps->at.rule_id), id ? id : "");
}

static int add_warning(struct sgpolicy_parser *ps, const struct sgpolicy_warning *w)
{
	struct sgpolicy *p = ps->p;
	int r = grow((void **)&p->warnings, &ps->cap_warnings, p->n_warnings, sizeof(*w));

	if (r == 0)
		p->warnings[p->n_warnings++] = *w;
	return r;
}

int sgp_add_unresolved(struct sgpolicy_parser *ps, const struct sgpolicy_entry *e, const char *ref)
{
	struct sgpolicy_warning w = { .kind = SGPOLICY_WARN_UNRESOLVED, .entry = *e };

	w.entry.n_sources = 0;
	snprintf(w.reference, sizeof(w.reference), "%s", ref);
	ps->p->n_skipped++;
	return add_warning(ps, &w);
}

int sgp_add_entry(struct sgpolicy_parser *ps, const struct sgpolicy_entry *e)
{
	struct sgpolicy *p = ps->p;
	int r = grow((void **)&p->entries, &ps->cap_entries, p->n_entries, sizeof(*e));

	if (r == 0)
		p->entries[p->n_entries++] = *e;
	return r;
}

void sgp_append_reference(char *buf, size_t len, const char *what, const char *id)
{
	char clean[SGPOLICY_ID_MAX];
	size_t used = strlen(buf);

	sgpolicy_text(clean, sizeof(clean), id);
	/* A cut-off list still names the first references in full. */
	if (used < len && snprintf(buf + used, len - used, "%s%s %s", used ? ", " : "", what, clean) < 0)
		buf[used] = '\0';
}

int sgp_read_references(const struct sgpolicy_parser *ps, json_t *obj, const struct sgp_reference *refs,
			size_t n, char *buf, size_t len)
{
	const char *id = NULL;
	int r;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		json_t *h = refs[i].holder ? json_object_get(obj, refs[i].holder) : obj;

		if (!h || json_is_null(h))
			continue;
		if (!json_is_object(h))
			return sgp_fail(ps, refs[i].holder, NULL, "not an object");
		r = sgp_opt_string(ps, h, refs[i].key, refs[i].name, &id);
		if (r < 0)
			return r;
		if (id)
			sgp_append_reference(buf, len, refs[i].what, id);
	}
	return 0;
}

/* ---- ports, sources, protocols ----------------------------------------------- */

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

const char *sgp_parse_ports(const char *s, bool all, bool *ret_dns)
{
	const char *p = s;
	bool dns = false;
	unsigned a, b;

	if (all && strcasecmp(s, "ALL") == 0) {
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

int sgp_add_source(const struct sgpolicy_parser *ps, const char *name, const char *s,
		   struct sgpolicy_entry *e)
{
	int r;

	if (e->n_sources >= 2)
		return sgp_fail(ps, name, s, "more than two sources in one rule");
	r = cidr_parse(s, &e->sources[e->n_sources]);
	if (r == -ERANGE)
		return sgp_fail(ps, name, s, "prefix length out of range");
	if (r == -EBADMSG)
		return sgp_fail(ps, name, s, "host bits set below the prefix length");
	if (r < 0)
		return sgp_fail(ps, name, s, "not an address or prefix");
	e->n_sources++;
	return 0;
}

int sgp_protocol(const char *s, enum sgpolicy_proto *ret)
{
	static const struct {
		const char *name;
		int number;
		enum sgpolicy_proto proto;
	} known[] = {
		{ "tcp", 6, SGPOLICY_PROTO_TCP },
		{ "udp", 17, SGPOLICY_PROTO_UDP },
		{ "icmp", 1, SGPOLICY_PROTO_ICMP },
		{ "icmpv6", 58, SGPOLICY_PROTO_ICMPV6 },
		{ "gre", 47, SGPOLICY_PROTO_GRE },
	};
	unsigned n = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 4; i++)
		n = n * 10 + (unsigned)(s[i] - '0');
	if (i > 0 && s[i] == '\0' && i < 4 && n <= 255) {
		*ret = SGPOLICY_PROTO_OTHER;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if ((unsigned)known[k].number == n)
				*ret = known[k].proto;
		return 0;
	}
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (strcasecmp(s, known[k].name) == 0) {
			*ret = known[k].proto;
			return 0;
		}
	return -EINVAL;
}

/* ---- the whole file -------------------------------------------------------- */

static const struct sgpolicy_importer *const importers[] = {
	[SGPOLICY_FORMAT_TENCENT] = &sgpolicy_tencent,
	[SGPOLICY_FORMAT_ALIBABA] = &sgpolicy_alibaba,
	[SGPOLICY_FORMAT_HUAWEI] = &sgpolicy_huawei,
	[SGPOLICY_FORMAT_AWS] = &sgpolicy_aws,
};

/* An error response saved instead of the policy says why there is none:
 * Alibaba's {"Code", "Message"}, Huawei's {"error_code", "error_msg"}. */
static int api_error(const struct sgpolicy_parser *ps, json_t *doc)
{
	static const char *const keys[][2] = { { "Code", "Message" }, { "error_code", "error_msg" } };
	char why[64 + 3 * SGPOLICY_TEXT_MAX], c[SGPOLICY_TEXT_MAX], m[2 * SGPOLICY_TEXT_MAX];

	for (size_t i = 0; i < 2; i++) {
		json_t *code = json_object_get(doc, keys[i][0]), *msg = json_object_get(doc, keys[i][1]);

		if (!json_is_string(code))
			continue;
		sgpolicy_text(c, sizeof(c), json_string_value(code));
		sgpolicy_text(m, sizeof(m), json_is_string(msg) ? json_string_value(msg) : "");
		snprintf(why, sizeof(why), "the file holds an API error, not a policy: %s: %s", c, m);
		return sgp_fail(ps, NULL, NULL, why);
	}
	return 0;
}

static int parse_document(struct sgpolicy_parser *ps, json_t *doc, enum sgpolicy_format format)
{
	const struct sgpolicy_importer *imp = NULL;
	char why[256];
	int r;

	memset(&ps->at, 0, sizeof(ps->at));
	if (!json_is_object(doc))
		return sgp_fail(ps, NULL, NULL, "not a JSON object");
	if (format != SGPOLICY_FORMAT_AUTO) {
		imp = importers[format];
		if (!imp->detect(doc)) {
			r = api_error(ps, doc);
			if (r < 0)
				return r;
			snprintf(why, sizeof(why), "policy_format is %s, but this is no %s export (no %s)",
				 sgpolicy_format_name(format), imp->api, imp->shape);
			return sgp_fail(ps, NULL, NULL, why);
		}
	}
	for (unsigned f = SGPOLICY_FORMAT_TENCENT; !imp && f < _SGPOLICY_FORMAT_MAX; f++)
		if (importers[f]->detect(doc))
			imp = importers[f];
	if (!imp) {
		r = api_error(ps, doc);
		return r < 0 ? r
			     : sgp_fail(ps, NULL, NULL, "not a security group export: none of Tencent Cloud "
					"DescribeSecurityGroupPolicies, Alibaba Cloud DescribeSecurityGroupAttribute, "
					"Huawei Cloud ListSecurityGroupRules or AWS describe-security-groups");
	}
	ps->at.provider = imp->format;
	return imp->parse(ps, doc);
}

static int parse_root(struct sgpolicy_parser *ps, json_t *root, enum sgpolicy_format format)
{
	json_t *d;
	size_t i;
	int r;

	if (json_is_object(root))
		return parse_document(ps, root, format);
	if (!json_is_array(root))
		return sgp_fail(ps, NULL, NULL, "not a JSON object or array");
	if (json_array_size(root) == 0)
		return sgp_fail(ps, NULL, NULL, "an empty list: no security group");
	if (json_array_size(root) > SGPOLICY_MAX_GROUPS)
		return sgp_fail(ps, NULL, NULL, "more than 64 security groups");
	json_array_foreach(root, i, d) {
		ps->doc = (unsigned)i + 1;
		r = parse_document(ps, d, format);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Providers that order by priority put a deny before an allow of the same
 * priority; Tencent's PolicyIndex is unique, so its ties are file order. */
static bool deny_first(const struct sgpolicy_entry *e)
{
	return e->provider == SGPOLICY_FORMAT_ALIBABA || e->provider == SGPOLICY_FORMAT_HUAWEI;
}

static int cmp_u(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int entry_order(const void *a, const void *b)
{
	const struct sgpolicy_entry *x = a, *y = b;
	int c = cmp_u(x->rank, y->rank);

	if (c == 0 && x->index != y->index)
		c = x->index < y->index ? -1 : 1;
	if (c == 0 && deny_first(x) && deny_first(y))
		c = cmp_u(x->action != SGPOLICY_DROP, y->action != SGPOLICY_DROP);
	if (c == 0)
		c = cmp_u(x->group, y->group);
	if (c == 0)
		c = cmp_u(x->position, y->position);
	if (c == 0)
		c = cmp_u((uint64_t)x->sub_v6 << 32 | x->sub, (uint64_t)y->sub_v6 << 32 | y->sub);
	return c;
}

static int finish(struct sgpolicy_parser *ps)
{
	struct sgpolicy_warning w = { .kind = SGPOLICY_WARN_EGRESS, .count = ps->n_egress };

	if (ps->p->n_entries)
		qsort(ps->p->entries, ps->p->n_entries, sizeof(*ps->p->entries), entry_order);
	return ps->n_egress ? add_warning(ps, &w) : 0;
}

static json_t *load_json(const struct sgpolicy_parser *ps, const void *data, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	char why[200], text[sizeof(jerr.text)];

	if (!root) {
		sgpolicy_text(text, sizeof(text), jerr.text);
		snprintf(why, sizeof(why), "not valid JSON: line %d, column %d: %s", jerr.line,
			 jerr.column, text);
		sgp_fail(ps, NULL, NULL, why);
	}
	return root;
}

int sgpolicy_parse_format(const void *data, size_t len, enum sgpolicy_format format,
			  struct sgpolicy **ret, char *errbuf, size_t errlen)
{
	struct sgpolicy_parser ps = { .errbuf = errbuf, .errlen = errlen };
	json_t *root;
	int r;

	if ((unsigned)format >= _SGPOLICY_FORMAT_MAX)
		return sgp_fail(&ps, NULL, NULL, "unknown policy format");
	if (len > SGPOLICY_MAX_SIZE) {
		sgp_fail(&ps, NULL, NULL, "larger than 8 MiB");
		return -EFBIG;
	}
	root = load_json(&ps, data, len);
	if (!root)
		return -EINVAL;
	ps.p = calloc(1, sizeof(*ps.p));
	r = ps.p ? parse_root(&ps, root, format) : -ENOMEM;
	json_decref(root);
	if (r == 0)
		r = finish(&ps);
	if (r < 0) {
		if (r == -ENOMEM) {
			memset(&ps.at, 0, sizeof(ps.at));
			ps.doc = 0;
			sgp_fail(&ps, NULL, NULL, "out of memory");
		}
		sgpolicy_free(ps.p);
		return r;
	}
	*ret = ps.p;
	return 0;
}

int sgpolicy_parse(const void *data, size_t len, struct sgpolicy **ret, char *errbuf, size_t errlen)
{
	return sgpolicy_parse_format(data, len, SGPOLICY_FORMAT_AUTO, ret, errbuf, errlen);
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

/* "cloud policy group 1 PolicyIndex 2: description": the description is cut
 * to fit the kernel's limit at a character boundary, never the group and
 * the rule's place. */
static void rule_comment(const struct sgpolicy_entry *e, char *buf, size_t len)
{
	unsigned pv = provider_of(e->provider);
	int n = providers[pv].index
		? snprintf(buf, len, "cloud policy group %u %s %" PRId64, e->group, providers[pv].index, e->index)
		: snprintf(buf, len, "cloud policy group %u %s %u", e->group, providers[pv].noun, e->position);

	if (n > 0 && (size_t)n + 3 < len && e->description[0]) {
		memcpy(buf + n, ": ", 3);
		sgpolicy_text(buf + n + 2, len - (size_t)n - 2, e->description);
	}
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
static void note_public(size_t public[2], bool closed[2], const struct sgpolicy_entry *e, size_t idx)
{
	for (size_t s = 0; s < e->n_sources; s++) {
		int fam = e->sources[s].family == AF_INET ? 0 : 1;

		if (e->sources[s].prefix != 0 || closed[fam])
			continue;
		closed[fam] = true;
		if (e->action == SGPOLICY_ACCEPT)
			public[fam] = idx;
	}
}

int sgpolicy_mirror_new(const struct sgpolicy *p, unsigned protos, struct sgpolicy_mirror **ret)
{
	struct sgpolicy_mirror *m = calloc(1, sizeof(*m));
	bool closed[2] = { false, false }, closed_tcp[2] = { false, false };

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
	m->public_dns_tcp[0] = m->public_dns_tcp[1] = SGPOLICY_NONE;
	for (size_t i = 0; i < p->n_entries; i++) {
		const struct sgpolicy_entry *e = &p->entries[i];
		unsigned mask = entry_protos(e, protos);
		unsigned both = entry_protos(e, RULESET_PROTO_UDP | RULESET_PROTO_TCP);

		/* TCP:53 open to everybody is reported even when only UDP is
		 * refused here: the cloud answers it all the same. */
		if (both & RULESET_PROTO_TCP)
			note_public(m->public_dns_tcp, closed_tcp, e, i);
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
			note_public(m->public_dns, closed, e, i);
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
	char src[2 * CIDR_STRLEN + 8], where[SGPOLICY_LINE_MAX / 2];

	sources_text(e, src, sizeof(src));
	snprintf(buf, len, "%s: %s%s%s from %s %s%s%s%s", sgpolicy_entry_where(e, where, sizeof(where)),
		 sgpolicy_proto_name(e->proto), e->port[0] ? ":" : "", e->port, src,
		 sgpolicy_action_name(e->action), e->description[0] ? " (" : "", e->description,
		 e->description[0] ? ")" : "");
	return buf;
}

const char *sgpolicy_warning_effect(const struct sgpolicy_warning *w)
{
	if (w->kind == SGPOLICY_WARN_EGRESS)
		return "only inbound rules are mirrored";
	if (w->entry.provider == SGPOLICY_FORMAT_AWS)
		return "its allow is not mirrored: those sources are refused here unless another rule accepts them";
	return w->entry.action == SGPOLICY_ACCEPT
	       ? "its ACCEPT is not mirrored: those sources are refused here unless a later rule accepts them"
	       : "its DROP is not mirrored: a later rule may accept those sources here";
}

char *sgpolicy_warning_format(const struct sgpolicy_warning *w, char *buf, size_t len)
{
	char where[SGPOLICY_LINE_MAX / 2];
	const char *d = w->entry.description;

	if (w->kind == SGPOLICY_WARN_EGRESS) {
		snprintf(buf, len, "%zu egress %s ignored: %s", w->count,
			 w->count == 1 ? "entry" : "entries", sgpolicy_warning_effect(w));
		return buf;
	}
	snprintf(buf, len, "%s%s%s%s: skipped: refers to %s, which only the cloud can resolve; %s",
		 sgpolicy_entry_where(&w->entry, where, sizeof(where)), d[0] ? " \"" : "", d,
		 d[0] ? "\"" : "", w->reference, sgpolicy_warning_effect(w));
	return buf;
}
