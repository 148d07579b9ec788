/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"

/* ---- SHA-256: FIPS 180-4 examples and the NIST long message ---- */

static void test_sha256_vectors(void **state)
{
	static const struct {
		const char *in;
		const char *hex;
	} cases[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
		{ "The quick brown fox jumps over the lazy dog",
		  "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592" },
	};
	char out[STATE_SHA256_HEX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		state_sha256_hex(cases[i].in, strlen(cases[i].in), out);
		if (strcmp(out, cases[i].hex) != 0)
			fail_msg("sha256(\"%s\") = %s, expected %s", cases[i].in, out, cases[i].hex);
	}
}

static void test_sha256_million(void **state)
{
	struct state_sha256 s;
	uint8_t d[32];
	char a[1000];
	static const uint8_t expect[32] = {
		0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
		0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0,
	};

	(void)state;
	memset(a, 'a', sizeof(a));
	state_sha256_init(&s);
	for (int i = 0; i < 1000; i++)
		state_sha256_update(&s, a, sizeof(a));
	state_sha256_final(&s, d);
	assert_memory_equal(d, expect, 32);
}

/* Padding boundaries: any split of the input gives the one-shot digest. */
static void test_sha256_splits(void **state)
{
	static const size_t lengths[] = { 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129 };
	uint8_t buf[129];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
		size_t n = lengths[l];
		struct state_sha256 s;
		uint8_t one[32], parts[32];

		state_sha256_init(&s);
		state_sha256_update(&s, buf, n);
		state_sha256_final(&s, one);
		for (size_t cut = 0; cut <= n; cut++) {
			state_sha256_init(&s);
			state_sha256_update(&s, buf, cut);
			state_sha256_update(&s, buf + cut, n - cut);
			state_sha256_final(&s, parts);
			if (memcmp(one, parts, 32) != 0)
				fail_msg("length %zu split at %zu differs", n, cut);
		}
	}
}

/* ---- last known good ---- */

static struct state_lkg *make_lkg(const char *const *texts, const size_t *lens, size_t n, const char *policy,
				  size_t policy_len)
{
	struct state_lkg *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->saved_at = 1796150000;
	l->netns_cookie = 18446744073709551615ull;
	l->config.v = calloc(n + 1, sizeof(*l->config.v));
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "/etc/p/%zu.conf", i);
		l->config.v[i].name = strdup(name);
		l->config.v[i].text = malloc(lens[i] + 1);
		memcpy(l->config.v[i].text, texts[i], lens[i]);
		l->config.v[i].text[lens[i]] = '\0';
		l->config.v[i].len = lens[i];
	}
	l->config.n = n;
	if (policy) {
		l->policy_name = strdup("/etc/p/policy.json");
		l->policy_text = malloc(policy_len + 1);
		memcpy(l->policy_text, policy, policy_len);
		l->policy_len = policy_len;
	}
	return l;
}

static void roundtrip_one(const char *const *texts, const size_t *lens, size_t n, const char *policy,
			  size_t policy_len)
{
	struct state_lkg *l = make_lkg(texts, lens, n, policy, policy_len), *back = NULL;
	char *text = NULL, err[256] = "";
	size_t len = 0;

	assert_int_equal(state_lkg_format(l, &text, &len), 0);
	if (state_lkg_parse(text, len, &back, err, sizeof(err)) != 0)
		fail_msg("saved state does not parse back: %s\n%s", err, text);
	assert_int_equal(back->saved_at, l->saved_at);
	assert_true(back->netns_cookie == l->netns_cookie);
	assert_int_equal(back->config.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(back->config.v[i].name, l->config.v[i].name);
		assert_int_equal(back->config.v[i].len, lens[i]);
		assert_memory_equal(back->config.v[i].text, texts[i], lens[i]);
	}
	if (policy) {
		assert_non_null(back->policy_name);
		assert_int_equal(back->policy_len, policy_len);
		assert_memory_equal(back->policy_text, policy, policy_len);
		assert_int_equal(strlen(back->policy_sha256), 64);
	} else {
		assert_null(back->policy_name);
		assert_string_equal(back->policy_sha256, "");
	}
	assert_int_equal(strlen(back->config_sha256), 64);
	free(text);
	state_lkg_free(back);
	state_lkg_free(l);
}

static void test_lkg_roundtrip(void **state)
{
	static const char *const plain[] = { "[rules]\nallow = 192.0.2.0/24\n", "[agent]\nmode = auto\n" };
	static const size_t plain_len[] = { 29, 20 };
	/* Not UTF-8, and a NUL inside: kept byte for byte (as hex). */
	static const char *const odd[] = { "a\xff\xfe\x00z", "ab\0cd" };
	static const size_t odd_len[] = { 5, 5 };

	(void)state;
	roundtrip_one(plain, plain_len, 2, NULL, 0);
	roundtrip_one(plain, plain_len, 0, NULL, 0);
	roundtrip_one(plain, plain_len, 1, "{\"SecurityGroupPolicySet\":{}}", 29);
	roundtrip_one(odd, odd_len, 2, "\x80\x81", 2);
}

/* The configuration hash is what `sha256sum F... | sha256sum` prints. */
static void test_config_sha256(void **state)
{
	struct config_source v[1] = { { .name = "/tmp/p.conf", .text = "abc", .len = 3 } };
	struct config_sources src = { .v = v, .n = 1 };
	char out[STATE_SHA256_HEX], expect[STATE_SHA256_HEX];
	const char *line = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /tmp/p.conf\n";

	(void)state;
	state_config_sha256(&src, out);
	state_sha256_hex(line, strlen(line), expect);
	assert_string_equal(out, expect);
}

static void test_lkg_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"version\": 2}",
		"{\"version\": 1}",
		/* duplicate key */
		"{\"version\": 1, \"version\": 1, \"saved_at\": 1, \"config_files\": [], \"policy\": null, "
		"\"config_sha256\": \"x\", \"policy_sha256\": \"\"}",
		/* negative time */
		"{\"version\": 1, \"saved_at\": -1, \"config_files\": [], \"policy\": null, "
		"\"config_sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"policy_sha256\": \"\"}",
		/* wrong config hash */
		"{\"version\": 1, \"saved_at\": 1, \"config_files\": [], \"policy\": null, "
		"\"config_sha256\": \"00\", \"policy_sha256\": \"\"}",
		/* a file whose hash does not match its text */
		"{\"version\": 1, \"saved_at\": 1, \"config_files\": [{\"name\": \"/a\", \"text\": \"x\", "
		"\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}], \"policy\": null, "
		"\"config_sha256\": \"\", \"policy_sha256\": \"\"}",
		/* both text and hex */
		"{\"version\": 1, \"saved_at\": 1, \"config_files\": [{\"name\": \"/a\", \"text\": \"\", \"hex\": \"\", "
		"\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}], \"policy\": null, "
		"\"config_sha256\": \"\", \"policy_sha256\": \"\"}",
		/* odd hex */
		"{\"version\": 1, \"saved_at\": 1, \"config_files\": [{\"name\": \"/a\", \"hex\": \"abc\", "
		"\"sha256\": \"\"}], \"policy\": null, \"config_sha256\": \"\", \"policy_sha256\": \"\"}",
		/* a NUL in a name */
		"{\"version\": 1, \"saved_at\": 1, \"config_files\": [{\"name\": \"/a\\u0000b\", \"text\": \"\", "
		"\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}], \"policy\": null, "
		"\"config_sha256\": \"\", \"policy_sha256\": \"\"}",
		/* a cookie that is not a number */
		"{\"version\": 1, \"saved_at\": 1, \"netns_cookie\": \"12a\", \"config_files\": [], \"policy\": null, "
		"\"config_sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"policy_sha256\": \"\"}",
	};
	struct state_lkg *l;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";

		l = (struct state_lkg *)0x1;
		if (state_lkg_parse(bad[i], strlen(bad[i]), &l, err, sizeof(err)) != -EINVAL)
			fail_msg("case %zu parsed: %s", i, bad[i]);
		assert_ptr_equal(l, (struct state_lkg *)0x1);
		assert_true(err[0] != '\0');
	}
}

/* The smallest valid one: no file read, no policy (built-in defaults). */
static void test_lkg_parse_empty(void **state)
{
	const char *ok = "{\"version\": 1, \"saved_at\": 5, \"config_files\": [], \"policy\": null, "
			 "\"config_sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", "
			 "\"policy_sha256\": \"\"}";
	struct state_lkg *l = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(state_lkg_parse(ok, strlen(ok), &l, err, sizeof(err)), 0);
	assert_int_equal(l->saved_at, 5);
	assert_int_equal(l->config.n, 0);
	state_lkg_free(l);
}

/* ---- auto ---- */

static void test_auto_roundtrip_and_refusals(void **state)
{
	struct state_auto a = { .triggered_at = 1796150000, .netns_cookie = 7 }, back;
	char *text = NULL, err[256] = "", longer[400];
	size_t len = 0;

	(void)state;
	snprintf(a.reason, sizeof(a.reason), "public listener on port 53");
	snprintf(a.source, sizeof(a.source), "udp 0.0.0.0:53 pid 812 \"quoted\"");
	assert_int_equal(state_auto_format(&a, &text, &len), 0);
	assert_int_equal(state_auto_parse(text, len, &back, err, sizeof(err)), 0);
	assert_int_equal(back.triggered_at, a.triggered_at);
	assert_true(back.netns_cookie == 7);
	assert_string_equal(back.reason, a.reason);
	assert_string_equal(back.source, a.source);
	free(text);

	memset(longer, 'x', sizeof(longer));
	snprintf(longer, sizeof(longer), "{\"version\": 1, \"triggered_at\": 1, \"reason\": \"%0200d\", \"source\": \"s\"}", 0);
	assert_int_equal(state_auto_parse(longer, strlen(longer), &back, err, sizeof(err)), -EINVAL);
	text = "{\"version\": 1, \"triggered_at\": \"1\", \"reason\": \"r\", \"source\": \"s\"}";
	assert_int_equal(state_auto_parse(text, strlen(text), &back, err, sizeof(err)), -EINVAL);
	text = "{\"version\": 1, \"triggered_at\": 1, \"reason\": \"r\"}";
	assert_int_equal(state_auto_parse(text, strlen(text), &back, err, sizeof(err)), -EINVAL);
}

/* ---- files: through a directory of our own ---- */

static char tmpdir[] = "/tmp/test-state.XXXXXX";

static int setup_dir(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	setenv(STATE_DIR_ENV, tmpdir, 1);
	setenv(STATE_RUN_DIR_ENV, tmpdir, 1);
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_files(void **state)
{
	struct state_ns ns = { .key = "netns-1", .inode = 1, .cookie = 42 }, other = ns;
	struct state_auto a = { .triggered_at = 9, .netns_cookie = 42 }, back;
	char path[PATH_MAX], err[256];

	(void)state;
	snprintf(a.reason, sizeof(a.reason), "r");
	snprintf(a.source, sizeof(a.source), "s");
	assert_int_equal(state_auto_load(&ns, &back, err, sizeof(err)), -ENOENT);
	assert_int_equal(state_auto_save(&ns, &a), 0);
	snprintf(path, sizeof(path), "%s/auto-netns-1.json", tmpdir);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(state_auto_load(&ns, &back, err, sizeof(err)), 0);
	assert_string_equal(back.source, "s");
	/* Another namespace that got the same inode later: not its state. */
	other.cookie = 43;
	assert_int_equal(state_auto_load(&other, &back, err, sizeof(err)), -ENOENT);
	assert_int_equal(state_auto_clear(&ns), 0);
	assert_int_equal(state_auto_clear(&ns), 0);
	assert_int_equal(state_auto_load(&ns, &back, err, sizeof(err)), -ENOENT);

	/* A symlink or a FIFO planted there is refused, never followed or
	 * waited on. */
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(state_auto_load(&ns, &back, err, sizeof(err)), -ELOOP);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(state_auto_load(&ns, &back, err, sizeof(err)), -ESPIPE);
	unlink(path);
}

static void test_lock(void **state)
{
	struct state_ns ns = { .key = "netns-5", .inode = 5 };
	char path[PATH_MAX], buf[32] = "";
	pid_t holder = -1;
	int fd1 = -1, fd2 = -1, f;

	(void)state;
	assert_int_equal(state_lock(&ns, &fd1, &holder), 0);
	snprintf(path, sizeof(path), "%s/agent-5.lock", tmpdir);
	f = open(path, O_RDONLY);
	assert_true(f >= 0);
	assert_true(read(f, buf, sizeof(buf) - 1) > 0);
	close(f);
	assert_int_equal(atol(buf), (long)getpid());
	/* A second open file description cannot take it, and learns who has it. */
	assert_int_equal(state_lock(&ns, &fd2, &holder), -EBUSY);
	assert_int_equal(holder, getpid());
	close(fd1);
	assert_int_equal(state_lock(&ns, &fd2, &holder), 0);
	close(fd2);
	/* A run directory others may write to is refused. */
	assert_int_equal(chmod(tmpdir, 0777), 0);
	assert_int_equal(state_lock(&ns, &fd2, &holder), -EPERM);
	assert_int_equal(chmod(tmpdir, 0700), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million),
		cmocka_unit_test(test_sha256_splits),
		cmocka_unit_test(test_lkg_roundtrip),
		cmocka_unit_test(test_config_sha256),
		cmocka_unit_test(test_lkg_parse_refuses),
		cmocka_unit_test(test_lkg_parse_empty),
		cmocka_unit_test(test_auto_roundtrip_and_refusals),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_lock),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
