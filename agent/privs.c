/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "privs.h"

#include <cap-ng.h>
#include <errno.h>
#include <string.h>

#include "log.h"

void privs_drop_unneeded(bool keep_sys_admin)
{
	bool bounding;
	int r;

	if (capng_get_caps_process() < 0 || !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN)) {
		log_debug("privileges_unchanged", LOG_STR("reason", "not privileged"));
		return;
	}
	/* Shrinking the bounding set needs CAP_SETPCAP, which a systemd unit
	 * with a tight CapabilityBoundingSet does not grant: the unit already
	 * bounds us there, so the effective and permitted sets are enough.
	 * Asking anyway would make libcap-ng complain on stderr. */
	bounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_BOTH);
	capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET, CAP_NET_ADMIN,
		      CAP_NET_RAW, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, -1);
	if (keep_sys_admin)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET, CAP_SYS_ADMIN);
	r = capng_apply(bounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
	if (r < 0) {
		log_warning("privileges_kept", LOG_STR("error", "cannot drop capabilities"), LOG_INT("code", r));
		return;
	}
	log_info("privileges_dropped", LOG_STR("kept", keep_sys_admin
		 ? "cap_net_admin,cap_net_raw,cap_sys_ptrace,cap_dac_read_search,cap_sys_admin"
		 : "cap_net_admin,cap_net_raw,cap_sys_ptrace,cap_dac_read_search"));
}

bool privs_have_net_admin(void)
{
	if (capng_get_caps_process() < 0)
		return false;
	return capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN);
}
