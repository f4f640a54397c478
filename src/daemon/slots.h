/* SPDX-License-Identifier: ISC */
/*
 * Connection slots by class and by the user a uid belongs to.  Decided at
 * accept from the kernel's peer credentials; see slots.c.
 */
#ifndef RAMPART_SLOTS_H
#define RAMPART_SLOTS_H

#include <stdbool.h>
#include <sys/types.h>

struct daemon;
struct conn;

/*
 * Fills c->slot_uid and c->slot_priv, then says whether c may take a slot:
 * 1 yes, 0 no (the caller answers E_BUSY and closes it).
 */
int slots_admit(struct daemon *d, struct conn *c);

/* The uid a connection from uid is charged to: the owner of a subordinate
 * range in limits.subid_file that holds uid, else uid itself. */
uid_t slots_bucket(struct daemon *d, uid_t uid);

/* Frees the subordinate-id table (at exit). */
void slots_fini(struct daemon *d);

#endif
