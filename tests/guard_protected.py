#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The test suite's tripwire on this machine's system files.

    guard_protected.py snapshot FILE    record the protected paths in FILE
    guard_protected.py verify FILE      compare them with FILE; exit 1 naming every
                                        path that appeared, vanished or changed

ctest runs `snapshot` before every other test (fixture rampart_guard, FIXTURES_SETUP)
and `verify` after all of them (FIXTURES_CLEANUP), so a test that writes a real system
file instead of its temp dir or private mount fails the run instead of passing silently.
Trusts nothing it reads: it only hashes and stats (never follows a link out of the
listed places, never changes anything).

What is compared (type, mode, owner, size, mtime, SHA-256 of regular files, link target):
  /etc/hosts, /etc/containers/policy.json, /etc/docker/daemon.json   each file
  /etc/containers                 every entry (a .rampart-orig or -next appearing)
  /etc/docker                     the names and types of its entries
  /etc/rampart, /var/lib/rampart  the whole tree
  /usr/local/bin, /usr/local/sbin only entries named rampart* and links whose target
                                  names a rampart tree (other tools install there)
  /etc/systemd/system, /usr/local/lib/systemd/system
                                  entries named *rampart* at any depth, and everything in
                                  the docker.service.d / containerd.service.d drop-in dirs
  /run, /run/docker/plugins       entries named *rampart*; /run/docker.sock (type, target)
Anything else on the machine may change during the run without a report.
"""
import hashlib
import json
import os
import stat
import sys
import time

MAX_HASH = 64 << 20  # larger files: size and mtime only
FILES = ("/etc/hosts", "/etc/containers/policy.json", "/etc/docker/daemon.json")
DIRS_ALL = ("/etc/containers",)
DIRS_NAMES = ("/etc/docker",)
TREES = ("/etc/rampart", "/var/lib/rampart")
BIN_DIRS = ("/usr/local/bin", "/usr/local/sbin")
UNIT_DIRS = ("/etc/systemd/system", "/usr/local/lib/systemd/system")
DROPIN_DIRS = ("docker.service.d", "containerd.service.d")
RUN_DIRS = ("/run", "/run/docker/plugins")
RUN_FILES = ("/run/docker.sock",)


def sha256_file(path):
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        return "unreadable: %s" % e.strerror
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record(path, names_only=False):
    """What is at path (never followed if a link), as a dict that compares by value."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"type": "absent"}
    except OSError as e:
        return {"type": "unreadable", "error": e.strerror}
    m = st.st_mode
    kind = ("file" if stat.S_ISREG(m) else "dir" if stat.S_ISDIR(m) else "link" if stat.S_ISLNK(m)
            else "socket" if stat.S_ISSOCK(m) else "other")
    r = {"type": kind}
    if names_only:
        return r
    r.update({"mode": "%o" % stat.S_IMODE(m), "owner": "%d:%d" % (st.st_uid, st.st_gid)})
    if kind == "link":
        r["target"] = os.readlink(path)
    elif kind == "file":
        r.update({"size": st.st_size, "mtime_ns": st.st_mtime_ns})
        if st.st_size <= MAX_HASH:
            r["sha256"] = sha256_file(path)
    return r


def listdir(d):
    try:
        return sorted(os.listdir(d))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        return None


def rampart_named(name):
    return "rampart" in name.lower()


def walk(top, keep, into):
    """Records under top (links not followed) whose path keep() accepts; into(dir path)
    decides whether to descend."""
    out = {}
    names = listdir(top)
    if names is None:
        return {top: {"type": "unreadable"}}
    for n in names:
        p = os.path.join(top, n)
        r = record(p)
        if keep(p, n, r):
            out[p] = r
        if r["type"] == "dir" and into(p, n):
            out.update(walk(p, keep, into))
    return out


def snapshot():
    snap = {}
    for f in FILES + RUN_FILES:
        snap[f] = record(f)
    for d in DIRS_ALL:
        snap[d] = record(d, names_only=True)
        snap.update(walk(d, lambda p, n, r: True, lambda p, n: False))
    for d in DIRS_NAMES:
        snap[d] = record(d, names_only=True)
        for n in listdir(d) or []:
            snap[os.path.join(d, n)] = record(os.path.join(d, n), names_only=True)
    for t in TREES:
        snap[t] = record(t)
        snap.update(walk(t, lambda p, n, r: True, lambda p, n: True))
    for d in BIN_DIRS:
        snap.update(walk(d, lambda p, n, r: rampart_named(n) or
                         (r["type"] == "link" and rampart_named(r["target"])),
                         lambda p, n: False))
    for d in UNIT_DIRS:
        def keep(p, n, r, d=d):
            rel = os.path.relpath(p, d).split(os.sep)
            return rampart_named(p[len(d):]) or rel[0] in DROPIN_DIRS
        snap.update(walk(d, keep, lambda p, n: True))
    for d in RUN_DIRS:
        snap.update(walk(d, lambda p, n, r: rampart_named(n), lambda p, n: False))
    return snap


def describe(before, after):
    if before["type"] == "absent":
        return "appeared (%s)" % after["type"]
    if after["type"] == "absent":
        return "vanished (was %s)" % before["type"]
    diffs = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            if k == "mtime_ns":
                diffs.append("mtime %s -> %s" % tuple(
                    time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(x / 1e9)) if x else "-"
                    for x in (before.get(k), after.get(k))))
            elif k == "sha256":
                diffs.append("content (sha256 %.12s -> %.12s)" % (before.get(k), after.get(k)))
            else:
                diffs.append("%s %s -> %s" % (k, before.get(k), after.get(k)))
    return "changed: " + ", ".join(diffs)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("snapshot", "verify"):
        sys.stderr.write("usage: guard_protected.py snapshot|verify FILE\n")
        return 2
    mode, path = argv[1], argv[2]
    if mode == "snapshot":
        data = {"taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "paths": snapshot()}
        tmp = "%s.%d.tmp" % (path, os.getpid())
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
        print("guard: %d protected paths recorded in %s" % (len(data["paths"]), path))
        return 0
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print("guard: FAIL: no snapshot to compare with (%s): run the suite through ctest, "
              "which takes it first (fixture rampart_guard)" % e)
        return 1
    before, now = data["paths"], snapshot()
    bad = []
    for p in sorted(set(before) | set(now)):
        b, a = before.get(p, {"type": "absent"}), now.get(p, {"type": "absent"})
        if a != b:
            bad.append("  %s: %s" % (p, describe(b, a)))
    if bad:
        print("guard: FAIL: protected system paths changed since %s (while this suite ran: a "
              "test wrote outside its temp dirs and private mounts, or something else on this "
              "machine did):" % data["taken_at"])
        print("\n".join(bad))
        print("guard: nothing was put back; compare with %s and restore by hand" % path)
        return 1
    print("guard: ok, %d protected paths unchanged since %s" % (len(now), data["taken_at"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
