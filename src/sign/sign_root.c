/* SPDX-License-Identifier: ISC */
/* rampart-sign root: placeholder until the root role lands. */
#include <stdio.h>

#include "sign_root.h"

int sign_root_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "rampart-sign: root: not available\n");
	return 2;
}
