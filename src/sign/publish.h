/* SPDX-License-Identifier: ISC */
/* rampart-sign publish (src/sign/publish.c). */
#ifndef RAMPART_PUBLISH_H
#define RAMPART_PUBLISH_H

/* argv[0] is "publish"; returns the exit status. */
int publish_main(int argc, char **argv);

#endif
