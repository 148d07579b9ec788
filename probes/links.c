/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "links.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Room for a burst of events (a container runtime creating many veths)
 * before the kernel drops some and reports ENOBUFS. */
#define EVENT_RCVBUF (1 << 20)
#define EVENT_BUF_SIZE 16384

/* ifindex -> internal, open addressing; ifindex 0 marks an empty slot
 * (the kernel never gives it out). */
struct slot {
	uint32_t ifindex;
	bool internal;
};

struct addr6 {
	uint8_t a[16];
};

struct links {
	struct mnl_socket *ev;          /* subscribed to link and address events; NULL: static table */
	bool dirty;                     /* the table may be stale: dump at the next process */
	struct listeners_iftable t;
	/* Which interfaces count as internal (links_configure); auto at first. */
	enum links_select_mode mode;
	char (*patterns)[IF_NAMESIZE];
	size_t n_patterns;
	/* Derived from t after each dump, for per-packet lookups. */
	struct slot *slots;
	size_t slot_mask;               /* slots has slot_mask + 1 entries, a power of two */
	uint32_t *local4;               /* sorted, network order */
	size_t n_local4;
	struct addr6 *local6;           /* sorted */
	size_t n_local6;
	/* What a change is judged by: the internal interfaces (ifindex, name). */
	struct links_name *internal;
	size_t n_internal;
};

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int addr6_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct addr6));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct links_name *)a)->name, ((const struct links_name *)b)->name);
}

static size_t hash_ifindex(uint32_t ifindex)
{
	return (size_t)(ifindex * 2654435761u);
}

/* Names nft could not quote (the kernel allows '"' and '\\' in names)
 * never count as internal: the kernel set cannot hold them, so such an
 * interface is refused, and the lookups must say the same. */
static bool quotable(const char *name)
{
	if (!name[0])
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\' || *p == '*')
			return false;
	return true;
}

static bool selected(const struct listeners_iftable *t, const struct listeners_iface *f,
		     enum links_select_mode mode, const char *const *patterns, size_t n_patterns)
{
	if (f->loopback || !quotable(f->name))
		return false;
	switch (mode) {
	case LINKS_SELECT_AUTO:
		return listeners_iface_virtual(t, f);
	case LINKS_SELECT_LIST:
		for (size_t k = 0; k < n_patterns; k++)
			if (links_name_matches(patterns[k], f->name))
				return true;
		return false;
	case LINKS_SELECT_NONE:
		break;
	}
	return false;
}

/* The lookup structures for t: all allocated before any is replaced, so a
 * failure leaves the previous ones whole. */
struct derived {
	struct slot *slots;
	size_t slot_mask;
	uint32_t *local4;
	size_t n_local4;
	struct addr6 *local6;
	size_t n_local6;
	struct links_name *internal;
	size_t n_internal;
};

static void derived_free(struct derived *d)
{
	free(d->slots);
	free(d->local4);
	free(d->local6);
	free(d->internal);
}

static int derive(const struct links *l, const struct listeners_iftable *t, struct derived *d)
{
	const char **pat = calloc(l->n_patterns + 1, sizeof(*pat));
	size_t cap = 16, n4 = 0, n6 = 0;

	if (!pat)
		return -ENOMEM;
	for (size_t i = 0; i < l->n_patterns; i++)
		pat[i] = l->patterns[i];

	memset(d, 0, sizeof(*d));
	while (cap < 2 * t->n_ifaces)
		cap *= 2;
	d->slots = calloc(cap, sizeof(*d->slots));
	d->slot_mask = cap - 1;
	d->local4 = calloc(t->n_addrs + 1, sizeof(*d->local4));
	d->local6 = calloc(t->n_addrs + 1, sizeof(*d->local6));
	d->internal = calloc(t->n_ifaces + 1, sizeof(*d->internal));
	if (!d->slots || !d->local4 || !d->local6 || !d->internal) {
		derived_free(d);
		free(pat);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_ifaces; i++) {
		const struct listeners_iface *f = &t->ifaces[i];
		bool internal = selected(t, f, l->mode, pat, l->n_patterns);
		size_t h = hash_ifindex(f->ifindex) & d->slot_mask;

		if (f->ifindex == 0)
			continue;
		while (d->slots[h].ifindex && d->slots[h].ifindex != f->ifindex)
			h = (h + 1) & d->slot_mask;
		d->slots[h] = (struct slot){ .ifindex = f->ifindex, .internal = internal };
		if (internal) {
			d->internal[d->n_internal].ifindex = f->ifindex;
			memcpy(d->internal[d->n_internal].name, f->name, sizeof(f->name));
			d->n_internal++;
		}
	}
	for (size_t i = 0; i < t->n_addrs; i++) {
		if (t->addrs[i].family == AF_INET)
			memcpy(&d->local4[n4++], t->addrs[i].addr, 4);
		else if (t->addrs[i].family == AF_INET6)
			memcpy(d->local6[n6++].a, t->addrs[i].addr, 16);
	}
	qsort(d->local4, n4, sizeof(*d->local4), u32_cmp);
	qsort(d->local6, n6, sizeof(*d->local6), addr6_cmp);
	qsort(d->internal, d->n_internal, sizeof(*d->internal), name_cmp);
	d->n_local4 = n4;
	d->n_local6 = n6;
	free(pat);
	return 0;
}

static bool derived_differs(const struct links *l, const struct derived *d)
{
	return l->n_internal != d->n_internal || l->n_local4 != d->n_local4 ||
	       l->n_local6 != d->n_local6 ||
	       (d->n_internal && memcmp(l->internal, d->internal, d->n_internal * sizeof(*d->internal))) ||
	       (d->n_local4 && memcmp(l->local4, d->local4, d->n_local4 * sizeof(*d->local4))) ||
	       (d->n_local6 && memcmp(l->local6, d->local6, d->n_local6 * sizeof(*d->local6)));
}

/* Takes t (and d) over; the previous table and lookups are freed. */
static void install(struct links *l, struct listeners_iftable *t, struct derived *d)
{
	listeners_iftable_clear(&l->t);
	l->t = *t;
	*t = (struct listeners_iftable){ 0 };
	free(l->slots);
	free(l->local4);
	free(l->local6);
	free(l->internal);
	l->slots = d->slots;
	l->slot_mask = d->slot_mask;
	l->local4 = d->local4;
	l->n_local4 = d->n_local4;
	l->local6 = d->local6;
	l->n_local6 = d->n_local6;
	l->internal = d->internal;
	l->n_internal = d->n_internal;
}

/* Takes the table over whether or not it succeeds. */
static int load(struct links *l, struct listeners_iftable *t, bool *ret_changed)
{
	struct derived d;
	int r = derive(l, t, &d);

	if (r < 0) {
		listeners_iftable_clear(t);
		return r;
	}
	if (ret_changed)
		*ret_changed = derived_differs(l, &d);
	install(l, t, &d);
	return 0;
}

static int redump(struct links *l, bool *ret_changed)
{
	struct listeners_iftable t = { 0 };
	int r = listeners_iftable_dump(&t);

	if (r < 0) {
		listeners_iftable_clear(&t);
		l->dirty = true;
		return r;
	}
	r = load(l, &t, ret_changed);
	l->dirty = r < 0;
	return r;
}

int links_new_from_table(const struct listeners_iftable *t, struct links **ret)
{
	struct listeners_iftable copy = { 0 };
	struct links *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	copy.ifaces = calloc(t->n_ifaces + 1, sizeof(*copy.ifaces));
	copy.addrs = calloc(t->n_addrs + 1, sizeof(*copy.addrs));
	if (!copy.ifaces || !copy.addrs) {
		listeners_iftable_clear(&copy);
		free(l);
		return -ENOMEM;
	}
	if (t->n_ifaces)
		memcpy(copy.ifaces, t->ifaces, t->n_ifaces * sizeof(*copy.ifaces));
	if (t->n_addrs)
		memcpy(copy.addrs, t->addrs, t->n_addrs * sizeof(*copy.addrs));
	copy.n_ifaces = t->n_ifaces;
	copy.n_addrs = t->n_addrs;
	r = load(l, &copy, NULL);
	if (r < 0) {
		links_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

int links_open(struct links **ret)
{
	struct links *l = calloc(1, sizeof(*l));
	int size = EVENT_RCVBUF, r;

	if (!l)
		return -ENOMEM;
	/* Subscribe before the dump: a change made during it is then queued
	 * as an event rather than lost between the two. */
	l->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!l->ev) {
		r = -errno;
		goto fail;
	}
	if (mnl_socket_bind(l->ev, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
			    MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	/* Best effort: FORCE needs CAP_NET_ADMIN, and a smaller buffer only
	 * means an earlier ENOBUFS and a full dump. */
	if (setsockopt(mnl_socket_get_fd(l->ev), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(mnl_socket_get_fd(l->ev), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	r = redump(l, NULL);
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	links_free(l);
	return r;
}

void links_free(struct links *l)
{
	if (!l)
		return;
	if (l->ev)
		mnl_socket_close(l->ev);
	listeners_iftable_clear(&l->t);
	free(l->slots);
	free(l->local4);
	free(l->local6);
	free(l->internal);
	free(l->patterns);
	free(l);
}

int links_configure(struct links *l, enum links_select_mode mode, const char *const *patterns,
		    size_t n_patterns, bool *ret_changed)
{
	char (*p)[IF_NAMESIZE] = NULL, (*old)[IF_NAMESIZE] = l->patterns;
	enum links_select_mode old_mode = l->mode;
	size_t old_n = l->n_patterns;
	struct derived d;
	int r;

	if (mode != LINKS_SELECT_LIST)
		n_patterns = 0;
	if (n_patterns && !(p = calloc(n_patterns, sizeof(*p))))
		return -ENOMEM;
	for (size_t i = 0; i < n_patterns; i++)
		snprintf(p[i], sizeof(p[i]), "%s", patterns[i]);
	l->mode = mode;
	l->patterns = p;
	l->n_patterns = n_patterns;
	r = derive(l, &l->t, &d);
	if (r < 0) {
		l->mode = old_mode;
		l->patterns = old;
		l->n_patterns = old_n;
		free(p);
		return r;
	}
	free(old);
	if (ret_changed)
		*ret_changed = derived_differs(l, &d);
	/* The table stays; only the lookups are rebuilt. */
	free(l->slots);
	free(l->local4);
	free(l->local6);
	free(l->internal);
	l->slots = d.slots;
	l->slot_mask = d.slot_mask;
	l->local4 = d.local4;
	l->n_local4 = d.n_local4;
	l->local6 = d.local6;
	l->n_local6 = d.n_local6;
	l->internal = d.internal;
	l->n_internal = d.n_internal;
	return 0;
}

int links_fd(const struct links *l)
{
	return l && l->ev ? mnl_socket_get_fd(l->ev) : -1;
}

/* Events only say that something changed; the table is then read again in
 * full. One dump per batch of events keeps a single parser (the dump's)
 * and cannot drift from the kernel's view the way folding deltas in could
 * (renames, ifindex reuse, a bridge's ports changing its class). */
int links_process(struct links *l, bool *ret_changed)
{
	char buf[EVENT_BUF_SIZE];
	bool pending = l->dirty, changed = false;
	ssize_t n;
	int r;

	*ret_changed = false;
	while (l->ev) {
		n = recv(mnl_socket_get_fd(l->ev), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == ENOBUFS) {
			pending = true;         /* events were lost: read everything again */
			continue;
		}
		if (n < 0)
			return -errno;
		if (n > 0)
			pending = true;
	}
	if (!pending || !l->ev)
		return 0;
	r = redump(l, &changed);
	if (r < 0)
		return r;
	*ret_changed = changed;
	return 0;
}

bool links_internal(const struct links *l, uint32_t ifindex)
{
	size_t h;

	if (!l || !l->slots || ifindex == 0)
		return false;
	for (h = hash_ifindex(ifindex) & l->slot_mask; l->slots[h].ifindex; h = (h + 1) & l->slot_mask)
		if (l->slots[h].ifindex == ifindex)
			return l->slots[h].internal;
	return false;   /* not known yet: outside */
}

bool links_local_addr(const struct links *l, int family, const uint8_t *addr)
{
	size_t lo = 0, hi;

	if (!l)
		return false;
	if (family == AF_INET) {
		uint32_t a;

		/* The whole of 127.0.0.0/8 is routed locally, not only 127.0.0.1. */
		if (addr[0] == 127)
			return true;
		memcpy(&a, addr, 4);
		hi = l->n_local4;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (l->local4[mid] == a)
				return true;
			if (l->local4[mid] < a)
				lo = mid + 1;
			else
				hi = mid;
		}
		return false;
	}
	if (family != AF_INET6)
		return false;
	hi = l->n_local6;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(l->local6[mid].a, addr, 16);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

const struct listeners_iftable *links_table(const struct links *l)
{
	return &l->t;
}

const struct links_name *links_internal_names(const struct links *l, size_t *ret_n)
{
	*ret_n = l->n_internal;
	return l->internal;
}

int links_select(const struct listeners_iftable *t, enum links_select_mode mode,
		 const char *const *patterns, size_t n_patterns, struct links_name **ret,
		 size_t *ret_n)
{
	struct links_name *v = calloc(t->n_ifaces + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; mode != LINKS_SELECT_NONE && i < t->n_ifaces; i++) {
		const struct listeners_iface *f = &t->ifaces[i];

		if (!selected(t, f, mode, patterns, n_patterns))
			continue;
		v[n].ifindex = f->ifindex;
		memcpy(v[n].name, f->name, sizeof(v[n].name));
		v[n].name[IF_NAMESIZE - 1] = '\0';
		n++;
	}
	qsort(v, n, sizeof(*v), name_cmp);
	/* Two interfaces never share a name at one moment, but a dump taken
	 * across a rename could show both: keep one. */
	if (n > 1) {
		size_t out = 1;

		for (size_t i = 1; i < n; i++)
			if (strcmp(v[i].name, v[out - 1].name) != 0)
				v[out++] = v[i];
		n = out;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

bool links_name_matches(const char *pattern, const char *name)
{
	size_t len = strnlen(pattern, IF_NAMESIZE);

	/* As nft matches iifname: "X*" is every name starting with X, anything
	 * else is the exact name. */
	if (len && pattern[len - 1] == '*')
		return strncmp(pattern, name, len - 1) == 0;
	return strncmp(pattern, name, IF_NAMESIZE) == 0;
}
