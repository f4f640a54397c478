/* SPDX-License-Identifier: ISC */
/*
 * Adds "rampart" to, or removes it from, "authorization-plugins" in dockerd's
 * daemon.json for scripts/install --enforce and scripts/uninstall.  The file
 * belongs to the admin: only that one member is rewritten, every other byte
 * (keys, values, number spellings, comments-free formatting) is kept, and the
 * result is checked with jansson to equal the input plus exactly that change
 * before it replaces the file (temp + fsync + rename, same owner and mode).
 * A file "add" creates is recorded beside it (<file>.rampart-created), so that
 * "remove" (scripts/uninstall, the package's prerm) deletes it again when
 * rampart's entry was all it held, and never a file the admin made.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz.h"

#define DJ_KEY "authorization-plugins"
#define DJ_NAME "rampart"
#define DJ_NAME_Q "\"rampart\""
#define DJ_MAX (1u << 20)
#define DJ_CREATED ".rampart-created"

struct dj_span {
	size_t key, value, end; /* key starts at '"', value at its first byte, end after it */
	bool found;
};

static size_t dj_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* End of the JSON value starting at i (input already validated by jansson). */
static size_t dj_skip(const char *s, size_t i, size_t n)
{
	int depth = 0;

	do {
		if (i >= n)
			return n;
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			i++;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
			i++;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
			i++;
		} else if (depth > 0) {
			i++;
		} else {
			while (i < n && strchr(",}] \t\r\n", s[i]) == NULL)
				i++;
		}
	} while (depth > 0);
	return i;
}

/* Finds the member spelled exactly "authorization-plugins"; *close gets the '}' offset. */
static void dj_find(const char *s, size_t n, struct dj_span *sp, size_t *open, size_t *close)
{
	size_t i = dj_ws(s, 0, n);

	memset(sp, 0, sizeof(*sp));
	*open = i;
	i = dj_ws(s, i + 1, n);
	while (i < n && s[i] == '"') {
		size_t k = i, v;
		i = dj_skip(s, i, n);
		v = dj_ws(s, dj_ws(s, i, n) + 1, n); /* past ':' */
		if (i - k == sizeof(DJ_KEY) + 1 &&
		    memcmp(s + k + 1, DJ_KEY, sizeof(DJ_KEY) - 1) == 0) {
			sp->found = true;
			sp->key = k;
			sp->value = v;
			sp->end = dj_skip(s, v, n);
		}
		i = dj_ws(s, dj_skip(s, v, n), n);
		if (i < n && s[i] == ',')
			i = dj_ws(s, i + 1, n);
	}
	*close = i;
}

static char *dj_splice(const char *s, size_t n, size_t from, size_t to, const char *ins)
{
	size_t il = strlen(ins);
	char *o = malloc(n - (to - from) + il + 1);

	if (o == NULL)
		return NULL;
	memcpy(o, s, from);
	memcpy(o + from, ins, il);
	memcpy(o + from + il, s + to, n - to);
	o[n - (to - from) + il] = '\0';
	return o;
}

/* The new array for the key: json text, or NULL when the member is to go. */
static int dj_new_array(json_t *old, bool add, char **text, bool *changed, struct rp_err *err)
{
	json_t *arr = old ? json_deep_copy(old) : json_array(), *x;
	size_t i, left;
	bool has = false;

	*text = NULL;
	*changed = false;
	if (arr == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	if (!json_is_array(arr)) {
		json_decref(arr);
		return rp_seterr(err, "E_DAEMONJSON", "\"%s\" is not an array; not touching it",
		                 DJ_KEY);
	}
	for (i = json_array_size(arr); i-- > 0;) {
		x = json_array_get(arr, i);
		if (json_is_string(x) && strcmp(json_string_value(x), DJ_NAME) == 0) {
			has = true;
			if (!add)
				json_array_remove(arr, i);
		}
	}
	if (add && !has)
		json_array_append_new(arr, json_string(DJ_NAME));
	*changed = add ? !has : has;
	left = json_array_size(arr);
	if (*changed && left > 0)
		*text = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(arr);
	if (*changed && left > 0 && *text == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	return 0;
}

/*
 * The array edited in place, so the admin's spacing survives an add and the remove
 * that undoes it byte for byte: "rampart" appended after the last element, or its one
 * element (spelled exactly "rampart") cut out with the comma before it (after it, if
 * first).  NULL when that cannot be done textually; the caller then writes the
 * re-rendered array, and dj_verify checks either result.
 */
static char *dj_splice_array(const char *s, size_t n, const struct dj_span *sp, bool add)
{
	static const char name[] = "\"" DJ_NAME "\"";
	size_t i = dj_ws(s, sp->value + 1, n), prev_end = 0, cut0 = 0, cut1 = 0, hits = 0;
	size_t last = sp->end - 1; /* the ']' */

	if (sp->end <= sp->value + 1 || s[sp->value] != '[' || s[last] != ']')
		return NULL;
	if (add) {
		size_t at = last;
		while (at > sp->value && strchr(" \t\r\n", s[at - 1]) != NULL)
			at--;
		return dj_splice(s, n, at, at, s[at - 1] == '[' ? name : ", " DJ_NAME_Q);
	}
	while (i < last && s[i] != ']') {
		size_t e = dj_skip(s, i, n), next = dj_ws(s, e, n);
		if (next < last && s[next] == ',')
			next = dj_ws(s, next + 1, n);
		if (e - i == sizeof(name) - 1 && memcmp(s + i, name, e - i) == 0) {
			hits++;
			cut0 = prev_end ? prev_end : i;
			cut1 = prev_end ? e : next;
		}
		prev_end = e;
		i = next;
	}
	return hits == 1 ? dj_splice(s, n, cut0, cut1, "") : NULL;
}

/* The text with the member replaced, removed or appended. */
static char *dj_apply(const char *s, size_t n, const struct dj_span *sp, size_t close,
                      const char *arr)
{
	char ins[256];
	size_t from, to;

	if (sp->found && arr != NULL)
		return dj_splice(s, n, sp->value, sp->end, arr);
	if (sp->found) { /* remove the member and one comma next to it */
		from = sp->key;
		to = dj_ws(s, sp->end, n);
		if (to < n && s[to] == ',') {
			to = dj_ws(s, to + 1, n);
		} else {
			while (from > 0 && s[from - 1] != ',' && s[from - 1] != '{')
				from--;
			if (from > 0 && s[from - 1] == ',')
				from--;
			to = sp->end;
		}
		return dj_splice(s, n, from, to, "");
	}
	/* append after the last member, or fill an empty object */
	from = close;
	while (from > 0 && strchr(" \t\r\n", s[from - 1]) != NULL)
		from--;
	snprintf(ins, sizeof(ins), "%s\"%s\": %s", s[from - 1] == '{' ? "" : ", ", DJ_KEY, arr);
	return dj_splice(s, n, from, from, ins);
}

/* The result must be the input with only DJ_KEY changed, to want (NULL: gone). */
static int dj_verify(json_t *before, const char *text, const char *want, struct rp_err *err)
{
	json_t *after = json_loads(text, JSON_REJECT_DUPLICATES, NULL), *a, *b, *w;
	int ok;

	if (after == NULL)
		return rp_seterr(err, "E_DAEMONJSON", "internal error: edited text is not JSON");
	w = want != NULL ? json_loads(want, JSON_DECODE_ANY, NULL) : NULL;
	ok = want != NULL ? w != NULL && json_equal(w, json_object_get(after, DJ_KEY))
	                  : json_object_get(after, DJ_KEY) == NULL;
	json_decref(w);
	a = json_deep_copy(before);
	b = json_deep_copy(after);
	json_object_del(a, DJ_KEY);
	json_object_del(b, DJ_KEY);
	ok = ok && json_equal(a, b);
	json_decref(a);
	json_decref(b);
	json_decref(after);
	return ok ? 0 : rp_seterr(err, "E_DAEMONJSON", "internal error: edit changed other keys");
}

int authz_daemonjson_edit(const char *in, size_t len, bool add, char **out, struct rp_err *err)
{
	json_error_t jerr;
	json_t *root;
	struct dj_span sp;
	size_t open, close;
	char *arr = NULL, *res = NULL;
	bool changed;
	int rc = -1;

	*out = NULL;
	if (memchr(in, '\0', len) != NULL) /* jansson skips it; dockerd (Go) refuses it */
		return rp_seterr(err, "E_DAEMONJSON",
		                 "it contains a NUL byte, which is not JSON; not touching it");
	root = json_loadb(in, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return rp_seterr(err, "E_DAEMONJSON",
		                 "not valid JSON (line %d: %s); not touching it", jerr.line,
		                 jerr.text);
	if (!json_is_object(root)) {
		rp_seterr(err, "E_DAEMONJSON", "top level is not an object; not touching it");
		goto out;
	}
	dj_find(in, len, &sp, &open, &close);
	if (sp.found != (json_object_get(root, DJ_KEY) != NULL)) {
		rp_seterr(err, "E_DAEMONJSON", "\"%s\" is spelled with escapes; edit it by hand",
		          DJ_KEY);
		goto out;
	}
	if (dj_new_array(json_object_get(root, DJ_KEY), add, &arr, &changed, err) < 0)
		goto out;
	if (!changed) {
		rc = 0;
		goto out;
	}
	/* the array edited in place if that checks out, else re-rendered */
	if (sp.found && arr != NULL && (res = dj_splice_array(in, len, &sp, add)) != NULL &&
	    dj_verify(root, res, arr, err) < 0) {
		free(res);
		res = NULL;
	}
	if (res == NULL && (res = dj_apply(in, len, &sp, close, arr)) == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory");
		goto out;
	}
	if (dj_verify(root, res, arr, err) < 0)
		goto out;
	*out = res;
	res = NULL;
	rc = 0;
out:
	free(arr);
	free(res);
	json_decref(root);
	return rc;
}

static int dj_read(const char *path, char **buf, size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	*buf = NULL;
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size > (off_t)DJ_MAX ||
	    (*buf = malloc((size_t)st->st_size + 1)) == NULL) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	n = read(fd, *buf, (size_t)st->st_size);
	close(fd);
	if (n != st->st_size) {
		free(*buf);
		*buf = NULL;
		errno = EIO;
		return -1;
	}
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

static int dj_write(const char *path, const char *text, const struct stat *st)
{
	char tmp[4200];
	size_t len = strlen(text);
	int fd, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.rampart.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return -1;
	if (write(fd, text, len) == (ssize_t)len &&
	    (st == NULL || fchown(fd, st->st_uid, st->st_gid) == 0) &&
	    fchmod(fd, st ? st->st_mode & 07777 : 0644) == 0 && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		rc = rename(tmp, path);
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* <path>.rampart-created into out; -1 if it does not fit. */
static int dj_marker(const char *path, char *out, size_t size)
{
	int n = snprintf(out, size, "%s" DJ_CREATED, path);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* An object with no member left (only rampart's entry was ever in it). */
static bool dj_is_empty_object(const char *text)
{
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	bool empty = json_is_object(j) && json_object_size(j) == 0;

	json_decref(j);
	return empty;
}

/*
 * After a remove: a file that "add" created goes when nothing but rampart's entry
 * was in it; the record goes either way (a file with the admin's keys is theirs).
 */
static int dj_forget_created(const char *path, const char *text)
{
	char marker[4200];
	struct stat st;

	if (dj_marker(path, marker, sizeof(marker)) < 0 || lstat(marker, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	if (text != NULL && dj_is_empty_object(text)) {
		if (unlink(path) < 0 && errno != ENOENT) {
			fprintf(stderr, "rampart-authz: removing %s: %s\n", path, strerror(errno));
			return 1;
		}
		printf("%s: removed (rampart created it and nothing else is in it)\n", path);
	}
	if (unlink(marker) < 0 && errno != ENOENT) {
		fprintf(stderr, "rampart-authz: removing %s: %s\n", marker, strerror(errno));
		return 1;
	}
	return 0;
}

int authz_daemonjson_main(int argc, char **argv);

int authz_daemonjson_main(int argc, char **argv)
{
	struct rp_err err;
	struct stat st;
	char *in = NULL, *out = NULL;
	const char *path;
	char marker[4200];
	size_t len = 0;
	bool add;
	int fd, rc = 1;

	if (argc != 3 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "remove") != 0)) {
		fprintf(stderr, "usage: rampart-authz daemon-json add|remove FILE\n");
		return 2;
	}
	add = strcmp(argv[1], "add") == 0;
	path = argv[2];
	if (dj_read(path, &in, &len, &st) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "rampart-authz: %s: %s; nothing changed\n", path,
			        strerror(errno));
			return 1;
		}
		if (!add) {
			printf("%s: no such file, nothing to remove\n", path);
			return dj_forget_created(path, NULL);
		}
		if (dj_marker(path, marker, sizeof(marker)) < 0 ||
		    (fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0 ||
		    close(fd) < 0) {
			fprintf(stderr,
			        "rampart-authz: creating %s" DJ_CREATED ": %s; nothing changed\n",
			        path, strerror(errno));
			return 1;
		}
		if (dj_write(path, "{\n  \"" DJ_KEY "\": [\"" DJ_NAME "\"]\n}\n", NULL) < 0) {
			fprintf(stderr, "rampart-authz: creating %s: %s\n", path, strerror(errno));
			unlink(marker);
			return 1;
		}
		printf("%s: created with \"%s\": [\"%s\"]\n", path, DJ_KEY, DJ_NAME);
		return 0;
	}
	if (authz_daemonjson_edit(in, len, add, &out, &err) < 0) {
		fprintf(stderr, "rampart-authz: %s: %s: %s; nothing changed\n", path, err.code,
		        err.msg);
		goto out;
	}
	if (out == NULL) {
		printf("%s: unchanged (\"%s\" %s)\n", path, DJ_NAME,
		       add ? "already listed" : "not listed");
	} else if (dj_write(path, out, &st) < 0) {
		fprintf(stderr, "rampart-authz: writing %s: %s; nothing changed\n", path,
		        strerror(errno));
		goto out;
	} else {
		printf("%s: %s \"%s\" %s %s\n", path, add ? "added" : "removed", DJ_NAME,
		       add ? "to" : "from", DJ_KEY);
	}
	rc = add ? 0 : dj_forget_created(path, out != NULL ? out : in);
out:
	free(in);
	free(out);
	return rc;
}
