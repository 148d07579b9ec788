/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <jansson.h>
#include <pcap/pcap.h>
#include <stdio.h>

#include "build-config.h"
#include "cli.h"

int cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
	int r = cli_parse_simple(ctx, cli_find("version"), argc, argv, 0);

	if (r >= 0)
		return r;
	printf("port53guard %s\n", PORT53GUARD_VERSION);
	printf("%s, jansson %s\n", pcap_lib_version(), jansson_version_str());
	return EXIT_OK;
}
