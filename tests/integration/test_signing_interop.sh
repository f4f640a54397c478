#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Interoperability of rampart-sign with the plain openssl CLI, both ways: the
# sign-policy.sh / verify-policy.sh scripts are extracted word for word from
# docs/signing.md, so the documented recipe is what is tested.  Also checks
# that tampering, untrusted keys and one key signing twice are refused on both
# sides (so neither check can pass vacuously).  Keys are made in a temp dir.
set -euo pipefail

SIGN=${RAMPART_SIGN:-${RAMPART_BUILD:-}/rampart-sign}
SRC=${RAMPART_SRC:?RAMPART_SRC is not set}
if [ ! -x "$SIGN" ]; then
	echo "skip: rampart-sign not built ($SIGN)"
	exit 77
fi
if ! command -v openssl >/dev/null || ! openssl version | grep -q '^OpenSSL [3-9]'; then
	echo "skip: needs the OpenSSL 3 command line"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# the doc's verify script calls python3: make it the stdlib interpreter ctest chose
mkdir bin
ln -s "${RAMPART_PYTHON:-$(command -v python3)}" bin/python3
export PATH="$tmp/bin:$PATH"

fails=0
pass() { echo "ok   - $*"; }
fail() {
	echo "FAIL - $*"
	fails=$((fails + 1))
}
# expect_ok DESC CMD...; expect_refused DESC CODE CMD... (exit 1 and CODE on stderr)
expect_ok() {
	local d=$1
	shift
	if "$@" >out 2>err; then pass "$d"; else
		fail "$d (exit $?)"
		cat err
	fi
}
expect_refused() {
	local d=$1 code=$2 rc=0
	shift 2
	"$@" >out 2>err || rc=$?
	if [ "$rc" -eq 1 ] && grep -q -- "$code" err; then pass "$d"; else
		fail "$d (exit $rc, wanted 1 and $code)"
		cat err
	fi
}

extract() { # extract NAME: the ```sh block after <!-- test:NAME --> in docs/signing.md
	awk -v m="<!-- test:$1 -->" '$0 == m { f = 1; next }
		f && /^```sh$/ { g = 1; next }
		g && /^```$/ { exit }
		g { print }' "$SRC/docs/signing.md" >"$1"
	chmod +x "$1"
	[ -s "$1" ] || {
		echo "cannot extract $1 from docs/signing.md"
		exit 1
	}
}
extract sign-policy.sh
extract verify-policy.sh

"$SRC/policy-samples/gen-test-keys.sh" "$tmp/k" 2>/dev/null
ED=k/test-ed25519 ED2=k/test-ed25519-2 EC=k/test-p256 EC2=k/test-p256-2
BODY=$SRC/policy-samples/small.json

# keyids agree with the openssl computation (public and private files)
for key in $ED $ED2 $EC $EC2; do
	want=$(openssl pkey -pubin -in $key.pub -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
	if [ "$("$SIGN" --keyid $key.pub)" = "$want" ] && [ "$("$SIGN" --keyid $key.key)" = "$want" ]; then
		pass "keyid of $key"
	else fail "keyid of $key"; fi
done

# --- openssl CLI -> rampart ---------------------------------------------------
for key in $ED $EC; do
	./sign-policy.sh "$BODY" $key.key >ossl.json
	expect_ok "openssl-signed ($key) verifies in rampart" "$SIGN" --verify --pub $key.pub ossl.json
	if cmp -s out "$BODY"; then pass "verified payload is the signed file"; else
		fail "verified payload differs from the signed file"
	fi
	expect_refused "openssl-signed ($key), other trusted key: refused" E_SIGNATURE \
		"$SIGN" --verify --pub $ED2.pub --pub $EC2.pub ossl.json
done
./sign-policy.sh "$BODY" $ED.key $EC.key >ossl2.json
expect_ok "openssl 2-of-2 verifies with threshold 2" \
	"$SIGN" --verify --pub $ED.pub --pub $EC.pub --threshold 2 ossl2.json
./sign-policy.sh "$BODY" $ED.key $ED.key >twice.json
expect_refused "one key signing twice does not meet threshold 2" E_SIGNATURE \
	"$SIGN" --verify --pub $ED.pub --pub $EC.pub --threshold 2 twice.json
# tamper: swap in the base64 of another payload
other=$(openssl base64 -A -in "$SRC/policy-samples/wildcards-ports.json")
sed "s|\"payload\":\"[^\"]*\"|\"payload\":\"$other\"|" ossl2.json >tampered.json
expect_refused "openssl-signed, payload swapped: refused" E_SIGNATURE \
	"$SIGN" --verify --pub $ED.pub --pub $EC.pub tampered.json
TYPE=application/json ./sign-policy.sh "$BODY" $ED.key >type.json
expect_refused "other payloadType: refused" E_PAYLOAD_TYPE "$SIGN" --verify --pub $ED.pub type.json
expect_ok "...but verifies when that type is asked for" \
	"$SIGN" --verify --type application/json --pub $ED.pub type.json
# the 10,000-entry policy
"$SRC/policy-samples/gen-10k.sh" >big.json
./sign-policy.sh big.json $EC.key >big-ossl.json
expect_ok "openssl-signed 10,000-entry policy verifies" "$SIGN" --verify --pub $EC.pub big-ossl.json

# --- rampart -> openssl CLI ---------------------------------------------------
"$SIGN" --key $ED.key --key $EC.key "$BODY" >rp.json 2>/dev/null
expect_ok "rampart-signed verifies with openssl (Ed25519)" ./verify-policy.sh rp.json $ED.pub
expect_ok "rampart-signed verifies with openssl (P-256)" ./verify-policy.sh rp.json $EC.pub
if ./verify-policy.sh rp.json $ED2.pub $EC2.pub >out 2>&1; then
	fail "openssl check accepted keys that did not sign"
else pass "openssl check refuses keys that did not sign"; fi
sed "s|\"payload\": \"[^\"]*\"|\"payload\": \"$other\"|" rp.json >rp-tampered.json
if cmp -s rp.json rp-tampered.json; then fail "tampering rp.json did not change it"; fi
if ./verify-policy.sh rp-tampered.json $ED.pub $EC.pub >out 2>&1; then
	fail "openssl check accepted a tampered rampart envelope"
else pass "openssl check refuses a tampered rampart envelope"; fi
"$SIGN" --key $EC2.key big.json >big-rp.json 2>/dev/null
expect_ok "rampart-signed 10,000-entry policy verifies with openssl" ./verify-policy.sh big-rp.json $EC2.pub

# --- rampart-sign usage and refusals --------------------------------------------
rc=0
"$SIGN" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] && pass "no arguments: exit 2" || fail "no arguments: exit $rc"
rc=0
"$SIGN" --verify rp.json >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] && pass "--verify without keys: exit 2" || fail "--verify without keys: exit $rc"
"$SIGN" --help | grep -q 'usage: rampart-sign' && pass "--help" || fail "--help"
expect_refused "missing payload file" E_INPUT "$SIGN" --key $ED.key nonexistent.json
expect_refused "signing with a public key" E_KEY_FILE "$SIGN" --key $ED.pub "$BODY"
expect_refused "a private key as trusted key" E_KEY_FILE "$SIGN" --verify --pub $ED.key rp.json
printf '{"org":"x"}' >bad.json
expect_refused "invalid policy is not signed" E_PAYLOAD "$SIGN" --key $ED.key bad.json
expect_ok "--no-check signs it anyway" "$SIGN" --no-check --key $ED.key bad.json
cp out nocheck.json
expect_refused "...and --verify refuses the payload" E_PAYLOAD "$SIGN" --verify --pub $ED.pub nocheck.json
expect_ok "--check accepts a sample" "$SIGN" --check "$SRC/policy-samples/wildcards-ports.json"

if [ $fails -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
