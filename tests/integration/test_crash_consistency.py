# SPDX-License-Identifier: ISC
"""Crash consistency of the policy store: rampartd is killed with SIGKILL at
random points of a policy refresh (fetch, verify, inside the store write,
after the rename), over and over.  After every kill the DB must open
read-only for an unprivileged reader, pass `rampart policy verify`, hold the
previous or the new version and nothing else, and a restarted daemon must
remove the leftover temp file and serve that same version.

Refreshes carry a 10,000-entry policy so the store write (a fresh SQLite file,
then rename) lasts long enough for kills to land inside it; the test counts
how many did (a temp file was present right after the kill).

Env: RAMPART_CRASH_ITERATIONS (default 200, 60 in the sanitizer tree)."""
import json
import os
import signal
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

N_ENTRIES = 10000
ITERATIONS = int(os.environ.get("RAMPART_CRASH_ITERATIONS") or (60 if rt.SANITIZE else 200))

rt.need_root()
P = rtpolicy.PolicyEnv("crash", extra_config={"policy": {"max_bytes": 4 << 20,
                                                          "total_timeout_s": 20}})
env = P.env
DB = env.path("state", "policy.db")
_envelopes = {}


def host(v, i=0):
    return "h%05d.v%d.example" % (i, v)


def envelope(v):
    if v not in _envelopes:
        _envelopes[v] = sign(payload(v, [host(v, i) for i in range(N_ENTRIES)]), P.k[0])
    return _envelopes[v]


def temps():
    return sorted(f for f in os.listdir(env.state) if f.startswith("policy.db.tmp."))


def start_refresh():
    s = env.connect()
    s.sendall(rt.frame({"op": "policy.refresh", "id": 1}))
    return s


def refresh_and_wait():
    s = start_refresh()
    try:
        r = rt.read_reply(s)
    finally:
        s.close()
    assert r["ok"], r
    return r["result"]


def proc_stat(pid):
    """(ppid, starttime) of pid, or None when it is gone (or a zombie: it did all it will)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if rest[0] in ("Z", "X") else (int(rest[1]), int(rest[19]))


def descendants(pid):
    """Every live descendant of pid as {pid: starttime}."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                parent[int(name)] = st
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        for c, (pp, start) in parent.items():
            if pp == p and c not in out:
                out[c] = start
                todo.append(c)
    return out


def kill_daemon():
    """SIGKILLs rampartd, then waits until its children are gone too.

    The verify/store worker is a forked child that dies with the daemon
    (PR_SET_PDEATHSIG), but only a moment later: it could still finish its
    rename after the daemon was reaped, so a check made right after the reap
    raced it (the flake of issue 16).  The daemon is stopped first so it can
    fork nothing between the scan and the kill."""
    pid = env.proc.pid
    os.kill(pid, signal.SIGSTOP)
    kids = descendants(pid)
    env.proc.kill()
    env.proc.wait()
    env.proc = None
    env.log.close()
    deadline = time.monotonic() + 10
    for c, start in kids.items():
        st = proc_stat(c)  # read once per pass: the child may exit between two reads
        while st is not None and st[1] == start:
            assert time.monotonic() < deadline, "child %d of the killed daemon lingers" % c
            time.sleep(0.005)
            st = proc_stat(c)


def db_version_as_reader(expect_versions):
    """Opens the DB read-only as nobody (check --db) and audits it (verify); returns the version."""
    v = None
    for cand in expect_versions:
        rc, res = P.check(host(cand) + "/app:1", user="nobody", db=True)
        assert rc in (0, 1), (rc, res)
        v = res[0]["policy_version"]
        if rc == 0:
            assert v == cand and res[0]["rule"] == host(cand), res
            break
    assert v in expect_versions, (v, expect_versions)
    r = env.cli("policy", "verify", "--db", DB, "--keys", P.keydir, user="nobody")
    assert r.returncode == 0 and "verified" in r.stdout, r
    return v


def calibrate():
    """Applies versions 1..3 completely; returns the mean refresh time in seconds."""
    times = []
    for v in (1, 2, 3):
        P.publish(envelope(v))
        t0 = time.monotonic()
        res = refresh_and_wait()
        times.append(time.monotonic() - t0)
        assert res["outcome"] == "updated" and res["new_version"] == v, res
    return sum(times) / len(times)


class Stats:
    def __init__(self):
        self.kills = 0
        self.mid_write = 0
        self.committed = 0
        self.before_write = 0
        self.hit_delays = []
        self.max_restart = 0.0


def pick_delay(i, total, st):
    """Uniform over the whole refresh, alternating (after a warm-up) with the window
    where earlier kills found a temp file, so plenty land inside the store write."""
    if i >= ITERATIONS // 4 and i % 2 == 1 and st.hit_delays:
        lo, hi = min(st.hit_delays), max(st.hit_delays)
        return random.uniform(max(0.0, lo - 0.01), hi + 0.01)
    return random.uniform(0.0, 1.3 * total)


def one_kill(i, total, prev, st):
    new = prev + 1
    P.publish(envelope(new))
    delay = pick_delay(i, total, st)
    s = start_refresh()
    time.sleep(delay)
    kill_daemon()
    s.close()
    st.kills += 1
    left = temps()
    v = db_version_as_reader((prev, new))
    if left:
        st.mid_write += 1
        st.hit_delays.append(delay)
        assert v == prev, "a temp file was left but the new version is live: %s" % left
    elif v == new:
        st.committed += 1
    else:
        st.before_write += 1
    t0 = time.monotonic()
    env.start()
    st.max_restart = max(st.max_restart, time.monotonic() - t0)
    assert temps() == [], "leftover temp files after restart: %s" % temps()
    assert P.version() == v, (P.version(), v)
    if left:
        assert "removed 1 leftover temp file" in env.daemon_log(), env.daemon_log()
    return v


def test_kill9_during_refreshes():
    random.seed(int(os.environ.get("RAMPART_CRASH_SEED") or time.time()))
    total = calibrate()
    st = Stats()
    prev = 3
    t0 = time.monotonic()
    for i in range(ITERATIONS):
        prev = one_kill(i, total, prev, st)
        _envelopes.pop(prev - 1, None)
    elapsed = time.monotonic() - t0
    # after all that, a normal refresh still works
    P.publish(envelope(prev + 1))
    res = refresh_and_wait()
    assert res["outcome"] == "updated" and res["new_version"] == prev + 1, res
    figures = {"kills": st.kills, "mid_write": st.mid_write, "committed": st.committed,
               "before_write": st.before_write, "refresh_ms": round(total * 1000, 1),
               "entries": N_ENTRIES, "max_restart_ms": round(st.max_restart * 1000, 1),
               "seconds": round(elapsed, 1)}
    print("figures: " + json.dumps(figures), flush=True)
    if ITERATIONS >= 100:
        assert st.mid_write > 0, "no kill landed inside the store write: %s" % figures


try:
    env.start()
    rt.run_tests([test_kill9_during_refreshes])
finally:
    P.cleanup()
