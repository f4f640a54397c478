# SPDX-License-Identifier: ISC
"""Load and faults against one rampartd serving a signed policy over local HTTPS.

- 64 clients run policy.check for 10 s while a new policy version is applied
  every 100 ms (version N allows rN.example): no errors, no torn answers (every
  answer's policy_version matches the rule it reports, one version per batch,
  never going back), latency percentiles and RSS recorded.
- 256 slow-loris clients as nobody (one byte a second) against a per-uid cap of
  200: exactly 200 are accepted, 56 get E_BUSY, and root's requests are all
  answered; root's p99 with and without them is recorded.
- clients that never read their replies: the daemon's memory stays bounded
  and they are dropped after the idle timeout.
- fetch servers that hang, reset, speak garbage instead of TLS or redirect in
  a loop: the refresh fails cleanly and pings are answered all along (the max
  ping latency during each fetch is recorded).

Figures are printed as "figures: {...}" lines (docs/reliability.md records
them).  Timing is recorded, never asserted."""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

LOAD_CLIENTS = 64
LOAD_SECONDS = 10.0
REFRESH_EVERY = 0.1
SLOW_CLIENTS = 256
SLOW_CAP = 200
QUIET_CLIENTS = 16
QUIET_IDLE_MS = 4000

rt.need_root()
P = rtpolicy.PolicyEnv("load")
env = P.env
FIG = {}
state = {"version": 0}


def figures(name, d):
    d = dict(d, sanitize=rt.SANITIZE)
    FIG[name] = d
    print("figures: " + json.dumps({name: d}), flush=True)


def proc_kib(field):
    with open("/proc/%d/status" % env.proc.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/PID/status" % field)


def mem():
    """VmRSS counts shared library pages too; RssAnon and Pss say what is really ours."""
    d = {"rss_kib": proc_kib("VmRSS"), "anon_kib": proc_kib("RssAnon"),
         "file_kib": proc_kib("RssFile"), "hwm_kib": proc_kib("VmHWM")}
    try:
        with open("/proc/%d/smaps_rollup" % env.proc.pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    d["pss_kib"] = int(line.split()[1])
    except OSError:
        pass
    return d


def pct(values, p):
    v = sorted(values)
    if not v:
        return None
    return round(v[min(len(v) - 1, int(len(v) * p / 100.0))] * 1000, 3)


def lat_figs(lat):
    return {"n": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "max_ms": round(max(lat) * 1000, 3) if lat else None}


def set_limits(**kw):
    cfg = json.loads(json.dumps(env.config))
    cfg.setdefault("limits", {}).update(kw)
    env.write_config(cfg)
    r = env.request("daemon.reload")
    assert r["ok"], r


class Conn:
    """A persistent root connection."""

    def __init__(self, timeout=30):
        self.s = env.connect(timeout)
        self.n = 0

    def call(self, op, args=None):
        self.n += 1
        req = {"op": op, "id": self.n}
        if args is not None:
            req["args"] = args
        self.s.sendall(rt.frame(req))
        r = rt.read_reply(self.s)
        assert r.get("id") == self.n, r
        return r

    def close(self):
        self.s.close()


def versioned(v):
    return sign(payload(v, ["r%d.example" % v, "stable.example"]), P.k[0])


def apply_version(v, data=None):
    P.publish(data if data is not None else versioned(v))
    r = env.request("policy.refresh", timeout=60)
    assert r["ok"] and r["result"]["outcome"] == "updated", r
    state["version"] = v


def test_idle_rss():
    apply_version(1)
    time.sleep(0.5)
    figures("idle", dict(mem(), registries=2))


# --- 64 clients checking while the policy changes every 100 ms ------------------------------

class CheckClient(threading.Thread):
    def __init__(self, stop):
        super().__init__(daemon=True)
        self.stop = stop
        self.lat = []
        self.errors = []
        self.torn = []
        self.regressed = 0
        self.last_v = 0

    def check_answer(self, ks, results):
        versions = {r["policy_version"] for r in results}
        if len(versions) != 1:
            self.torn.append(("mixed versions in one batch", results))
            return
        v = versions.pop()
        for k, r in zip(ks, results[:-1]):
            allowed = k == v
            if r["allowed"] != allowed or (allowed and r["rule"] != "r%d.example" % k):
                self.torn.append(("version %d answered for r%d" % (v, k), r))
        st = results[-1]
        if not st["allowed"] or st["rule"] != "stable.example":
            self.torn.append(("stable.example", st))
        if v < self.last_v:
            self.regressed += 1
        self.last_v = v

    def run(self):
        c = Conn()
        try:
            while not self.stop.is_set():
                ks = [self.last_v + i for i in range(4)]
                refs = ["r%d.example/app:1" % k for k in ks] + ["stable.example/app"]
                t0 = time.perf_counter()
                r = c.call("policy.check", {"refs": refs})
                self.lat.append(time.perf_counter() - t0)
                if not r.get("ok"):
                    self.errors.append(r)
                    continue
                self.check_answer(ks, r["result"]["results"])
        except Exception as ex:  # noqa: BLE001 - every failure counts as an error
            self.errors.append(repr(ex))
        finally:
            c.close()


class Refresher(threading.Thread):
    def __init__(self, stop, envelopes):
        super().__init__(daemon=True)
        self.stop = stop
        self.envelopes = envelopes
        self.done = 0
        self.failures = []
        self.durations = []

    def run(self):
        c = Conn(timeout=60)
        try:
            next_t = time.monotonic()
            while not self.stop.is_set() and self.envelopes:
                v, data = self.envelopes.pop(0)
                P.publish(data)
                t0 = time.perf_counter()
                r = c.call("policy.refresh")
                self.durations.append(time.perf_counter() - t0)
                if not r["ok"] or r["result"]["outcome"] != "updated":
                    self.failures.append(r)
                else:
                    self.done += 1
                    state["version"] = v
                next_t += REFRESH_EVERY
                time.sleep(max(0.0, next_t - time.monotonic()))
        except Exception as ex:  # noqa: BLE001
            self.failures.append(repr(ex))
        finally:
            c.close()


def sample_rss(stop, out):
    while not stop.is_set():
        out.append((proc_kib("VmRSS"), proc_kib("RssAnon")))
        stop.wait(0.1)


def test_checks_while_refreshing():
    base = state["version"]
    n = int(LOAD_SECONDS / REFRESH_EVERY) + 30
    envelopes = [(base + i, versioned(base + i)) for i in range(1, n + 1)]
    stop = threading.Event()
    clients = [CheckClient(stop) for _ in range(LOAD_CLIENTS)]
    ref = Refresher(stop, envelopes)
    rss = []
    sampler = threading.Thread(target=sample_rss, args=(stop, rss), daemon=True)
    for t in clients + [ref, sampler]:
        t.start()
    time.sleep(LOAD_SECONDS)
    stop.set()
    for t in clients + [ref, sampler]:
        t.join(60)
    lat = [x for c in clients for x in c.lat]
    errors = [e for c in clients for e in c.errors]
    torn = [e for c in clients for e in c.torn]
    regressed = sum(c.regressed for c in clients)
    figs = lat_figs(lat)
    figs.update({"clients": LOAD_CLIENTS, "seconds": LOAD_SECONDS,
                 "checks_per_s": round(len(lat) / LOAD_SECONDS), "refreshes": ref.done,
                 "refresh_p50_ms": pct(ref.durations, 50), "refresh_max_ms": pct(ref.durations, 100),
                 "errors": len(errors), "torn": len(torn), "regressed": regressed,
                 "rss_max_kib": max(r for r, _ in rss), "anon_max_kib": max(a for _, a in rss),
                 "hwm_kib": proc_kib("VmHWM")})
    figures("checks_while_refreshing", figs)
    assert not errors, errors[:3]
    assert not torn, torn[:3]
    assert regressed == 0
    assert not ref.failures, ref.failures[:3]
    assert ref.done >= 10, ref.done
    assert all(len(c.lat) > 0 for c in clients)


# --- 256 slow-loris clients as nobody ----------------------------------------------------

SLOW_CHILD = r'''
import json, os, select, socket, struct, sys, time
path, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
time.sleep(2.0)
accepted, busy, other = [], 0, []
for s in socks:
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        accepted.append(s)
        continue
    data = s.recv(65536)
    try:
        reply = json.loads(data[4:4 + struct.unpack(">I", data[:4])[0]])
        if reply["error"]["code"] == "E_BUSY":
            busy += 1
            continue
    except Exception:
        pass
    other.append(repr(data[:100]))
print(json.dumps({"connected": n, "accepted": len(accepted), "busy": busy, "other": other}),
      flush=True)
body = json.dumps({"op": "ping", "id": 1}).encode()
msg = struct.pack(">I", len(body)) + body
closed, i, t_end = 0, 0, time.time() + seconds
while time.time() < t_end and i < len(msg):
    for s in list(accepted):
        try:
            s.send(msg[i:i + 1])
        except OSError:
            closed += 1
            accepted.remove(s)
    i += 1
    time.sleep(1.0)
print(json.dumps({"closed_by_daemon": closed, "bytes_each": i}), flush=True)
sys.stdin.read()
'''


def root_latencies(n):
    c = Conn()
    lat = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            r = c.call("policy.check", {"ref": "stable.example/app:%d" % i})
            lat.append(time.perf_counter() - t0)
            assert r["ok"] and r["result"]["allowed"], r
    finally:
        c.close()
    return lat


def test_slowloris_nobody_and_root_latency():
    set_limits(max_per_uid=SLOW_CAP, idle_timeout_ms=60000)
    n = 2000
    quiet = root_latencies(n)
    child_py = env.path("slow_child.py")
    with open(child_py, "w") as f:
        f.write(SLOW_CHILD)
    os.chmod(child_py, 0o644)
    child = subprocess.Popen(rt.setpriv_prefix("nobody") + ["/usr/bin/python3", child_py, env.sock,
                                                            str(SLOW_CLIENTS), "8"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(child.stdout.readline())
        st = env.request("status")["result"]
        loaded = root_latencies(n)
        rss = proc_kib("VmRSS")
        last = json.loads(child.stdout.readline())
        st2 = env.request("status")["result"]
    finally:
        child.stdin.close()
        child.wait(30)
    figs = {"slow_clients": SLOW_CLIENTS, "cap": SLOW_CAP, "accepted": first["accepted"],
            "busy": first["busy"], "connections": st["connections"],
            "closed_by_daemon": last["closed_by_daemon"], "rss_kib": rss,
            "quiet": lat_figs(quiet), "loaded": lat_figs(loaded)}
    figs["p99_ratio"] = round(figs["loaded"]["p99_ms"] / figs["quiet"]["p99_ms"], 2)
    figures("slowloris", figs)
    assert first["accepted"] == SLOW_CAP and first["busy"] == SLOW_CLIENTS - SLOW_CAP, first
    assert not first["other"], first
    assert st["connections"] == SLOW_CAP + 1, st  # + the status request itself
    assert last["closed_by_daemon"] == 0, last
    assert st2["refused_busy"] >= SLOW_CLIENTS - SLOW_CAP, st2
    assert len(loaded) == n


# --- clients that never read ------------------------------------------------------------

def stuff(s, req):
    """Sends req frames until the socket would block; returns bytes sent."""
    s.setblocking(False)
    data = rt.frame(req) * 64
    sent = 0
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            sent += s.send(data)
        except BlockingIOError:
            _, w, _ = select.select([], [s], [], 0.1)
            if not w:
                return sent
    raise AssertionError("the daemon kept reading from a client that never reads")


def drain_to_eof(s, timeout):
    s.setblocking(True)
    s.settimeout(timeout)
    got = 0
    while True:
        try:
            b = s.recv(1 << 16)
        except ConnectionResetError:  # closed with our unread requests still queued
            return got
        if not b:
            return got
        got += len(b)


def test_non_reading_clients_bounded_and_dropped():
    v = state["version"] + 1
    hosts = ["r%d.example" % v, "stable.example"] + ["e%04d.example" % i for i in range(300)]
    p = payload(v, hosts)
    for r in p["registries"]:
        r["nickname"] = ("nickname %s " % r["host"]) * 8
        r["nickname"] = r["nickname"][:128]
    apply_version(v, sign(p, P.k[0]))
    set_limits(idle_timeout_ms=QUIET_IDLE_MS)
    time.sleep(0.3)
    rss0 = proc_kib("VmRSS")
    before = env.request("status")["result"]
    req = {"op": "policy.show", "id": 1, "args": {"limit": 100}}
    socks, sent = [], []
    for _ in range(QUIET_CLIENTS):  # each fills its buffers, then sits there
        socks.append(env.connect())
        sent.append(stuff(socks[-1], req))
    time.sleep(0.3)
    rss1 = proc_kib("VmRSS")
    mid = env.request("status")["result"]
    ping = env.request("ping")
    t0 = time.time()
    while time.time() - t0 < 20:  # nobody reads: the idle timeout must end them
        after = env.request("status")["result"]
        if after["dropped_idle"] - before["dropped_idle"] >= QUIET_CLIENTS:
            break
        time.sleep(0.2)
    dropped_after = time.time() - t0
    got = [drain_to_eof(s, 20) for s in socks]  # only what was already queued, then EOF
    for s in socks:
        s.close()
    rss2 = proc_kib("VmRSS")
    set_limits(idle_timeout_ms=30000)
    figs = {"clients": QUIET_CLIENTS, "bytes_sent_each_max": max(sent),
            "reply_bytes_read_each_max": max(got), "rss_before_kib": rss0,
            "rss_stuck_kib": rss1, "rss_after_drop_kib": rss2, "growth_kib": rss1 - rss0,
            "dropped_idle": after["dropped_idle"] - before["dropped_idle"],
            "dropped_within_s": round(dropped_after, 2)}
    figures("non_reading_clients", figs)
    assert ping["ok"], ping
    assert mid["connections"] >= QUIET_CLIENTS + 1, mid
    assert after["dropped_idle"] - before["dropped_idle"] >= QUIET_CLIENTS, (before, after)
    assert after["connections"] == 1, after
    assert max(got) < 4 << 20, got  # nothing was written after the drop
    # per stuck client the daemon holds one read buffer and one reply (64 KiB + 64 KiB)
    bound = (64 if rt.SANITIZE else 16) * 1024 + QUIET_CLIENTS * 256
    assert rss1 - rss0 < bound, figs


# --- fetch faults ---------------------------------------------------------------------

def refresh_while_pinging():
    box = {}

    def run():
        t0 = time.perf_counter()
        try:
            box["reply"] = env.request("policy.refresh", timeout=60)
        except Exception as ex:  # noqa: BLE001
            box["reply"] = repr(ex)
        box["seconds"] = time.perf_counter() - t0

    t = threading.Thread(target=run, daemon=True)
    c = Conn()
    lat = []
    try:
        t.start()
        while t.is_alive():
            t0 = time.perf_counter()
            r = c.call("ping")
            lat.append(time.perf_counter() - t0)
            assert r["ok"], r
            time.sleep(0.005)
        t.join()
    finally:
        c.close()
    return box, lat


def test_fetch_faults_do_not_block_the_loop():
    ports = P.server.state["ports"]
    cases = [("hang-tcp", "https://127.0.0.1:%d/p/current.json" % ports["hang"]),
             ("hang-http", P.server.url("/hang")),
             ("reset", P.server.url("/reset")),
             ("garbage-tls", "https://127.0.0.1:%d/p/current.json" % ports["garbage"]),
             ("redirect-loop", P.server.url("/loop"))]
    keep = state["version"]
    out = {}
    try:
        for name, url in cases:
            P.set_policy(url=url, total_timeout_s=3, connect_timeout_s=2, low_speed_time_s=2)
            box, lat = refresh_while_pinging()
            r = box["reply"]
            assert isinstance(r, dict) and not r["ok"], (name, r)
            assert r["error"]["code"].startswith("E_"), (name, r)
            assert P.version() == keep, name
            out[name] = {"refresh_s": round(box["seconds"], 2), "pings": len(lat),
                         "ping_max_ms": round(max(lat) * 1000, 2) if lat else None,
                         "code": r["error"]["code"]}
    finally:
        P.set_policy(url=P.server.url("/p/current.json"), total_timeout_s=5,
                     connect_timeout_s=3, low_speed_time_s=2)
    figures("fetch_faults", out)
    assert all(v["pings"] > 0 for v in out.values()), out


def test_rss_with_10k_policy():
    """Also records how long a 10,000-entry refresh holds up a ping: verify and store
    run in a forked worker; only the reader's reload of the new entries is on the loop."""
    v = state["version"] + 1
    P.publish(sign(payload(v, ["h%05d.example" % i for i in range(10000)]), P.k[0]))
    box, lat = refresh_while_pinging()
    r = box["reply"]
    assert isinstance(r, dict) and r["ok"] and r["result"]["outcome"] == "updated", r
    state["version"] = v
    time.sleep(0.5)
    figures("idle_10k", dict(mem(), registries=10000, refresh_s=round(box["seconds"], 3),
                             pings_during_refresh=len(lat),
                             ping_max_ms=round(max(lat) * 1000, 2) if lat else None))


try:
    env.start()
    rt.run_tests([test_idle_rss, test_checks_while_refreshing,
                  test_slowloris_nobody_and_root_latency,
                  test_non_reading_clients_bounded_and_dropped,
                  test_fetch_faults_do_not_block_the_loop, test_rss_with_10k_policy])
finally:
    P.cleanup()
