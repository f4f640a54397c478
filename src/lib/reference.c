/* SPDX-License-Identifier: ISC */
/*
 * Docker image reference normaliser, written from the distribution/reference
 * grammar: [domain "/"] path [":" tag] ["@" digest].  Input is untrusted
 * (any user, any bytes): it is length-capped first, only printable ASCII is
 * accepted, and every write goes to a fixed, bounded buffer.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "reference.h"

#define REF_QUOTE_MAX 80 /* longest excerpt of the input quoted in an error */

static bool ref_is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool ref_is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool ref_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ref_is_alnum(char c)
{
	return ref_is_lower(c) || ref_is_upper(c) || ref_is_digit(c);
}

static bool ref_is_hex(char c)
{
	return ref_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char ref_lower(char c)
{
	return ref_is_upper(c) ? (char)(c - 'A' + 'a') : c;
}

static bool ref_has_char(const char *s, size_t len, char c)
{
	return memchr(s, c, len) != NULL;
}

static bool ref_has_upper(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (ref_is_upper(s[i]))
			return true;
	return false;
}

static bool ref_all_same(const char *s, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != c)
			return false;
	return true;
}

static bool ref_all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!ref_is_digit(s[i]))
			return false;
	return len > 0;
}

/* Length of an excerpt of at most REF_QUOTE_MAX characters, for "%.*s". */
static int ref_q(size_t len)
{
	return (int)(len > REF_QUOTE_MAX ? REF_QUOTE_MAX : len);
}

/* ---- digest, tag, identifier ------------------------------------------ */

/* A bare 64-hex string is an image ID; Docker refuses it as a name. */
static bool ref_is_identifier(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!ref_is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

/* digest-algorithm := component ([+._-] component)*, component := [A-Za-z][A-Za-z0-9]* */
static bool ref_is_algorithm(const char *s, size_t len)
{
	bool need_alpha = true;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (need_alpha) {
			if (!ref_is_lower(c) && !ref_is_upper(c))
				return false;
			need_alpha = false;
		} else if (c == '+' || c == '.' || c == '_' || c == '-') {
			need_alpha = true;
		} else if (!ref_is_alnum(c)) {
			return false;
		}
	}
	return !need_alpha;
}

static int ref_parse_digest(const char *s, size_t len, struct ref_parsed *out, struct rp_err *err)
{
	const char *colon = memchr(s, ':', len);
	size_t alen, hlen;

	if (len == 0)
		return rp_seterr(err, "E_REF",
		                 "The digest after '@' is empty; write "
		                 "@sha256: followed by 64 lowercase hex digits.");
	if (colon == NULL || !ref_is_algorithm(s, (size_t)(colon - s)))
		return rp_seterr(err, "E_REF",
		                 "The digest '%.*s' is malformed; a digest is "
		                 "sha256: followed by 64 lowercase hex digits.",
		                 ref_q(len), s);
	alen = (size_t)(colon - s);
	hlen = len - alen - 1;
	if (alen != 6 || memcmp(s, "sha256", 6) != 0)
		return rp_seterr(err, "E_REF",
		                 "The digest algorithm '%.*s' is not supported; "
		                 "only sha256 digests are accepted.",
		                 ref_q(alen), s);
	for (size_t i = 0; i < hlen; i++) {
		char c = colon[1 + i];
		if (!ref_is_hex(c))
			return rp_seterr(err, "E_REF",
			                 "The sha256 digest contains '%c', which is "
			                 "not a hex digit.",
			                 c);
		if (ref_is_upper(c))
			return rp_seterr(err, "E_REF",
			                 "The sha256 digest must be written in "
			                 "lowercase hex.");
	}
	if (hlen != 64)
		return rp_seterr(err, "E_REF",
		                 "The sha256 digest has %zu hex digits; it must "
		                 "have exactly 64.",
		                 hlen);
	memcpy(out->digest, s, len);
	out->digest[len] = '\0';
	return 0;
}

/* tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static int ref_parse_tag(const char *s, size_t len, struct ref_parsed *out, struct rp_err *err)
{
	if (len == 0)
		return rp_seterr(err, "E_REF",
		                 "The tag after ':' is empty; remove the ':' or "
		                 "name a tag.");
	if (len > REF_MAX_TAG)
		return rp_seterr(err, "E_REF",
		                 "The tag is %zu characters long; at most %d are "
		                 "allowed.",
		                 len, REF_MAX_TAG);
	if (s[0] == '.' || s[0] == '-')
		return rp_seterr(err, "E_REF",
		                 "The tag '%.*s' starts with '%c'; a tag must "
		                 "start with a letter, digit or '_'.",
		                 ref_q(len), s, s[0]);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!ref_is_alnum(c) && c != '_' && c != '.' && c != '-')
			return rp_seterr(err, "E_REF",
			                 "The tag '%.*s' contains '%c'; tags may "
			                 "only contain letters, digits, '_', '.' and '-'.",
			                 ref_q(len), s, c);
	}
	memcpy(out->tag, s, len);
	out->tag[len] = '\0';
	return 0;
}

/* ---- path ---------------------------------------------------------------- */

/* Checks one run of separator characters: "." | "_" | "__" | "-"+. */
static int ref_check_separator(const char *sep, size_t n, const char *comp, size_t clen,
                               struct rp_err *err)
{
	bool ok;

	if (sep[0] == '-') {
		ok = ref_all_same(sep, n, '-');
	} else if (sep[0] == '_') {
		ok = n <= 2 && ref_all_same(sep, n, '_');
	} else {
		ok = n == 1;
	}
	if (ok)
		return 0;
	return rp_seterr(err, "E_REF",
	                 "The repository path component '%.*s' contains the "
	                 "separator '%.*s'; allowed separators between letters and digits are "
	                 "'.', '_', '__' and one or more '-'.",
	                 ref_q(clen), comp, ref_q(n), sep);
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)* */
static int ref_check_component(const char *c, size_t len, struct rp_err *err)
{
	size_t i = 0;

	if (len == 0)
		return rp_seterr(err, "E_REF",
		                 "The repository path has an empty component "
		                 "(a leading, trailing or doubled '/').");
	for (size_t k = 0; k < len; k++) {
		if (ref_is_upper(c[k]))
			return rp_seterr(err, "E_REF",
			                 "The repository path component '%.*s' contains "
			                 "upper-case letters; repository paths must be lowercase.",
			                 ref_q(len), c);
		if (!ref_is_alnum(c[k]) && c[k] != '.' && c[k] != '_' && c[k] != '-')
			return rp_seterr(err, "E_REF",
			                 "The repository path component '%.*s' "
			                 "contains '%c', which is not allowed.",
			                 ref_q(len), c, c[k]);
	}
	if (!ref_is_alnum(c[0]) || !ref_is_alnum(c[len - 1]))
		return rp_seterr(err, "E_REF",
		                 "The repository path component '%.*s' must start "
		                 "and end with a lowercase letter or digit.",
		                 ref_q(len), c);
	while (i < len) {
		size_t j = i;
		if (ref_is_alnum(c[i])) {
			i++;
			continue;
		}
		while (j < len && !ref_is_alnum(c[j]))
			j++;
		if (ref_check_separator(c + i, j - i, c, len, err) != 0)
			return -1;
		i = j;
	}
	return 0;
}

int ref_check_path(const char *s, size_t len, struct rp_err *err)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		if (ref_check_component(s + start, i - start, err) != 0)
			return -1;
		start = i + 1;
	}
	return 0;
}

/* ---- domain -------------------------------------------------------------- */

/* Writes "[addr]" in RFC 5952 form (lowercase, longest zero run as "::"). */
static void ref_format_ipv6(const unsigned char a[16], char *out, size_t size)
{
	unsigned g[8];
	int best = -1, best_len = 1, i = 0;
	size_t n = 0;

	for (int k = 0; k < 8; k++)
		g[k] = (unsigned)a[2 * k] << 8 | a[2 * k + 1];
	while (i < 8) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	n += (size_t)snprintf(out + n, size - n, "[");
	for (i = 0; i < 8; i++) {
		if (i == best) {
			n += (size_t)snprintf(out + n, size - n, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			n += (size_t)snprintf(out + n, size - n, ":");
		n += (size_t)snprintf(out + n, size - n, "%x", g[i]);
	}
	snprintf(out + n, size - n, "]");
}

/* s[0] == '['; parses "[v6]" and returns its length in *used. */
static int ref_parse_ipv6(const char *s, size_t len, char *out, size_t *used, struct rp_err *err)
{
	const char *close = memchr(s, ']', len);
	char buf[48];
	unsigned char addr[16];
	size_t alen;

	if (close == NULL)
		return rp_seterr(err, "E_REF",
		                 "The IPv6 registry address '%.*s' has no closing "
		                 "']'.",
		                 ref_q(len), s);
	alen = (size_t)(close - s - 1);
	for (size_t i = 0; i < alen; i++)
		if (!ref_is_hex(s[1 + i]) && s[1 + i] != ':')
			return rp_seterr(err, "E_REF",
			                 "The IPv6 registry address '%.*s' contains "
			                 "'%c'; only hex digits and ':' are allowed (no zone "
			                 "identifiers or embedded IPv4).",
			                 ref_q(alen + 2), s, s[1 + i]);
	if (alen == 0 || alen >= sizeof(buf))
		return rp_seterr(err, "E_REF",
		                 "The IPv6 registry address '%.*s' is not a valid "
		                 "IPv6 address.",
		                 ref_q(alen + 2), s);
	memcpy(buf, s + 1, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET6, buf, addr) != 1)
		return rp_seterr(err, "E_REF",
		                 "The IPv6 registry address '%.*s' is not a valid "
		                 "IPv6 address.",
		                 ref_q(alen + 2), s);
	ref_format_ipv6(addr, out, REF_MAX_DOMAIN + 1);
	*used = alen + 2;
	return 0;
}

/* All four labels decimal 0-255 without leading zeros. */
static int ref_check_ipv4(const char *s, size_t len, struct rp_err *err)
{
	size_t start = 0, labels = 0;

	for (size_t i = 0; i <= len; i++) {
		unsigned v = 0;
		size_t n = i - start;
		if (i < len && s[i] != '.')
			continue;
		for (size_t k = start; k < i && ref_is_digit(s[k]) && n <= 3; k++)
			v = v * 10 + (unsigned)(s[k] - '0');
		if (n == 0 || n > 3 || v > 255 || (n > 1 && s[start] == '0') ||
		    !ref_all_digits(s + start, n))
			goto bad;
		labels++;
		start = i + 1;
	}
	if (labels == 4)
		return 0;
bad:
	return rp_seterr(err, "E_REF",
	                 "The registry host '%.*s' ends in a number but is not an "
	                 "IPv4 address (four decimal numbers 0-255 without leading zeros).",
	                 ref_q(len), s);
}

/* domain-name := label ("." label)*, label := [A-Za-z0-9] ([A-Za-z0-9-]* [A-Za-z0-9])? */
static int ref_check_dns(const char *s, size_t len, struct rp_err *err)
{
	size_t start = 0;

	if (len == 0)
		return rp_seterr(err, "E_REF", "The registry host is empty.");
	if (len > REF_MAX_DOMAIN)
		return rp_seterr(err, "E_REF",
		                 "The registry host is %zu characters long; at most "
		                 "%d are allowed.",
		                 len, REF_MAX_DOMAIN);
	for (size_t i = 0; i <= len; i++) {
		size_t n = i - start;
		if (i < len && s[i] != '.') {
			if (!ref_is_alnum(s[i]) && s[i] != '-')
				return rp_seterr(
				    err, "E_REF",
				    "The registry host '%.*s' contains "
				    "'%c'; hosts may only contain letters, digits, '-' "
				    "and '.'.",
				    ref_q(len), s, s[i]);
			continue;
		}
		if (n == 0)
			return rp_seterr(err, "E_REF",
			                 "The registry host '%.*s' has an empty label "
			                 "(a leading, trailing or doubled '.').",
			                 ref_q(len), s);
		if (n > 63)
			return rp_seterr(err, "E_REF",
			                 "The registry host '%.*s' has a label longer "
			                 "than 63 characters.",
			                 ref_q(len), s);
		if (s[start] == '-' || s[i - 1] == '-')
			return rp_seterr(err, "E_REF",
			                 "The registry host '%.*s' has a label that "
			                 "starts or ends with '-'.",
			                 ref_q(len), s);
		if (i == len && ref_all_digits(s + start, n))
			return ref_check_ipv4(s, len, err);
		start = i + 1;
	}
	return 0;
}

static unsigned ref_parse_port(const char *s, size_t len, struct rp_err *err)
{
	unsigned long v = 0;

	if (len == 0 || !ref_all_digits(s, len)) {
		rp_seterr(err, "E_REF",
		          "The registry port '%.*s' is not a number; write "
		          "host:PORT with PORT from 1 to 65535.",
		          ref_q(len), s);
		return 0;
	}
	for (size_t i = 0; i < len && v <= 65535; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v < 1 || v > 65535) {
		rp_seterr(err, "E_REF",
		          "The registry port '%.*s' is out of range; ports run "
		          "from 1 to 65535.",
		          ref_q(len), s);
		return 0;
	}
	return (unsigned)v;
}

int ref_parse_domain(const char *s, size_t len, char *host_out, unsigned *port_out,
                     struct rp_err *err)
{
	size_t hlen = 0;

	host_out[0] = '\0';
	*port_out = 0;
	if (len == 0)
		return rp_seterr(err, "E_REF", "The registry host is empty.");
	if (s[0] == '[') {
		if (ref_parse_ipv6(s, len, host_out, &hlen, err) != 0)
			return -1;
	} else {
		const char *colon = memchr(s, ':', len);
		hlen = colon != NULL ? (size_t)(colon - s) : len;
		if (ref_check_dns(s, hlen, err) != 0)
			return -1;
		for (size_t i = 0; i < hlen; i++)
			host_out[i] = ref_lower(s[i]);
		host_out[hlen] = '\0';
	}
	if (hlen == len)
		return 0;
	if (s[hlen] != ':')
		return rp_seterr(err, "E_REF",
		                 "The registry address '%.*s' has unexpected text "
		                 "after the host; write host or host:PORT.",
		                 ref_q(len), s);
	*port_out = ref_parse_port(s + hlen + 1, len - hlen - 1, err);
	if (*port_out == 0) {
		host_out[0] = '\0';
		return -1;
	}
	return 0;
}

bool ref_is_hub_host(const char *host)
{
	return strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
	       strcmp(host, "registry-1.docker.io") == 0;
}

bool ref_host_is_ip(const char *host)
{
	const char *dot = strrchr(host, '.');

	if (host[0] == '[')
		return true;
	return dot != NULL && ref_all_digits(dot + 1, strlen(dot + 1));
}

/* ---- whole reference ----------------------------------------------------- */

static int ref_check_chars(const char *s, size_t len, struct rp_err *err)
{
	if (len == 0)
		return rp_seterr(err, "E_REF", "The image reference is empty.");
	if (len > REF_MAX_INPUT)
		return rp_seterr(err, "E_REF", "The image reference is longer than %d characters.",
		                 REF_MAX_INPUT);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return rp_seterr(err, "E_REF",
			                 "The image reference contains whitespace, a "
			                 "control character or a non-ASCII byte at position %zu.",
			                 i + 1);
	}
	if (ref_is_identifier(s, len))
		return rp_seterr(err, "E_REF",
		                 "A bare 64-character hex string is an image ID, not "
		                 "a repository name; name the repository instead.");
	return 0;
}

/*
 * The first path component names a registry only if it contains '.' or ':',
 * is "localhost", or contains upper case (repository paths cannot, so Docker
 * reads "Foo/bar" as registry "Foo").
 */
static bool ref_looks_like_domain(const char *s, size_t len)
{
	return ref_has_char(s, len, '.') || ref_has_char(s, len, ':') ||
	       (len == 9 && memcmp(s, "localhost", 9) == 0) || ref_has_upper(s, len);
}

/* Splits "name[:tag]" (len bytes): the tag is after a ':' that follows the last '/'. */
static int ref_split_tag(const char *s, size_t *len, struct ref_parsed *out, struct rp_err *err)
{
	const char *slash = NULL, *colon = NULL;

	for (size_t i = 0; i < *len; i++) {
		if (s[i] == '/')
			slash = s + i;
		else if (s[i] == ':')
			colon = s + i;
	}
	if (slash == NULL && s[0] == '[')
		return rp_seterr(err, "E_REF",
		                 "An IPv6 registry address must be followed by '/' "
		                 "and a repository path.");
	if (colon == NULL || (slash != NULL && colon < slash))
		return 0;
	if (ref_parse_tag(colon + 1, *len - (size_t)(colon - s) - 1, out, err) != 0)
		return -1;
	*len = (size_t)(colon - s);
	return 0;
}

/* Fills domain/port/path/is_docker_hub from "name" (no tag, no digest). */
static int ref_parse_name(const char *s, size_t len, struct ref_parsed *out, const char **spell,
                          struct rp_err *err)
{
	const char *slash = memchr(s, '/', len);
	const char *remote = s;
	size_t rlen = len, plen = 0;

	if (len == 0)
		return rp_seterr(err, "E_REF", "The image reference has no repository name.");
	out->is_docker_hub = true;
	if (slash != NULL && ref_looks_like_domain(s, (size_t)(slash - s))) {
		if (ref_parse_domain(s, (size_t)(slash - s), out->domain, &out->port, err) != 0)
			return -1;
		*spell = s;
		remote = slash + 1;
		rlen = len - (size_t)(slash - s) - 1;
		out->is_docker_hub = out->port == 0 && ref_is_hub_host(out->domain);
	}
	if (ref_check_path(remote, rlen, err) != 0)
		return -1;
	if (out->is_docker_hub) {
		rp_strlcpy(out->domain, REF_HUB_DOMAIN, sizeof(out->domain));
		if (!ref_has_char(remote, rlen, '/'))
			memcpy(out->path, "library/", plen = 8);
	}
	if (plen + rlen > REF_MAX_PATH)
		return rp_seterr(err, "E_REF",
		                 "The repository name is %zu characters long; at most "
		                 "%d are allowed.",
		                 plen + rlen, REF_MAX_PATH);
	memcpy(out->path + plen, remote, rlen);
	out->path[plen + rlen] = '\0';
	return 0;
}

/* Appends n bytes at p, keeping room for a NUL; NULL once out of room. */
static char *ref_put(char *p, const char *end, const char *s, size_t n)
{
	if (p == NULL || n >= (size_t)(end - p))
		return NULL;
	memcpy(p, s, n);
	return p + n;
}

static char *ref_put_port(char *p, const char *end, unsigned port)
{
	char num[12];
	size_t i = sizeof(num);

	do {
		num[--i] = (char)('0' + port % 10);
		port /= 10;
	} while (port != 0 && i > 1);
	num[--i] = ':';
	return ref_put(p, end, num + i, sizeof(num) - i);
}

/*
 * Writes the normalised string (by hand: this is on every check's path).  A
 * registry recognised only by its upper-case letters ("Foo/bar") keeps its
 * spelling so the result parses back the same.
 */
static int ref_assemble(struct ref_parsed *out, const char *spell, struct rp_err *err)
{
	char *p = out->normalized;
	const char *end = p + sizeof(out->normalized);
	const char *dom = out->domain;
	size_t dlen = strlen(dom);

	if (!out->is_docker_hub && out->port == 0 && dom[0] != '[' &&
	    memchr(dom, '.', dlen) == NULL && strcmp(dom, "localhost") != 0)
		dom = spell;
	p = ref_put(p, end, dom, dlen);
	if (out->port != 0)
		p = ref_put_port(p, end, out->port);
	p = ref_put(p, end, "/", 1);
	p = ref_put(p, end, out->path, strlen(out->path));
	if (out->tag[0] != '\0') {
		p = ref_put(p, end, ":", 1);
		p = ref_put(p, end, out->tag, strlen(out->tag));
	} else if (out->digest[0] == '\0') {
		p = ref_put(p, end, ":latest", 7);
	}
	if (out->digest[0] != '\0') {
		p = ref_put(p, end, "@", 1);
		p = ref_put(p, end, out->digest, strlen(out->digest));
	}
	if (p == NULL)
		return rp_seterr(err, "E_REF", "The normalised image reference would be too long.");
	*p = '\0';
	return 0;
}

/* Cheaper than zeroing the whole struct (about 1.4 KiB) on every check. */
static void ref_clear(struct ref_parsed *out)
{
	out->domain[0] = '\0';
	out->port = 0;
	out->path[0] = '\0';
	out->tag[0] = '\0';
	out->digest[0] = '\0';
	out->is_docker_hub = false;
	out->normalized[0] = '\0';
}

int ref_normalize(const char *s, struct ref_parsed *out, struct rp_err *err)
{
	const char *at, *spell = NULL;
	size_t len, name_len;

	ref_clear(out);
	if (s == NULL)
		return rp_seterr(err, "E_REF", "No image reference was given.");
	len = strnlen(s, REF_MAX_INPUT + 1);
	if (ref_check_chars(s, len, err) != 0)
		goto fail;
	at = memchr(s, '@', len);
	name_len = at != NULL ? (size_t)(at - s) : len;
	if (at != NULL && memchr(at + 1, '@', len - name_len - 1) != NULL) {
		rp_seterr(err, "E_REF", "The image reference contains more than one '@'.");
		goto fail;
	}
	if (at != NULL && ref_parse_digest(at + 1, len - name_len - 1, out, err) != 0)
		goto fail;
	if (name_len == 0) {
		rp_seterr(err, "E_REF", "The image reference has no repository name.");
		goto fail;
	}
	if (ref_split_tag(s, &name_len, out, err) != 0 ||
	    ref_parse_name(s, name_len, out, &spell, err) != 0 ||
	    ref_assemble(out, spell, err) != 0)
		goto fail;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}
