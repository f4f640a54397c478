/* SPDX-License-Identifier: ISC */
/*
 * hosts editing: golden files over messy real-world hosts files (CRLF, tabs,
 * comments, IPv6, duplicates, no final newline, an existing block),
 * idempotence, removal, injection attempts, broken markers, and the atomic
 * file replacement in a temp dir (never the real /etc/hosts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hosts.h"
#include "safefs.h"
#include "sysops_testutil.h"

static const struct hosts_name k8s[] = {{"kubernetes.docker.internal", "127.0.0.1"}};
static const struct hosts_want want = {k8s, 1};

static char *vec(const char *name, size_t *len)
{
	const char *src = getenv("RAMPART_SRC");
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/tests/vectors/hosts/%s", src != NULL ? src : ".", name);
	return tu_read(path, len);
}

static void edit_ok(const char *in, size_t len, unsigned flags, char **out, size_t *outlen,
                    struct hosts_report *rep)
{
	struct rp_err e = {"", ""};
	int rc = hosts_edit(in, len, &want, flags, out, outlen, rep, &e);
	if (rc != 0)
		fail_msg("hosts_edit: %s: %s", e.code, e.msg);
}

static void expect_bytes(const char *what, const char *got, size_t glen, const char *exp,
                         size_t elen)
{
	if (glen != elen || memcmp(got, exp, elen) != 0)
		fail_msg("%s: got %zu bytes:\n%.*s\n--- expected %zu bytes:\n%.*s", what, glen,
		         (int)glen, got, elen, (int)elen, exp);
}

/* edit(in) == exp, and editing exp again changes nothing (both flag settings). */
static void check_edit(const char *name, const char *in, size_t len, unsigned flags,
                       const char *exp, size_t elen)
{
	/* after a fix, a run without the flag keeps it too */
	const unsigned again_flags[2] = {flags, 0};
	int n_again = (flags & HOSTS_FIX_LOCALHOST) ? 2 : 1;
	struct hosts_report rep;
	char *out, *again;
	size_t olen, alen;

	edit_ok(in, len, flags, &out, &olen, &rep);
	expect_bytes(name, out, olen, exp, elen);
	assert_int_equal(rep.changed, len != elen || memcmp(in, exp, len) != 0);
	for (int i = 0; i < n_again; i++) {
		edit_ok(out, olen, again_flags[i], &again, &alen, &rep);
		expect_bytes("second run", again, alen, out, olen);
		assert_int_equal(rep.changed, 0);
		free(again);
	}
	free(out);
}

static void check_remove(const char *what, const char *in, size_t len, const char *exp, size_t elen)
{
	struct hosts_report rep;
	struct rp_err e;
	char *out, *again;
	size_t olen, alen;

	assert_int_equal(hosts_remove(in, len, &out, &olen, &rep, &e), 0);
	expect_bytes(what, out, olen, exp, elen);
	assert_int_equal(hosts_remove(out, olen, &again, &alen, &rep, &e), 0);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(rep.had_block, 0);
	free(again);
	free(out);
}

static void golden_case(const char *c)
{
	char name[128];
	size_t ilen, olen, flen, rlen;
	char *in, *out, *fix, *rem;

	snprintf(name, sizeof(name), "%s.in", c);
	in = vec(name, &ilen);
	snprintf(name, sizeof(name), "%s.out", c);
	out = vec(name, &olen);
	if (in == NULL || out == NULL)
		fail_msg("missing vector %s", c);
	snprintf(name, sizeof(name), "%s.fix.out", c);
	if ((fix = vec(name, &flen)) == NULL) { /* the fix changes nothing here */
		snprintf(name, sizeof(name), "%s.out", c);
		fix = vec(name, &flen);
	}
	snprintf(name, sizeof(name), "%s.removed", c);
	if ((rem = vec(name, &rlen)) == NULL) { /* removal gives the input back */
		snprintf(name, sizeof(name), "%s.in", c);
		rem = vec(name, &rlen);
	}

	check_edit(c, in, ilen, 0, out, olen);
	snprintf(name, sizeof(name), "%s (fix)", c);
	check_edit(name, in, ilen, HOSTS_FIX_LOCALHOST, fix, flen);
	check_remove(c, out, olen, rem, rlen);
	check_remove(c, fix, flen, rem, rlen);
	free(in);
	free(out);
	free(fix);
	free(rem);
}

static void test_golden(void **st)
{
	static const char *cases[] = {
	    "debian",
	    "macos-docker",
	    "windows-crlf",
	    "no-final-newline",
	    "crlf-no-final-newline",
	    "existing-block",
	    "conflict",
	    "empty",
	    "messy-present",
	    "block-redundant",
	    "extra-conflict",
	    "crlf-fixed-before",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		golden_case(cases[i]);
}

/* A run without the fix flag keeps an earlier fix (lines stay commented out). */
static void test_fix_is_kept_without_flag(void **st)
{
	struct hosts_report rep;
	size_t len, olen;
	char *in = vec("conflict.fix.out", &len), *out;

	assert_non_null(in);
	edit_ok(in, len, 0, &out, &olen, &rep);
	expect_bytes("no flag after fix", out, olen, in, len);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(rep.localhost_conflict, 0);
	free(out);
	free(in);
}

static void test_report_conflict(void **st)
{
	struct hosts_report rep;
	size_t len, olen;
	char *in = vec("conflict.in", &len), *out;

	assert_non_null(in);
	edit_ok(in, len, 0, &out, &olen, &rep);
	assert_int_equal(rep.localhost_conflict, 1);
	assert_int_equal(rep.n_items, 3);
	assert_string_equal(rep.items[0].name, "localhost");
	assert_string_equal(rep.items[0].addr, "127.0.0.1");
	assert_int_equal(rep.items[0].state, HOSTS_ITEM_CONFLICT);
	assert_int_equal(rep.items[0].line, 2);
	assert_string_equal(rep.items[1].addr, "::1");
	assert_int_equal(rep.items[1].state, HOSTS_ITEM_PRESENT);
	assert_int_equal(rep.items[1].line, 3);
	assert_int_equal(rep.items[2].state, HOSTS_ITEM_ADDED);
	assert_int_equal(rep.n_disabled, 0);
	free(out);

	edit_ok(in, len, HOSTS_FIX_LOCALHOST, &out, &olen, &rep);
	assert_int_equal(rep.localhost_conflict, 1);
	assert_int_equal(rep.items[0].state, HOSTS_ITEM_FIXED);
	assert_int_equal(rep.n_disabled, 1);
	assert_int_equal(rep.has_block, 1);
	free(out);
	free(in);
}

static void test_report_present(void **st)
{
	struct hosts_report rep;
	size_t len, olen;
	char *in = vec("macos-docker.in", &len), *out;

	assert_non_null(in);
	edit_ok(in, len, 0, &out, &olen, &rep);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(rep.has_block, 0);
	for (size_t i = 0; i < rep.n_items; i++)
		assert_int_equal(rep.items[i].state, HOSTS_ITEM_PRESENT);
	assert_int_equal(rep.items[0].line, 7);
	free(out);
	free(in);

	in = vec("extra-conflict.in", &len);
	edit_ok(in, len, HOSTS_FIX_LOCALHOST, &out, &olen, &rep);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(rep.localhost_conflict, 0);
	assert_int_equal(rep.items[2].state, HOSTS_ITEM_CONFLICT);
	assert_int_equal(rep.items[2].line, 3);
	free(out);
	free(in);
}

static void expect_refused(const char *name, const char *addr, const char *code)
{
	struct hosts_name n = {name, addr};
	struct hosts_want w = {&n, 1};
	struct hosts_report rep;
	struct rp_err e = {"", ""};
	char *out = (char *)1;
	size_t olen = 7;

	if (hosts_edit("127.0.0.1 localhost\n", 20, &w, 0, &out, &olen, &rep, &e) != -1)
		fail_msg("accepted name '%s' addr '%s': %.*s", name ? name : "(null)",
		         addr ? addr : "(null)", (int)olen, out);
	assert_string_equal(e.code, code);
	assert_null(out);
	assert_int_equal(olen, 0);
}

static void test_injection_refused(void **st)
{
	char long_name[300], long_label[80];
	static const char *bad[] = {
	    "evil\n10.6.6.6 bank.example",
	    "a b",
	    "a#b",
	    "a\tb",
	    "a\rb",
	    "",
	    "-a",
	    "a-",
	    "a..b",
	    ".a",
	    "a.",
	    "a_b",
	    "1.2.3.4",
	    "caf\xc3\xa9",
	    "a\x7f",
	    "a/b",
	    "foo.-bar",
	    "foo.bar-",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(bad[i], "127.0.0.1", "E_HOSTS_NAME");
	expect_refused(NULL, "127.0.0.1", "E_HOSTS_NAME");

	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	expect_refused(long_label, "127.0.0.1", "E_HOSTS_NAME");
	long_label[63] = '\0';
	assert_int_equal(hosts_name_ok(long_label), 1);
	for (size_t i = 0; i < 254; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[254] = '\0';
	long_name[253] = '\0'; /* 253 bytes ending in 'a' */
	assert_int_equal(hosts_name_ok(long_name), 1);
	long_name[253] = 'b';
	long_name[254] = '\0';
	expect_refused(long_name, "127.0.0.1", "E_HOSTS_NAME");
	assert_int_equal(hosts_name_ok("k8s-1.Example.internal"), 1);

	static const char *badaddr[] = {"127.0.0.1\n", "1.2.3.4 evil", "::1%lo0", "localhost", "",
	                                "999.1.1.1",   "1.2.3",        "::1#x"};
	for (size_t i = 0; i < sizeof(badaddr) / sizeof(badaddr[0]); i++)
		expect_refused("ok.example", badaddr[i], "E_HOSTS_ADDR");
	expect_refused("ok.example", NULL, "E_HOSTS_ADDR");
	/* the same name at two addresses of one family is a config error */
	expect_refused("localhost", "127.0.0.2", "E_HOSTS_NAME");
}

static void test_too_many_names(void **st)
{
	struct hosts_name n[HOSTS_MAX_NAMES + 1];
	struct hosts_want w = {n, HOSTS_MAX_NAMES + 1};
	struct hosts_report rep;
	struct rp_err e;
	char *out;
	size_t olen;

	for (size_t i = 0; i < HOSTS_MAX_NAMES + 1; i++)
		n[i] = (struct hosts_name){"a.example", "127.0.0.1"};
	assert_int_equal(hosts_edit("", 0, &w, 0, &out, &olen, &rep, &e), -1);
	w.n_names = HOSTS_MAX_NAMES; /* duplicates fold into one line */
	assert_int_equal(hosts_edit("", 0, &w, 0, &out, &olen, &rep, &e), 0);
	assert_non_null(strstr(out, "127.0.0.1 a.example\n# END"));
	free(out);
}

static void test_markers_refused(void **st)
{
	static const char *bad[] = {
	    "# BEGIN rampart\n127.0.0.1 localhost\n",
	    "127.0.0.1 localhost\n# END rampart\n",
	    "# END rampart\n# BEGIN rampart\n",
	    "# BEGIN rampart\n# BEGIN rampart\n# END rampart\n# END rampart\n",
	    "# BEGIN rampart\n# END rampart\n# BEGIN rampart\n# END rampart\n",
	    "# BEGIN rampart\r\n# END rampart\r\n# END rampart",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hosts_report rep;
		struct rp_err e = {"", ""};
		char *out = (char *)1;
		size_t olen;
		assert_int_equal(
		    hosts_edit(bad[i], strlen(bad[i]), &want, 0, &out, &olen, &rep, &e), -1);
		assert_string_equal(e.code, "E_HOSTS_MARKERS");
		assert_null(out);
		assert_int_equal(hosts_remove(bad[i], strlen(bad[i]), &out, &olen, &rep, &e), -1);
		assert_string_equal(e.code, "E_HOSTS_MARKERS");
		assert_null(out);
	}
}

static void test_size_and_nul(void **st)
{
	size_t n = HOSTS_MAX_INPUT + 1;
	char *big = malloc(n), *out;
	struct hosts_report rep;
	struct rp_err e;
	size_t olen;

	assert_non_null(big);
	memset(big, '#', n);
	big[n - 1] = '\n';
	assert_int_equal(hosts_edit(big, n, &want, 0, &out, &olen, &rep, &e), -1);
	assert_string_equal(e.code, "E_HOSTS_TOO_BIG");
	assert_int_equal(hosts_remove(big, n, &out, &olen, &rep, &e), -1);
	big[n - 2] = '\n';
	assert_int_equal(hosts_edit(big, n - 1, &want, 0, &out, &olen, &rep, &e), 0);
	assert_int_equal(rep.changed, 1);
	free(out);
	free(big);
	assert_int_equal(hosts_edit("127.0.0.1 local\0host\n", 21, &want, 0, &out, &olen, &rep, &e),
	                 -1);
	assert_string_equal(e.code, "E_HOSTS_INPUT");
}

/* Random mixes of hosts-file pieces: whatever succeeds is idempotent and removable. */
static void test_property_idempotent(void **st)
{
	static const char *piece[] = {
	    "127.0.0.1",
	    "::1",
	    "10.0.0.5",
	    "fe80::1%lo0",
	    "localhost",
	    "LOCALHOST",
	    "kubernetes.docker.internal",
	    "other",
	    " ",
	    "\t",
	    "#",
	    "\n",
	    "\r\n",
	    "\n",
	    "# BEGIN rampart\n",
	    "# END rampart\n",
	    "# rampart-disabled: ",
	    "0.0.0.0",
	};
	unsigned seed = 12345;

	for (int iter = 0; iter < 3000; iter++) {
		char in[1024];
		size_t len = 0;
		int k = (int)(rand_r(&seed) % 24);
		for (int j = 0; j < k; j++) {
			const char *p =
			    piece[(size_t)rand_r(&seed) % (sizeof(piece) / sizeof(piece[0]))];
			memcpy(in + len, p, strlen(p));
			len += strlen(p);
		}
		for (unsigned f = 0; f <= HOSTS_FIX_LOCALHOST; f++) {
			struct hosts_report rep;
			struct rp_err e;
			char *out, *again, *rem;
			size_t olen, alen, rlen;
			if (hosts_edit(in, len, &want, f, &out, &olen, &rep, &e) == -1) {
				assert_string_equal(e.code, "E_HOSTS_MARKERS");
				continue;
			}
			assert_int_equal(hosts_edit(out, olen, &want, f, &again, &alen, &rep, &e),
			                 0);
			expect_bytes("property", again, alen, out, olen);
			assert_int_equal(rep.changed, 0);
			assert_int_equal(hosts_remove(out, olen, &rem, &rlen, &rep, &e), 0);
			free(again);
			assert_int_equal(hosts_remove(rem, rlen, &again, &alen, &rep, &e), 0);
			assert_int_equal(rep.had_block, 0);
			assert_int_equal(rep.changed, 0);
			free(rem);
			free(again);
			free(out);
		}
	}
}

/* ---- the file operation, in a temp dir ---- */

static char tree[64];

static int setup_tree(void **st)
{
	tu_mktree(tree, sizeof(tree), "hosts");
	return 0;
}

static int teardown_tree(void **st)
{
	tu_rmtree(tree);
	return 0;
}

static void test_apply_file(void **st)
{
	char path[PATH_MAX], *in, *now;
	size_t ilen, olen, nlen;
	char *out = vec("debian.out", &olen);
	struct hosts_report rep;
	struct rp_err e = {"", ""};
	struct stat s1, s2, s3;
	uid_t uid = geteuid() == 0 ? TU_NOBODY : geteuid();

	in = vec("debian.in", &ilen);
	assert_non_null(in);
	tu_path(path, sizeof(path), tree, "hosts");
	assert_int_equal(tu_write(path, in, ilen, 0640), 0);
	if (geteuid() == 0)
		assert_int_equal(chown(path, TU_NOBODY, TU_NOBODY), 0);
	assert_int_equal(lstat(path, &s1), 0);

	if (hosts_apply_file(path, &want, 0, &rep, &e) != 0)
		fail_msg("%s: %s", e.code, e.msg);
	assert_int_equal(rep.changed, 1);
	now = tu_read(path, &nlen);
	expect_bytes("file", now, nlen, out, olen);
	free(now);
	assert_int_equal(lstat(path, &s2), 0);
	assert_int_not_equal(s1.st_ino, s2.st_ino); /* replaced by rename, not edited */
	assert_int_equal(s2.st_mode & 07777, 0640);
	assert_int_equal(s2.st_uid, uid);
	assert_int_equal(tu_count(tree), 1); /* no temp file left behind */

	assert_int_equal(hosts_apply_file(path, &want, 0, &rep, &e), 0);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(lstat(path, &s3), 0);
	assert_int_equal(s3.st_ino, s2.st_ino); /* nothing written */
	assert_int_equal(s3.st_mtime, s2.st_mtime);

	assert_int_equal(hosts_remove_file(path, &rep, &e), 0);
	assert_int_equal(rep.changed, 1);
	now = tu_read(path, &nlen);
	expect_bytes("removed", now, nlen, in, ilen);
	free(now);
	assert_int_equal(hosts_remove_file(path, &rep, &e), 0);
	assert_int_equal(rep.changed, 0);
	free(in);
	free(out);
}

static void test_apply_file_refusals(void **st)
{
	char path[PATH_MAX], real[PATH_MAX], sub[PATH_MAX], other[PATH_MAX], *now;
	struct hosts_report rep;
	struct rp_err e = {"", ""};
	size_t n;

	/* the file itself is a link: never replaced by a regular file */
	tu_path(real, sizeof(real), tree, "real");
	tu_path(path, sizeof(path), tree, "hosts");
	assert_int_equal(tu_write(real, "10.0.0.1 x\n", 11, 0644), 0);
	assert_int_equal(symlink(real, path), 0);
	assert_int_equal(hosts_apply_file(path, &want, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_HOSTS_OPEN");
	now = tu_read(real, &n);
	assert_string_equal(now, "10.0.0.1 x\n");
	free(now);
	assert_int_equal(lstat(path, &(struct stat){0}), 0);

	/* a directory on the way is a link an unprivileged user placed */
	tu_path(other, sizeof(other), tree, "other");
	assert_int_equal(mkdir(other, 0755), 0);
	tu_path(path, sizeof(path), other, "hosts");
	assert_int_equal(tu_write(path, "", 0, 0644), 0);
	tu_path(sub, sizeof(sub), tree, "etc");
	tu_foreign_symlink(other, sub);
	tu_path(path, sizeof(path), sub, "hosts");
	assert_int_equal(hosts_apply_file(path, &want, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_FS_SYMLINK");
	tu_path(path, sizeof(path), other, "hosts");
	now = tu_read(path, &n);
	assert_int_equal(n, 0);
	free(now);

	/* missing, not a regular file, relative path, '..' */
	tu_path(path, sizeof(path), tree, "nope");
	assert_int_equal(hosts_apply_file(path, &want, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_HOSTS_OPEN");
	assert_int_equal(hosts_apply_file(other, &want, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_HOSTS_OPEN");
	assert_int_equal(hosts_apply_file("etc/hosts", &want, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_FS_PATH");
	snprintf(path, sizeof(path), "%s/other/../other/hosts", tree);
	assert_int_equal(hosts_apply_file(path, &want, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_FS_PATH");

	/* broken markers in the file: refused, file untouched */
	tu_path(path, sizeof(path), tree, "broken");
	assert_int_equal(tu_write(path, "# BEGIN rampart\n", 16, 0644), 0);
	assert_int_equal(hosts_apply_file(path, &want, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_HOSTS_MARKERS");
	now = tu_read(path, &n);
	assert_string_equal(now, "# BEGIN rampart\n");
	free(now);
}

/*
 * macOS keeps /etc/hosts behind a root-owned relative link, /etc ->
 * private/etc, in the root-owned /.  The O_NOFOLLOW walk follows such a link
 * (only root could have placed it) and edits the real file, leaving the link
 * a link.  Needs root to own the link.
 */
static void test_apply_file_macos_layout(void **st)
{
	char priv[PATH_MAX], etc[PATH_MAX], link[PATH_MAX], real[PATH_MAX], path[PATH_MAX];
	struct hosts_report rep;
	struct rp_err e = {"", ""};
	struct stat ls;
	char *now;
	size_t n;

	if (geteuid() != 0)
		skip(); /* the link must be root's to be followed */
	tu_path(priv, sizeof(priv), tree, "private");
	assert_int_equal(mkdir(priv, 0755), 0);
	tu_path(etc, sizeof(etc), priv, "etc");
	assert_int_equal(mkdir(etc, 0755), 0);
	tu_path(real, sizeof(real), etc, "hosts");
	assert_int_equal(tu_write(real, "127.0.0.1 localhost\n", 20, 0644), 0);
	tu_path(link, sizeof(link), tree, "etc");
	assert_int_equal(symlink("private/etc", link), 0);
	tu_path(path, sizeof(path), link, "hosts");
	assert_int_equal(hosts_apply_file(path, &want, 0, &rep, &e), 0);
	now = tu_read(real, &n);
	assert_non_null(strstr(now, "127.0.0.1 localhost\n"));
	assert_non_null(strstr(now, "kubernetes.docker.internal"));
	free(now);
	assert_int_equal(lstat(link, &ls), 0);
	assert_true(S_ISLNK(ls.st_mode));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_fix_is_kept_without_flag),
	    cmocka_unit_test(test_report_conflict),
	    cmocka_unit_test(test_report_present),
	    cmocka_unit_test(test_injection_refused),
	    cmocka_unit_test(test_too_many_names),
	    cmocka_unit_test(test_markers_refused),
	    cmocka_unit_test(test_size_and_nul),
	    cmocka_unit_test(test_property_idempotent),
	    cmocka_unit_test_setup_teardown(test_apply_file, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_apply_file_refusals, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_apply_file_macos_layout, setup_tree,
	                                    teardown_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
