/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A container runtime's files name containers; whoever starts a container
 * chooses the name, so the parser must survive any bytes and return either
 * nothing or one bounded, NUL-free name. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = NULL;
	int r = procmap_container_name_parse((const char *)data, size, ID, &name);

	if (r == 0) {
		size_t n = strlen(name);

		if (n == 0 || n > PROCMAP_CONTAINER_NAME_MAX) {
			fprintf(stderr, "bad name length %zu\n", n);
			abort();
		}
		free(name);
	} else if (r != -ENXIO && r != -ENOMEM) {
		fprintf(stderr, "unexpected return %d\n", r);
		abort();
	}
	return 0;
}
