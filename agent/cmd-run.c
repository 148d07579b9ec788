/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"
#include "daemon.h"

int cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
	int r = cli_parse_simple(ctx, cli_find("run"), argc, argv, 0);

	return r >= 0 ? r : daemon_main(ctx->config_path);
}
