/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "privs.h"

#include <cap-ng.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"

/* Shrinking the bounding set needs CAP_SETPCAP, which a systemd unit with a
 * tight CapabilityBoundingSet does not grant: there the unit already bounds
 * the service. Asking anyway would make libcap-ng complain on stderr. */
static int privs_apply(const int *caps, size_t n)
{
	bool bounding;

	if (capng_get_caps_process() < 0)
		return -ENODATA;
	bounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < n; i++)
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET, caps[i]) < 0)
			return -EINVAL;
	return capng_apply(bounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS) < 0 ? -EPERM : 0;
}

void privs_drop_unneeded(void)
{
	static const int agent_caps[] = { CAP_NET_ADMIN, CAP_NET_RAW };
	int r;

	if (capng_get_caps_process() < 0 || !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN)) {
		log_debug("privileges_unchanged", LOG_STR("reason", "not privileged"));
		return;
	}
	r = privs_apply(agent_caps, sizeof(agent_caps) / sizeof(agent_caps[0]));
	if (r < 0) {
		log_warning("privileges_kept", LOG_STR("error", "cannot drop capabilities"), LOG_INT("code", r));
		return;
	}
	log_info("privileges_dropped", LOG_STR("kept", "cap_net_admin,cap_net_raw"),
		 LOG_STR("scan_helper", "cap_sys_admin,cap_sys_ptrace,cap_dac_read_search"));
}

int privs_limit_helper(void)
{
	static const int helper_caps[] = { CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH };

	if (capng_get_caps_process() < 0)
		return -ENODATA;
	/* Started by hand as an ordinary user: nothing to give up. */
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE)
		return 0;
	return privs_apply(helper_caps, sizeof(helper_caps) / sizeof(helper_caps[0]));
}

bool privs_have_net_admin(void)
{
	if (capng_get_caps_process() < 0)
		return false;
	return capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN);
}
