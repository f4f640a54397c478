/* SPDX-License-Identifier: ISC */
/* rampart-sign root: creating, checking, signing and verifying root documents. */
#ifndef RAMPART_SIGN_ROOT_H
#define RAMPART_SIGN_ROOT_H

#include <stddef.h>

#include "err.h"

/* argv[0] is "root".  Returns the exit status (0, 1 failure, 2 usage). */
int sign_root_main(int argc, char **argv);

/* Reads a whole file ("-" = stdin) of at most max bytes; *buf is NUL-terminated. */
int sign_read(const char *path, size_t max, char **buf, size_t *len, struct rp_err *err);

#endif
