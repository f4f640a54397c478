/* SPDX-License-Identifier: ISC */
/*
 * check_image: may these container images be pulled?  The smallest useful
 * librampart program: it opens the policy DB that rampartd keeps (read-only,
 * no daemon, no privilege) and checks each image reference named on the
 * command line.  It trusts the DB at the path it is given and nothing else;
 * the references are untrusted input and are only ever handed to librampart.
 *
 *   usage: check_image DB REF...
 *   exit:  0 every REF allowed, 1 any denied, 2 any invalid (or usage),
 *          3 the DB exists but cannot be read as a policy store
 *
 * Build: make -C examples   (uses `pkg-config rampart`)
 */
#include <stdio.h>

#include <rampart/policy.h>

static int check_one(struct rampart_policy *h, const char *ref)
{
	struct rampart_decision d;

	if (rampart_policy_check(h, ref, &d) != 0) {
		/* d.code is "E_REF" (not an image reference) or "E_INVAL" */
		printf("invalid %s: %s (%s)\n", ref, d.reason, d.code);
		return 2;
	}
	printf("%s %s -> %s (rule: %s; policy v%lld%s): %s\n", d.allowed ? "allowed" : "denied ",
	       ref, d.normalized, d.rule[0] ? d.rule : "none", (long long)d.policy_version,
	       d.expired ? ", EXPIRED" : "", d.reason);
	return d.allowed ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct rampart_policy *h = NULL;
	struct rampart_policy_info info;
	char err[512];
	int worst = 0;

	if (argc < 3) {
		fprintf(stderr,
		        "usage: check_image DB REF...\n"
		        "  e.g. check_image /var/lib/rampart/policy.db ghcr.io/acme/app:1.2\n");
		return 2;
	}
	/* 0: deny when no policy is cached; reload when rampartd replaces the file */
	if (rampart_policy_open(argv[1], 0, &h, err, sizeof(err)) != 0) {
		fprintf(stderr, "check_image: cannot use %s: %s\n", argv[1], err);
		return 3;
	}
	if (rampart_policy_info(h, &info) == 0 && info.cached)
		printf("policy: org %s, version %lld, %zu registries%s\n", info.org,
		       (long long)info.version, info.n_registries, info.expired ? ", EXPIRED" : "");
	else
		printf("policy: none cached at %s (everything is denied)\n", argv[1]);
	for (int i = 2; i < argc; i++) {
		int r = check_one(h, argv[i]);
		if (r > worst)
			worst = r;
	}
	rampart_policy_close(h);
	return worst;
}
