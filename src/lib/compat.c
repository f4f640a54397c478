/* SPDX-License-Identifier: ISC */
/*
 * Linux and macOS implementations of the calls in compat.h, side by side.
 * This is the only file in rampart that tests __linux__ or __APPLE__ for a
 * system call; the macOS halves are compiled on every CI run by
 * scripts/check-macos (zig cc with Apple's headers) but run only on a Mac.
 * Nothing here trusts its caller's input beyond what the system calls check.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>

#ifdef __linux__
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#endif
#ifdef __APPLE__
#include <launch.h>
#include <mach-o/dyld.h>
#include <sys/event.h>
#include <sys/ucred.h>
#include <sys/un.h>
#endif

#include "compat.h"

/* <sys/ptrace.h> is in Apple's SDK but not in the libc headers that
 * scripts/check-macos compiles against; there the call is left out. */
#if defined(__APPLE__) && defined(__has_include)
#if __has_include(<sys/ptrace.h>)
#include <sys/ptrace.h>
#define RP_HAVE_PT_DENY_ATTACH 1
#endif
#endif

/* the macOS halves set flags after the call; Linux has atomic flags */
static inline __attribute__((unused)) int compat_set_fd_flag(int fd, int fdflags, int flflags)
{
	int f;

	if (fdflags != 0 && ((f = fcntl(fd, F_GETFD)) < 0 || fcntl(fd, F_SETFD, f | fdflags) < 0))
		return -1;
	if (flflags != 0 && ((f = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, f | flflags) < 0))
		return -1;
	return 0;
}

int rp_pipe_cloexec(int p[2], bool nonblock)
{
#ifdef __linux__
	return pipe2(p, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
#else
	if (pipe(p) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (compat_set_fd_flag(p[i], FD_CLOEXEC, nonblock ? O_NONBLOCK : 0) < 0) {
			int e = errno;
			close(p[0]);
			close(p[1]);
			errno = e;
			return -1;
		}
	}
	return 0;
#endif
}

ssize_t rp_splice(int in, int out, size_t len)
{
#ifdef __linux__
	return splice(in, NULL, out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
#else
	(void)in;
	(void)out;
	(void)len;
	errno = ENOSYS;
	return -1;
#endif
}

void rp_pipe_grow(int fd, size_t size)
{
#ifdef __linux__
	(void)fcntl(fd, F_SETPIPE_SZ, (int)size);
#else
	(void)fd;
	(void)size;
#endif
}

int rp_socket_cloexec(int domain, int type, int protocol)
{
#ifdef __linux__
	return socket(domain, type | SOCK_CLOEXEC, protocol);
#else
	int fd = socket(domain, type, protocol);
	int one = 1;

	if (fd < 0)
		return -1;
	if (compat_set_fd_flag(fd, FD_CLOEXEC, 0) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
#endif
}

int rp_accept_cloexec_nonblock(int lfd)
{
#ifdef __linux__
	return accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
	int fd = accept(lfd, NULL, NULL);
	int one = 1;

	if (fd < 0)
		return -1;
	if (compat_set_fd_flag(fd, FD_CLOEXEC, O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
#endif
}

ssize_t rp_recvmsg_cloexec(int fd, struct msghdr *msg)
{
#ifdef __linux__
	return recvmsg(fd, msg, MSG_CMSG_CLOEXEC);
#else
	ssize_t n = recvmsg(fd, msg, 0);

	if (n < 0)
		return n;
	/* not atomic: marked right after recvmsg (see compat.h) */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int rfd;
			memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			(void)compat_set_fd_flag(rfd, FD_CLOEXEC, 0);
		}
	}
	return n;
#endif
}

struct timespec rp_stat_mtime(const struct stat *st)
{
#ifdef __APPLE__
	return st->st_mtimespec;
#else
	return st->st_mtim;
#endif
}

struct timespec rp_stat_ctime(const struct stat *st)
{
#ifdef __APPLE__
	return st->st_ctimespec;
#else
	return st->st_ctim;
#endif
}

int rp_peer_creds(int fd, struct rp_peer_creds *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->ngroups = -1;
#ifdef __linux__
	struct ucred uc;
	socklen_t l = sizeof(uc);
	socklen_t gl = sizeof(pc->groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0 || l != sizeof(uc))
		return -1;
	pc->uid = uc.uid;
	pc->gid = uc.gid;
	pc->pid = uc.pid;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, pc->groups, &gl) == 0)
		pc->ngroups = (int)(gl / sizeof(gid_t));
	return 0;
#elif defined(__APPLE__)
	/* getpeereid(): the effective ids at connect(); LOCAL_PEERPID: the pid at
	 * connect(); LOCAL_PEERCRED: the same credential with up to 16 groups. */
	struct xucred xu;
	socklen_t l = sizeof(pid_t), xl = sizeof(xu);
	pid_t pid = 0;

	if (getpeereid(fd, &pc->uid, &pc->gid) < 0 ||
	    getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &l) < 0 || l != sizeof(pid_t))
		return -1;
	pc->pid = pid;
	if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, &xu, &xl) == 0 &&
	    xu.cr_version == XUCRED_VERSION && xu.cr_uid == pc->uid && xu.cr_ngroups >= 0 &&
	    xu.cr_ngroups <= NGROUPS) {
		for (int i = 0; i < xu.cr_ngroups; i++)
			pc->groups[i] = xu.cr_groups[i];
		pc->ngroups = xu.cr_ngroups;
	}
	return 0;
#else
	return -1;
#endif
}

int rp_launchd_socket(const char *name, int *fd, size_t *n)
{
	*fd = -1;
	*n = 0;
#ifdef __APPLE__
	int *fds = NULL;

	/* ESRCH: not managed by launchd; ENOENT: no such socket name */
	if (launch_activate_socket(name, &fds, n) != 0 || *n == 0) {
		free(fds);
		*n = 0;
		return 0;
	}
	if (*n != 1) {
		for (size_t i = 0; i < *n; i++)
			close(fds[i]);
		free(fds);
		return -1;
	}
	*fd = fds[0];
	free(fds);
	(void)compat_set_fd_flag(*fd, FD_CLOEXEC, 0);
	return 1;
#else
	(void)name;
	return 0;
#endif
}

int rp_die_with_parent(pid_t parent)
{
#ifdef __linux__
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		return -1;
	return 0;
#else
	(void)parent;
	return 0;
#endif
}

int rp_harden_after_drop(void)
{
#ifdef __linux__
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -1;
#endif
	return 0;
}

int rp_no_new_privs_set(void)
{
#ifdef __linux__
	return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
#else
	return 1;
#endif
}

void rp_deny_debugger(void)
{
#ifdef __linux__
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#elif defined(RP_HAVE_PT_DENY_ATTACH)
	(void)ptrace(PT_DENY_ATTACH, 0, 0, 0);
#endif
}

int rp_set_all_ids(uid_t uid, gid_t gid)
{
#ifdef __APPLE__
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return -1;
#else
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -1;
#endif
	return 0;
}

int rp_ids_are(uid_t uid, gid_t gid)
{
#ifdef __APPLE__
	gid_t g[2];
	int n = getgroups(2, g);

	/* no saved-id getter on macOS: setuid() as root set all three */
	return getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid &&
	       n >= 0 && n <= 1 && (n == 0 || g[0] == gid);
#else
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return 0;
	return ru == uid && eu == uid && su == uid && rg == gid && eg == gid && sg == gid &&
	       getgroups(0, NULL) == 0;
#endif
}

int rp_anon_file(const char *name)
{
#ifdef __linux__
	return memfd_create(name, MFD_CLOEXEC);
#else
	char tmpl[] = "/tmp/rampart-anon.XXXXXX";
	int fd = mkostemp(tmpl, O_CLOEXEC);

	(void)name;
	if (fd >= 0)
		unlink(tmpl);
	return fd;
#endif
}

void rp_close_from(int lowfd)
{
	long max;

#if defined(__linux__) && defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (long fd = lowfd; fd < max; fd++)
		close((int)fd);
}

int rp_exec_fd(int fd, const char *path, char *const argv[], char *const envp[])
{
#ifdef __linux__
	(void)path;
	return fexecve(fd, argv, envp);
#else
	struct stat a, b;

	if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return -1;
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		errno = ESTALE;
		return -1;
	}
	return execve(path, argv, envp);
#endif
}

int rp_self_exe_dir(char *dir, size_t size)
{
	char buf[PATH_MAX];
	size_t n;

#if defined(__linux__)
	ssize_t r = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
#elif defined(__APPLE__)
	uint32_t len = sizeof(buf);
	if (_NSGetExecutablePath(buf, &len) != 0)
		return -1;
#else
	return -1;
#endif
	if (buf[0] != '/')
		return -1;
	const char *d = dirname(buf);
	n = strlen(d);
	if (n >= size)
		return -1;
	memcpy(dir, d, n + 1);
	return 0;
}

int rp_timer_open(long period_ms)
{
#ifdef __linux__
	struct itimerspec its = {{period_ms / 1000, (period_ms % 1000) * 1000000L},
	                         {period_ms / 1000, (period_ms % 1000) * 1000000L}};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
#else
	/* a kqueue fd polls readable while a timer event is pending */
	struct kevent ev;
	int kq = kqueue();

	if (kq < 0)
		return -1;
	if (compat_set_fd_flag(kq, FD_CLOEXEC, 0) < 0) {
		close(kq);
		return -1;
	}
	EV_SET(&ev, 1, EVFILT_TIMER, EV_ADD | EV_ENABLE, 0, period_ms, NULL);
	if (kevent(kq, &ev, 1, NULL, 0, NULL) < 0) {
		close(kq);
		return -1;
	}
	return kq;
#endif
}

void rp_timer_ack(int fd)
{
#ifdef __linux__
	uint64_t n;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing to acknowledge */
	}
#else
	struct kevent ev;
	struct timespec zero = {0, 0};
	(void)kevent(fd, NULL, 0, &ev, 1, &zero);
#endif
}
