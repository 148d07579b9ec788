/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "scanmsg.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A string field: u16 length, then the bytes; this length means NULL. */
#define STR_NULL 0xffff

#define REQ_NAMESPACES 0x01
#define REQ_OWNERS 0x02
#define BEGIN_WALKED 0x01
#define BEGIN_OWNERS_DENIED 0x02
#define L_CGROUP 0x01
#define L_UNFILTERED 0x02

/* ------------------------------------------------------------ writer --- */

struct wbuf {
	uint8_t *p;
	size_t size, len;
	bool overflow;
};

static void w_bytes(struct wbuf *w, const void *v, size_t n)
{
	if (w->overflow || w->size - w->len < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

static void w_u8(struct wbuf *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, sizeof(b));
}

static void w_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, sizeof(b));
}

static void w_u64(struct wbuf *w, uint64_t v)
{
	w_u32(w, (uint32_t)(v >> 32));
	w_u32(w, (uint32_t)v);
}

/* A string longer than SCANMSG_STR_MAX is cut: a name, not a payload. */
static void w_str(struct wbuf *w, const char *s)
{
	size_t n;

	if (!s) {
		w_u16(w, STR_NULL);
		return;
	}
	n = strnlen(s, SCANMSG_STR_MAX);
	w_u16(w, (uint16_t)n);
	w_bytes(w, s, n);
}

static void w_header(struct wbuf *w, enum scanmsg_type type, uint32_t seq)
{
	w_u8(w, 'P');
	w_u8(w, '5');
	w_u8(w, SCANMSG_VERSION);
	w_u8(w, (uint8_t)type);
	w_u32(w, seq);
}

static ssize_t w_done(const struct wbuf *w)
{
	return w->overflow ? -EMSGSIZE : (ssize_t)w->len;
}

ssize_t scanmsg_put_request(uint8_t *buf, size_t size, uint32_t seq, const struct listeners_opts *o)
{
	struct wbuf w = { .p = buf, .size = size };

	w_header(&w, SCANMSG_REQUEST, seq);
	w_u16(&w, o->port);
	w_u8(&w, (o->namespaces ? REQ_NAMESPACES : 0) | (o->owners ? REQ_OWNERS : 0));
	return w_done(&w);
}

ssize_t scanmsg_put_error(uint8_t *buf, size_t size, uint32_t seq, int error)
{
	struct wbuf w = { .p = buf, .size = size };

	w_header(&w, SCANMSG_ERROR, seq);
	w_u32(&w, (uint32_t)(error < 0 ? -error : error));
	return w_done(&w);
}

static ssize_t put_begin(struct wbuf *w, const struct listener_set *s, uint32_t seq)
{
	w_header(w, SCANMSG_BEGIN, seq);
	w_u32(w, (uint32_t)s->n_netns);
	w_u32(w, (uint32_t)s->n);
	w_u64(w, s->self_netns);
	w_u64(w, s->netns_denied);
	w_u8(w, (s->namespaces_walked ? BEGIN_WALKED : 0) | (s->owners_denied ? BEGIN_OWNERS_DENIED : 0));
	return w_done(w);
}

static ssize_t put_netns(struct wbuf *w, const struct listener_netns *ns, uint32_t seq)
{
	w_header(w, SCANMSG_NETNS, seq);
	w_u64(w, ns->inode);
	w_u32(w, (uint32_t)(ns->error < 0 ? -ns->error : 0));
	w_u32(w, (uint32_t)ns->n_listeners);
	w_u8(w, ns->self);
	w_str(w, ns->name);
	return w_done(w);
}

static ssize_t put_listener(struct wbuf *w, const struct listener *l, uint32_t netns_index, uint32_t seq)
{
	const struct procmap_owner *o = &l->owner;

	w_header(w, SCANMSG_LISTENER, seq);
	w_u32(w, netns_index);
	w_u8(w, l->proto);
	w_u8(w, l->family);
	w_bytes(w, l->addr, sizeof(l->addr));
	w_u16(w, l->port);
	w_u64(w, l->inode);
	w_u32(w, l->uid);
	w_u32(w, l->ifindex);
	w_str(w, l->ifname);
	w_u8(w, (uint8_t)l->v6only);
	w_u8(w, (l->has_cgroup_id ? L_CGROUP : 0) | (l->unfiltered ? L_UNFILTERED : 0));
	w_u64(w, l->cgroup_id);
	w_u8(w, (uint8_t)l->exposure);
	w_str(w, l->via);
	w_u8(w, (uint8_t)o->status);
	w_u32(w, (uint32_t)o->pid);
	w_str(w, o->comm);
	w_str(w, o->exe);
	w_str(w, o->unit);
	w_str(w, o->user_unit);
	w_str(w, o->container);
	w_str(w, o->container_name);
	return w_done(w);
}

int scanmsg_send_set(const struct listener_set *s, uint32_t seq, scanmsg_send_fn send, void *userdata)
{
	uint8_t *buf;
	ssize_t n;
	int r = 0;

	if (s->n_netns > SCANMSG_MAX_NETNS || s->n > SCANMSG_MAX_LISTENERS)
		return -E2BIG;
	buf = malloc(SCANMSG_MAX);
	if (!buf)
		return -ENOMEM;
	n = put_begin(&(struct wbuf){ .p = buf, .size = SCANMSG_MAX }, s, seq);
	if (n >= 0)
		r = send(buf, (size_t)n, userdata);
	for (size_t i = 0; n >= 0 && r >= 0 && i < s->n_netns; i++) {
		n = put_netns(&(struct wbuf){ .p = buf, .size = SCANMSG_MAX }, &s->netns[i], seq);
		if (n >= 0)
			r = send(buf, (size_t)n, userdata);
	}
	for (size_t i = 0; n >= 0 && r >= 0 && i < s->n; i++) {
		const struct listener *l = &s->items[i];
		uint32_t idx = l->netns ? (uint32_t)(l->netns - s->netns) : 0;

		n = put_listener(&(struct wbuf){ .p = buf, .size = SCANMSG_MAX }, l, idx, seq);
		if (n >= 0)
			r = send(buf, (size_t)n, userdata);
	}
	free(buf);
	return n < 0 ? (int)n : r < 0 ? r : 0;
}

/* ------------------------------------------------------------ reader --- */

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static const uint8_t *r_bytes(struct rbuf *r, size_t n)
{
	const uint8_t *v;

	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	v = r->p + r->off;
	r->off += n;
	return v;
}

static uint8_t r_u8(struct rbuf *r)
{
	const uint8_t *b = r_bytes(r, 1);

	return b ? b[0] : 0;
}

static uint16_t r_u16(struct rbuf *r)
{
	const uint8_t *b = r_bytes(r, 2);

	return b ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

static uint32_t r_u32(struct rbuf *r)
{
	const uint8_t *b = r_bytes(r, 4);

	return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static uint64_t r_u64(struct rbuf *r)
{
	uint64_t hi = r_u32(r);

	return hi << 32 | r_u32(r);
}

/* A string of at most max bytes without NUL into *ret (NULL for the null
 * string); false when malformed or out of memory (*oom says which). */
static bool r_str(struct rbuf *r, size_t max, char **ret, bool *oom)
{
	uint16_t n = r_u16(r);
	const uint8_t *b;

	*ret = NULL;
	if (r->bad)
		return false;
	if (n == STR_NULL)
		return true;
	b = r_bytes(r, n);
	if (!b || n > max || memchr(b, '\0', n)) {
		r->bad = true;
		return false;
	}
	*ret = strndup((const char *)b, n);
	if (!*ret) {
		*oom = true;
		return false;
	}
	return true;
}

/* The same into a fixed buffer of size bytes; null reads as "". */
static bool r_strbuf(struct rbuf *r, char *buf, size_t size)
{
	uint16_t n = r_u16(r);
	const uint8_t *b;

	buf[0] = '\0';
	if (r->bad)
		return false;
	if (n == STR_NULL)
		return true;
	b = r_bytes(r, n);
	if (!b || n >= size || memchr(b, '\0', n)) {
		r->bad = true;
		return false;
	}
	memcpy(buf, b, n);
	buf[n] = '\0';
	return true;
}

static bool r_end(const struct rbuf *r)
{
	return !r->bad && r->off == r->len;
}

/* The header; *ret_type and *ret_seq are set when it returns 0. */
static int r_header(struct rbuf *r, uint8_t *ret_type, uint32_t *ret_seq)
{
	const uint8_t *h = r_bytes(r, 4);

	if (!h || h[0] != 'P' || h[1] != '5')
		return -EBADMSG;
	if (h[2] != SCANMSG_VERSION)
		return -EPROTONOSUPPORT;
	*ret_type = h[3];
	*ret_seq = r_u32(r);
	return r->bad ? -EBADMSG : 0;
}

int scanmsg_get_request(const uint8_t *buf, size_t len, uint32_t *ret_seq, struct listeners_opts *ret)
{
	struct rbuf r = { .p = buf, .len = len };
	struct listeners_opts o = { 0 };
	uint32_t seq;
	uint8_t type, flags;
	int e;

	e = r_header(&r, &type, &seq);
	if (e < 0)
		return e;
	if (type != SCANMSG_REQUEST)
		return -EBADMSG;
	o.port = r_u16(&r);
	flags = r_u8(&r);
	if (!r_end(&r) || (flags & ~(REQ_NAMESPACES | REQ_OWNERS)))
		return -EBADMSG;
	o.namespaces = flags & REQ_NAMESPACES;
	o.owners = flags & REQ_OWNERS;
	*ret_seq = seq;
	*ret = o;
	return 0;
}

enum reader_state { R_BEGIN, R_NETNS, R_LISTENERS, R_DONE, R_FAILED };

struct scanmsg_reader {
	uint32_t seq;
	enum reader_state state;
	struct listener_set *set;
	size_t want_netns, want_listeners, cap;
};

int scanmsg_reader_new(uint32_t seq, struct scanmsg_reader **ret)
{
	struct scanmsg_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->seq = seq;
	*ret = r;
	return 0;
}

void scanmsg_reader_free(struct scanmsg_reader *r)
{
	if (!r)
		return;
	listener_set_free(r->set);
	free(r);
}

/* Where the stream goes after netns or listeners arrived. */
static enum reader_state reader_next(const struct scanmsg_reader *r)
{
	if (r->set->n_netns < r->want_netns)
		return R_NETNS;
	return r->set->n < r->want_listeners ? R_LISTENERS : R_DONE;
}

static int feed_begin(struct scanmsg_reader *r, struct rbuf *b)
{
	struct listener_set *s;
	uint32_t n_netns = r_u32(b), n = r_u32(b);
	uint64_t self = r_u64(b), denied = r_u64(b);
	uint8_t flags = r_u8(b);

	if (!r_end(b) || n_netns == 0 || n_netns > SCANMSG_MAX_NETNS || n > SCANMSG_MAX_LISTENERS ||
	    denied > UINT32_MAX || (flags & ~(BEGIN_WALKED | BEGIN_OWNERS_DENIED)))
		return -EBADMSG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	/* Sized once: listeners point into it. */
	s->netns = calloc(n_netns, sizeof(*s->netns));
	if (!s->netns) {
		free(s);
		return -ENOMEM;
	}
	s->self_netns = self;
	s->netns_denied = (size_t)denied;
	s->namespaces_walked = flags & BEGIN_WALKED;
	s->owners_denied = flags & BEGIN_OWNERS_DENIED;
	r->set = s;
	r->want_netns = n_netns;
	r->want_listeners = n;
	return 0;
}

static int feed_netns(struct scanmsg_reader *r, struct rbuf *b)
{
	struct listener_netns ns = { 0 };
	uint32_t err;
	uint8_t self;
	bool oom = false;

	ns.inode = r_u64(b);
	err = r_u32(b);
	ns.n_listeners = r_u32(b);
	self = r_u8(b);
	ns.self = self;
	if (!r_str(b, 255, &ns.name, &oom) || !r_end(b) || err > 4095 ||
	    ns.n_listeners > r->want_listeners || self > 1) {
		free(ns.name);
		return oom ? -ENOMEM : -EBADMSG;
	}
	ns.error = -(int)err;
	r->set->netns[r->set->n_netns++] = ns;
	return 0;
}

static bool listener_valid(const struct listener *l)
{
	return (l->proto == IPPROTO_UDP || l->proto == IPPROTO_TCP) &&
	       (l->family == AF_INET || l->family == AF_INET6) &&
	       l->v6only >= -1 && l->v6only <= 1 &&
	       l->exposure <= LISTENER_PUBLIC && l->owner.status <= PROCMAP_FOUND;
}

/* The listener's fields in message order; false when malformed or oom. */
static bool read_listener(struct rbuf *b, struct listener *l, uint32_t *idx, bool *oom)
{
	struct procmap_owner *o = &l->owner;
	const uint8_t *addr;
	uint8_t flags;

	*idx = r_u32(b);
	l->proto = r_u8(b);
	l->family = r_u8(b);
	addr = r_bytes(b, sizeof(l->addr));
	if (addr)
		memcpy(l->addr, addr, sizeof(l->addr));
	l->port = r_u16(b);
	l->inode = r_u64(b);
	l->uid = r_u32(b);
	l->ifindex = r_u32(b);
	r_strbuf(b, l->ifname, sizeof(l->ifname));
	l->v6only = (int8_t)r_u8(b);
	flags = r_u8(b);
	l->has_cgroup_id = flags & L_CGROUP;
	l->unfiltered = flags & L_UNFILTERED;
	l->cgroup_id = r_u64(b);
	l->exposure = (enum listener_exposure)r_u8(b);
	r_strbuf(b, l->via, sizeof(l->via));
	o->status = (enum procmap_status)r_u8(b);
	o->pid = (pid_t)r_u32(b);
	return r_str(b, SCANMSG_STR_MAX, &o->comm, oom) && r_str(b, SCANMSG_STR_MAX, &o->exe, oom) &&
	       r_str(b, SCANMSG_STR_MAX, &o->unit, oom) && r_str(b, SCANMSG_STR_MAX, &o->user_unit, oom) &&
	       r_str(b, SCANMSG_STR_MAX, &o->container, oom) &&
	       r_str(b, PROCMAP_CONTAINER_NAME_MAX, &o->container_name, oom) &&
	       r_end(b) && !(flags & ~(L_CGROUP | L_UNFILTERED));
}

static int feed_listener(struct scanmsg_reader *r, struct rbuf *b)
{
	struct listener_set *s = r->set;
	struct listener l = { 0 };
	uint32_t idx;
	bool oom = false;

	if (!read_listener(b, &l, &idx, &oom) || idx >= s->n_netns || !listener_valid(&l)) {
		procmap_owner_clear(&l.owner);
		return oom ? -ENOMEM : -EBADMSG;
	}
	if (s->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		struct listener *v;

		if (ncap > r->want_listeners)
			ncap = r->want_listeners;
		v = reallocarray(s->items, ncap, sizeof(*v));
		if (!v) {
			procmap_owner_clear(&l.owner);
			return -ENOMEM;
		}
		s->items = v;
		r->cap = ncap;
	}
	l.netns = &s->netns[idx];
	s->items[s->n++] = l;
	return 0;
}

static int listener_qsort_cmp(const void *a, const void *b)
{
	return listener_cmp(a, b);
}

static int reader_feed(struct scanmsg_reader *r, const uint8_t *buf, size_t len)
{
	struct rbuf b = { .p = buf, .len = len };
	uint32_t seq, err;
	uint8_t type;
	int e;

	e = r_header(&b, &type, &seq);
	if (e < 0)
		return e;
	if (type == SCANMSG_ERROR && (seq == r->seq || seq == SCANMSG_SEQ_NOTICE)) {
		err = r_u32(&b);
		if (!r_end(&b) || err == 0 || err > 4095)
			return -EBADMSG;
		return seq == SCANMSG_SEQ_NOTICE ? -ECHILD : -(int)err;
	}
	/* What is left of an answer to a request given up on. */
	if (seq != r->seq && (type == SCANMSG_ERROR || type == SCANMSG_BEGIN ||
			      type == SCANMSG_NETNS || type == SCANMSG_LISTENER))
		return 0;
	if (type == SCANMSG_BEGIN && r->state == R_BEGIN)
		e = feed_begin(r, &b);
	else if (type == SCANMSG_NETNS && r->state == R_NETNS)
		e = feed_netns(r, &b);
	else if (type == SCANMSG_LISTENER && r->state == R_LISTENERS)
		e = feed_listener(r, &b);
	else
		return -EBADMSG;
	if (e < 0)
		return e;
	r->state = reader_next(r);
	if (r->state != R_DONE)
		return 0;
	/* The order is what listeners_diff() needs; the helper's is not trusted. */
	if (r->set->n > 1)
		qsort(r->set->items, r->set->n, sizeof(*r->set->items), listener_qsort_cmp);
	return 1;
}

int scanmsg_reader_feed(struct scanmsg_reader *r, const uint8_t *buf, size_t len)
{
	int e;

	if (r->state == R_DONE || r->state == R_FAILED)
		return -EINVAL;
	e = reader_feed(r, buf, len);
	if (e < 0)
		r->state = R_FAILED;
	return e;
}

int scanmsg_reader_take(struct scanmsg_reader *r, struct listener_set **ret)
{
	if (r->state != R_DONE)
		return -EINVAL;
	*ret = r->set;
	r->set = NULL;
	r->state = R_FAILED;
	return 0;
}
