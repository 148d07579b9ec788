/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "rulesconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fileio.h"
#include "links.h"
#include "log.h"
#include "ruleset.h"
#include "sgpolicy.h"
#include "state.h"

void rulesconf_policy_free(struct rulesconf_policy *p)
{
	if (!p)
		return;
	sgpolicy_mirror_free(p->mirror);
	sgpolicy_free(p->policy);
	free(p->text);
	free(p);
}

static unsigned refused_protos(const struct config *c)
{
	return RULESET_PROTO_UDP | (c->protocols & CONFIG_PROTO_TCP ? RULESET_PROTO_TCP : 0);
}

/* The file is read once per build, non-blocking and bounded
 * (fileio_read_input): a FIFO or device there is refused at once. Its bytes
 * stay with the policy, so the agent can keep what it installed. Bytes
 * already in p (a saved copy) are parsed instead of the file. */
static int read_policy(const char *path, enum sgpolicy_format format, struct rulesconf_policy *p,
		       char *errbuf, size_t errlen)
{
	char why[400] = "";
	int r;

	if (!p->text) {
		/* One byte over the parser's limit, so an oversized file is named so. */
		r = fileio_read_small(path, SGPOLICY_MAX_SIZE + 1, &p->text, &p->len);
		if (r < 0) {
			snprintf(errbuf, errlen, "%s: cannot read: %s", path,
				 r == -EFBIG ? "larger than 8 MiB" : fileio_strerror(r));
			return r;
		}
	}
	state_sha256_hex(p->text, p->len, p->hash);
	r = sgpolicy_parse_format(p->text, p->len, format, &p->policy, why, sizeof(why));
	if (r < 0)
		snprintf(errbuf, errlen, "%s: %s", path, why[0] ? why : strerror(-r));
	return r;
}

static int load_policy(const struct config *c, const char *text, size_t len, struct rulesconf_policy **ret,
		       char *errbuf, size_t errlen)
{
	struct rulesconf_policy *p;
	int r;

	if (!c->policy_file) {
		*ret = NULL;
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (text) {
		p->text = malloc(len + 1);
		if (!p->text) {
			free(p);
			return -ENOMEM;
		}
		memcpy(p->text, text, len);
		p->text[len] = '\0';
		p->len = len;
	}
	r = read_policy(c->policy_file, (enum sgpolicy_format)c->policy_format, p, errbuf, errlen);
	if (r == 0)
		r = sgpolicy_mirror_new(p->policy, refused_protos(c), &p->mirror);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(errbuf, errlen, "%s: out of memory", c->policy_file);
		rulesconf_policy_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int rulesconf_policy_load(const struct config *c, struct rulesconf_policy **ret, char *errbuf,
			  size_t errlen)
{
	return load_policy(c, NULL, 0, ret, errbuf, errlen);
}

int rulesconf_build_policy(const struct config *c, struct ruleset **ret,
			   struct rulesconf_policy **ret_policy, char *errbuf, size_t errlen)
{
	return rulesconf_build_policy_from(c, NULL, 0, ret, ret_policy, errbuf, errlen);
}

int rulesconf_build_policy_from(const struct config *c, const char *policy_text, size_t policy_len,
				struct ruleset **ret, struct rulesconf_policy **ret_policy, char *errbuf,
				size_t errlen)
{
	struct ruleset_params params = {
		.tcp = (c->protocols & CONFIG_PROTO_TCP) != 0,
		.allow = c->allow,
		.n_allow = c->n_allow,
		.exempt = c->exempt_interfaces,
		.n_exempt = c->n_exempt_interfaces,
	};
	struct rulesconf_policy *pol = NULL;
	int r = load_policy(c, policy_text, policy_len, &pol, errbuf, errlen);

	if (r < 0)
		return r;
	/* The policy's rules come after the host's own allowlist and before
	 * the final refuse, which is the policy's implicit one. */
	if (pol) {
		params.rules = pol->mirror->rules;
		params.n_rules = pol->mirror->n_rules;
	}
	r = ruleset_new(&params, ret, errbuf, errlen);
	if (r < 0 || !ret_policy)
		rulesconf_policy_free(pol);
	else
		*ret_policy = pol;
	return r;
}

int rulesconf_build(const struct config *c, struct ruleset **ret, char *errbuf, size_t errlen)
{
	return rulesconf_build_policy(c, ret, NULL, errbuf, errlen);
}

/* ---- reporting ---------------------------------------------------------- */

static void log_warning_one(const char *path, const struct sgpolicy_warning *w)
{
	const struct sgpolicy_entry *e = &w->entry;

	if (w->kind == SGPOLICY_WARN_EGRESS) {
		log_warning("policy_egress_ignored", LOG_STR("file", path), LOG_UINT("entries", w->count),
			    LOG_STR("effect", sgpolicy_warning_effect(w)));
		return;
	}
	log_warning("policy_rule_skipped", LOG_STR("file", path),
		    LOG_STR("provider", sgpolicy_format_name(e->provider)), LOG_UINT("group", e->group),
		    LOG_STR("group_id", e->group_id), LOG_UINT("entry", e->position),
		    LOG_INT("policy_index", e->index), LOG_STR("rule_id", e->rule_id),
		    LOG_STR("action", sgpolicy_action_name(e->action)),
		    LOG_STR("description", e->description), LOG_STR("refers_to", w->reference),
		    LOG_STR("effect", sgpolicy_warning_effect(w)));
}

static const char *const public_source[2] = { "0.0.0.0/0", "::/0" };

static void log_public(const char *path, const struct sgpolicy *sp, const size_t idx[2], const char *proto)
{
	for (int f = 0; f < 2; f++) {
		const struct sgpolicy_entry *e;

		if (idx[f] == SGPOLICY_NONE)
			continue;
		e = &sp->entries[idx[f]];
		log_warning("policy_allows_public_dns", LOG_STR("file", path), LOG_STR("proto", proto),
			    LOG_STR("source", public_source[f]),
			    LOG_STR("provider", sgpolicy_format_name(e->provider)), LOG_UINT("group", e->group),
			    LOG_STR("group_id", e->group_id), LOG_UINT("entry", e->position),
			    LOG_INT("policy_index", e->index), LOG_STR("rule_id", e->rule_id),
			    LOG_STR("description", e->description),
			    LOG_STR("effect", proto[0] == 'u'
				    ? "UDP:53 is accepted from everybody here as in the cloud; "
				      "without a licensed DNS service the cloud rule should refuse it"
				    : "the cloud accepts TCP:53 from everybody; without a licensed DNS "
				      "service the cloud rule should refuse it"));
	}
}

void rulesconf_policy_log(const struct config *c, const struct rulesconf_policy *p)
{
	const struct sgpolicy *sp;

	if (!p)
		return;
	sp = p->policy;
	log_info("policy_loaded", LOG_STR("file", c->policy_file),
		 LOG_STR("format", sp->format == SGPOLICY_FORMAT_AUTO ? "mixed" : sgpolicy_format_name(sp->format)),
		 LOG_STR("version", sp->version), LOG_STR("hash", p->hash),
		 LOG_UINT("groups", sp->n_groups), LOG_UINT("entries", sp->n_entries),
		 LOG_UINT("rules", p->mirror->n_rules), LOG_UINT("out_of_scope", p->mirror->n_out_of_scope),
		 LOG_UINT("skipped", sp->n_skipped));
	for (size_t i = 0; i < sp->n_warnings; i++)
		log_warning_one(c->policy_file, &sp->warnings[i]);
	log_public(c->policy_file, sp, p->mirror->public_dns, "udp");
	log_public(c->policy_file, sp, p->mirror->public_dns_tcp, "tcp");
}

void rulesconf_policy_print_warnings(const struct config *c, const struct rulesconf_policy *p,
				     FILE *out, const char *prefix)
{
	char line[SGPOLICY_LINE_MAX];

	if (!p)
		return;
	for (size_t i = 0; i < p->policy->n_warnings; i++)
		fprintf(out, "%s%s: %s\n", prefix, c->policy_file,
			sgpolicy_warning_format(&p->policy->warnings[i], line, sizeof(line)));
	for (int t = 0; t < 2; t++)
		for (int f = 0; f < 2; f++) {
			const size_t *idx = t == 0 ? p->mirror->public_dns : p->mirror->public_dns_tcp;

			if (idx[f] == SGPOLICY_NONE)
				continue;
			fprintf(out, "%s%s: %s: %s is answered for everybody on %s, here as in the cloud "
				"(policy_allows_public_dns)\n", prefix, c->policy_file,
				sgpolicy_entry_format(&p->policy->entries[idx[f]], line, sizeof(line)),
				t == 0 ? "DNS" : "DNS over TCP", f == 0 ? "IPv4" : "IPv6");
		}
}

void rulesconf_policy_print_scope(const struct rulesconf_policy *p, FILE *out)
{
	char line[SGPOLICY_LINE_MAX];

	if (!p)
		return;
	for (size_t i = 0; i < p->mirror->n_out_of_scope; i++)
		fprintf(out, "# out of scope: %s\n",
			sgpolicy_entry_format(&p->policy->entries[p->mirror->out_of_scope[i]], line,
					      sizeof(line)));
}

/* A name nft could not quote (the kernel allows '"' and '\\' in names)
 * stays out of the set: refused, the safe side. */
static bool quotable(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\' || *p == '*')
			return false;
	return true;
}

int rulesconf_set_internal(const struct config *c, const struct listeners_iftable *t,
			   struct ruleset *rs, char *errbuf, size_t errlen)
{
	static const enum links_select_mode modes[] = {
		[CONFIG_INTERNAL_AUTO] = LINKS_SELECT_AUTO,
		[CONFIG_INTERNAL_NONE] = LINKS_SELECT_NONE,
		[CONFIG_INTERNAL_LIST] = LINKS_SELECT_LIST,
	};
	struct links_name *v = NULL;
	const char **names = NULL;
	size_t n = 0, k = 0;
	int r;

	r = links_select(t, modes[c->internal_mode], (const char *const *)c->internal_interfaces,
			 c->n_internal_interfaces, &v, &n);
	if (r == 0 && !(names = calloc(n + 1, sizeof(*names))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (quotable(v[i].name))
			names[k++] = v[i].name;
	if (r == 0)
		r = ruleset_set_internal(rs, names, k, errbuf, errlen);
	else
		snprintf(errbuf, errlen, "out of memory");
	free(names);
	free(v);
	return r;
}
