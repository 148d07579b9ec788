/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * What the per-provider importers (rules/sgpolicy-<provider>.c) share with
 * the common parser in rules/sgpolicy.c: the parser state, error lines, and
 * the helpers every export needs. Not part of the module's interface.
 */

#include <jansson.h>

#include "sgpolicy.h"

struct sgpolicy_parser {
	struct sgpolicy *p;
	size_t cap_entries;
	size_t cap_warnings;
	size_t n_read;                  /* ingress rules read, skipped ones too */
	size_t n_egress;
	char *errbuf;
	size_t errlen;
	/* Where the parser is, for error lines: provider, group and its id,
	 * position (0: not inside a rule), index and rule id once read. */
	struct sgpolicy_entry at;
	unsigned doc;                   /* 1-based document in a JSON array; 0: the file is one */
	/* Rank shared by all groups of a provider whose groups are pooled
	 * (Alibaba, AWS); 0: none yet. */
	unsigned pool_rank[_SGPOLICY_FORMAT_MAX];
};

/* One importer: detect says whether a document has its shape; parse reads
 * one document (one or more groups). */
struct sgpolicy_importer {
	enum sgpolicy_format format;
	const char *api;                /* "DescribeSecurityGroupPolicies" */
	const char *shape;              /* what detect looks for, for errors */
	bool (*detect)(json_t *doc);
	int (*parse)(struct sgpolicy_parser *ps, json_t *doc);
};

extern const struct sgpolicy_importer sgpolicy_tencent;
extern const struct sgpolicy_importer sgpolicy_alibaba;
extern const struct sgpolicy_importer sgpolicy_huawei;
extern const struct sgpolicy_importer sgpolicy_aws;

/* One error line: where (from ps->at), the field, its value (quoted,
 * escaped) and why. Returns -EINVAL so callers can return it at once. */
int sgp_fail(const struct sgpolicy_parser *ps, const char *field, const char *value, const char *why);

/* An optional string member: NULL when absent, null or empty. name is what
 * an error calls the field. */
int sgp_opt_string(const struct sgpolicy_parser *ps, json_t *obj, const char *key, const char *name,
		   const char **ret);
int sgp_req_string(const struct sgpolicy_parser *ps, json_t *obj, const char *key, const char **ret);
/* An optional array member: NULL when absent or null. */
int sgp_opt_array(const struct sgpolicy_parser *ps, json_t *obj, const char *key, const char *name,
		  json_t **ret);
/* A whole number in [min, max], written as a number or, when strings is
 * set, as a string of digits ("1"). *present says whether it was there. */
int sgp_integer(const struct sgpolicy_parser *ps, json_t *obj, const char *key, int64_t min,
		int64_t max, bool strings, int64_t *ret, bool *present);

/* Starts a group: counts it against SGPOLICY_MAX_GROUPS and sets ps->at. */
int sgp_begin_group(struct sgpolicy_parser *ps, enum sgpolicy_format f, const char *group_id,
		    bool pooled);
/* Starts a rule at 1-based position: counts it against SGPOLICY_MAX_ENTRIES. */
int sgp_begin_entry(struct sgpolicy_parser *ps, unsigned position, const char *list);
void sgp_end_entries(struct sgpolicy_parser *ps);
/* A fresh entry for the rule ps->at points at. */
void sgp_entry_init(const struct sgpolicy_parser *ps, struct sgpolicy_entry *e);
void sgp_set_index(struct sgpolicy_parser *ps, int64_t index);
void sgp_set_rule_id(struct sgpolicy_parser *ps, const char *id);

int sgp_add_entry(struct sgpolicy_parser *ps, const struct sgpolicy_entry *e);
/* The rule refers to something only the cloud can resolve (ref says what). */
int sgp_add_unresolved(struct sgpolicy_parser *ps, const struct sgpolicy_entry *e, const char *ref);
/* Appends "what id" to a reference list. */
void sgp_append_reference(char *buf, size_t len, const char *what, const char *id);

/* A field naming something only the cloud can resolve (another security
 * group, a prefix list, an address template): key inside holder (NULL: the
 * rule itself), called name in errors, listed as "what id". */
struct sgp_reference {
	const char *holder, *key, *name, *what;
};

/* Reads every reference of obj into buf ("" when none), or fails on a
 * holder that is not an object or a value that is not a string. */
int sgp_read_references(const struct sgpolicy_parser *ps, json_t *obj, const struct sgp_reference *refs,
			size_t n, char *buf, size_t len);

/* "53", "50-60", "53,80", "20-21, 53" ("ALL" when all is set): whether it
 * covers 53, or why it is not a port specification. */
const char *sgp_parse_ports(const char *s, bool all, bool *ret_dns);
/* Reads an address or prefix into e->sources; name is the field. */
int sgp_add_source(const struct sgpolicy_parser *ps, const char *name, const char *s,
		   struct sgpolicy_entry *e);
/* Protocol names shared by the exports: tcp, udp, icmp, icmpv6, gre (any
 * case) and IP protocol numbers 0 to 255. -EINVAL when neither. */
int sgp_protocol(const char *s, enum sgpolicy_proto *ret);
