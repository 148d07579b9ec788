/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "routes.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A host has few default routes; more than this is not worth naming. */
#define ROUTES_MAX 64

struct collect {
	uint32_t ifindex[ROUTES_MAX];
	size_t n;
};

static void add_ifindex(struct collect *c, uint32_t ifindex)
{
	if (ifindex == 0 || c->n >= ROUTES_MAX)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->ifindex[i] == ifindex)
			return;
	c->ifindex[c->n++] = ifindex;
}

static void add_multipath(struct collect *c, const struct nlattr *a)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(a);
	size_t left = mnl_attr_get_payload_len(a);

	while (left >= sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
		size_t step = RTNH_ALIGN(nh->rtnh_len);

		add_ifindex(c, (uint32_t)nh->rtnh_ifindex);
		if (step >= left)
			break;
		left -= step;
		nh = (const struct rtnexthop *)((const char *)nh + step);
	}
}

static int on_route(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct collect *c = data;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)))
		return MNL_CB_OK;
	if (rtm->rtm_dst_len != 0 || rtm->rtm_table == RT_TABLE_LOCAL || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			add_ifindex(c, mnl_attr_get_u32(a));
		else if (mnl_attr_get_type(a) == RTA_MULTIPATH)
			add_multipath(c, a);
	}
	return MNL_CB_OK;
}

static int dump(struct mnl_socket *nl, int family, struct collect *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	unsigned portid = mnl_socket_get_portid(nl);
	uint32_t seq = (uint32_t)time(NULL) ^ (uint32_t)family;
	ssize_t n;
	int r;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, on_route, c);
	} while (r > MNL_CB_STOP);
	return r < 0 ? -errno : 0;
}

void routes_free(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

int routes_default_ifaces(char ***ret, size_t *ret_n)
{
	struct collect c = { .n = 0 };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	char **names;
	size_t n = 0;
	int r;

	if (!nl)
		return -errno;
	r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	if (r == 0)
		r = dump(nl, AF_INET, &c);
	if (r == 0)
		r = dump(nl, AF_INET6, &c);
	mnl_socket_close(nl);
	if (r < 0)
		return r;
	names = calloc(c.n + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < c.n; i++) {
		char name[IF_NAMESIZE];

		/* A link that went away between the dump and now has no name. */
		if (!if_indextoname(c.ifindex[i], name))
			continue;
		names[n] = strdup(name);
		if (!names[n]) {
			routes_free(names);
			return -ENOMEM;
		}
		n++;
	}
	*ret = names;
	*ret_n = n;
	return 0;
}
