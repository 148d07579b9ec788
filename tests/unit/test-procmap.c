/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "procmap.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* ---- the runtimes' files: hostile JSON ---- */

static void test_name_parse(void **state)
{
	static const struct {
		const char *text;
		int ret;
		const char *name;
	} cases[] = {
		/* docker config.v2.json */
		{ "{\"ID\":\"" ID "\",\"Name\":\"/web\"}", 0, "web" },
		{ "{\"Name\":\"plain\"}", 0, "plain" },
		{ "{\"Name\":\"/\"}", -ENXIO, NULL },
		{ "{\"Name\":\"\"}", -ENXIO, NULL },
		{ "{\"Name\":42}", -ENXIO, NULL },
		{ "{\"Name\":\"a\\u0000b\"}", -ENXIO, NULL },                /* NUL refused by the parser */
		{ "{\"Name\":\"/x\",\"Name\":\"/y\"}", -ENXIO, NULL },        /* duplicate keys */
		{ "{\"Name\":\"/esc\\u001b[2J\"}", 0, "esc\x1b[2J" },           /* raw: callers escape */
		/* OCI bundle config.json */
		{ "{\"annotations\":{\"io.kubernetes.cri.container-name\":\"coredns\"}}", 0, "coredns" },
		{ "{\"annotations\":{\"io.kubernetes.container.name\":\"dns\"}}", 0, "dns" },
		{ "{\"annotations\":[\"io.kubernetes.container.name\"]}", -ENXIO, NULL },
		/* containers/storage containers.json */
		{ "[{\"id\":\"" ID2 "\",\"names\":[\"other\"]},{\"id\":\"" ID "\",\"names\":[\"mine\",\"alias\"]}]", 0, "mine" },
		{ "[{\"id\":\"" ID2 "\",\"names\":[\"other\"]}]", -ENXIO, NULL },
		{ "[{\"id\":\"" ID "\",\"names\":[]}]", -ENXIO, NULL },
		{ "[{\"id\":\"" ID "\"}]", -ENXIO, NULL },
		{ "[1, \"x\", null]", -ENXIO, NULL },
		/* not JSON, truncated, empty */
		{ "", -ENXIO, NULL },
		{ "{\"Name\":\"/web\"", -ENXIO, NULL },
		{ "null", -ENXIO, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name = (char *)0x1;
		int r = procmap_container_name_parse(cases[i].text, strlen(cases[i].text), ID, &name);

		if (r != cases[i].ret)
			fail_msg("case %zu (%s): %d, expected %d", i, cases[i].text, r, cases[i].ret);
		if (r == 0) {
			assert_string_equal(name, cases[i].name);
			free(name);
		} else {
			assert_ptr_equal(name, (char *)0x1);   /* ret set only on success */
		}
	}
}

static void test_name_long(void **state)
{
	char text[1024], *name;
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "{\"Name\":\"/%0600d\"}", 7);
	assert_int_equal(procmap_container_name_parse(text, (size_t)n, ID, &name), 0);
	assert_int_equal(strlen(name), PROCMAP_CONTAINER_NAME_MAX);
	free(name);
}

/* ---- the lookup below a root ---- */

static void write_file(const char *root, const char *rel, const char *text)
{
	char path[4096], cmd[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_name_lookup(void **state)
{
	char root[] = "/tmp/p53-procmap-XXXXXX", cmd[128], *name = NULL;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_int_equal(procmap_container_name(root, ID, &name), -ENXIO);
	assert_int_equal(procmap_container_name(root, "../../etc", &name), -EINVAL);

	write_file(root, "var/lib/containers/storage/overlay-containers/containers.json",
		   "[{\"id\":\"" ID "\",\"names\":[\"podman-dns\"]}]");
	assert_int_equal(procmap_container_name(root, ID, &name), 0);
	assert_string_equal(name, "podman-dns");
	free(name);

	/* Docker's own file wins; a broken one falls through to the next. */
	write_file(root, "var/lib/docker/containers/" ID "/config.v2.json", "{\"Name\":");
	assert_int_equal(procmap_container_name(root, ID, &name), 0);
	assert_string_equal(name, "podman-dns");
	free(name);
	write_file(root, "var/lib/docker/containers/" ID "/config.v2.json", "{\"Name\":\"/docker-dns\"}");
	assert_int_equal(procmap_container_name(root, ID, &name), 0);
	assert_string_equal(name, "docker-dns");
	free(name);
	assert_int_equal(procmap_container_name(root, ID2, &name), -ENXIO);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_parse),
		cmocka_unit_test(test_name_long),
		cmocka_unit_test(test_name_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
