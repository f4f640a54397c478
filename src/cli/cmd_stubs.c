/* SPDX-License-Identifier: ISC */
/* Commands whose daemon side has not landed yet. */
#include <stdio.h>

#include "cli.h"

#define CSTUB(fn)                                                                         \
	int fn(struct cli *cli, int argc, char **argv)                                    \
	{                                                                                 \
		(void)argc;                                                               \
		return cli_usage_error(cli, "%s: not implemented yet", argv[0]);          \
	}
