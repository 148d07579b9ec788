/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdio.h>

struct config;
struct ruleset;
struct sgpolicy;
struct sgpolicy_mirror;

/* The desired table for a configuration: protocols, allowlist and exempt
 * interfaces mapped onto rules/ruleset. Shared by `apply` and the agent, so
 * both always install the same table. Returns 0 or a negative errno with a
 * reason in errbuf. */
int rulesconf_build(const struct config *c, struct ruleset **ret, char *errbuf, size_t errlen);

/* The cloud policy of [rules] policy_file, read and mirrored for the
 * configured protocols. */
struct rulesconf_policy {
	struct sgpolicy *policy;
	struct sgpolicy_mirror *mirror;
};

/* Reads and parses c->policy_file. *ret is NULL when no file is set. On
 * error returns a negative errno with "PATH: reason" in errbuf. */
int rulesconf_policy_load(const struct config *c, struct rulesconf_policy **ret, char *errbuf,
			  size_t errlen);
void rulesconf_policy_free(struct rulesconf_policy *p);

/* rulesconf_build(), and the policy it mirrored (NULL without one) for the
 * caller to report; the policy is read again on every call, so a reload
 * sees a changed file. *ret and *ret_policy are set only on success. */
int rulesconf_build_policy(const struct config *c, struct ruleset **ret,
			   struct rulesconf_policy **ret_policy, char *errbuf, size_t errlen);

/* For the agent: one event per skipped entry and ignored direction, the
 * policy_allows_public_dns finding, and a policy_loaded summary. */
void rulesconf_policy_log(const struct config *c, const struct rulesconf_policy *p);

/* For commands: the same warnings and finding, one line each, prefixed. */
void rulesconf_policy_print_warnings(const struct config *c, const struct rulesconf_policy *p,
				     FILE *out, const char *prefix);

/* For the dry run: one "# out of scope: ..." comment per entry that cannot
 * reach port 53, so the output still loads with "nft -f". */
void rulesconf_policy_print_scope(const struct rulesconf_policy *p, FILE *out);

struct listeners_iftable;

/* Fills rs's set "internal" from the interfaces in t as [rules]
 * internal_interfaces says (auto: those classified host-internal; none;
 * or the names listed). Returns 0 or a negative errno with a reason in
 * errbuf. */
int rulesconf_set_internal(const struct config *c, const struct listeners_iftable *t,
			   struct ruleset *rs, char *errbuf, size_t errlen);
