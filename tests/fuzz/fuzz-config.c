/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Configuration text is read from files an operator (or a package) wrote;
 * the parser must survive any bytes, keep its errors and warnings printable,
 * and the effective values it reports must read back as the same values.
 * Each allow and exempt entry must know a line of the file it came from. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "control byte 0x%02x in error line: %s\n", *p, s);
			abort();
		}
}

static bool is_list(enum config_key k)
{
	return k == CONFIG_RULES_ALLOW || k == CONFIG_RULES_EXEMPT_INTERFACES ||
	       k == CONFIG_CAPTURE_INTERFACES;
}

/* Writes "key=value" for every key; list items go one per continuation
 * line (",item") so no line outgrows the parser's limit. */
static void write_item_lines(FILE *f, const char *v)
{
	const char *p = v;

	while (*p) {
		size_t n = strcspn(p, ",");

		fprintf(f, "  ,%.*s\n", (int)n, p);
		p += n;
		p += strspn(p, ", ");
	}
}

static char *effective_text(const struct config *c)
{
	const char *section = "";
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	for (int k = 0; k < _CONFIG_KEY_MAX; k++) {
		char *v = config_value_string(c, (enum config_key)k);

		if (!v)
			abort();
		if (strcmp(section, config_key_section((enum config_key)k)) != 0) {
			section = config_key_section((enum config_key)k);
			fprintf(f, "[%s]\n", section);
		}
		if (is_list((enum config_key)k) && strcmp(v, "any") != 0) {
			fprintf(f, "%s=\n", config_key_name((enum config_key)k));
			write_item_lines(f, v);
		} else {
			fprintf(f, "%s=%s\n", config_key_name((enum config_key)k), v);
		}
		free(v);
	}
	if (fclose(f) != 0)
		abort();
	return text;
}

static void check_round_trip(const struct config *c)
{
	char *text = effective_text(c);
	struct config *again = config_new();
	struct config_error err;

	if (!again)
		abort();
	if (config_parse_text(again, "effective", text, strlen(text), &err) < 0) {
		fprintf(stderr, "effective configuration does not parse: line %u: %s\n%s", err.line,
			err.message, text);
		abort();
	}
	for (int k = 0; k < _CONFIG_KEY_MAX; k++) {
		char *a = config_value_string(c, (enum config_key)k);
		char *b = config_value_string(again, (enum config_key)k);

		if (!a || !b || strcmp(a, b) != 0) {
			fprintf(stderr, "%s reads back as \"%s\", not \"%s\"\n",
				config_key_name((enum config_key)k), b ? b : "?", a ? a : "?");
			abort();
		}
		free(a);
		free(b);
	}
	config_free(again);
	free(text);
}

static void check_warning(const struct config_warning *w, void *userdata)
{
	char *line = config_warning_string(w);
	unsigned *lines = userdata;

	if (!line)
		abort();
	check_printable(line);
	if (w->where.line == 0 || w->where.line > *lines) {
		fprintf(stderr, "warning names line %u of %u: %s\n", w->where.line, *lines, line);
		abort();
	}
	free(line);
}

static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = size && data[size - 1] != '\n';

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = config_new();
	struct config_error err;
	char *line;

	if (!c)
		return 0;
	if (config_parse_text(c, "fuzz.conf", (const char *)data, size, &err) < 0) {
		line = config_error_string(&err);
		if (line)
			check_printable(line);
		free(line);
	} else {
		unsigned lines = count_lines(data, size);

		if (config_validate(c, &err) < 0) {
			line = config_error_string(&err);
			if (line)
				check_printable(line);
			free(line);
		} else if (config_warnings(c, 0, check_warning, &lines) < 0) {
			abort();
		}
		check_round_trip(c);
	}
	config_free(c);
	return 0;
}
