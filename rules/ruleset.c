/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ruleset.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const set_names[RULESET_N_SETS] = {
	[RULESET_SET_ALLOW4] = "allow4",
	[RULESET_SET_ALLOW6] = "allow6",
};

static const int set_families[RULESET_N_SETS] = {
	[RULESET_SET_ALLOW4] = AF_INET,
	[RULESET_SET_ALLOW6] = AF_INET6,
};

const char *ruleset_set_name(enum ruleset_set_id id)
{
	return (unsigned)id < RULESET_N_SETS ? set_names[id] : "?";
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/* ---- merging ---------------------------------------------------------- */

static void cidr_to_range(const struct cidr *c, struct ruleset_range *r)
{
	size_t len = cidr_addr_len(c);

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < len; i++) {
		unsigned bits = c->prefix > i * 8 ? c->prefix - (unsigned)i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);

		r->start[i] = c->addr[i] & mask;
		r->end[i] = (uint8_t)(c->addr[i] | (uint8_t)~mask);
	}
}

/* Whether next starts inside cur or right after it (cur.end + 1). */
static bool range_touches(const struct ruleset_range *cur, const struct ruleset_range *next,
			  size_t len)
{
	uint8_t succ[16];
	size_t i = len;

	memcpy(succ, cur->end, len);
	while (i > 0 && ++succ[i - 1] == 0)
		i--;
	if (i == 0)
		return true;    /* cur ends at the top of the address space */
	return memcmp(next->start, succ, len) <= 0;
}

static size_t merge_sorted(struct ruleset_range *r, size_t n, size_t len)
{
	size_t out = 0;

	for (size_t i = 1; i < n; i++) {
		if (range_touches(&r[out], &r[i], len)) {
			if (memcmp(r[i].end, r[out].end, len) > 0)
				memcpy(r[out].end, r[i].end, len);
		} else {
			r[++out] = r[i];
		}
	}
	return n ? out + 1 : 0;
}

/* A range's start as two big-endian halves: one comparison of integers
 * instead of a memcmp call, in the sort below. */
static inline int start_cmp(const struct ruleset_range *x, const struct ruleset_range *y)
{
	uint64_t a[2], b[2];

	memcpy(a, x->start, sizeof(a));
	memcpy(b, y->start, sizeof(b));
	for (int i = 0; i < 2; i++) {
		a[i] = be64toh(a[i]);
		b[i] = be64toh(b[i]);
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	}
	return 0;
}

/* Ranges read back from the kernel arrive sorted: checking is one pass. */
static bool sorted_by_start(const struct ruleset_range *r, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (start_cmp(&r[i - 1], &r[i]) > 0)
			return false;
	return true;
}

static void sift_down(struct ruleset_range *r, size_t root, size_t n)
{
	struct ruleset_range t = r[root];

	for (size_t child; (child = 2 * root + 1) < n; root = child) {
		if (child + 1 < n && start_cmp(&r[child + 1], &r[child]) > 0)
			child++;
		if (start_cmp(&r[child], &t) <= 0)
			break;
		r[root] = r[child];
	}
	r[root] = t;
}

/* Heapsort by start: in place, where qsort() would take a buffer as large
 * as the array (fresh pages are a large part of the cost of a big
 * allowlist), and O(n log n) whatever order the entries come in. The
 * order of ranges with equal starts does not matter: merging gives the
 * same result. */
static void sort_by_start(struct ruleset_range *r, size_t n)
{
	for (size_t i = n / 2; i > 0; i--)
		sift_down(r, i - 1, n);
	for (size_t end = n; end > 1; end--) {
		struct ruleset_range t = r[0];

		r[0] = r[end - 1];
		r[end - 1] = t;
		sift_down(r, 0, end - 1);
	}
}

size_t ruleset_normalize(struct ruleset_range *r, size_t n, int family)
{
	if (n == 0)
		return 0;
	if (!sorted_by_start(r, n))
		sort_by_start(r, n);
	return merge_sorted(r, n, family_len(family));
}

int ruleset_merge(const struct cidr *in, size_t n, int family, struct ruleset_range **ret,
		  size_t *ret_n)
{
	struct ruleset_range *r = NULL;
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		m += in[i].family == family;
	if (m) {
		r = calloc(m, sizeof(*r));
		if (!r)
			return -ENOMEM;
		m = 0;
		for (size_t i = 0; i < n; i++)
			if (in[i].family == family)
				cidr_to_range(&in[i], &r[m++]);
		m = ruleset_normalize(r, m, family);
	}
	*ret = r;
	*ret_n = m;
	return 0;
}

/* ---- formatting ------------------------------------------------------- */

bool ruleset_range_prefix(int family, const struct ruleset_range *r, struct cidr *ret)
{
	size_t len = family_len(family);
	unsigned p = 0;
	struct cidr c = { .family = family };

	/* The prefix is the run of leading bits start and end share; below it
	 * start must be all zeros and end all ones. */
	while (p < len * 8 && !((r->start[p / 8] ^ r->end[p / 8]) & (0x80u >> (p % 8))))
		p++;
	for (unsigned b = p; b < len * 8; b++) {
		unsigned bit = 0x80u >> (b % 8);

		if ((r->start[b / 8] & bit) || !(r->end[b / 8] & bit))
			return false;
	}
	if (ret) {
		memcpy(c.addr, r->start, len);
		c.prefix = (uint8_t)p;
		*ret = c;
	}
	return true;
}

char *ruleset_range_format(int family, const struct ruleset_range *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	struct cidr c;

	inet_ntop(family, r->start, a, sizeof(a));
	if (ruleset_range_prefix(family, r, &c)) {
		if (c.prefix == family_len(family) * 8)
			snprintf(buf, len, "%s", a);
		else
			snprintf(buf, len, "%s/%u", a, c.prefix);
	} else {
		inet_ntop(family, r->end, b, sizeof(b));
		snprintf(buf, len, "%s-%s", a, b);
	}
	return buf;
}

static const char *match_text(const struct ruleset_rule *r, char *buf, size_t len)
{
	const char *ip = r->cidr.family == AF_INET ? "ip" : "ip6";
	char a[INET6_ADDRSTRLEN];

	switch (r->match) {
	case RULESET_MATCH_IIF_LO:
		return "iif \"lo\" ";
	case RULESET_MATCH_NOT_LOCAL:
		return "fib daddr type != local ";
	case RULESET_MATCH_INTERNAL:
		return "iifname @" RULESET_SET_INTERNAL " ";
	case RULESET_MATCH_IIFNAME:
		snprintf(buf, len, "iifname \"%s\" ", r->ifname);
		return buf;
	case RULESET_MATCH_SET:
		snprintf(buf, len, "%s saddr @%s ", r->set == RULESET_SET_ALLOW4 ? "ip" : "ip6",
			 ruleset_set_name(r->set));
		return buf;
	case RULESET_MATCH_CIDR:
		inet_ntop(r->cidr.family, r->cidr.addr, a, sizeof(a));
		if (r->cidr.prefix == cidr_addr_len(&r->cidr) * 8)
			snprintf(buf, len, "%s saddr %s ", ip, a);
		else
			snprintf(buf, len, "%s saddr %s/%u ", ip, a, r->cidr.prefix);
		return buf;
	case RULESET_MATCH_ANY:
	default:
		return "";
	}
}

char *ruleset_rule_format(const struct ruleset_rule *r, char *buf, size_t len)
{
	char m[96];
	const char *proto = "", *verdict;

	if (r->protos & RULESET_PROTO_UDP)
		proto = r->port_checked ? "meta l4proto udp " : "udp dport 53 ";
	else if (r->protos & RULESET_PROTO_TCP)
		proto = r->port_checked ? "meta l4proto tcp " : "tcp dport 53 ";
	verdict = r->verdict == RULESET_DROP ? "drop" :
		  r->verdict == RULESET_JUMP ? "jump " RULESET_CHAIN_DNS : "accept";
	snprintf(buf, len, "%s%s%s%s", proto, match_text(r, m, sizeof(m)),
		 r->counter ? "counter " : "", verdict);
	return buf;
}

static void format_set(const struct ruleset_set *s, FILE *out)
{
	char buf[RULESET_RANGE_STRLEN];

	fprintf(out, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n", s->name,
		s->family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	if (s->n_ranges) {
		fputs("\t\telements = {\n", out);
		for (size_t i = 0; i < s->n_ranges; i++)
			fprintf(out, "\t\t\t%s%s\n", ruleset_range_format(s->family, &s->ranges[i], buf,
									   sizeof(buf)),
				i + 1 < s->n_ranges ? "," : "");
		fputs("\t\t}\n", out);
	}
	fputs("\t}\n\n", out);
}

static void format_internal(const struct ruleset *rs, FILE *out)
{
	fprintf(out, "\tset %s {\n\t\ttype ifname\n", RULESET_SET_INTERNAL);
	if (rs->n_internal) {
		fputs("\t\telements = {\n", out);
		for (size_t i = 0; i < rs->n_internal; i++)
			fprintf(out, "\t\t\t\"%s\"%s\n", rs->internal[i], i + 1 < rs->n_internal ? "," : "");
		fputs("\t\t}\n", out);
	}
	fputs("\t}\n\n", out);
}

static void format_rules(const struct ruleset_rule *rules, size_t n, FILE *out)
{
	char buf[RULESET_RULE_STRLEN];

	for (size_t i = 0; i < n; i++)
		fprintf(out, "\t\t%s comment \"%s\"\n", ruleset_rule_format(&rules[i], buf, sizeof(buf)),
			rules[i].comment);
}

int ruleset_format_nft(const struct ruleset *rs, FILE *out)
{
	/* Create (if missing), delete, create: one transaction that replaces
	 * the table whether or not it exists, like nft_apply(). */
	fprintf(out, "#!/usr/sbin/nft -f\n"
		"# port53guard: inbound DNS refused like the cloud rule "
		"\"Source 0.0.0.0/0, UDP:53, Refuse\"\n"
		"table inet %s\ndelete table inet %s\ntable inet %s {\n",
		RULESET_TABLE, RULESET_TABLE, RULESET_TABLE);
	for (size_t i = 0; i < RULESET_N_SETS; i++)
		format_set(&rs->sets[i], out);
	format_internal(rs, out);
	fprintf(out, "\tchain %s {\n\t\ttype filter hook prerouting priority %d; policy accept;\n",
		RULESET_CHAIN, RULESET_CHAIN_PRIORITY);
	format_rules(rs->ingress, rs->n_ingress, out);
	fprintf(out, "\t}\n\n\tchain %s {\n", RULESET_CHAIN_DNS);
	format_rules(rs->rules, rs->n_rules, out);
	fputs("\t}\n}\n", out);
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}

/* ---- building --------------------------------------------------------- */

/* Interface names as the kernel allows them (dev_valid_name()) and as nft
 * can quote them; '*' only as the last byte, and never alone: nft refuses
 * an all-wildcard name and the kernel a zero-length comparison. */
static int check_ifname(const char *name, char *errbuf, size_t errlen)
{
	size_t len = strnlen(name, IFNAMSIZ);
	const char *star;

	if (len >= IFNAMSIZ) {
		set_err(errbuf, errlen, "interface name \"%.*s...\" is longer than %d bytes",
			IFNAMSIZ - 1, name, IFNAMSIZ - 1);
		return -EINVAL;
	}
	star = strchr(name, '*');
	if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		goto bad;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("/:\"\\", *p))
			goto bad;
	if (star && (star != name + len - 1 || len == 1))
		goto bad;
	return 0;
bad:
	set_err(errbuf, errlen, "interface name \"%.*s\" cannot be matched%s", IFNAMSIZ, name,
		star && len == 1 ? " (\"*\" alone would exempt every interface)" : "");
	return -EINVAL;
}

static int check_comment(const char *c, char *errbuf, size_t errlen)
{
	size_t len = strnlen(c, RULESET_COMMENT_MAX + 1);

	if (len > RULESET_COMMENT_MAX)
		goto bad;
	for (const unsigned char *p = (const unsigned char *)c; *p; p++)
		if (*p < ' ' || *p == 0x7f || *p == '"')
			goto bad;
	return 0;
bad:
	set_err(errbuf, errlen, "rule comment \"%.*s\" is too long or holds a quote or control byte",
		RULESET_COMMENT_MAX, c);
	return -EINVAL;
}

static int check_rule(const struct ruleset_rule *r, char *errbuf, size_t errlen)
{
	/* A jump is only ever built here, for the ingress chain. */
	if ((r->protos & ~(RULESET_PROTO_UDP | RULESET_PROTO_TCP)) ||
	    (r->verdict != RULESET_ACCEPT && r->verdict != RULESET_DROP))
		goto bad;
	switch (r->match) {
	case RULESET_MATCH_ANY:
	case RULESET_MATCH_IIF_LO:
	case RULESET_MATCH_NOT_LOCAL:
	case RULESET_MATCH_INTERNAL:
		break;
	case RULESET_MATCH_IIFNAME:
		if (check_ifname(r->ifname, errbuf, errlen) < 0)
			return -EINVAL;
		break;
	case RULESET_MATCH_SET:
		if ((unsigned)r->set >= RULESET_N_SETS)
			goto bad;
		break;
	case RULESET_MATCH_CIDR:
		if ((r->cidr.family != AF_INET && r->cidr.family != AF_INET6) ||
		    r->cidr.prefix > cidr_addr_len(&r->cidr) * 8)
			goto bad;
		break;
	default:
		goto bad;
	}
	return check_comment(r->comment, errbuf, errlen);
bad:
	set_err(errbuf, errlen, "rule \"%.*s\" is malformed", RULESET_COMMENT_MAX, r->comment);
	return -EINVAL;
}

/* Appends r, split into one rule per protocol when it names both. */
static int add_rule(struct ruleset *rs, const struct ruleset_rule *r, char *errbuf, size_t errlen)
{
	unsigned split[2] = { r->protos & RULESET_PROTO_UDP, r->protos & RULESET_PROTO_TCP };
	size_t n = split[0] && split[1] ? 2 : 1;
	struct ruleset_rule *rules;
	int ret = check_rule(r, errbuf, errlen);

	if (ret < 0)
		return ret;
	rules = realloc(rs->rules, (rs->n_rules + n) * sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	rs->rules = rules;
	for (size_t i = 0; i < n; i++) {
		struct ruleset_rule *dst = &rs->rules[rs->n_rules++];

		*dst = *r;
		dst->port_checked = true;       /* every rule here is in the dns chain */
		if (n == 2)
			dst->protos = split[i];
		if (dst->match == RULESET_MATCH_CIDR) {
			struct ruleset_range range;

			/* Host bits would make the kernel's comparison never match. */
			cidr_to_range(&dst->cidr, &range);
			memcpy(dst->cidr.addr, range.start, sizeof(range.start));
		}
	}
	return 0;
}

static struct ruleset_rule rule_of(unsigned protos, enum ruleset_match match,
				   enum ruleset_verdict verdict, bool counter, const char *comment)
{
	struct ruleset_rule r = {
		.protos = protos, .match = match, .verdict = verdict, .counter = counter,
	};

	snprintf(r.comment, sizeof(r.comment), "%s", comment);
	return r;
}

static int add_exempt(struct ruleset *rs, const char *name, char *errbuf, size_t errlen)
{
	struct ruleset_rule r = rule_of(0, RULESET_MATCH_IIFNAME, RULESET_ACCEPT, false, "");

	if (check_ifname(name, errbuf, errlen) < 0)
		return -EINVAL;
	snprintf(r.ifname, sizeof(r.ifname), "%s", name);
	snprintf(r.comment, sizeof(r.comment), "exempt interface %s", name);
	return add_rule(rs, &r, errbuf, errlen);
}

/* The allow-set accepts for one protocol, only for sets with elements: an
 * empty allowlist should not show up as an accept rule in the listing. */
static int add_allow_rules(struct ruleset *rs, unsigned proto, char *errbuf, size_t errlen)
{
	static const char *const what[RULESET_N_SETS] = { "IPv4", "IPv6" };
	struct ruleset_rule r;
	char comment[RULESET_COMMENT_MAX + 1];
	int ret;

	for (size_t i = 0; i < RULESET_N_SETS; i++) {
		if (rs->sets[i].n_ranges == 0)
			continue;
		snprintf(comment, sizeof(comment),
			 "%s:53 from the %s allowlist: accept (mirrors an allow rule above the refuse)",
			 proto == RULESET_PROTO_UDP ? "UDP" : "TCP", what[i]);
		r = rule_of(proto, RULESET_MATCH_SET, RULESET_ACCEPT, true, comment);
		r.set = (enum ruleset_set_id)i;
		ret = add_rule(rs, &r, errbuf, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int build_sets(struct ruleset *rs, const struct ruleset_params *p)
{
	int ret;

	for (size_t i = 0; i < RULESET_N_SETS; i++) {
		rs->sets[i].name = set_names[i];
		rs->sets[i].family = set_families[i];
		ret = ruleset_merge(p->allow, p->n_allow, set_families[i], &rs->sets[i].ranges,
				    &rs->sets[i].n_ranges);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int build_rules(struct ruleset *rs, const struct ruleset_params *p, char *errbuf,
		       size_t errlen)
{
	struct ruleset_rule r;
	int ret;

	r = rule_of(0, RULESET_MATCH_IIF_LO, RULESET_ACCEPT, false,
		    "loopback is never filtered (local resolvers such as 127.0.0.53 keep working)");
	ret = add_rule(rs, &r, errbuf, errlen);
	if (ret == 0) {
		r = rule_of(0, RULESET_MATCH_NOT_LOCAL, RULESET_ACCEPT, false, RULESET_COMMENT_NOT_LOCAL);
		ret = add_rule(rs, &r, errbuf, errlen);
	}
	if (ret == 0) {
		r = rule_of(0, RULESET_MATCH_INTERNAL, RULESET_ACCEPT, false, RULESET_COMMENT_INTERNAL);
		ret = add_rule(rs, &r, errbuf, errlen);
	}
	for (size_t i = 0; ret == 0 && i < p->n_exempt; i++)
		ret = add_exempt(rs, p->exempt[i], errbuf, errlen);
	if (ret == 0)
		ret = add_allow_rules(rs, RULESET_PROTO_UDP, errbuf, errlen);
	if (ret == 0 && p->tcp)
		ret = add_allow_rules(rs, RULESET_PROTO_TCP, errbuf, errlen);
	for (size_t i = 0; ret == 0 && i < p->n_rules; i++)
		ret = add_rule(rs, &p->rules[i], errbuf, errlen);
	if (ret == 0) {
		r = rule_of(RULESET_PROTO_UDP, RULESET_MATCH_ANY, RULESET_DROP, true,
			    RULESET_COMMENT_REFUSE_UDP);
		ret = add_rule(rs, &r, errbuf, errlen);
	}
	if (ret == 0 && p->tcp) {
		r = rule_of(RULESET_PROTO_TCP, RULESET_MATCH_ANY, RULESET_DROP, true,
			    RULESET_COMMENT_REFUSE_TCP);
		ret = add_rule(rs, &r, errbuf, errlen);
	}
	return ret;
}

/* The base chain: one protocol and port compare per packet; only DNS goes
 * on to the dns chain and its FIB and set lookups. */
static int build_ingress(struct ruleset *rs, bool tcp)
{
	static const char *const comments[2] = { RULESET_COMMENT_JUMP_UDP, RULESET_COMMENT_JUMP_TCP };
	size_t n = tcp ? 2 : 1;

	rs->ingress = calloc(n, sizeof(*rs->ingress));
	if (!rs->ingress)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rs->ingress[i] = rule_of(i ? RULESET_PROTO_TCP : RULESET_PROTO_UDP, RULESET_MATCH_ANY,
					 RULESET_JUMP, false, comments[i]);
		rs->n_ingress++;
	}
	return 0;
}

int ruleset_new(const struct ruleset_params *p, struct ruleset **ret, char *errbuf, size_t errlen)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	int r;

	if (!rs)
		return -ENOMEM;
	rs->protos = RULESET_PROTO_UDP | (p->tcp ? RULESET_PROTO_TCP : 0);
	r = build_sets(rs, p);
	if (r == 0)
		r = build_ingress(rs, p->tcp);
	if (r == 0)
		r = build_rules(rs, p, errbuf, errlen);
	if (r < 0) {
		if (r == -ENOMEM)
			set_err(errbuf, errlen, "out of memory");
		ruleset_free(rs);
		return r;
	}
	*ret = rs;
	return 0;
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < RULESET_N_SETS; i++)
		free(rs->sets[i].ranges);
	free(rs->ingress);
	free(rs->rules);
	free(rs->internal);
	free(rs);
}

static int name_cmp(const void *a, const void *b)
{
	return strncmp(a, b, IFNAMSIZ);
}

int ruleset_set_internal(struct ruleset *rs, const char *const *names, size_t n, char *errbuf,
			 size_t errlen)
{
	char (*v)[IFNAMSIZ] = NULL;
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (check_ifname(names[i], errbuf, errlen) < 0 || strchr(names[i], '*')) {
			set_err(errbuf, errlen, "interface name \"%.*s\" cannot be an element of set %s",
				IFNAMSIZ, names[i], RULESET_SET_INTERNAL);
			return -EINVAL;
		}
	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			snprintf(v[i], sizeof(v[i]), "%s", names[i]);
		qsort(v, n, sizeof(*v), name_cmp);
		m = 1;
		for (size_t i = 1; i < n; i++)
			if (strcmp(v[i], v[m - 1]) != 0)
				memcpy(v[m++], v[i], sizeof(v[i]));
	}
	free(rs->internal);
	rs->internal = v;
	rs->n_internal = m;
	return 0;
}

bool ruleset_internal_equal(const struct ruleset *rs, const char (*names)[IFNAMSIZ], size_t n)
{
	if (rs->n_internal != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strncmp(rs->internal[i], names[i], IFNAMSIZ) != 0)
			return false;
	return true;
}

bool ruleset_set_contains(const struct ruleset_set *s, const uint8_t *addr)
{
	size_t len = s->family == AF_INET ? 4 : 16, lo = 0, hi = s->n_ranges;

	/* The ranges are sorted and disjoint: find the last one starting at or
	 * below addr and check that it reaches it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(s->ranges[mid].start, addr, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && memcmp(s->ranges[lo - 1].end, addr, len) >= 0;
}
