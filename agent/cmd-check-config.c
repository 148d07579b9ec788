/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>

#include "cli.h"
#include "config.h"

int cmd_check_config(struct cli_ctx *ctx, int argc, char **argv)
{
	struct config *c;
	int r = cli_parse_simple(ctx, cli_find("check-config"), argc, argv, 0);

	if (r >= 0)
		return r;
	if (cli_load_config(ctx, &c) < 0)
		return EXIT_ERROR;
	config_dump(c, stdout);
	config_free(c);
	return EXIT_OK;
}
