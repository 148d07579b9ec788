/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "rulesconf.h"

#include "config.h"
#include "ruleset.h"

int rulesconf_build(const struct config *c, struct ruleset **ret, char *errbuf, size_t errlen)
{
	struct ruleset_params p = {
		.tcp = (c->protocols & CONFIG_PROTO_TCP) != 0,
		.allow = c->allow,
		.n_allow = c->n_allow,
		.exempt = c->exempt_interfaces,
		.n_exempt = c->n_exempt_interfaces,
	};

	return ruleset_new(&p, ret, errbuf, errlen);
}
