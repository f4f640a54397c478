/* SPDX-License-Identifier: ISC */
/*
 * Fuzzes rampart-authz's parsers of bytes that come from dockerd's clients:
 * the AuthZReq JSON with its URI, query, headers and base64 body through to
 * the decision, and the daemon.json editor.  Byte 0 picks the mode (bits 0-1),
 * block_load (bit 2) and the daemon.json editor (bit 3).  Checked: the answer
 * is one JSON object whose Allow matches the verdict, enforce mode never
 * allows what it would deny, off never refuses; daemon.json add then remove
 * gives back the input byte for byte.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "fuzz.h"

static void fuzz_authz_answer(const struct authz_verdict *v, enum authz_mode mode)
{
	char out[sizeof(v->msg) * 12 + 64];
	size_t n = authz_answer_json(v, out, sizeof(out));
	json_t *a = json_loadb(out, n, 0, NULL);

	if (a == NULL || !json_is_object(a) || !json_is_boolean(json_object_get(a, "Allow")) ||
	    json_is_true(json_object_get(a, "Allow")) != v->allow)
		fuzz_fail("authz", "answer is not {\"Allow\": <verdict>, ...}");
	json_decref(a);
	if (mode == AUTHZ_MODE_ENFORCE && v->would_deny && v->allow)
		fuzz_fail("authz", "enforce mode allowed a request it would deny");
	if (mode != AUTHZ_MODE_ENFORCE && !v->allow)
		fuzz_fail("authz", "off/warn mode refused a request");
}

static void fuzz_authz_daemonjson(const char *in, size_t n)
{
	struct rp_err err;
	char *added = NULL, *back = NULL;
	json_t *root = json_loadb(in, n, JSON_REJECT_DUPLICATES, NULL), *arr, *x;
	json_t *key = json_object_get(root, "authorization-plugins");
	/* no key, or a non-empty array without "rampart": remove must give the input back
	 * byte for byte (the array is edited in place).  An empty array comes back as no
	 * key, which is the same to dockerd (docs/install.md) */
	bool fresh = root != NULL && json_is_object(root) &&
	             (key == NULL || (json_is_array(key) && json_array_size(key) > 0));
	size_t i;

	arr = json_is_array(key) ? key : NULL;
	json_array_foreach (arr, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), "rampart") == 0)
			fresh = false;

	json_decref(root);
	if (authz_daemonjson_edit(in, n, true, &added, &err) < 0 || added == NULL)
		goto out;
	if (authz_daemonjson_edit(added, strlen(added), false, &back, &err) < 0 || back == NULL)
		fuzz_fail("authz", "daemon.json: cannot remove what was added");
	if (fresh && (strlen(back) != n || memcmp(back, in, n) != 0))
		fuzz_fail("authz", "daemon.json: add then remove changed the file");
out:
	free(added);
	free(back);
}

int fuzz_authz(const uint8_t *d, size_t n)
{
	static struct rampart_policy *pol;
	struct authz_opts o = {0};
	struct authz_verdict v;

	if (pol == NULL &&
	    rampart_policy_open("/nonexistent-rampart-fuzz/policy.db", 0, &pol, NULL, 0) != 0)
		fuzz_fail("authz", "cannot open an empty policy handle");
	if (n == 0)
		return 0;
	if (d[0] & 8) {
		fuzz_authz_daemonjson((const char *)d + 1, n - 1);
		return 0;
	}
	o.mode = (d[0] & 3) == 0   ? AUTHZ_MODE_OFF
	         : (d[0] & 3) == 1 ? AUTHZ_MODE_WARN
	                           : AUTHZ_MODE_ENFORCE;
	o.block_load = (d[0] & 4) != 0;
	authz_decide_raw(pol, &o, (const char *)d + 1, n - 1, &v);
	fuzz_authz_answer(&v, o.mode);
	return 0;
}
