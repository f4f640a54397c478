/* SPDX-License-Identifier: ISC */
/* Reviewing drafts before signing: policy check --payload, policy diff. */
#ifndef RAMPART_CMD_POLICY_DRAFT_H
#define RAMPART_CMD_POLICY_DRAFT_H

#include <jansson.h>

#include "cli.h"
#include "rampart/policy.h"

/* One decision as the CLI prints it with --json (rc: rampart_policy_check's). */
json_t *cli_decision_json(const struct rampart_decision *dc, int rc);

/* Exit 0 all allowed, 1 any denied, 2 any invalid (or an invalid payload). */
int cli_policy_check_payload(struct cli *cli, const char *file, char **refs, int n);

/* Exit 0 nothing changed, 1 a rule or a reference's decision changed, 2 bad input. */
int cli_policy_diff(struct cli *cli, const char *fa, const char *fb, char **refs, int nrefs);

#endif
