/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

struct config;
struct ruleset;

/* The desired table for a configuration: protocols, allowlist and exempt
 * interfaces mapped onto rules/ruleset. Shared by `apply` and the agent, so
 * both always install the same table. Returns 0 or a negative errno with a
 * reason in errbuf. */
int rulesconf_build(const struct config *c, struct ruleset **ret, char *errbuf, size_t errlen);
