/* SPDX-License-Identifier: ISC */
/*
 * The one place where Linux and macOS differ.  Modules call these helpers and
 * never test __linux__ or __APPLE__ themselves; each function says what it
 * does on each system and, where macOS cannot do a thing atomically or at
 * all, what is weaker there (docs/security.md, "macOS").  Internal to
 * rampart: not installed, not part of librampart's public API.
 */
#ifndef RAMPART_COMPAT_H
#define RAMPART_COMPAT_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* Default paths (DESIGN.md "Paths"); every one is overridable in rampartd.json. */
#ifdef __APPLE__
#define RP_DEFAULT_CONFIG_PATH "/Library/Preferences/com.rampart.helper/rampartd.json"
#define RP_DEFAULT_STATE_DIR "/Library/Application Support/rampart"
#else
#define RP_DEFAULT_CONFIG_PATH "/etc/rampart/rampartd.json"
#define RP_DEFAULT_STATE_DIR "/var/lib/rampart"
#endif
#define RP_DEFAULT_SOCKET_PATH "/var/run/rampart.sock"

/* pipe with O_CLOEXEC on both ends (and O_NONBLOCK if asked).  Linux:
 * pipe2(), atomic.  macOS: pipe() then fcntl(); not atomic against a
 * concurrent fork+exec in another thread, which rampartd (one thread) has
 * not.  0 or -1 with errno. */
int rp_pipe_cloexec(int p[2], bool nonblock);

/* Moves up to len bytes from in to out inside the kernel (one end must be a
 * pipe), without blocking on the pipe: Linux splice(2).  Elsewhere -1 with
 * errno ENOSYS, and callers copy through a buffer instead. */
ssize_t rp_splice(int in, int out, size_t len);

/* Asks for a pipe of size bytes (Linux F_SETPIPE_SZ; may be refused at the
 * user's pipe limit, then the pipe keeps its size).  No-op elsewhere. */
void rp_pipe_grow(int fd, size_t size);

/* socket() with close-on-exec set (atomically on Linux with SOCK_CLOEXEC;
 * right after socket() on macOS), and with SO_NOSIGPIPE on macOS, where
 * there is no MSG_NOSIGNAL on every send path. */
int rp_socket_cloexec(int domain, int type, int protocol);

/* accept() whose new fd is close-on-exec and non-blocking (accept4() on
 * Linux; accept() then fcntl() on macOS, where the listening socket's
 * O_NONBLOCK is not inherited either).  -1 with errno, fd closed, on a
 * failed fcntl. */
int rp_accept_cloexec_nonblock(int lfd);

/* recvmsg() that leaves every fd it received close-on-exec: MSG_CMSG_CLOEXEC
 * on Linux (atomic); on macOS each SCM_RIGHTS fd is marked right after
 * recvmsg() returns (a fork+exec in another thread in between could leak it;
 * callers in rampart are single-threaded at that point). */
ssize_t rp_recvmsg_cloexec(int fd, struct msghdr *msg);

/* Modification and status-change times with nanoseconds. */
struct timespec rp_stat_mtime(const struct stat *st);
struct timespec rp_stat_ctime(const struct stat *st);

/* The peer of a connected UNIX socket, as the kernel recorded it.  Linux:
 * SO_PEERCRED at connect time, groups from SO_PEERGROUPS.  macOS:
 * getpeereid() and LOCAL_PEERPID, groups from LOCAL_PEERCRED (xucred, at
 * most 16).  *ngroups is -1 when the groups cannot be read.  -1 (fail
 * closed) when uid, gid or pid cannot be read. */
struct rp_peer_creds {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int ngroups;
	gid_t groups[64];
};
int rp_peer_creds(int fd, struct rp_peer_creds *pc);

/* launchd socket activation: the socket named in the plist's Sockets key.
 * macOS: launch_activate_socket(); returns 1 with *fd set when launchd
 * passed exactly one, 0 when launchd passed none (not started by launchd),
 * -1 with *n set when it passed several.  Elsewhere: always 0. */
int rp_launchd_socket(const char *name, int *fd, size_t *n);

/* Ask the kernel to SIGKILL this (forked) process when its parent dies.
 * Linux: PR_SET_PDEATHSIG, then checks that the parent did not die before
 * (getppid() != parent) and returns -1 if it did.  macOS has no such call:
 * returns 0 and does nothing (the forked store worker then finishes its
 * bounded work alone; the store stays whole either way). */
int rp_die_with_parent(pid_t parent);

/* After the privilege drop, before exec: no_new_privs and not dumpable.
 * Linux: PR_SET_NO_NEW_PRIVS + PR_SET_DUMPABLE 0.  macOS has neither: 0,
 * nothing done (the helper denies ptrace itself, rp_deny_debugger()). */
int rp_harden_after_drop(void);

/* 1 if no_new_privs is in force (Linux), 1 on systems without the concept
 * (macOS: nothing to check), 0 if it is not set. */
int rp_no_new_privs_set(void);

/* In the exec'd helper: refuse debuggers.  Linux: PR_SET_DUMPABLE 0 again
 * (execve of a readable binary made the process dumpable).  macOS:
 * ptrace(PT_DENY_ATTACH). */
void rp_deny_debugger(void);

/* Set real, effective and saved uid and gid, and drop every supplementary
 * group.  Linux: setgroups(0) + setresgid + setresuid.  macOS: setgroups(1,
 * gid) (macOS refuses an empty list) + setgid + setuid, which as root set all
 * three ids. */
int rp_set_all_ids(uid_t uid, gid_t gid);

/* 1 if real, effective and saved uid/gid are exactly uid/gid and no
 * supplementary group other than gid is held. */
int rp_ids_are(uid_t uid, gid_t gid);

/* An unnamed file only this process and its children can reach: memfd on
 * Linux; on macOS a fresh 0600 file (mkostemp, O_EXCL) in /tmp, unlinked at
 * once, so it has no name for longer than two system calls. */
int rp_anon_file(const char *name);

/* Close every fd >= lowfd (close_range on Linux; a bounded loop elsewhere). */
void rp_close_from(int lowfd);

/* Exec a program held open as fd (fexecve on Linux: no path race).  macOS
 * has no fexecve: path is executed, after checking that it is still the file
 * fd refers to (same device and inode); a swap between that check and the
 * exec is possible only for whoever can write the helper's directory, which
 * the daemon has checked is root. */
int rp_exec_fd(int fd, const char *path, char *const argv[], char *const envp[]);

/* Directory of the running executable into dir, or -1. */
int rp_self_exe_dir(char *dir, size_t size);

/* A periodic timer an event loop can poll: timerfd on Linux, a kqueue with
 * an EVFILT_TIMER on macOS.  rp_timer_ack() clears a readable timer. */
int rp_timer_open(long period_ms);
void rp_timer_ack(int fd);

#endif
