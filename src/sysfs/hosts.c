/* SPDX-License-Identifier: ISC */
/*
 * Edits a hosts file in memory so that localhost and the configured names
 * resolve to loopback, then (hosts_apply_file) replaces the file atomically.
 * The file's content is untrusted text: it is size-capped, split into lines
 * and copied byte for byte; only our marked block is ever regenerated, and
 * only validated names and addresses ever go into it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hosts.h"
#include "safefs.h"

#define NONE ((size_t)-1)
#define MAX_WANT (HOSTS_MAX_NAMES + 2)

enum hl_kind { HL_USER, HL_BEGIN, HL_END, HL_BLOCK, HL_DISABLED };

struct hline {
	const char *p; /* first byte */
	size_t len;    /* bytes including the line end */
	size_t clen;   /* bytes without "\n" / "\r\n" */
	enum hl_kind kind;
	int disable; /* comment it out in the output */
};

struct hfile {
	struct hline *l;
	size_t n;
	size_t begin, end; /* marker lines, NONE if absent */
	const char *eol;   /* "\n" or "\r\n", from the first line end */
};

struct hmap { /* one parsed "address name..." line */
	int af;
	unsigned char bin[16];
	const char *names; /* rest of the line after the address */
	const char *e;
};

struct went { /* one wanted name -> address */
	char name[254];
	char addr[46];
	int af;
	unsigned char bin[16];
	int present, conflict, fixed;
	size_t line; /* index of the deciding user line, NONE if none */
};

struct kept { /* a name from a line we commented out, re-added in our block */
	char addr[64];
	char name[254];
};

struct hedit {
	struct hfile f;
	struct went w[MAX_WANT];
	size_t nw;
	struct kept k[HOSTS_MAX_KEPT];
	size_t nk;
};

struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = (b->n + n) * 2 + 64;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

int hosts_name_ok(const char *name)
{
	size_t n = strlen(name), label = 0;
	struct in_addr a4;

	if (n == 0 || n > 253 || inet_pton(AF_INET, name, &a4) == 1)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || name[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		label++;
	}
	return 1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Next token of [*p, e) before any '#'; returns its length, 0 when none is left. */
static size_t tok_next(const char **p, const char *e, const char **tok)
{
	const char *s = *p;

	while (s < e && is_blank(*s))
		s++;
	if (s >= e || *s == '#') {
		*p = e;
		return 0;
	}
	*tok = s;
	while (s < e && !is_blank(*s) && *s != '#')
		s++;
	*p = s;
	return (size_t)(s - *tok);
}

/* Parses "address names..." in [p, e); 0 if the line is no mapping we understand. */
static int map_parse(const char *p, const char *e, struct hmap *m)
{
	const char *tok;
	char a[64];
	size_t n = tok_next(&p, e, &tok);

	if (n == 0 || n >= sizeof(a))
		return 0;
	memcpy(a, tok, n);
	a[n] = '\0';
	if (inet_pton(AF_INET, a, m->bin) == 1)
		m->af = AF_INET;
	else if (inet_pton(AF_INET6, a, m->bin) == 1)
		m->af = AF_INET6;
	else
		return 0;
	m->names = p;
	m->e = e;
	return 1;
}

static int map_has(const struct hmap *m, const char *name)
{
	const char *p = m->names, *tok;
	size_t n, nl = strlen(name);

	while ((n = tok_next(&p, m->e, &tok)) > 0)
		if (n == nl && strncasecmp(tok, name, n) == 0)
			return 1;
	return 0;
}

static int map_same(const struct hmap *m, const struct went *w)
{
	return memcmp(m->bin, w->bin, w->af == AF_INET ? 4 : 16) == 0;
}

/* The content of a line with trailing blanks cut equals s. */
static int line_is(const struct hline *l, const char *s)
{
	size_t n = l->clen, sl = strlen(s);

	while (n > 0 && is_blank(l->p[n - 1]))
		n--;
	return n == sl && memcmp(l->p, s, n) == 0;
}

/* A line we commented out: our prefix, then a mapping line we understand. */
static int line_disabled(const struct hline *l)
{
	size_t pl = strlen(HOSTS_DISABLED);
	struct hmap m;

	return l->clen >= pl && memcmp(l->p, HOSTS_DISABLED, pl) == 0 &&
	       map_parse(l->p + pl, l->p + l->clen, &m);
}

static int hfile_split(const char *in, size_t len, struct hfile *f, struct rp_err *err)
{
	size_t n = 0, i = 0;
	const char *nl;

	for (const char *p = in; p < in + len && (nl = memchr(p, '\n', (size_t)(in + len - p)));
	     p = nl + 1)
		n++;
	f->l = calloc(n + 1, sizeof(*f->l));
	if (f->l == NULL)
		return rp_seterr(err, "E_HOSTS_NOMEM",
		                 "out of memory reading the hosts file; "
		                 "nothing was changed");
	nl = memchr(in, '\n', len);
	/* a file whose only line ends in a bare '\r' is a CRLF file missing its last '\n' */
	f->eol = (nl != NULL ? nl > in && nl[-1] == '\r' : len > 0 && in[len - 1] == '\r') ? "\r\n"
	                                                                                   : "\n";
	for (const char *p = in; p < in + len; i++) {
		struct hline *l = &f->l[i];
		nl = memchr(p, '\n', (size_t)(in + len - p));
		l->p = p;
		l->len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(in + len - p);
		l->clen = nl != NULL ? l->len - 1 : l->len;
		if (nl != NULL && l->clen > 0 && p[l->clen - 1] == '\r')
			l->clen--;
		p += l->len;
	}
	f->n = i;
	return 0;
}

static int hfile_markers(struct hfile *f, struct rp_err *err)
{
	size_t nb = 0, ne = 0;

	f->begin = f->end = NONE;
	for (size_t i = 0; i < f->n; i++) {
		struct hline *l = &f->l[i];
		if (line_is(l, HOSTS_BEGIN) && nb++ == 0)
			f->begin = i;
		else if (line_is(l, HOSTS_END) && ne++ == 0)
			f->end = i;
		l->kind = line_is(l, HOSTS_BEGIN) ? HL_BEGIN
		          : line_is(l, HOSTS_END) ? HL_END
		          : line_disabled(l)      ? HL_DISABLED
		                                  : HL_USER;
	}
	if (nb > 1 || ne > 1 || (nb != ne) || (nb == 1 && f->end < f->begin))
		return rp_seterr(err, "E_HOSTS_MARKERS",
		                 "the hosts file has %zu '%s' and %zu '%s' lines%s; expected one "
		                 "pair in that order or none; nothing was changed; fix or remove "
		                 "the markers by hand",
		                 nb, HOSTS_BEGIN, ne, HOSTS_END,
		                 nb == 1 && ne == 1 ? " in the wrong order" : "");
	for (size_t i = f->begin + 1; nb == 1 && i < f->end; i++)
		f->l[i].kind = HL_BLOCK;
	return 0;
}

static int hfile_load(const char *in, size_t len, struct hfile *f, struct rp_err *err)
{
	memset(f, 0, sizeof(*f));
	f->begin = f->end = NONE;
	if (len > HOSTS_MAX_INPUT)
		return rp_seterr(err, "E_HOSTS_TOO_BIG",
		                 "the hosts file is %zu bytes, over the "
		                 "%d byte limit; nothing was changed",
		                 len, HOSTS_MAX_INPUT);
	if (len > 0 && memchr(in, '\0', len) != NULL)
		return rp_seterr(err, "E_HOSTS_INPUT",
		                 "the hosts file contains a NUL byte; "
		                 "nothing was changed");
	if (hfile_split(in, len, f, err) == -1)
		return -1;
	return hfile_markers(f, err);
}

/* Adds name -> addr to the wanted list after validating both; duplicates fold. */
static int want_add(struct hedit *h, const char *name, const char *addr, struct rp_err *err)
{
	struct went w = {.line = NONE};

	if (name == NULL || !hosts_name_ok(name))
		return rp_seterr(err, "E_HOSTS_NAME",
		                 "refusing the host name '%.80s': a host "
		                 "name has at most 253 bytes in labels of letters, digits and '-' "
		                 "(no spaces, '#', '_' or control characters); nothing was changed",
		                 name != NULL ? name : "");
	if (addr != NULL && inet_pton(AF_INET, addr, w.bin) == 1)
		w.af = AF_INET;
	else if (addr != NULL && inet_pton(AF_INET6, addr, w.bin) == 1)
		w.af = AF_INET6;
	else
		return rp_seterr(err, "E_HOSTS_ADDR",
		                 "refusing the address '%.80s' for %s: not "
		                 "an IPv4 or IPv6 literal; nothing was changed",
		                 addr != NULL ? addr : "", name);
	rp_strlcpy(w.name, name, sizeof(w.name));
	inet_ntop(w.af, w.bin, w.addr, sizeof(w.addr));
	for (size_t i = 0; i < h->nw; i++) {
		if (h->w[i].af != w.af || strcasecmp(h->w[i].name, name) != 0)
			continue;
		if (memcmp(h->w[i].bin, w.bin, sizeof(w.bin)) == 0)
			return 0;
		return rp_seterr(err, "E_HOSTS_NAME",
		                 "%s is wanted at two addresses (%s and "
		                 "%s); nothing was changed",
		                 name, h->w[i].addr, w.addr);
	}
	h->w[h->nw++] = w;
	return 0;
}

static int want_build(struct hedit *h, const struct hosts_want *want, struct rp_err *err)
{
	size_t n = want != NULL ? want->n_names : 0;

	if (n > HOSTS_MAX_NAMES || (n > 0 && want->names == NULL))
		return rp_seterr(err, "E_HOSTS_NAME",
		                 "too many host names (%zu, limit %d); "
		                 "nothing was changed",
		                 n, HOSTS_MAX_NAMES);
	if (want_add(h, "localhost", "127.0.0.1", err) == -1 ||
	    want_add(h, "localhost", "::1", err) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (want_add(h, want->names[i].name, want->names[i].addr, err) == -1)
			return -1;
	return 0;
}

/*
 * User lines in file order decide, as the resolver does: the first line
 * mapping the name in w's family is either ours (present) or not (conflict).
 */
static void want_eval_user(struct hedit *h, struct went *w)
{
	struct hmap m;

	for (size_t i = 0; i < h->f.n; i++) {
		const struct hline *l = &h->f.l[i];
		if (l->kind != HL_USER || l->disable || !map_parse(l->p, l->p + l->clen, &m) ||
		    m.af != w->af || !map_has(&m, w->name))
			continue;
		if (w->line == NONE)
			w->line = i;
		if (map_same(&m, w)) {
			w->present = !w->conflict;
			return;
		}
		w->conflict = 1;
	}
}

/* Comments out every user line mapping w's name to another address of its family. */
static void want_fix(struct hedit *h, struct went *w)
{
	struct hmap m;

	for (size_t i = 0; i < h->f.n; i++) {
		struct hline *l = &h->f.l[i];
		if (l->kind == HL_USER && map_parse(l->p, l->p + l->clen, &m) && m.af == w->af &&
		    map_has(&m, w->name) && !map_same(&m, w))
			l->disable = 1;
	}
	w->fixed = 1;
	w->present = w->conflict = 0;
	w->line = NONE;
	want_eval_user(h, w);
}

static int kept_add(struct hedit *h, const char *a, size_t an, const char *nm, size_t nn,
                    struct rp_err *err)
{
	struct kept *k;

	if (nn == 9 && strncasecmp(nm, "localhost", 9) == 0)
		return 0;
	for (size_t i = 0; i < h->nk; i++)
		if (strlen(h->k[i].addr) == an && memcmp(h->k[i].addr, a, an) == 0 &&
		    strlen(h->k[i].name) == nn && strncasecmp(h->k[i].name, nm, nn) == 0)
			return 0;
	if (h->nk == HOSTS_MAX_KEPT || an >= sizeof(k->addr) || nn >= sizeof(k->name))
		return rp_seterr(err, "E_HOSTS_INPUT",
		                 "the lines mapping localhost elsewhere "
		                 "carry too many or too long other names to keep; nothing was "
		                 "changed; edit the hosts file by hand");
	k = &h->k[h->nk++];
	memcpy(k->addr, a, an);
	k->addr[an] = '\0';
	memcpy(k->name, nm, nn);
	k->name[nn] = '\0';
	return 0;
}

/* Names other than localhost on commented-out lines keep resolving via our block. */
static int kept_build(struct hedit *h, struct rp_err *err)
{
	size_t pl = strlen(HOSTS_DISABLED);

	for (size_t i = 0; i < h->f.n; i++) {
		const struct hline *l = &h->f.l[i];
		const char *p, *e = l->p + l->clen, *a, *tok;
		size_t an, n;
		if (l->kind == HL_DISABLED)
			p = l->p + pl;
		else if (l->disable)
			p = l->p;
		else
			continue;
		an = tok_next(&p, e, &a); /* the address: the line parsed as a mapping */
		while ((n = tok_next(&p, e, &tok)) > 0)
			if (kept_add(h, a, an, tok, n, err) == -1)
				return -1;
	}
	return 0;
}

/* Kept names count as the user's own mappings when no user line decided. */
static void want_eval_kept(struct hedit *h, struct went *w)
{
	struct hmap m;

	for (size_t i = 0; i < h->nk && w->line == NONE; i++) {
		const char *a = h->k[i].addr;
		if (strcasecmp(h->k[i].name, w->name) != 0 || !map_parse(a, a + strlen(a), &m) ||
		    m.af != w->af)
			continue;
		w->present = map_same(&m, w);
		w->conflict = !w->present;
		return;
	}
}

static int want_eval(struct hedit *h, unsigned flags, struct hosts_report *rep, struct rp_err *err)
{
	for (size_t i = 0; i < 2; i++) { /* localhost, IPv4 and IPv6 */
		struct went *w = &h->w[i];
		want_eval_user(h, w);
		if (w->conflict) {
			rep->localhost_conflict = 1;
			if (flags & HOSTS_FIX_LOCALHOST)
				want_fix(h, w);
		}
	}
	if (kept_build(h, err) == -1)
		return -1;
	for (size_t i = 2; i < h->nw; i++) {
		want_eval_user(h, &h->w[i]);
		want_eval_kept(h, &h->w[i]);
	}
	return 0;
}

static int want_needs_line(const struct went *w)
{
	return !w->present && !w->conflict;
}

static void block_emit(const struct hedit *h, struct buf *b)
{
	const char *eol = h->f.eol;

	buf_str(b, HOSTS_BEGIN);
	buf_str(b, eol);
	for (size_t i = 0; i < h->nk; i++) {
		buf_str(b, h->k[i].addr);
		buf_str(b, " ");
		buf_str(b, h->k[i].name);
		buf_str(b, eol);
	}
	for (size_t i = 0; i < h->nw; i++) {
		if (!want_needs_line(&h->w[i]))
			continue;
		buf_str(b, h->w[i].addr);
		buf_str(b, " ");
		buf_str(b, h->w[i].name);
		buf_str(b, eol);
	}
	buf_str(b, HOSTS_END);
	buf_str(b, eol);
}

static int block_needed(const struct hedit *h)
{
	for (size_t i = 0; i < h->nw; i++)
		if (want_needs_line(&h->w[i]))
			return 1;
	return h->nk > 0;
}

static void edit_emit(const struct hedit *h, const char *in, size_t len, struct buf *b,
                      struct hosts_report *rep)
{
	int block = block_needed(h);

	for (size_t i = 0; i < h->f.n; i++) {
		const struct hline *l = &h->f.l[i];
		if (l->kind == HL_BEGIN && block)
			block_emit(h, b);
		if (l->kind == HL_BEGIN || l->kind == HL_BLOCK || l->kind == HL_END)
			continue;
		if (l->disable) {
			buf_str(b, HOSTS_DISABLED);
			rep->n_disabled++;
		}
		buf_add(b, l->p, l->len);
	}
	if (block && h->f.begin == NONE) {
		if (len > 0 && in[len - 1] != '\n')
			buf_str(b, in[len - 1] == '\r' ? "\n" : h->f.eol);
		block_emit(h, b);
	}
	rep->has_block = block;
}

static void edit_report(const struct hedit *h, struct hosts_report *rep)
{
	for (size_t i = 0; i < h->nw && rep->n_items < HOSTS_MAX_ITEMS; i++) {
		const struct went *w = &h->w[i];
		struct hosts_item *it = &rep->items[rep->n_items++];
		rp_strlcpy(it->name, w->name, sizeof(it->name));
		rp_strlcpy(it->addr, w->addr, sizeof(it->addr));
		it->state = w->fixed      ? HOSTS_ITEM_FIXED
		            : w->present  ? HOSTS_ITEM_PRESENT
		            : w->conflict ? HOSTS_ITEM_CONFLICT
		                          : HOSTS_ITEM_ADDED;
		it->line = w->line != NONE ? (unsigned)w->line + 1 : 0;
	}
}

static int edit_finish(struct buf *b, const char *in, size_t len, char **out, size_t *outlen,
                       struct hosts_report *rep, struct rp_err *err)
{
	if (b->oom) {
		free(b->p);
		return rp_seterr(err, "E_HOSTS_NOMEM",
		                 "out of memory editing the hosts file; "
		                 "nothing was changed");
	}
	if (b->p == NULL && (b->p = malloc(1)) == NULL)
		return rp_seterr(err, "E_HOSTS_NOMEM",
		                 "out of memory editing the hosts file; "
		                 "nothing was changed");
	rep->changed = b->n != len || (len > 0 && memcmp(b->p, in, len) != 0);
	*out = b->p;
	*outlen = b->n;
	return 0;
}

int hosts_edit(const char *in, size_t len, const struct hosts_want *want, unsigned flags,
               char **out, size_t *outlen, struct hosts_report *rep, struct rp_err *err)
{
	struct hedit *h = calloc(1, sizeof(*h));
	struct buf b = {0};
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	memset(rep, 0, sizeof(*rep));
	if (in == NULL)
		in = "";
	if (h == NULL) {
		rp_seterr(err, "E_HOSTS_NOMEM", "out of memory; nothing was changed");
		goto out;
	}
	if (want_build(h, want, err) == -1 || hfile_load(in, len, &h->f, err) == -1 ||
	    want_eval(h, flags, rep, err) == -1)
		goto out;
	rep->had_block = h->f.begin != NONE;
	edit_emit(h, in, len, &b, rep);
	edit_report(h, rep);
	rc = edit_finish(&b, in, len, out, outlen, rep, err);
out:
	if (h != NULL)
		free(h->f.l);
	free(h);
	return rc;
}

int hosts_remove(const char *in, size_t len, char **out, size_t *outlen, struct hosts_report *rep,
                 struct rp_err *err)
{
	struct hfile f;
	struct buf b = {0};
	size_t pl = strlen(HOSTS_DISABLED);
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	memset(rep, 0, sizeof(*rep));
	if (in == NULL)
		in = "";
	if (hfile_load(in, len, &f, err) == -1)
		goto out;
	rep->had_block = f.begin != NONE;
	for (size_t i = 0; i < f.n; i++) {
		const struct hline *l = &f.l[i];
		if (l->kind == HL_BEGIN || l->kind == HL_BLOCK || l->kind == HL_END)
			continue;
		if (l->kind == HL_DISABLED) {
			buf_add(&b, l->p + pl, l->len - pl);
			rep->n_restored++;
		} else {
			buf_add(&b, l->p, l->len);
		}
	}
	rc = edit_finish(&b, in, len, out, outlen, rep, err);
out:
	free(f.l);
	return rc;
}

/* Reads the whole regular file fd (at most HOSTS_MAX_INPUT + 1 bytes). */
static int file_read(int fd, char **data, size_t *len, struct rp_err *err)
{
	size_t cap = HOSTS_MAX_INPUT + 1, n = 0;
	char *p = malloc(cap);

	if (p == NULL)
		return rp_seterr(err, "E_HOSTS_NOMEM", "out of memory; nothing was changed");
	while (n < cap) {
		ssize_t r = pread(fd, p + n, cap - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(p);
			return rp_seterr(err, "E_HOSTS_OPEN",
			                 "cannot read the hosts file: %s; "
			                 "nothing was changed",
			                 strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*data = p;
	*len = n;
	return 0;
}

static int file_open(int dfd, const char *base, const char *path, struct stat *st,
                     struct rp_err *err)
{
	int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1 && (errno == ELOOP || errno == EMLINK))
		return rp_seterr(err, "E_HOSTS_OPEN",
		                 "%s is a symbolic link; refusing to "
		                 "replace it with a file; nothing was changed; configure the "
		                 "real path",
		                 path);
	if (fd == -1)
		return rp_seterr(err, "E_HOSTS_OPEN", "cannot open %s: %s; nothing was changed",
		                 path, strerror(errno));
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		close(fd);
		return rp_seterr(err, "E_HOSTS_OPEN",
		                 "%s is not a regular file; nothing was "
		                 "changed",
		                 path);
	}
	return fd;
}

/* The file is still the inode we read and still holds the bytes we read. */
static int file_same(int dfd, const char *base, int fd, const struct stat *st, const char *data,
                     size_t len, const char *path, struct rp_err *err)
{
	struct stat now;
	char *again = NULL;
	size_t alen = 0;
	int same;

	if (fstatat(dfd, base, &now, AT_SYMLINK_NOFOLLOW) == -1 || now.st_ino != st->st_ino ||
	    now.st_dev != st->st_dev || file_read(fd, &again, &alen, NULL) == -1)
		return rp_seterr(err, "E_HOSTS_RACE",
		                 "%s was replaced while we edited it; "
		                 "nothing was written; try again",
		                 path);
	same = alen == len && memcmp(again, data, len) == 0;
	free(again);
	if (!same)
		return rp_seterr(err, "E_HOSTS_RACE",
		                 "%s changed while we edited it; nothing "
		                 "was written; try again",
		                 path);
	return 0;
}

static int hosts_file(const char *path, const struct hosts_want *want, unsigned flags, int remove,
                      struct hosts_report *rep, struct rp_err *err)
{
	const struct safefs_trust t = {SAFEFS_FOLLOW_ROOT_LINKS, (uid_t)-1, (gid_t)-1};
	char base[256], *in = NULL, *out = NULL;
	size_t len = 0, outlen = 0;
	struct stat st;
	int dfd, fd = -1, rc = -1;

	memset(rep, 0, sizeof(*rep));
	if ((dfd = safefs_open_parent(path, &t, base, sizeof(base), err)) == -1)
		return -1;
	if ((fd = file_open(dfd, base, path, &st, err)) == -1 ||
	    file_read(fd, &in, &len, err) == -1)
		goto out;
	if (remove ? hosts_remove(in, len, &out, &outlen, rep, err)
	           : hosts_edit(in, len, want, flags, &out, &outlen, rep, err))
		goto out;
	if (rep->changed && (file_same(dfd, base, fd, &st, in, len, path, err) == -1 ||
	                     safefs_write_atomic(dfd, base, out, outlen, st.st_uid, st.st_gid,
	                                         st.st_mode, err) == -1))
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	free(in);
	free(out);
	return rc;
}

int hosts_apply_file(const char *path, const struct hosts_want *want, unsigned flags,
                     struct hosts_report *rep, struct rp_err *err)
{
	return hosts_file(path, want, flags, 0, rep, err);
}

int hosts_remove_file(const char *path, struct hosts_report *rep, struct rp_err *err)
{
	return hosts_file(path, NULL, 0, 1, rep, err);
}
