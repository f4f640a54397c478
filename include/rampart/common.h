/* SPDX-License-Identifier: ISC */
/* Shared definitions for the public librampart headers. */
#ifndef RAMPART_COMMON_H
#define RAMPART_COMMON_H

#define RAMPART_API __attribute__((visibility("default")))

#endif
