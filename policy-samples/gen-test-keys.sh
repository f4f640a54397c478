#!/bin/sh
# SPDX-License-Identifier: ISC
# Generates TEST-ONLY signing keys with the openssl CLI into DIR:
#   test-ed25519.key/.pub, test-ed25519-2.key/.pub   (Ed25519)
#   test-p256.key/.pub,    test-p256-2.key/.pub      (ECDSA P-256)
# .key files are PKCS#8 PEM private keys (mode 0600) with a "TEST-ONLY" banner,
# .pub files are PEM SubjectPublicKeyInfo.  Never trust these keys in
# production, and never commit the private keys: the script refuses to write
# inside a git work tree unless TEST_KEYS_IN_GIT=1 is set.
# usage: gen-test-keys.sh DIR
set -eu
if [ $# -ne 1 ]; then
	echo "usage: gen-test-keys.sh DIR" >&2
	exit 2
fi
dir=$1
created=0
[ -d "$dir" ] || { mkdir -p "$dir" && created=1; }
if [ "${TEST_KEYS_IN_GIT:-0}" != 1 ] &&
	git -C "$dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	[ "$created" = 0 ] || rmdir "$dir"
	echo "gen-test-keys.sh: $dir is inside a git work tree; refusing to write private" \
		"keys where they could be committed (use a temp dir, e.g. \$(mktemp -d))" >&2
	exit 1
fi
umask 077
banner="TEST-ONLY private key made by policy-samples/gen-test-keys.sh; never trust it."
gen() { # gen NAME ALGORITHM-ARGS...
	name=$1
	shift
	openssl genpkey "$@" -out "$dir/$name.key.tmp" 2>/dev/null
	{ echo "$banner"; cat "$dir/$name.key.tmp"; } >"$dir/$name.key"
	rm -f "$dir/$name.key.tmp"
	openssl pkey -in "$dir/$name.key" -pubout -out "$dir/$name.pub"
	chmod 0644 "$dir/$name.pub"
	echo "$dir/$name.key + .pub" >&2
}
for s in "" -2; do
	gen "test-ed25519$s" -algorithm ED25519
	gen "test-p256$s" -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve
done
