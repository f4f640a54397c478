/* SPDX-License-Identifier: ISC */
/*
 * Who may take a connection slot.  Two rules on top of the total limit:
 * slots_reserved slots are kept for root, the owner and the admin group, so
 * other users together can never fill the daemon; and the per-uid cap
 * counts a user's subordinate uids (limits.subid_file, normally /etc/subuid,
 * what newuidmap grants a user namespace) as that user, so `unshare --user
 * --map-auto` does not multiply it.  Peer credentials come from the kernel;
 * the subordinate-id file is root's (newuidmap trusts it the same way).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compat.h"
#include "daemon.h"
#include "log.h"
#include "slots.h"

#define SLOTS_MAX_RANGES 8192
#define SLOTS_RECHECK_MS 1000 /* the file is stat()ed at most once a second */

struct slots_range {
	uid_t start, owner;
	unsigned long count;
};

struct slots_state {
	struct slots_range *r;
	size_t n;
	char path[4096];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	long long next_check_ms;
};

static struct slots_state *slots_st(struct daemon *d)
{
	if (d->slots == NULL)
		d->slots = calloc(1, sizeof(struct slots_state));
	return d->slots;
}

/* "name-or-uid:start:count"; 0 and the range, or -1 for a line to skip. */
static int slots_parse_line(char *line, struct slots_range *out)
{
	char *name = strtok(line, ":\n"), *start = strtok(NULL, ":\n"),
	     *count = strtok(NULL, ":\n");
	char *end;
	unsigned long s, n;
	struct passwd *pw;

	if (name == NULL || start == NULL || count == NULL || name[0] == '#')
		return -1;
	errno = 0;
	s = strtoul(start, &end, 10);
	if (errno || *end != '\0' || s > (uid_t)-2)
		return -1;
	n = strtoul(count, &end, 10);
	if (errno || *end != '\0' || n == 0 || n > (unsigned long)(uid_t)-2 - s)
		return -1;
	pw = getpwnam(name);
	if (pw != NULL) {
		out->owner = pw->pw_uid;
	} else {
		unsigned long u = strtoul(name, &end, 10);
		if (*end != '\0' || u >= (uid_t)-1)
			return -1;
		out->owner = (uid_t)u;
	}
	out->start = (uid_t)s;
	out->count = n;
	return 0;
}

static void slots_load(struct slots_state *s, const char *path, const struct stat *sb)
{
	char line[512];
	FILE *f = fopen(path, "re");

	free(s->r);
	s->r = NULL;
	s->n = 0;
	s->dev = sb ? sb->st_dev : 0;
	s->ino = sb ? sb->st_ino : 0;
	s->size = sb ? sb->st_size : 0;
	s->mtime = sb ? rp_stat_mtime(sb) : (struct timespec){0, 0};
	if (f == NULL)
		return;
	s->r = calloc(SLOTS_MAX_RANGES, sizeof(*s->r));
	while (s->r != NULL && s->n < SLOTS_MAX_RANGES && fgets(line, sizeof(line), f) != NULL)
		if (slots_parse_line(line, &s->r[s->n]) == 0)
			s->n++;
	fclose(f);
	if (s->n == SLOTS_MAX_RANGES)
		log_warnx("%s: only the first %d ranges are used for connection limits", path,
		          SLOTS_MAX_RANGES);
}

/* Re-reads the file when its path, inode, size or mtime changed. */
static void slots_refresh(struct daemon *d, struct slots_state *s)
{
	const char *path = d->cfg.limits.subid_file;
	long long now = daemon_now_ms();
	struct stat sb;
	int have;

	if (strcmp(path, s->path) == 0 && now < s->next_check_ms)
		return;
	s->next_check_ms = now + SLOTS_RECHECK_MS;
	have = path[0] != '\0' && stat(path, &sb) == 0;
	if (strcmp(path, s->path) == 0 &&
	    (have ? (sb.st_dev == s->dev && sb.st_ino == s->ino && sb.st_size == s->size &&
	             rp_stat_mtime(&sb).tv_sec == s->mtime.tv_sec &&
	             rp_stat_mtime(&sb).tv_nsec == s->mtime.tv_nsec)
	          : s->ino == 0))
		return;
	rp_strlcpy(s->path, path, sizeof(s->path));
	slots_load(s, path, have ? &sb : NULL);
}

uid_t slots_bucket(struct daemon *d, uid_t uid)
{
	struct slots_state *s = slots_st(d);

	if (s == NULL)
		return uid;
	slots_refresh(d, s);
	for (size_t i = 0; i < s->n; i++)
		if (uid >= s->r[i].start && uid - s->r[i].start < s->r[i].count)
			return s->r[i].owner;
	return uid;
}

static bool slots_in_group(const struct conn *c, gid_t g)
{
	if (g == (gid_t)-1)
		return false;
	if (c->peer.gid == g)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == g)
			return true;
	return false;
}

/* Root, the owner user, the owner group and the admin group. */
static bool slots_privileged(const struct daemon *d, const struct conn *c)
{
	const struct config *cfg = &d->cfg;

	return c->peer.uid == 0 || (cfg->owner_uid != (uid_t)-1 && c->peer.uid == cfg->owner_uid) ||
	       slots_in_group(c, cfg->owner_gid) || slots_in_group(c, cfg->admin_gid);
}

int slots_admit(struct daemon *d, struct conn *c)
{
	const int max = d->cfg.limits.max_connections;
	int others = 0, same = 0;

	c->slot_priv = slots_privileged(d, c);
	c->slot_uid = c->peer.uid == 0 ? 0 : slots_bucket(d, c->peer.uid);
	if ((int)d->nconns >= max)
		return 0;
	for (size_t i = 0; i < d->nconns; i++) {
		const struct conn *o = d->conns[i];
		if (o->dead)
			continue;
		others += !o->slot_priv;
		same += o->slot_uid == c->slot_uid;
	}
	if (!c->slot_priv && others >= max - d->cfg.limits.reserved)
		return 0;
	return c->peer.uid == 0 || same < d->cfg.limits.max_per_uid;
}

void slots_fini(struct daemon *d)
{
	struct slots_state *s = d->slots;

	if (s != NULL)
		free(s->r);
	free(s);
	d->slots = NULL;
}
