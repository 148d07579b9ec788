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

void rulesconf_policy_free(struct rulesconf_policy *p)
{
	if (!p)
		return;
	sgpolicy_mirror_free(p->mirror);
	sgpolicy_free(p->policy);
	free(p);
}

static unsigned refused_protos(const struct config *c)
{
	return RULESET_PROTO_UDP | (c->protocols & CONFIG_PROTO_TCP ? RULESET_PROTO_TCP : 0);
}

static int read_policy(const char *path, struct sgpolicy **ret, char *errbuf, size_t errlen)
{
	char why[400] = "";
	size_t len = 0;
	char *text = NULL;
	int r;

	/* One byte over the parser's limit, so an oversized file is named so. */
	r = fileio_read_small(path, SGPOLICY_MAX_SIZE + 1, &text, &len);
	if (r < 0) {
		snprintf(errbuf, errlen, "%s: cannot read: %s%s", path,
			 r == -EFBIG ? "larger than 8 MiB" : strerror(-r),
			 r == -ELOOP ? " (a symbolic link is not followed)" : "");
		return r;
	}
	r = sgpolicy_parse(text, len, ret, why, sizeof(why));
	free(text);
	if (r < 0)
		snprintf(errbuf, errlen, "%s: %s", path, why[0] ? why : strerror(-r));
	return r;
}

int rulesconf_policy_load(const struct config *c, struct rulesconf_policy **ret, char *errbuf,
			  size_t errlen)
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
	r = read_policy(c->policy_file, &p->policy, errbuf, errlen);
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

int rulesconf_build_policy(const struct config *c, struct ruleset **ret,
			   struct rulesconf_policy **ret_policy, char *errbuf, size_t errlen)
{
	struct ruleset_params params = {
		.tcp = (c->protocols & CONFIG_PROTO_TCP) != 0,
		.allow = c->allow,
		.n_allow = c->n_allow,
		.exempt = c->exempt_interfaces,
		.n_exempt = c->n_exempt_interfaces,
	};
	struct rulesconf_policy *pol = NULL;
	int r = rulesconf_policy_load(c, &pol, errbuf, errlen);

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
	if (w->kind == SGPOLICY_WARN_EGRESS) {
		log_warning("policy_egress_ignored", LOG_STR("file", path), LOG_UINT("entries", w->count),
			    LOG_STR("effect", sgpolicy_warning_effect(w)));
		return;
	}
	log_warning("policy_rule_skipped", LOG_STR("file", path), LOG_UINT("group", w->group),
		    LOG_UINT("entry", w->position), LOG_INT("policy_index", w->index),
		    LOG_STR("action", sgpolicy_action_name(w->action)),
		    LOG_STR("description", w->description), LOG_STR("refers_to", w->reference),
		    LOG_STR("effect", sgpolicy_warning_effect(w)));
}

static const char *const public_source[2] = { "0.0.0.0/0", "::/0" };

void rulesconf_policy_log(const struct config *c, const struct rulesconf_policy *p)
{
	const struct sgpolicy *sp;

	if (!p)
		return;
	sp = p->policy;
	log_info("policy_loaded", LOG_STR("file", c->policy_file), LOG_UINT("groups", sp->n_groups),
		 LOG_UINT("entries", sp->n_entries), LOG_UINT("rules", p->mirror->n_rules),
		 LOG_UINT("out_of_scope", p->mirror->n_out_of_scope), LOG_UINT("skipped", sp->n_skipped));
	for (size_t i = 0; i < sp->n_warnings; i++)
		log_warning_one(c->policy_file, &sp->warnings[i]);
	for (int f = 0; f < 2; f++) {
		const struct sgpolicy_entry *e;

		if (p->mirror->public_dns[f] == SGPOLICY_NONE)
			continue;
		e = &sp->entries[p->mirror->public_dns[f]];
		log_warning("policy_allows_public_dns", LOG_STR("file", c->policy_file),
			    LOG_STR("source", public_source[f]), LOG_UINT("group", e->group),
			    LOG_UINT("entry", e->position), LOG_INT("policy_index", e->index),
			    LOG_STR("description", e->description),
			    LOG_STR("effect", "UDP:53 is accepted from everybody here as in the cloud; "
				    "without a licensed DNS service the cloud rule should refuse it"));
	}
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
	for (int f = 0; f < 2; f++) {
		if (p->mirror->public_dns[f] == SGPOLICY_NONE)
			continue;
		fprintf(out, "%s%s: %s: DNS is answered for everybody on %s, here as in the cloud "
			"(policy_allows_public_dns)\n", prefix, c->policy_file,
			sgpolicy_entry_format(&p->policy->entries[p->mirror->public_dns[f]], line,
					      sizeof(line)), f == 0 ? "IPv4" : "IPv6");
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
