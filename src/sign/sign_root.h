/* SPDX-License-Identifier: ISC */
/* rampart-sign root: creating, checking and verifying root documents. */
#ifndef RAMPART_SIGN_ROOT_H
#define RAMPART_SIGN_ROOT_H

/* argv[0] is "root".  Returns the exit status (0, 1 failure, 2 usage). */
int sign_root_main(int argc, char **argv);

#endif
