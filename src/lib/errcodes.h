/* SPDX-License-Identifier: ISC */
/*
 * The error code registry: every stable code rampart gives, with the CLI's
 * exit status for it and a sentence for people.  The one list read by the
 * daemon (an unregistered code is logged as a bug), the CLI (its exit
 * status, rp_errcode_exit()) and the docs drift check
 * (tests/integration/test_docs.sh compares it with docs/errors.md and with
 * every "E_..." literal in src/).  A new code is one X() line here plus its
 * row in docs/errors.md.
 *
 * X(code, cli_exit, sentence)
 */
#ifndef RAMPART_ERRCODES_H
#define RAMPART_ERRCODES_H

/* one code per line, read by tests/integration/test_docs.sh */
/* clang-format off */
#define RP_ERRCODES(X) \
	/* any request */ \
	X(E_FRAME, 1, "empty or malformed frame; the connection is closed after the reply") \
	X(E_TOO_BIG, 1, "a frame, reply or envelope is larger than its limit") \
	X(E_PROTO, 1, "bad control message or protocol state (more than one fd); the connection is closed") \
	X(E_BAD_JSON, 1, "the frame is not JSON, or not a JSON object") \
	X(E_BAD_REQUEST, 1, "op missing or not a string, id not an integer or string, or args not an object") \
	X(E_UNKNOWN_OP, 1, "no such op") \
	X(E_PERM, 1, "the caller's class is too low for the op; nothing was done") \
	X(E_ARGS, 1, "a missing, mistyped, out-of-range or unknown argument, or an fd where none belongs") \
	X(E_BUSY, 1, "too many connections, refresh waiters or traces; try again later") \
	X(E_INTERNAL, 1, "out of memory or an impossible state; nothing was done") \
	X(E_NOMEM, 1, "out of memory in the client library or a tool; nothing was done") \
	/* client side (librampart, the CLI) */ \
	X(E_UNREACHABLE, 3, "rampartd cannot be reached on its socket, or the connection was lost") \
	X(E_UNKNOWN, 1, "the daemon's error reply carried no code (a daemon bug)") \
	X(E_INVAL, 1, "a NULL or invalid argument to a librampart call") \
	X(E_USAGE, 2, "the command line is wrong (rampart --json reports usage errors with it)") \
	X(E_EXEC, 1, "rampart bind got the socket but could not run the command") \
	X(E_TIMEOUT, 1, "rampart diag trace: the daemon did not finish the trace in time") \
	X(E_TRACE_CUT, 1, "rampart diag trace: the trace ended without its end line") \
	X(E_STORE_PATH, 1, "the policy store path cannot exist: its directory is missing (a typo?)") \
	/* daemon and config */ \
	X(E_CONFIG, 1, "the configuration is invalid (the message names the file and the field)") \
	X(E_CONFIG_INSECURE, 1, "the configuration file is not owned by root or is writable by others") \
	X(E_SOCKET, 1, "the listening socket cannot be created or taken over (startup only)") \
	/* policy ops and refresh */ \
	X(E_REF, 1, "not a valid image reference (the reason says what is wrong)") \
	X(E_STORE, 1, "the policy store exists but cannot be read; checks are refused until it can") \
	X(E_NO_SOURCE, 1, "no policy.url is configured, so there is nothing to refresh from") \
	X(E_KEYS, 1, "the trusted keys are unusable; nothing was fetched") \
	X(E_NO_POLICY, 1, "no policy is stored yet") \
	X(E_TAMPERED, 1, "the policy store does not hold exactly what was signed") \
	X(E_FETCH_URL, 1, "policy.url is not an allowed URL (https, or loopback http when allowed)") \
	X(E_FETCH_TLS, 1, "the TLS handshake or certificate check failed") \
	X(E_FETCH_CONNECT, 1, "the policy server refused or did not take the connection") \
	X(E_FETCH_HTTP, 1, "the policy server answered with an HTTP error status") \
	X(E_FETCH_TIMEOUT, 1, "the fetch did not finish within its time limits") \
	X(E_FETCH_NETWORK, 1, "the network failed during the fetch (reset, DNS, unreachable)") \
	X(E_FETCH_PROTOCOL, 1, "the server broke HTTP (bad headers, bad chunking)") \
	X(E_FETCH_REDIRECT, 1, "too many redirects, or one to a host not in policy.redirect_hosts") \
	X(E_FETCH_TOO_LARGE, 1, "the policy is larger than policy.max_bytes") \
	X(E_FETCH_PRIV, 1, "the fetch child could not drop root as required") \
	X(E_FETCH_CHILD, 1, "the fetch child could not be started, failed, or sent a malformed answer") \
	X(E_FETCH_CONFIG, 1, "the fetch options are invalid (CA file, pin, proxy, user)") \
	X(E_FETCH_HELPER, 1, "the rampart-fetch helper is missing or not safely installed") \
	X(E_FETCH_NOMEM, 1, "out of memory while fetching; the last good policy is kept") \
	X(E_FETCH_CREDENTIALS, 1, "policy.registry_credentials cannot be read, is not USER:PASSWORD, or others can read it") \
	X(E_OCI_URL, 1, "not a valid oci://HOST[:PORT]/REPOSITORY:TAG or @sha256: reference") \
	X(E_OCI_MANIFEST, 1, "the registry's manifest is malformed, not an OCI image manifest, or has several policy layers") \
	X(E_OCI_INDEX, 1, "the registry answered with a manifest list or image index, not a policy artifact") \
	X(E_OCI_MEDIA_TYPE, 1, "the manifest is not a rampart policy artifact, or has no policy layer") \
	X(E_OCI_DIGEST, 1, "the manifest or the policy layer does not match its digest or size") \
	X(E_OCI_PIN, 1, "the registry's manifest is not the digest pinned in policy.url") \
	X(E_OCI_REPOSITORY, 1, "the manifest was published to another repository") \
	X(E_OCI_AUTH, 1, "the registry or its token service wants credentials, refused them, or kept answering 401") \
	X(E_OCI_REDIRECT, 1, "the registry redirected where the config does not allow (manifests never, blobs off-host only to policy.blob_redirect_hosts)") \
	X(E_OCI_HTTP, 1, "the registry answered with an unexpected HTTP status (404: no such tag or digest)") \
	/* the trust pipeline (refresh, import, verify, rampart-sign) */ \
	X(E_ENVELOPE, 1, "the DSSE envelope is malformed") \
	X(E_PAYLOAD_TYPE, 1, "the envelope's payloadType is not the rampart policy type") \
	X(E_SIGNATURE, 1, "not enough valid signatures from distinct trusted keys") \
	X(E_PAYLOAD, 1, "the signed payload breaks the policy format") \
	X(E_ORG, 1, "the policy is for another organisation") \
	X(E_EXPIRED, 1, "the policy has expired") \
	X(E_ISSUED_FUTURE, 1, "the policy's issued_at is more than 300 s ahead of this clock") \
	X(E_POLICY_STALE, 1, "the cached policy is older than policy.max_age_s (audit only)") \
	X(E_ROLLBACK, 1, "the policy is older than the stored one; the stored one is kept") \
	X(E_SCHEMA_VERSION, 1, "the policy payload's schema_version is not 1 or 2; it was not read as an older format and the stored policy is kept") \
	X(E_ROOT, 1, "a root document breaks a rule (field, key, threshold); the trusted root is kept") \
	X(E_ROOT_SIGNATURE, 1, "root N+1 is not signed by a threshold of root N's root keys and of its own; the trusted root is kept") \
	X(E_ROOT_VERSION, 1, "root N+1 does not have version N+1 (skipped or replayed); the trusted root is kept") \
	X(E_ROOT_EXPIRED, 1, "the newest root has expired; the trusted root and the stored policy are kept") \
	X(E_ROOT_CHAIN, 1, "more new roots than policy.max_root_rotations in one refresh; the trusted root is kept") \
	X(E_ROOT_TOO_BIG, 1, "a root document is larger than 64 KiB; the trusted root is kept") \
	X(E_ROOT_PIN, 1, "the pinned first root cannot be read or does not match policy.root_sha256") \
	X(E_ROOT_STORED, 1, "the stored root chain does not follow from the pinned root") \
	X(E_LINT, 1, "rampart-sign --strict: the policy has rules that change nothing") \
	X(E_SAME_VERSION, 1, "the stored version is offered with other content; bump the version") \
	X(E_TRUST, 1, "no usable key set (no keys, a duplicate key, threshold out of range)") \
	X(E_KEY_FILE, 1, "a key file cannot be read or does not hold exactly one public PEM key") \
	X(E_KEY_PERM, 1, "a key file or its directory is not owned by root or is writable by others") \
	X(E_KEY_TYPE, 1, "a key is not Ed25519 or P-256 in the standard encoding") \
	X(E_SIGN, 1, "signing failed, or the same key was given twice (rampart-sign)") \
	X(E_INPUT, 1, "an input file cannot be read (rampart-sign)") \
	/* the policy store */ \
	X(E_STORE_ARG, 1, "a bad argument to the store, or a policy beyond the model's limits") \
	X(E_STORE_IO, 1, "opening, writing, syncing or renaming the store failed") \
	X(E_STORE_DISK_FULL, 1, "the disk is full; the last good policy is kept") \
	X(E_STORE_CORRUPT, 1, "the file is not a rampart store, is damaged, or holds insane values") \
	X(E_STORE_SCHEMA, 1, "the store was written by a newer rampart") \
	X(E_STORE_NOMEM, 1, "out of memory in the store; nothing was changed") \
	X(E_STORE_INSECURE, 1, "the state directory or store is writable by others; nothing was stored") \
	/* ports */ \
	X(E_PORT_DENIED, 1, "the port is not allowed (1024 or above, denied, or outside the allowed ranges)") \
	X(E_ADDR_DENIED, 1, "the address is not allowed (not loopback, or the any-address while disabled)") \
	X(E_BIND, 1, "bind() failed (the message names the errno)") \
	/* system-file ops */ \
	X(E_FS_PATH, 1, "a path is not absolute, uses .., or is too long") \
	X(E_FS_OPEN, 1, "a directory on the way is missing or is not a directory") \
	X(E_FS_UNSAFE, 1, "a directory on the way is owned or writable by someone other than root and the owner") \
	X(E_FS_SYMLINK, 1, "a symbolic link on the way cannot be read or was not placed by root") \
	X(E_FS_WRITE, 1, "writing the new file failed") \
	X(E_FS_RENAME, 1, "renaming the new file into place failed (the temp file is removed)") \
	X(E_HOSTS_TOO_BIG, 1, "the hosts file is larger than 1 MiB") \
	X(E_HOSTS_INPUT, 1, "the hosts file holds a NUL byte") \
	X(E_HOSTS_MARKERS, 1, "rampart's block markers in the hosts file are broken; nothing was changed") \
	X(E_HOSTS_NAME, 1, "a configured host name is not a valid name") \
	X(E_HOSTS_ADDR, 1, "a configured address is not a valid IPv4 or IPv6 address") \
	X(E_HOSTS_OPEN, 1, "the hosts file cannot be opened safely (a link, or not a regular file)") \
	X(E_HOSTS_RACE, 1, "the hosts file changed while it was being rewritten; nothing was written") \
	X(E_HOSTS_NOMEM, 1, "out of memory editing the hosts file; nothing was changed") \
	X(E_LINKS_CONFIG, 1, "the links configuration is missing or invalid; nothing was changed") \
	X(E_LINKS_INCOMPLETE, 1, "some links were made or removed, others were refused (each is listed)") \
	X(E_SOCKLINK_CONFIG, 1, "the socket link configuration is missing or invalid (owner_user unset)") \
	X(E_SOCKLINK_TARGET, 1, "the socket link target is not a real path inside the owner's home") \
	X(E_SOCKLINK_OCCUPIED, 1, "the socket link path holds something rampart did not make") \
	X(E_UNINSTALL, 1, "helper.uninstall could not remove an item (each is listed)") \
	/* engine enforcement (docs/enforcement.md) */ \
	X(E_ENFORCE_FILE, 1, "the engine policy file is a link or not a regular file, or its directory is not root's; nothing was changed") \
	X(E_ENFORCE_IO, 1, "writing the engine policy file or rampart's record of it failed; the old file stays") \
	X(E_ENFORCE_RESTORE, 1, "the saved original engine policy file could not be put back; rampart's file stays") \
	/* the Docker plugin, rampart-authz */ \
	X(E_AUTHZ_JSON, 1, "a Docker plugin request is not JSON, not an object, or has duplicate keys; refused") \
	X(E_AUTHZ_FIELD, 1, "a Docker plugin request field is missing, of the wrong type, too long, or not base64; refused") \
	X(E_AUTHZ_SIZE, 1, "a Docker plugin request is larger than 4 MiB; refused") \
	X(E_AUTHZ_URI, 1, "a Docker API path has a bad %-escape, a NUL, or is not absolute; refused") \
	X(E_AUTHZ_QUERY, 1, "a decided Docker API parameter is given twice, badly escaped, too long or missing, or the query uses ';'; refused") \
	X(E_AUTHZ_FORM, 1, "a decided Docker API request carries a body dockerd could read parameters from; refused") \
	X(E_AUTHZ_BODY, 1, "a container config dockerd did not pass on, or one without exactly one usable Image; refused") \
	X(E_AUTHZ_STATS, 1, "rampart-authz's counters record is missing or malformed (status shows no counters)") \
	X(E_PROXY_STATS, 1, "rampart-proxy's stats file is missing, too big, not JSON, or not safely owned (status shows no counters)") \
	X(E_DAEMONJSON, 1, "dockerd's daemon.json is not valid JSON or cannot be edited safely; nothing was changed")
/* clang-format on */

#endif
