/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A policy export is a file someone copied from a cloud console or wrote by
 * hand, in any of four providers' shapes: the parser must survive any
 * bytes, keep every text it returns printable (valid UTF-8 without control
 * characters), and whatever it accepts must mirror into a table the ruleset
 * module (and so the kernel) takes. Each input is read as detected and
 * forced to every provider. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"
#include "sgpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Printable: ASCII without controls, or complete UTF-8 sequences. */
static void check_printable(const char *what, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;

		if (n == 0 || *p < 0x20 || *p == 0x7f)
			goto bad;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				goto bad;
		if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			goto bad;               /* C1 controls */
		p += n;
	}
	return;
bad:
	fprintf(stderr, "byte 0x%02x in %s: %s\n", *p, what, s);
	abort();
}

static void check_texts(const struct sgpolicy *p, const struct sgpolicy_mirror *m)
{
	char line[SGPOLICY_LINE_MAX];

	for (size_t i = 0; i < p->n_entries; i++)
		check_printable("entry", sgpolicy_entry_format(&p->entries[i], line, sizeof(line)));
	for (size_t i = 0; i < p->n_entries; i++)
		if (p->entries[i].n_sources == 0 || p->entries[i].n_sources > 2)
			abort();
	for (size_t i = 0; i < p->n_warnings; i++)
		check_printable("warning", sgpolicy_warning_format(&p->warnings[i], line, sizeof(line)));
	for (size_t i = 0; i < m->n_rules; i++) {
		if (strlen(m->rules[i].comment) > RULESET_COMMENT_MAX || strchr(m->rules[i].comment, '"'))
			abort();
		check_printable("comment", m->rules[i].comment);
	}
}

/* A finding names an entry that accepts UDP:53 from a /0 of its family. */
static void check_findings(const struct sgpolicy *p, const struct sgpolicy_mirror *m)
{
	for (int f = 0; f < 2; f++) {
		const struct sgpolicy_entry *e;
		bool wide = false;

		if (m->public_dns[f] == SGPOLICY_NONE)
			continue;
		if (m->public_dns[f] >= p->n_entries)
			abort();
		e = &p->entries[m->public_dns[f]];
		for (size_t s = 0; s < e->n_sources; s++)
			wide |= e->sources[s].prefix == 0 && (e->sources[s].family == AF_INET) == (f == 0);
		if (!wide || e->action != SGPOLICY_ACCEPT || !e->port_dns)
			abort();
	}
	for (int f = 0; f < 2; f++)
		if (m->public_dns_tcp[f] != SGPOLICY_NONE &&
		    (m->public_dns_tcp[f] >= p->n_entries || p->entries[m->public_dns_tcp[f]].action != SGPOLICY_ACCEPT))
			abort();
}

static void mirror_and_build(const struct sgpolicy *p, unsigned protos)
{
	struct sgpolicy_mirror *m = NULL;
	struct ruleset_params params = { .tcp = (protos & RULESET_PROTO_TCP) != 0 };
	struct ruleset *rs = NULL;
	char err[256] = "";
	FILE *out;

	if (sgpolicy_mirror_new(p, protos, &m) < 0)
		return;
	check_texts(p, m);
	check_findings(p, m);
	params.rules = m->rules;
	params.n_rules = m->n_rules;
	if (ruleset_new(&params, &rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "a parsed policy did not build: %s\n", err);
		abort();
	}
	out = fopen("/dev/null", "w");
	if (out) {
		ruleset_format_nft(rs, out);
		fclose(out);
	}
	ruleset_free(rs);
	sgpolicy_mirror_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgpolicy *p = NULL, *q = NULL;
	char err[512] = "";
	int r;

	for (unsigned f = SGPOLICY_FORMAT_TENCENT; f < _SGPOLICY_FORMAT_MAX; f++) {
		r = sgpolicy_parse_format(data, size, (enum sgpolicy_format)f, &q, err, sizeof(err));
		if (r < 0) {
			check_printable("error", err);
			continue;
		}
		mirror_and_build(q, RULESET_PROTO_UDP);
		sgpolicy_free(q);
		q = NULL;
	}
	if (sgpolicy_parse(data, size, &p, err, sizeof(err)) < 0) {
		check_printable("error", err);
		return 0;
	}
	/* What was detected as one provider reads the same when forced to it. */
	if (p->format != SGPOLICY_FORMAT_AUTO) {
		if (sgpolicy_parse_format(data, size, p->format, &q, err, sizeof(err)) < 0 ||
		    q->n_entries != p->n_entries || q->n_groups != p->n_groups)
			abort();
		sgpolicy_free(q);
	}
	mirror_and_build(p, RULESET_PROTO_UDP);
	mirror_and_build(p, RULESET_PROTO_UDP | RULESET_PROTO_TCP);
	sgpolicy_free(p);
	return 0;
}
