/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <strings.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgpolicy.h"

#define CONFIG_MAX_FILE_SIZE (16u << 20)

struct key_def {
	const char *section;
	const char *name;
	const char *def;        /* built-in default, parsed like a file value */
	bool list;              /* repeated or continued in one file: appends */
};

static const struct key_def keys[_CONFIG_KEY_MAX] = {
	[CONFIG_AGENT_MODE] = { "agent", "mode", "enforce", false },
	[CONFIG_AGENT_LOG_FORMAT] = { "agent", "log_format", "text", false },
	[CONFIG_AGENT_LOG_LEVEL] = { "agent", "log_level", "info", false },
	[CONFIG_AGENT_SUMMARY_INTERVAL] = { "agent", "summary_interval", "300s", false },
	[CONFIG_RULES_PROTOCOLS] = { "rules", "protocols", "udp", false },
	[CONFIG_RULES_ALLOW] = { "rules", "allow", "", true },
	[CONFIG_RULES_EXEMPT_INTERFACES] = { "rules", "exempt_interfaces", "", true },
	[CONFIG_RULES_INTERNAL_INTERFACES] = { "rules", "internal_interfaces", "auto", false },
	[CONFIG_RULES_KEEP_ON_STOP] = { "rules", "keep_on_stop", "yes", false },
	[CONFIG_RULES_POLICY_FILE] = { "rules", "policy_file", "", false },
	[CONFIG_RULES_POLICY_FORMAT] = { "rules", "policy_format", "auto", false },
	[CONFIG_RULES_TABLE_OWNER] = { "rules", "table_owner", "yes", false },
	[CONFIG_CAPTURE_INTERFACES] = { "capture", "interfaces", "any", true },
	[CONFIG_CAPTURE_BUFFER_SIZE] = { "capture", "buffer_size", "4M", false },
	[CONFIG_CAPTURE_RESPONSES] = { "capture", "responses", "yes", false },
	[CONFIG_CAPTURE_SAMPLE_ABOVE] = { "capture", "sample_above", "10000", false },
	[CONFIG_LISTENERS_RESCAN_INTERVAL] = { "listeners", "rescan_interval", "30s", false },
	[CONFIG_LISTENERS_NAMESPACES] = { "listeners", "namespaces", "yes", false },
	[CONFIG_OUTPUT_STATUS_FILE] = { "output", "status_file", "/run/port53guard/status.json", false },
	[CONFIG_OUTPUT_METRICS_FILE] = { "output", "metrics_file", "", false },
};

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static const char *const sections[] = { "agent", "rules", "capture", "listeners", "output" };

static const char *const mode_names[] = {
	[AGENT_MODE_ENFORCE] = "enforce",
	[AGENT_MODE_MONITOR] = "monitor",
	[AGENT_MODE_AUTO] = "auto",
};

const char *agent_mode_to_string(enum agent_mode m)
{
	return (size_t)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "?";
}

const char *config_key_section(enum config_key k)
{
	return keys[k].section;
}

const char *config_key_name(enum config_key k)
{
	return keys[k].name;
}

/* Copies what fits; an error line with a cut path or value still says
 * where and what. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

static void set_error(struct config_error *err, const char *file, unsigned line, const char *section,
		      const char *key, const char *value, const char *message)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	copy_cut(err->file, sizeof(err->file), file);
	err->line = line;
	copy_cut(err->section, sizeof(err->section), section);
	copy_cut(err->key, sizeof(err->key), key);
	copy_cut(err->value, sizeof(err->value), value);
	copy_cut(err->message, sizeof(err->message), message);
}

/* Makes room for element n of an array that only ever grows through here:
 * the capacity is the next power of two, so n appends cost O(n) copies,
 * not O(n^2) (a 50,000-address allowlist is a real configuration). */
static void *grow_for(void *array, size_t n, size_t size)
{
	if (n & (n - 1))
		return array;
	return reallocarray(array, n ? n * 2 : 1, size);
}

/* ---- value parsers: each returns 0 or fills msg and returns -EINVAL ---- */

static int parse_bool(const char *v, bool *ret, char *msg, size_t ml)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *ret = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *ret = false, 0;
	}
	snprintf(msg, ml, "expected yes or no");
	return -EINVAL;
}

/* A whole number with an optional unit, scaled by the unit's factor. */
struct unit {
	const char *suffix;
	uint64_t factor;
};

static int parse_scaled(const char *v, const struct unit *units, uint64_t min, uint64_t max,
			uint64_t *ret, const char *what, char *msg, size_t ml)
{
	uint64_t n = 0, factor = 0;
	bool overflow = false;
	const char *p = v;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			overflow = true;        /* still a number: out of range, below */
		else
			n = n * 10 + (uint64_t)(*p - '0');
	}
	for (const struct unit *u = units; u->suffix; u++)
		if (strcasecmp(p, u->suffix) == 0) {
			factor = u->factor;
			break;
		}
	if (!factor)
		goto bad;
	if (n > UINT64_MAX / factor)
		overflow = true;
	else
		n *= factor;
	if (overflow || n < min || n > max) {
		snprintf(msg, ml, "%s out of range", what);
		return -ERANGE;
	}
	*ret = n;
	return 0;
bad:
	snprintf(msg, ml, "not a %s", what);
	return -EINVAL;
}

static int parse_duration(const char *v, unsigned *ret, char *msg, size_t ml)
{
	static const struct unit units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "min", 60 }, { "h", 3600 }, { NULL, 0 },
	};
	uint64_t n;
	int r = parse_scaled(v, units, 1, 86400, &n, "duration (1s to 24h, e.g. 30s, 5m)", msg, ml);

	if (r == 0)
		*ret = (unsigned)n;
	return r;
}

static int parse_size(const char *v, uint64_t *ret, char *msg, size_t ml)
{
	static const struct unit units[] = {
		{ "", 1 }, { "k", 1024 }, { "kib", 1024 }, { "m", 1u << 20 }, { "mib", 1u << 20 },
		{ "g", 1u << 30 }, { "gib", 1u << 30 }, { NULL, 0 },
	};

	return parse_scaled(v, units, 256u << 10, 1u << 30, ret, "size (256K to 1G, e.g. 4M)", msg, ml);
}

/* Queries per second above which the top lists are sampled: "off" (never)
 * or 1000 to 10,000,000 ("k" and "M" suffixes for thousands, millions). */
static int parse_sample_above(const char *v, unsigned *ret, char *msg, size_t ml)
{
	static const struct unit units[] = {
		{ "", 1 }, { "k", 1000 }, { "m", 1000000 }, { NULL, 0 },
	};
	uint64_t n;
	int r;

	if (strcmp(v, "off") == 0) {
		*ret = 0;
		return 0;
	}
	r = parse_scaled(v, units, 1000, 10000000, &n, "rate (off, or 1000 to 10M queries/s, e.g. 10k)", msg,
			 ml);
	if (r == 0)
		*ret = (unsigned)n;
	return r;
}

/* Splits a list on commas and white space; calls fn for each item. */
static int for_each_item(const char *v, int (*fn)(const char *item, void *u), void *u)
{
	char item[256];

	while (*v) {
		size_t n = strcspn(v, ", \t");
		int r;

		if (n >= sizeof(item))
			return fn(NULL, u);
		if (n) {
			memcpy(item, v, n);
			item[n] = '\0';
			r = fn(item, u);
			if (r < 0)
				return r;
		}
		v += n;
		v += strspn(v, ", \t");
	}
	return 0;
}

struct item_ctx {
	struct config *c;
	char *msg;
	size_t ml;
	char **names;
	size_t n;
};

/* Messages quote the offending list item; it comes from the file, so it is
 * escaped like every other value before it can reach a terminal. */
static int item_message(struct item_ctx *x, const char *item, const char *why)
{
	char *e = log_escape(item, strlen(item), NULL);

	if (!e)
		return -ENOMEM;
	snprintf(x->msg, x->ml, "\"%s\" %s", e, why);
	free(e);
	return -EINVAL;
}

/* A comment starts after white space; "docker0,# not eth0" would otherwise
 * make "#", "not" and "eth0" list items (exempt interfaces). */
static bool looks_like_comment(const char *item)
{
	return *item == '#' || *item == ';';
}

#define COMMENT_HINT "looks like a comment: put white space before '#' or ';'"

static int add_cidr(const char *item, void *u)
{
	struct item_ctx *x = u;
	struct cidr cidr, *p;
	int r;

	if (!item) {
		snprintf(x->msg, x->ml, "list item too long");
		return -EINVAL;
	}
	if (looks_like_comment(item))
		return item_message(x, item, COMMENT_HINT);
	r = cidr_parse(item, &cidr);
	if (r < 0) {
		return item_message(x, item,
				    r == -EBADMSG ? "has host bits set below its prefix length" :
				    r == -ERANGE ? "has a prefix length out of range" :
				    "is not an IPv4 or IPv6 address or CIDR");
	}
	p = grow_for(x->c->allow, x->c->n_allow, sizeof(*p));
	if (!p)
		return -ENOMEM;
	x->c->allow = p;
	p[x->c->n_allow++] = cidr;
	return 0;
}

_Static_assert(IFNAMSIZ == 16, "add_ifname's message says 15 bytes");

/* Interface names as the kernel (dev_valid_name) and nft's iifname take
 * them: 1 to IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or white space;
 * quotes and backslashes are refused too, as no real name holds them and nft
 * would read them as syntax. Plain ASCII only: the name reaches rule
 * comments, events and JSON as it is. A trailing '*' matches a prefix
 * ("veth*"); a bare "*" would match every interface (the uplink too), so it
 * is refused. */
static int add_ifname(const char *item, void *u)
{
	struct item_ctx *x = u;
	size_t len = item ? strlen(item) : 0;
	const char *star = item ? strchr(item, '*') : NULL;
	char **p;

	if (!item)
		return item_message(x, "", "is not an interface name (a list item longer than 255 bytes)");
	if (looks_like_comment(item))
		return item_message(x, item, COMMENT_HINT);
	if (strcmp(item, "*") == 0)
		return item_message(x, item, "would match every interface, the uplink too: name them");
	for (const unsigned char *s = (const unsigned char *)item; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return item_message(x, item, "is not an interface name: it holds a control or non-ASCII byte");
	if (len >= IFNAMSIZ || strcmp(item, ".") == 0 || strcmp(item, "..") == 0 ||
	    strpbrk(item, "/:\"'\\") || (star && star != item + len - 1)) {
		return item_message(x, item,
				    "is not an interface name (at most 15 bytes, no / : \" ' \\, '*' only at the end)");
	}
	p = grow_for(x->names, x->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	x->names = p;
	x->names[x->n] = strdup(item);
	if (!x->names[x->n])
		return -ENOMEM;
	x->n++;
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int parse_ifnames(struct config *c, const char *v, bool append, bool any_ok, char ***names,
			 size_t *n, char *msg, size_t ml)
{
	struct item_ctx x = { .c = c, .msg = msg, .ml = ml };
	int r;

	if (any_ok && strcmp(v, "any") == 0) {
		free_strv(*names, *n);
		*names = NULL;
		*n = 0;
		return 0;
	}
	r = for_each_item(v, add_ifname, &x);
	if (r < 0) {
		free_strv(x.names, x.n);
		return r;
	}
	if (!append) {
		free_strv(*names, *n);
		*names = NULL;
		*n = 0;
	}
	for (size_t i = 0; i < x.n; i++) {
		char **p = grow_for(*names, *n, sizeof(*p));

		if (!p) {
			free_strv(x.names + i, x.n - i);
			free(x.names);
			return -ENOMEM;
		}
		*names = p;
		p[(*n)++] = x.names[i];
	}
	free(x.names);
	return 0;
}

static int parse_path(const char *v, bool may_be_empty, char **field, char *msg, size_t ml)
{
	char *s;

	if (*v == '\0' && may_be_empty) {
		free(*field);
		*field = NULL;
		return 0;
	}
	if (v[0] != '/' || strlen(v) >= PATH_MAX) {
		snprintf(msg, ml, "expected an absolute path%s", may_be_empty ? " or nothing" : "");
		return -EINVAL;
	}
	s = strdup(v);
	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

static int parse_protocols(const char *v, unsigned *ret, char *msg, size_t ml)
{
	unsigned p = 0;
	char buf[64];

	if (strlen(v) >= sizeof(buf))
		goto bad;
	strcpy(buf, v);
	for (char *save = NULL, *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (strcasecmp(t, "udp") == 0)
			p |= CONFIG_PROTO_UDP;
		else if (strcasecmp(t, "tcp") == 0)
			p |= CONFIG_PROTO_TCP;
		else
			goto bad;
	}
	if (!(p & CONFIG_PROTO_UDP))
		goto bad;
	*ret = p;
	return 0;
bad:
	snprintf(msg, ml, "expected udp or udp,tcp (the cloud rule always covers UDP)");
	return -EINVAL;
}

static int parse_enum(const char *v, const char *const *names, size_t n, int *ret, const char *expect,
		      char *msg, size_t ml)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(v, names[i]) == 0)
			return *ret = (int)i, 0;
	snprintf(msg, ml, "expected %s", expect);
	return -EINVAL;
}

static int parse_key(struct config *c, enum config_key k, const char *v, bool append, char *msg, size_t ml)
{
	static const char *const formats[] = { [LOG_FORMAT_TEXT] = "text", [LOG_FORMAT_JSON] = "json" };
	struct item_ctx x = { .c = c, .msg = msg, .ml = ml };
	enum log_level level;
	int e, r;

	switch (k) {
	case CONFIG_AGENT_MODE:
		r = parse_enum(v, mode_names, 3, &e, "enforce, monitor or auto", msg, ml);
		if (r == 0)
			c->mode = (enum agent_mode)e;
		return r;
	case CONFIG_AGENT_LOG_FORMAT:
		r = parse_enum(v, formats, 2, &e, "text or json", msg, ml);
		if (r == 0)
			c->log_format = (enum log_format)e;
		return r;
	case CONFIG_AGENT_LOG_LEVEL:
		if (log_level_from_string(v, &level) < 0) {
			snprintf(msg, ml, "expected error, warning, notice, info or debug");
			return -EINVAL;
		}
		c->log_level = level;
		return 0;
	case CONFIG_AGENT_SUMMARY_INTERVAL:
		return parse_duration(v, &c->summary_interval, msg, ml);
	case CONFIG_RULES_PROTOCOLS:
		return parse_protocols(v, &c->protocols, msg, ml);
	case CONFIG_RULES_ALLOW: {
		struct cidr *old = c->allow;
		size_t n_old = c->n_allow;

		if (!append) {
			c->allow = NULL;
			c->n_allow = 0;
		}
		r = for_each_item(v, add_cidr, &x);
		if (r < 0) {
			if (!append) {
				free(c->allow);
				c->allow = old;
				c->n_allow = n_old;
			}
			return r == -ENOMEM ? r : -EINVAL;
		}
		if (!append)
			free(old);
		return 0;
	}
	case CONFIG_RULES_EXEMPT_INTERFACES:
		return parse_ifnames(c, v, append, false, &c->exempt_interfaces, &c->n_exempt_interfaces, msg, ml);
	case CONFIG_RULES_INTERNAL_INTERFACES:
		if (*v == '\0') {
			snprintf(msg, ml, "expected auto, none or interface names");
			return -EINVAL;
		}
		if (strcmp(v, "auto") == 0 || strcmp(v, "none") == 0) {
			free_strv(c->internal_interfaces, c->n_internal_interfaces);
			c->internal_interfaces = NULL;
			c->n_internal_interfaces = 0;
			c->internal_mode = strcmp(v, "none") == 0 ? CONFIG_INTERNAL_NONE : CONFIG_INTERNAL_AUTO;
			return 0;
		}
		r = parse_ifnames(c, v, false, false, &c->internal_interfaces, &c->n_internal_interfaces,
				  msg, ml);
		if (r == 0)
			c->internal_mode = CONFIG_INTERNAL_LIST;
		return r;
	case CONFIG_RULES_KEEP_ON_STOP:
		return parse_bool(v, &c->keep_on_stop, msg, ml);
	case CONFIG_RULES_POLICY_FILE:
		return parse_path(v, true, &c->policy_file, msg, ml);
	case CONFIG_RULES_POLICY_FORMAT: {
		enum sgpolicy_format f;

		if (sgpolicy_format_from_string(v, &f) < 0) {
			snprintf(msg, ml, "expected auto, tencent, alibaba, huawei or aws");
			return -EINVAL;
		}
		c->policy_format = (int)f;
		return 0;
	}
	case CONFIG_RULES_TABLE_OWNER:
		return parse_bool(v, &c->table_owner, msg, ml);
	case CONFIG_CAPTURE_INTERFACES:
		return parse_ifnames(c, v, append, true, &c->capture_interfaces, &c->n_capture_interfaces, msg, ml);
	case CONFIG_CAPTURE_BUFFER_SIZE:
		return parse_size(v, &c->capture_buffer_size, msg, ml);
	case CONFIG_CAPTURE_RESPONSES:
		return parse_bool(v, &c->capture_responses, msg, ml);
	case CONFIG_CAPTURE_SAMPLE_ABOVE:
		return parse_sample_above(v, &c->capture_sample_above, msg, ml);
	case CONFIG_LISTENERS_RESCAN_INTERVAL:
		return parse_duration(v, &c->rescan_interval, msg, ml);
	case CONFIG_LISTENERS_NAMESPACES:
		return parse_bool(v, &c->namespaces, msg, ml);
	case CONFIG_OUTPUT_STATUS_FILE:
		return parse_path(v, false, &c->status_file, msg, ml);
	case CONFIG_OUTPUT_METRICS_FILE:
		return parse_path(v, true, &c->metrics_file, msg, ml);
	case _CONFIG_KEY_MAX:
		break;
	}
	return -EINVAL;
}

struct config *config_new(void)
{
	struct config *c = calloc(1, sizeof(*c));
	char msg[160];

	if (!c)
		return NULL;
	for (int k = 0; k < _CONFIG_KEY_MAX; k++)
		if (parse_key(c, (enum config_key)k, keys[k].def, false, msg, sizeof(msg)) < 0) {
			/* The defaults are ours; only ENOMEM can fail here. */
			config_free(c);
			return NULL;
		}
	return c;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	free(c->allow);
	free(c->allow_line);
	free(c->exempt_line);
	free_strv(c->exempt_interfaces, c->n_exempt_interfaces);
	free_strv(c->internal_interfaces, c->n_internal_interfaces);
	free(c->policy_file);
	free_strv(c->capture_interfaces, c->n_capture_interfaces);
	free(c->status_file);
	free(c->metrics_file);
	free_strv(c->files, c->n_files);
	free(c);
}

/* ---- reading one file's text through inih ---- */

struct parse_ctx {
	struct config *c;
	const char *file;               /* owned by c->files */
	const char *text;
	size_t len, pos;
	const char *nul;                /* the text's first NUL byte, or NULL */
	unsigned line;
	bool failed;
	unsigned fail_line;             /* the line that set failed */
	struct config_error *err;
	bool seen[_CONFIG_KEY_MAX];     /* set earlier in this same file */
	unsigned seen_line[_CONFIG_KEY_MAX]; /* where a scalar was set in this file */
	bool indented;                  /* the line inih holds continues the key above */
};

static void fail_at(struct parse_ctx *p)
{
	p->failed = true;
	p->fail_line = p->line;
}

static bool known_section(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strlen(sections[i]) == n && strncmp(sections[i], s, n) == 0)
			return true;
	return false;
}

/* Checks a "[section]" line; inih does not tell the handler about sections
 * that hold no keys, and an unknown one must still be an error. An indented
 * header is refused: inih would take it as one more value of the key above
 * ("[rules]" as an interface name) and the section would silently not start. */
static bool check_section_line(struct parse_ctx *p, const char *l, size_t n)
{
	const char *end;
	char name[64];
	bool indented;

	indented = n && (*l == ' ' || *l == '\t');
	while (n && (*l == ' ' || *l == '\t'))
		l++, n--;
	if (!n || *l != '[')
		return true;
	end = memchr(l, ']', n);
	if (!end)
		return true;            /* inih reports the syntax error */
	snprintf(name, sizeof(name), "%.*s", (int)(end - l - 1), l + 1);
	if (indented) {
		set_error(p->err, p->file, p->line, name, NULL, NULL,
			  "indented section header (start it at the beginning of the line)");
		return false;
	}
	if (known_section(l + 1, (size_t)(end - l - 1)))
		return true;
	set_error(p->err, p->file, p->line, name, NULL, NULL,
		  "unknown section (expected agent, rules, capture, listeners or output)");
	return false;
}

/* The length of a line's content once its comment is gone. A comment starts
 * with ';' or '#' at the start of the line (after blanks) or after a blank,
 * the same for both characters and on every kind of line; inih's own
 * handling depends on how it was compiled (Debian's takes only ';', and only
 * on a key's first line), so it never sees a comment. A ';' or '#' inside a
 * word ("a#b") is kept. */
static size_t content_length(const char *l, size_t n)
{
	size_t i = 0;

	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && (l[i] == ';' || l[i] == '#'))
		return 0;
	for (; i < n; i++)
		if ((l[i] == ';' || l[i] == '#') && (l[i - 1] == ' ' || l[i - 1] == '\t')) {
			n = i;
			break;
		}
	while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r' || l[n - 1] == '\n'))
		n--;
	return n;
}

/* An indented "key = value" line is, to inih, one more value of the key
 * above: "    mode = monitor" under exempt_interfaces would exempt
 * interfaces called "mode", "=" and "monitor". A known key name there is
 * refused instead. */
static bool indented_key(const char *l, size_t n)
{
	size_t i = 0, start, w;

	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	start = i;
	while (i < n && ((l[i] >= 'a' && l[i] <= 'z') || l[i] == '_'))
		i++;
	w = i - start;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (!w || i >= n || l[i] != '=')
		return false;
	for (int k = 0; k < _CONFIG_KEY_MAX; k++)
		if (strlen(keys[k].name) == w && memcmp(keys[k].name, l + start, w) == 0)
			return true;
	return false;
}

/* fgets-style reader over memory: counts lines, hands inih each line without
 * its comment, and refuses a line whose content inih would silently cut at
 * its fixed buffer size. Comments may be of any length. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	const char *l, *nl;
	size_t n, len;

	if (p->failed || p->pos >= p->len)
		return NULL;
	l = p->text + p->pos;
	nl = memchr(l, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - l) + 1 : p->len - p->pos;
	p->line++;
	/* One scan of the whole text finds any NUL (a long allowlist is
	 * thousands of lines); the line holding the first one is refused. */
	if (p->nul && p->nul < l + n) {
		set_error(p->err, p->file, p->line, NULL, NULL, NULL, "NUL byte in configuration text");
		fail_at(p);
		return NULL;
	}
	p->pos += n;
	if (p->line == 1 && n >= 3 && memcmp(l, "\xef\xbb\xbf", 3) == 0)
		l += 3, n -= 3;         /* inih skips a byte order mark too */
	len = content_length(l, n);
	if (len + 2 > (size_t)num) {
		char m[160];

		snprintf(m, sizeof(m), "line longer than %d characters (not counting a comment): "
			 "continue a list on indented lines", num - 2);
		set_error(p->err, p->file, p->line, NULL, NULL, NULL, m);
		fail_at(p);
		return NULL;
	}
	if (!check_section_line(p, l, len)) {
		fail_at(p);
		return NULL;
	}
	p->indented = len && (*l == ' ' || *l == '\t');
	if (p->indented && indented_key(l, len)) {
		set_error(p->err, p->file, p->line, NULL, NULL, NULL,
			  "indented key (start it at the beginning of the line; "
			  "an indented line continues the list above)");
		fail_at(p);
		return NULL;
	}
	memcpy(str, l, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

/* Records the line of list entries [from, n): a warning or error about one
 * entry names its own line, not only the key's last one. The array grows
 * like the entries do (grow_for), one element at a time. */
static int note_lines(unsigned **lines, size_t from, size_t n, unsigned line)
{
	if (from == 0) {
		free(*lines);
		*lines = NULL;
	}
	for (size_t i = from; i < n; i++) {
		unsigned *p = grow_for(*lines, i, sizeof(*p));

		if (!p)
			return -ENOMEM;
		*lines = p;
		p[i] = line;
	}
	return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *p = user;
	char msg[160] = "";
	int r;

	if (p->failed)
		return 0;
	for (int k = 0; k < _CONFIG_KEY_MAX; k++) {
		if (strcmp(keys[k].section, section) != 0 || strcmp(keys[k].name, name) != 0)
			continue;
		bool append = keys[k].list && p->seen[k];
		size_t n_allow = append ? p->c->n_allow : 0;
		size_t n_exempt = append ? p->c->n_exempt_interfaces : 0;

		if (!keys[k].list && p->seen[k]) {
			/* Last-wins inside one file hides a mistake: which of the
			 * two did the operator mean? Across files a later file
			 * still wins; that is what conf.d is for. */
			if (p->indented)
				snprintf(msg, sizeof(msg), "an indented line continues the value of line %u, "
					 "but this key takes one value", p->seen_line[k]);
			else
				snprintf(msg, sizeof(msg), "set twice in this file, on line %u and on line %u: "
					 "keep one", p->seen_line[k], p->line);
			set_error(p->err, p->file, p->line, section, name, value, msg);
			fail_at(p);
			return 0;
		}
		r = parse_key(p->c, (enum config_key)k, value, append, msg, sizeof(msg));
		if (r == 0 && k == CONFIG_RULES_ALLOW)
			r = note_lines(&p->c->allow_line, n_allow, p->c->n_allow, p->line);
		if (r == 0 && k == CONFIG_RULES_EXEMPT_INTERFACES)
			r = note_lines(&p->c->exempt_line, n_exempt, p->c->n_exempt_interfaces, p->line);
		if (r < 0) {
			set_error(p->err, p->file, p->line, section, name, value,
				  r == -ENOMEM ? "out of memory" : msg);
			fail_at(p);
			return 0;
		}
		p->seen[k] = true;
		p->seen_line[k] = p->line;
		p->c->origin[k] = (struct config_origin){ p->file, p->line };
		return 1;
	}
	set_error(p->err, p->file, p->line, section, name, value,
		  *section ? "unknown key in this section" : "key outside a [section]");
	fail_at(p);
	return 0;
}

static int remember_file(struct config *c, const char *name, const char **ret)
{
	char **p = grow_for(c->files, c->n_files, sizeof(*p));

	if (!p)
		return -ENOMEM;
	c->files = p;
	c->files[c->n_files] = strdup(name);
	if (!c->files[c->n_files])
		return -ENOMEM;
	*ret = c->files[c->n_files++];
	return 0;
}

int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
		      struct config_error *err)
{
	struct parse_ctx p = { .c = c, .text = text, .len = len, .err = err };
	int r;

	p.nul = len ? memchr(text, '\0', len) : NULL;
	r = remember_file(c, name, &p.file);
	if (r < 0) {
		set_error(err, name, 0, NULL, NULL, NULL, "out of memory");
		return r;
	}
	r = ini_parse_stream(reader, &p, handler, &p);
	/* inih reads on after a syntax error, so a later line may have failed
	 * too; the first error is the one to report. */
	if (p.failed && !(r > 0 && (unsigned)r < p.fail_line))
		return -EINVAL;
	if (r != 0) {
		set_error(err, name, r > 0 ? (unsigned)r : 0, NULL, NULL, NULL,
			  r > 0 ? "syntax error: expected [section] or key = value" : "cannot parse");
		return -EINVAL;
	}
	return 0;
}

/* ---- files ---- */

static int add_source(struct config_sources *src, const char *path, char *text, size_t len)
{
	struct config_source *v = reallocarray(src->v, src->n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	src->v = v;
	v[src->n].name = strdup(path);
	if (!v[src->n].name)
		return -ENOMEM;
	v[src->n].text = text;
	v[src->n++].len = len;
	return 0;
}

void config_sources_free(struct config_sources *src)
{
	if (!src)
		return;
	for (size_t i = 0; i < src->n; i++) {
		free(src->v[i].name);
		free(src->v[i].text);
	}
	free(src->v);
	src->v = NULL;
	src->n = 0;
}

/* Nothing read here may block the agent: a FIFO, socket or device in
 * conf.d is refused at once (fileio_read_input), /dev/null is empty. */
static int load_one(struct config *c, const char *path, bool must_exist, struct config_sources *src,
		    struct config_error *err)
{
	char *text = NULL, m[160];
	size_t len = 0;
	int r;

	r = fileio_read_input(path, CONFIG_MAX_FILE_SIZE, false, &text, &len);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r < 0) {
		snprintf(m, sizeof(m), "cannot read file: %s", fileio_strerror(r));
		set_error(err, path, 0, NULL, NULL, NULL, m);
		return r;
	}
	r = config_parse_text(c, path, text, len, err);
	if (r == 0 && src) {
		r = add_source(src, path, text, len);
		if (r == 0)
			return 0;
		set_error(err, path, 0, NULL, NULL, NULL, "out of memory");
	}
	free(text);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_conf_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".conf") == 0;
}

static int load_dropins(struct config *c, const char *dir, struct config_sources *src,
			struct config_error *err)
{
	struct dirent **list = NULL;
	char path[PATH_MAX], m[160];
	int n, r = 0;

	n = scandir(dir, &list, NULL, NULL);
	if (n < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		r = -errno;
		snprintf(m, sizeof(m), "cannot read directory: %s", strerror(-r));
		set_error(err, dir, 0, NULL, NULL, NULL, m);
		return r;
	}
	char **names = calloc((size_t)n + 1, sizeof(char *));
	size_t k = 0;

	if (!names)
		r = -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (r == 0 && is_conf_name(list[i]->d_name))
			names[k++] = list[i]->d_name;
	}
	if (r == 0) {
		/* Byte order, not the locale's: the same files load in the same
		 * order on every machine. */
		qsort(names, k, sizeof(char *), cmp_str);
		for (size_t i = 0; i < k && r == 0; i++) {
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) {
				set_error(err, dir, 0, NULL, NULL, NULL, "path too long");
				r = -ENAMETOOLONG;
				break;
			}
			r = load_one(c, path, true, src, err);
		}
	} else {
		set_error(err, dir, 0, NULL, NULL, NULL, "out of memory");
	}
	free(names);
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return r;
}

int config_load(const char *main_path, struct config **ret, struct config_error *err)
{
	return config_load_sources(main_path, ret, NULL, err);
}

int config_from_sources(const struct config_sources *src, struct config **ret, struct config_error *err)
{
	struct config *c = config_new();
	int r = 0;

	if (!c) {
		set_error(err, "(saved)", 0, NULL, NULL, NULL, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < src->n && r == 0; i++)
		r = config_parse_text(c, src->v[i].name, src->v[i].text, src->v[i].len, err);
	if (r == 0)
		r = config_validate(c, err);
	if (r < 0) {
		config_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int config_load_sources(const char *main_path, struct config **ret, struct config_sources *ret_src,
			struct config_error *err)
{
	struct config_sources src = { 0 };
	const char *path = main_path ? main_path : CONFIG_DEFAULT_PATH;
	char dir[PATH_MAX];
	const char *slash;
	struct config *c;
	int r;

	c = config_new();
	if (!c) {
		set_error(err, path, 0, NULL, NULL, NULL, "out of memory");
		return -ENOMEM;
	}
	r = load_one(c, path, main_path != NULL, ret_src ? &src : NULL, err);
	if (r < 0)
		goto fail;
	slash = strrchr(path, '/');
	if ((size_t)snprintf(dir, sizeof(dir), "%.*s%sconf.d", slash ? (int)(slash - path) : 0, path,
			     slash ? "/" : "") >= sizeof(dir)) {
		set_error(err, path, 0, NULL, NULL, NULL, "path too long");
		r = -ENAMETOOLONG;
		goto fail;
	}
	r = load_dropins(c, dir, ret_src ? &src : NULL, err);
	if (r < 0)
		goto fail;
	r = config_validate(c, err);
	if (r < 0)
		goto fail;
	*ret = c;
	if (ret_src)
		*ret_src = src;
	return 0;
fail:
	config_sources_free(&src);
	config_free(c);
	return r;
}

/* Adds one block of a prefix to a big-endian address: a is the first address
 * of the block, and becomes the first one after it. Returns true when that
 * wraps past the end of the address space. */
static bool next_after_block(uint8_t *a, unsigned prefix)
{
	unsigned carry;

	if (prefix == 0)
		return true;
	carry = 0x80u >> ((prefix - 1) % 8);
	for (size_t i = (prefix - 1) / 8 + 1; i-- > 0;) {
		carry += a[i];
		a[i] = (uint8_t)carry;
		carry >>= 8;
		if (!carry)
			return false;
	}
	return true;
}

static int cmp_cidr_ptr(const void *a, const void *b)
{
	return cidr_compare(*(const struct cidr *const *)a, *(const struct cidr *const *)b);
}

/* Whether the family's allow entries together cover its whole address space:
 * sorted by address, each entry must start at or before the first address
 * not yet covered, and the covered run must reach the end. *last is the
 * entry that completed the cover. Returns 1, 0 or -ENOMEM. */
static int allow_covers_all(const struct config *c, int family, size_t *last)
{
	const struct cidr **v;
	size_t len = family == AF_INET ? 4 : 16, n = 0;
	uint8_t next[16] = { 0 };
	bool from_zero = false;
	int r = 0;

	/* A cover starts with an entry holding the first address, i.e. one
	 * whose address is all zeros: without one there is nothing to sort
	 * (the usual case, and a long list costs a sort otherwise). */
	for (size_t i = 0; i < c->n_allow && !from_zero; i++)
		from_zero = c->allow[i].family == family && memcmp(c->allow[i].addr, next, len) == 0;
	if (!from_zero)
		return 0;
	v = calloc(c->n_allow ? c->n_allow : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_allow; i++)
		if (c->allow[i].family == family)
			v[n++] = &c->allow[i];
	qsort(v, n, sizeof(*v), cmp_cidr_ptr);
	for (size_t i = 0; i < n; i++) {
		uint8_t end[16];

		if (memcmp(v[i]->addr, next, len) > 0)
			break;                  /* a gap: next is not covered */
		memcpy(end, v[i]->addr, len);
		if (next_after_block(end, v[i]->prefix)) {
			*last = (size_t)(v[i] - c->allow);
			r = 1;
			break;
		}
		if (memcmp(end, next, len) > 0)
			memcpy(next, end, len);
	}
	free(v);
	return r;
}

static unsigned allow_entry_line(const struct config *c, size_t i)
{
	return c->allow_line ? c->allow_line[i] : c->origin[CONFIG_RULES_ALLOW].line;
}

/* The rule refuses UDP:53 from everyone outside the allow list; a list that
 * holds everyone leaves the rule in place (and "enforcing" on every screen)
 * while it refuses no one. */
static int validate_allow(const struct config *c, struct config_error *err)
{
	static const struct {
		int family;
		const char *all;
	} fams[] = { { AF_INET, "IPv4 (0.0.0.0/0)" }, { AF_INET6, "IPv6 (::/0)" } };
	const struct config_origin *o = &c->origin[CONFIG_RULES_ALLOW];

	for (size_t f = 0; f < 2; f++) {
		char text[CIDR_STRLEN], m[160];
		size_t last = 0;
		int r = allow_covers_all(c, fams[f].family, &last);

		if (r < 0) {
			set_error(err, o->file, 0, "rules", "allow", NULL, "out of memory");
			return r;
		}
		if (r == 0)
			continue;
		cidr_format(&c->allow[last], text, sizeof(text));
		snprintf(m, sizeof(m), "%s all of %s, so UDP:53 would be refused from no one; "
			 "a host that may answer everyone runs mode = monitor",
			 c->allow[last].prefix == 0 ? "allows" : "with the other entries, allows", fams[f].all);
		set_error(err, o->file ? o->file : "(defaults)", allow_entry_line(c, last), "rules", "allow",
			  text, m);
		return -EINVAL;
	}
	return 0;
}

int config_validate(const struct config *c, struct config_error *err)
{
	const struct config_origin *o = &c->origin[CONFIG_OUTPUT_METRICS_FILE];
	int r;

	r = validate_allow(c, err);
	if (r < 0)
		return r;
	if (c->metrics_file && strcmp(c->metrics_file, c->status_file) == 0) {
		set_error(err, o->file ? o->file : "(defaults)", o->line, "output", "metrics_file",
			  c->metrics_file, "must differ from status_file");
		return -EINVAL;
	}
	return 0;
}

/* ---- warnings ---- */

/* Optimal string alignment distance (edits, plus swapping two neighbours:
 * "dokcer0" is one swap from "docker0"), capped: names are at most 15
 * bytes, so the table is small. */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d[IFNAMSIZ + 1][IFNAMSIZ + 1];

	if (la > IFNAMSIZ || lb > IFNAMSIZ)
		return UINT_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/* The existing interface nearest to name, when one is near enough to be a
 * typo (at most two edits, and fewer than half of the name). */
static bool near_interface(const struct if_nameindex *ifs, const char *name, char *ret, size_t size)
{
	unsigned best = UINT_MAX;

	for (const struct if_nameindex *i = ifs; i && i->if_index; i++) {
		unsigned d = edit_distance(name, i->if_name);

		if (d < best && d <= 2 && d * 2 < strlen(name)) {
			best = d;
			copy_cut(ret, size, i->if_name);
		}
	}
	return best != UINT_MAX;
}

static void warn(config_warning_fn *fn, void *userdata, const char *code, const char *file, unsigned line,
		 const char *section, const char *key, const char *value, const char *message)
{
	struct config_warning w = { .code = code };

	set_error(&w.where, file ? file : "(defaults)", line, section, key, value, message);
	if (fn)
		fn(&w, userdata);
}

int config_warnings(const struct config *c, unsigned flags, config_warning_fn *fn, void *userdata)
{
	const struct config_origin *o = &c->origin[CONFIG_RULES_ALLOW];
	int n = 0;

	for (size_t i = 0; i < c->n_allow; i++) {
		const struct cidr *a = &c->allow[i];
		unsigned shortest = a->family == AF_INET ? 8 : 32;
		char text[CIDR_STRLEN], m[160];

		if (a->prefix >= shortest)
			continue;
		cidr_format(a, text, sizeof(text));
		snprintf(m, sizeof(m), "a broad allow entry (shorter than /%u): every address in it may "
			 "query this host's DNS", shortest);
		warn(fn, userdata, "allow_broad", o->file, allow_entry_line(c, i), "rules", "allow", text, m);
		n++;
	}
	if (flags & CONFIG_WARN_INTERFACES) {
		const struct config_origin *e = &c->origin[CONFIG_RULES_EXEMPT_INTERFACES];
		/* NULL (out of memory, or no interfaces at all): names are still
		 * checked one by one, only without a suggestion. */
		struct if_nameindex *ifs = c->n_exempt_interfaces ? if_nameindex() : NULL;

		for (size_t i = 0; i < c->n_exempt_interfaces; i++) {
			const char *name = c->exempt_interfaces[i];
			char near[IFNAMSIZ], m[160], *esc;

			if (name[strlen(name) - 1] == '*' || if_nametoindex(name) != 0)
				continue;
			/* The kernel's names may hold control bytes; the message
			 * is printed as it is. */
			if (near_interface(ifs, name, near, sizeof(near)) &&
			    (esc = log_escape(near, strlen(near), NULL))) {
				snprintf(m, sizeof(m), "no such interface here now (did you mean \"%s\"?); "
					 "the exemption applies once it appears", esc);
				free(esc);
			} else
				snprintf(m, sizeof(m), "no such interface here now; the exemption applies "
					 "once it appears");
			warn(fn, userdata, "exempt_interface_missing", e->file,
			     c->exempt_line ? c->exempt_line[i] : e->line, "rules",
			     "exempt_interfaces", name, m);
			n++;
		}
		if (ifs)
			if_freenameindex(ifs);
	}
	return n;
}

char *config_warning_string(const struct config_warning *w)
{
	char *line = config_error_string(&w->where);
	char *s = line ? fmt("%s: %s", w->code, line) : NULL;

	free(line);
	return s;
}

/* ---- printing ---- */

static char *join_strv(char *const *v, size_t n, const char *empty)
{
	size_t len = 1;
	char *s;

	if (n == 0)
		return strdup(empty);
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, v[i]);
	}
	return s;
}

static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static char *format_size(uint64_t n)
{
	if (n % (1u << 30) == 0)
		return fmt("%" PRIu64 "G", n >> 30);
	if (n % (1u << 20) == 0)
		return fmt("%" PRIu64 "M", n >> 20);
	if (n % 1024 == 0)
		return fmt("%" PRIu64 "K", n >> 10);
	return fmt("%" PRIu64, n);
}

char *config_value_string(const struct config *c, enum config_key k)
{
	switch (k) {
	case CONFIG_AGENT_MODE:
		return strdup(agent_mode_to_string(c->mode));
	case CONFIG_AGENT_LOG_FORMAT:
		return strdup(c->log_format == LOG_FORMAT_JSON ? "json" : "text");
	case CONFIG_AGENT_LOG_LEVEL:
		return strdup(log_level_to_string(c->log_level));
	case CONFIG_AGENT_SUMMARY_INTERVAL:
		return fmt("%us", c->summary_interval);
	case CONFIG_RULES_PROTOCOLS:
		return strdup(c->protocols & CONFIG_PROTO_TCP ? "udp,tcp" : "udp");
	case CONFIG_RULES_ALLOW: {
		char **v = calloc(c->n_allow + 1, sizeof(char *));
		char *s = NULL;

		if (!v)
			return NULL;
		for (size_t i = 0; i < c->n_allow; i++) {
			v[i] = malloc(CIDR_STRLEN);
			if (!v[i])
				goto out;
			cidr_format(&c->allow[i], v[i], CIDR_STRLEN);
		}
		s = join_strv(v, c->n_allow, "");
out:
		free_strv(v, c->n_allow);
		return s;
	}
	case CONFIG_RULES_EXEMPT_INTERFACES:
		return join_strv(c->exempt_interfaces, c->n_exempt_interfaces, "");
	case CONFIG_RULES_INTERNAL_INTERFACES:
		if (c->internal_mode == CONFIG_INTERNAL_LIST)
			return join_strv(c->internal_interfaces, c->n_internal_interfaces, "none");
		return strdup(c->internal_mode == CONFIG_INTERNAL_NONE ? "none" : "auto");
	case CONFIG_RULES_KEEP_ON_STOP:
		return strdup(c->keep_on_stop ? "yes" : "no");
	case CONFIG_RULES_POLICY_FILE:
		return strdup(c->policy_file ? c->policy_file : "");
	case CONFIG_RULES_POLICY_FORMAT:
		return strdup(sgpolicy_format_name((enum sgpolicy_format)c->policy_format));
	case CONFIG_RULES_TABLE_OWNER:
		return strdup(c->table_owner ? "yes" : "no");
	case CONFIG_CAPTURE_INTERFACES:
		return join_strv(c->capture_interfaces, c->n_capture_interfaces, "any");
	case CONFIG_CAPTURE_BUFFER_SIZE:
		return format_size(c->capture_buffer_size);
	case CONFIG_CAPTURE_RESPONSES:
		return strdup(c->capture_responses ? "yes" : "no");
	case CONFIG_CAPTURE_SAMPLE_ABOVE:
		return c->capture_sample_above ? fmt("%u", c->capture_sample_above) : strdup("off");
	case CONFIG_LISTENERS_RESCAN_INTERVAL:
		return fmt("%us", c->rescan_interval);
	case CONFIG_LISTENERS_NAMESPACES:
		return strdup(c->namespaces ? "yes" : "no");
	case CONFIG_OUTPUT_STATUS_FILE:
		return strdup(c->status_file);
	case CONFIG_OUTPUT_METRICS_FILE:
		return strdup(c->metrics_file ? c->metrics_file : "");
	case _CONFIG_KEY_MAX:
		break;
	}
	return NULL;
}

void config_dump(const struct config *c, FILE *out)
{
	const char *section = NULL;

	fprintf(out, "# effective configuration; files read, in order:");
	if (c->n_files == 0)
		fprintf(out, " none (built-in defaults)");
	fprintf(out, "\n");
	for (size_t i = 0; i < c->n_files; i++) {
		char *e = log_escape(c->files[i], strlen(c->files[i]), NULL);

		fprintf(out, "#   %s\n", e ? e : "?");
		free(e);
	}
	for (int k = 0; k < _CONFIG_KEY_MAX; k++) {
		const struct config_origin *o = &c->origin[k];
		char *v = config_value_string(c, (enum config_key)k);
		char *ev = v ? log_escape(v, strlen(v), NULL) : NULL;
		char *ef = o->file ? log_escape(o->file, strlen(o->file), NULL) : NULL;

		if (!section || strcmp(section, keys[k].section) != 0) {
			section = keys[k].section;
			fprintf(out, "\n[%s]\n", section);
		}
		if (o->file)
			fprintf(out, "%s = %s  ; from %s:%u\n", keys[k].name, ev ? ev : "?", ef ? ef : "?", o->line);
		else
			fprintf(out, "%s = %s  ; default\n", keys[k].name, ev ? ev : "?");
		free(v);
		free(ev);
		free(ef);
	}
}

char *config_error_string(const struct config_error *err)
{
	char *file = log_escape(err->file, strlen(err->file), NULL);
	char *value = log_escape(err->value, strlen(err->value), NULL);
	char *key = log_escape(err->key, strlen(err->key), NULL);
	char *section = log_escape(err->section, strlen(err->section), NULL);
	char where[64] = "";
	char *s = NULL;

	if (!file || !value || !key || !section)
		goto out;
	if (err->line)
		snprintf(where, sizeof(where), ":%u", err->line);
	if (*err->key)
		s = fmt("%s%s: [%s] %s = \"%s\": %s", file, where, section, key, value, err->message);
	else if (*err->section)
		s = fmt("%s%s: [%s]: %s", file, where, section, err->message);
	else
		s = fmt("%s%s: %s", file, where, err->message);
out:
	free(file);
	free(value);
	free(key);
	free(section);
	return s;
}
