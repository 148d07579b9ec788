/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"

int cmd_apply(struct cli_ctx *ctx, int argc, char **argv)
{
	int r = cli_parse_simple(ctx, cli_find("apply"), argc, argv, 8);

	return r >= 0 ? r : cli_not_available("apply");
}

int cmd_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	int r = cli_parse_simple(ctx, cli_find("remove"), argc, argv, 0);

	return r >= 0 ? r : cli_not_available("remove");
}
