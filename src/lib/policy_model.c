/* SPDX-License-Identifier: ISC */
/* Lifetime helpers for struct policy. */
#include <stdlib.h>
#include <string.h>

#include "policy_model.h"

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_registries; i++) {
		free(p->registries[i].host);
		free(p->registries[i].nickname);
		for (size_t c = 0; c < p->registries[i].n_companions; c++)
			free(p->registries[i].companions[c]);
		free(p->registries[i].companions);
	}
	free(p->registries);
	free(p->org);
	memset(p, 0, sizeof(*p));
}
