#!/bin/sh
# SPDX-License-Identifier: ISC
# Prints a deterministic policy payload with COUNT registries (default 10000,
# the maximum rampart accepts) on stdout: every 10th entry is a wildcard, every
# 10th (offset 1) has a port, the rest are plain hostnames.  TEST MATERIAL ONLY.
# usage: gen-10k.sh [COUNT] > policy.json
# env:   ORG VERSION ISSUED_AT EXPIRES_AT ALLOW_DOCKER_HUB (true|false) override
#        the defaults, e.g. VERSION=42 EXPIRES_AT=2030-01-01T00:00:00Z gen-10k.sh
set -eu
n=${1:-10000}
case $n in '' | *[!0-9]*)
	echo "gen-10k.sh: COUNT must be a non-negative integer" >&2
	exit 2
	;;
esac
org=${ORG:-Example Corp}
case $org in *[\"\\]*)
	echo "gen-10k.sh: ORG must not contain '\"' or '\\'" >&2
	exit 2
	;;
esac
awk -v n="$n" -v org="$org" -v version="${VERSION:-1}" \
	-v issued="${ISSUED_AT:-2025-01-01T00:00:00Z}" \
	-v expires="${EXPIRES_AT:-2099-12-31T23:59:59Z}" \
	-v hub="${ALLOW_DOCKER_HUB:-false}" 'BEGIN {
	printf "{\n\"org\": \"%s\",\n\"version\": %s,\n", org, version
	printf "\"issued_at\": \"%s\",\n\"expires_at\": \"%s\",\n", issued, expires
	printf "\"allow_docker_hub\": %s,\n\"registries\": [\n", hub
	for (i = 1; i <= n; i++) {
		if (i % 10 == 0)
			host = sprintf("*.team%05d.example.com", i)
		else if (i % 10 == 1)
			host = sprintf("registry%05d.example.com:%d", i, 5000 + i % 1000)
		else
			host = sprintf("registry%05d.example.com", i)
		printf "{\"host\":\"%s\",\"nickname\":\"Registry %d\"}%s\n", host, i, (i < n ? "," : "")
	}
	printf "]\n}\n"
}'
