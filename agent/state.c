/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* ---- SHA-256 ---- */

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void state_sha256_init(struct state_sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, iv, sizeof(iv));
	s->bytes = 0;
	s->n = 0;
}

void state_sha256_update(struct state_sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->bytes += len;
	while (len) {
		size_t take = 64 - s->n < len ? 64 - s->n : len;

		memcpy(s->buf + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		if (s->n == 64) {
			sha256_block(s->h, s->buf);
			s->n = 0;
		}
	}
}

void state_sha256_final(struct state_sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->bytes * 8;
	uint8_t pad = 0x80, zero = 0, len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	state_sha256_update(s, &pad, 1);
	while (s->n != 56)
		state_sha256_update(s, &zero, 1);
	state_sha256_update(s, len, 8);
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

static void hex(const uint8_t *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void state_sha256_hex(const void *data, size_t len, char out[STATE_SHA256_HEX])
{
	struct state_sha256 s;
	uint8_t d[32];

	state_sha256_init(&s);
	state_sha256_update(&s, data, len);
	state_sha256_final(&s, d);
	hex(d, 32, out);
}

void state_config_sha256(const struct config_sources *src, char out[STATE_SHA256_HEX])
{
	struct state_sha256 s;
	uint8_t d[32];

	state_sha256_init(&s);
	for (size_t i = 0; i < src->n; i++) {
		char one[STATE_SHA256_HEX];

		state_sha256_hex(src->v[i].text, src->v[i].len, one);
		state_sha256_update(&s, one, 64);
		state_sha256_update(&s, "  ", 2);
		state_sha256_update(&s, src->v[i].name, strlen(src->v[i].name));
		state_sha256_update(&s, "\n", 1);
	}
	state_sha256_final(&s, d);
	hex(d, 32, out);
}

/* ---- where ---- */

int state_ns_self(struct state_ns *ret)
{
	struct stat self, init;
	socklen_t sl = sizeof(ret->cookie);
	int fd;

	memset(ret, 0, sizeof(*ret));
	if (stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	ret->inode = (uint64_t)self.st_ino;
	/* PID 1's namespace is the one that is there again after a reboot. */
	if (stat("/proc/1/ns/net", &init) == 0 && init.st_ino == self.st_ino && init.st_dev == self.st_dev)
		snprintf(ret->key, sizeof(ret->key), "host");
	else
		snprintf(ret->key, sizeof(ret->key), "netns-%" PRIu64, ret->inode);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &ret->cookie, &sl) < 0)
			ret->cookie = 0;
		close(fd);
	}
	return 0;
}

const char *state_run_dir(void)
{
	const char *e = getenv(STATE_RUN_DIR_ENV);

	return e && e[0] == '/' ? e : STATE_RUN_DIR_DEFAULT;
}

char *state_fallback_status_file(void)
{
	const char *dir = state_run_dir();
	size_t len = strlen(dir) + sizeof("/status.json");
	char *path = malloc(len);

	if (path)
		snprintf(path, len, "%s/status.json", dir);
	return path;
}

int state_dir(char *buf, size_t len)
{
	const char *e = getenv(STATE_DIR_ENV);
	const char *d = e && e[0] == '/' ? e : STATE_DIR_DEFAULT;
	char real[PATH_MAX];

	/* The directory itself is the operator's (or systemd's, a symlink
	 * into /var/lib/private with DynamicUser=yes); only the files inside
	 * are never followed through a link. */
	if (!realpath(d, real)) {
		if (errno != ENOENT)
			return -errno;
		snprintf(real, sizeof(real), "%s", d);
	}
	if ((size_t)snprintf(buf, len, "%s", real) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int state_path(const struct state_ns *ns, const char *what, char *buf, size_t len)
{
	char dir[PATH_MAX];
	int r = state_dir(dir, sizeof(dir));

	if (r < 0)
		return r;
	if ((size_t)snprintf(buf, len, "%s/%s-%s.json", dir, what, ns->key) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- JSON helpers ---- */

static json_t *bytes_json(const char *name, const char *text, size_t len)
{
	char digest[STATE_SHA256_HEX];
	/* A file that is not UTF-8, or holds a NUL (which JSON readers
	 * refuse by default), is kept exactly, as hex. */
	json_t *o, *t = memchr(text, 0, len) ? NULL : json_stringn(text, len);

	state_sha256_hex(text, len, digest);
	if (t) {
		o = json_pack("{s:s, s:o, s:s}", "name", name, "text", t, "sha256", digest);
	} else {
		char *h = malloc(len * 2 + 1);

		if (!h)
			return NULL;
		hex((const uint8_t *)text, len, h);
		o = json_pack("{s:s, s:s, s:s}", "name", name, "hex", h, "sha256", digest);
		free(h);
	}
	return o;
}

static int unhex(const char *h, size_t hl, char **ret, size_t *ret_len)
{
	char *out;

	if (hl % 2)
		return -EINVAL;
	out = malloc(hl / 2 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < hl; i += 2) {
		int v = 0;

		for (size_t j = i; j < i + 2; j++) {
			char c = h[j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else {
				free(out);
				return -EINVAL;
			}
		}
		out[i / 2] = (char)v;
	}
	out[hl / 2] = '\0';
	*ret = out;
	*ret_len = hl / 2;
	return 0;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); r = -EINVAL; goto out; } while (0)

/* One {name, text|hex, sha256} object: name and bytes, hash checked. */
static int parse_bytes(json_t *o, const char *what, char **ret_name, char **ret_text, size_t *ret_len,
		       char *err, size_t errlen)
{
	json_t *name = json_object_get(o, "name"), *text = json_object_get(o, "text");
	json_t *hx = json_object_get(o, "hex"), *sum = json_object_get(o, "sha256");
	char digest[STATE_SHA256_HEX], *t = NULL, *n = NULL;
	size_t len = 0;
	int r = 0;

	if (!json_is_object(o) || !json_is_string(name) || !json_is_string(sum) ||
	    json_string_length(name) == 0 || json_string_length(name) >= PATH_MAX ||
	    strlen(json_string_value(name)) != json_string_length(name))
		FAIL("%s: expected {name, text or hex, sha256}", what);
	if (json_is_string(text) == json_is_string(hx))
		FAIL("%s: exactly one of text and hex", what);
	if (json_is_string(text)) {
		len = json_string_length(text);
		t = malloc(len + 1);
		if (!t)
			return -ENOMEM;
		memcpy(t, json_string_value(text), len);
		t[len] = '\0';
	} else if (unhex(json_string_value(hx), json_string_length(hx), &t, &len) < 0) {
		FAIL("%s: hex is not lowercase hex digits in pairs", what);
	}
	state_sha256_hex(t, len, digest);
	if (strcmp(digest, json_string_value(sum)) != 0)
		FAIL("%s: sha256 does not match the content", what);
	n = strdup(json_string_value(name));
	if (!n) {
		r = -ENOMEM;
		goto out;
	}
	*ret_name = n;
	*ret_text = t;
	*ret_len = len;
	return 0;
out:
	free(t);
	return r;
}

static int get_time(json_t *root, const char *key, time_t *ret)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT64_MAX / 2)
		return -EINVAL;
	*ret = (time_t)json_integer_value(v);
	return 0;
}

static int get_cookie(json_t *root, uint64_t *ret)
{
	json_t *v = json_object_get(root, "netns_cookie");

	if (!v) {
		*ret = 0;
		return 0;
	}
	/* Written as a decimal string: JSON numbers stop at 2^53 in many readers. */
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 20)
		return -EINVAL;
	for (const char *p = json_string_value(v); *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	errno = 0;
	*ret = strtoull(json_string_value(v), NULL, 10);
	return errno ? -EINVAL : 0;
}

static json_t *load_root(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *v;

	if (len > STATE_MAX_SIZE) {
		snprintf(err, errlen, "larger than %u bytes", STATE_MAX_SIZE);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "not JSON: line %d: %.80s", je.line, je.text);
		return NULL;
	}
	v = json_object_get(root, "version");
	if (!json_is_object(root) || !json_is_integer(v) || json_integer_value(v) != 1) {
		snprintf(err, errlen, "not a version 1 state object");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* ---- last known good ---- */

void state_lkg_free(struct state_lkg *l)
{
	if (!l)
		return;
	config_sources_free(&l->config);
	free(l->policy_name);
	free(l->policy_text);
	free(l);
}

int state_lkg_format(const struct state_lkg *l, char **ret, size_t *ret_len)
{
	char csum[STATE_SHA256_HEX], psum[STATE_SHA256_HEX] = "", cookie[24];
	json_t *root, *files = json_array(), *pol = json_null();
	int r = -ENOMEM;

	state_config_sha256(&l->config, csum);
	for (size_t i = 0; files && i < l->config.n; i++)
		if (json_array_append_new(files, bytes_json(l->config.v[i].name, l->config.v[i].text,
							    l->config.v[i].len)) < 0)
			goto fail;
	if (l->policy_name) {
		state_sha256_hex(l->policy_text, l->policy_len, psum);
		pol = bytes_json(l->policy_name, l->policy_text, l->policy_len);
		if (!pol)
			goto fail;
	}
	snprintf(cookie, sizeof(cookie), "%" PRIu64, l->netns_cookie);
	root = json_pack("{s:i, s:I, s:s, s:s, s:s, s:o, s:o}", "version", 1, "saved_at", (json_int_t)l->saved_at,
			 "netns_cookie", cookie, "config_sha256", csum, "policy_sha256", psum,
			 "config_files", files, "policy", pol);
	files = pol = NULL;
	if (!root)
		goto fail;
	*ret = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!*ret)
		return -ENOMEM;
	*ret_len = strlen(*ret);
	return 0;
fail:
	json_decref(files);
	json_decref(pol);
	return r;
}

static int lkg_from_json(json_t *root, struct state_lkg *l, char *err, size_t errlen)
{
	json_t *files = json_object_get(root, "config_files"), *pol = json_object_get(root, "policy");
	json_t *csum = json_object_get(root, "config_sha256"), *psum = json_object_get(root, "policy_sha256");
	char digest[STATE_SHA256_HEX];
	size_t i;
	json_t *f;
	int r = 0;

	if (get_time(root, "saved_at", &l->saved_at) < 0 || get_cookie(root, &l->netns_cookie) < 0)
		FAIL("saved_at or netns_cookie: not a time or a number");
	if (!json_is_array(files) || json_array_size(files) > STATE_MAX_FILES)
		FAIL("config_files: expected an array of at most %u files", STATE_MAX_FILES);
	l->config.v = calloc(json_array_size(files) + 1, sizeof(*l->config.v));
	if (!l->config.v)
		return -ENOMEM;
	json_array_foreach(files, i, f) {
		struct config_source *s = &l->config.v[l->config.n];
		char what[48];

		snprintf(what, sizeof(what), "config_files[%zu]", i);
		r = parse_bytes(f, what, &s->name, &s->text, &s->len, err, errlen);
		if (r < 0)
			goto out;
		l->config.n++;
	}
	state_config_sha256(&l->config, digest);
	if (!json_is_string(csum) || strcmp(json_string_value(csum), digest) != 0)
		FAIL("config_sha256 does not match the files");
	memcpy(l->config_sha256, digest, sizeof(digest));
	if (json_is_null(pol)) {
		if (!json_is_string(psum) || json_string_length(psum) != 0)
			FAIL("policy_sha256 without a policy");
		return 0;
	}
	r = parse_bytes(pol, "policy", &l->policy_name, &l->policy_text, &l->policy_len, err, errlen);
	if (r < 0)
		goto out;
	if (!json_is_string(psum) || strcmp(json_string_value(psum), json_string_value(json_object_get(pol, "sha256"))))
		FAIL("policy_sha256 does not match the policy");
	snprintf(l->policy_sha256, sizeof(l->policy_sha256), "%s", json_string_value(psum));
out:
	return r;
}

int state_lkg_parse(const char *text, size_t len, struct state_lkg **ret, char *err, size_t errlen)
{
	json_t *root = load_root(text, len, err, errlen);
	struct state_lkg *l;
	int r;

	if (!root)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l) {
		json_decref(root);
		return -ENOMEM;
	}
	r = lkg_from_json(root, l, err, errlen);
	json_decref(root);
	if (r < 0) {
		state_lkg_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

int state_lkg_save(const struct state_ns *ns, const struct state_lkg *l)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int r = state_path(ns, "lkg", path, sizeof(path));

	if (r == 0)
		r = state_lkg_format(l, &text, &len);
	if (r == 0)
		r = fileio_write_durable(path, text, len, 0600);
	free(text);
	return r;
}

static int read_state(const struct state_ns *ns, const char *what, char **text, size_t *len, char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	int r = state_path(ns, what, path, sizeof(path));

	if (r < 0) {
		snprintf(err, errlen, "state directory: %s", strerror(-r));
		return r;
	}
	r = fileio_read_input(path, STATE_MAX_SIZE, true, text, len);
	if (r < 0 && r != -ENOENT)
		snprintf(err, errlen, "%s: %s", path, fileio_strerror(r));
	return r;
}

/* A namespace that had this inode before and is gone left its state: not ours. */
static bool other_namespace(const struct state_ns *ns, uint64_t cookie)
{
	return strcmp(ns->key, "host") != 0 && cookie && ns->cookie && cookie != ns->cookie;
}

int state_lkg_load(const struct state_ns *ns, struct state_lkg **ret, char *err, size_t errlen)
{
	struct state_lkg *l = NULL;
	char *text = NULL, why[256] = "";
	size_t len = 0;
	int r = read_state(ns, "lkg", &text, &len, err, errlen);

	if (r < 0)
		return r;
	r = state_lkg_parse(text, len, &l, why, sizeof(why));
	free(text);
	if (r < 0) {
		snprintf(err, errlen, "lkg-%s.json: %s", ns->key, why[0] ? why : strerror(-r));
		return r;
	}
	if (other_namespace(ns, l->netns_cookie)) {
		state_lkg_free(l);
		return -ENOENT;
	}
	*ret = l;
	return 0;
}

/* ---- auto mode ---- */

int state_auto_format(const struct state_auto *a, char **ret, size_t *ret_len)
{
	char cookie[24];
	json_t *root;

	snprintf(cookie, sizeof(cookie), "%" PRIu64, a->netns_cookie);
	root = json_pack("{s:i, s:I, s:s, s:s, s:s}", "version", 1, "triggered_at", (json_int_t)a->triggered_at,
			 "netns_cookie", cookie, "reason", a->reason, "source", a->source);
	if (!root)
		return -EINVAL;
	*ret = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!*ret)
		return -ENOMEM;
	*ret_len = strlen(*ret);
	return 0;
}

static int copy_text(json_t *v, char *dst, size_t size)
{
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -EINVAL;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int state_auto_parse(const char *text, size_t len, struct state_auto *ret, char *err, size_t errlen)
{
	json_t *root = load_root(text, len, err, errlen);
	struct state_auto a = { 0 };
	int r = 0;

	if (!root)
		return -EINVAL;
	if (get_time(root, "triggered_at", &a.triggered_at) < 0 || get_cookie(root, &a.netns_cookie) < 0)
		FAIL("triggered_at or netns_cookie: not a time or a number");
	if (copy_text(json_object_get(root, "reason"), a.reason, sizeof(a.reason)) < 0 ||
	    copy_text(json_object_get(root, "source"), a.source, sizeof(a.source)) < 0)
		FAIL("reason and source: strings of at most %zu and %zu bytes", sizeof(a.reason) - 1,
		     sizeof(a.source) - 1);
	*ret = a;
out:
	json_decref(root);
	return r;
}

int state_auto_save(const struct state_ns *ns, const struct state_auto *a)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int r = state_path(ns, "auto", path, sizeof(path));

	if (r == 0)
		r = state_auto_format(a, &text, &len);
	if (r == 0)
		r = fileio_write_durable(path, text, len, 0600);
	free(text);
	return r;
}

int state_auto_load(const struct state_ns *ns, struct state_auto *ret, char *err, size_t errlen)
{
	struct state_auto a;
	char *text = NULL, why[256] = "";
	size_t len = 0;
	int r = read_state(ns, "auto", &text, &len, err, errlen);

	if (r < 0)
		return r;
	r = state_auto_parse(text, len, &a, why, sizeof(why));
	free(text);
	if (r < 0) {
		snprintf(err, errlen, "auto-%s.json: %s", ns->key, why[0] ? why : strerror(-r));
		return r;
	}
	if (other_namespace(ns, a.netns_cookie))
		return -ENOENT;
	*ret = a;
	return 0;
}

int state_auto_clear(const struct state_ns *ns)
{
	char path[PATH_MAX];
	int r = state_path(ns, "auto", path, sizeof(path));

	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- lock ---- */

static int open_run_dir(void)
{
	const char *dir = state_run_dir();
	struct stat st;
	int fd;

	if (mkdir(dir, 0755) == 0) {
		/* The umask may have narrowed it; readers of the status file
		 * beside the lock need to get in. */
		if (chmod(dir, 0755) < 0)
			return -errno;
	} else if (errno != EEXIST) {
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? -ELOOP : -errno;
	/* Anyone who may create files here could plant the lock first. */
	if (fstat(fd, &st) < 0 || (st.st_mode & 022) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static pid_t read_holder(int fd)
{
	char buf[24] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v <= INT32_MAX ? (pid_t)v : 0;
}

int state_lock(const struct state_ns *ns, int *ret_fd, pid_t *ret_holder)
{
	char name[64], pid[24];
	struct stat st;
	int dfd, fd, r;
	bool writable = true;

	*ret_holder = 0;
	snprintf(name, sizeof(name), "agent-%" PRIu64 ".lock", ns->inode);
	dfd = open_run_dir();
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0 && errno == EACCES) {
		/* Left by an agent that ran as root before this one ran under
		 * a systemd-allocated user: flock works on a read-only fd. */
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		writable = false;
	}
	close(dfd);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		*ret_holder = read_holder(fd);
		close(fd);
		return r;
	}
	if (writable) {
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

		/* The pid only names the holder in a second agent's error:
		 * failing to write it changes nothing else. */
		bool written = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n;

		(void)written;
	}
	*ret_fd = fd;
	return 0;
}
