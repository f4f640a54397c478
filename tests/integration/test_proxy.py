# SPDX-License-Identifier: ISC
"""rampart-proxy end to end, inside a private network and mount namespace: a
signed policy fetched by a private rampartd, the proxy deciding from its DB,
upstream servers on 127.0.0.1 under registry-like names from a private hosts
file (reg-a.test allowed, reg-b.test not), real skopeo through the proxy
against Debian's docker-registry, and the hostile cases (malformed and
oversize heads, IP literals, unlisted ports, slowloris, many idle tunnels, a
client that never reads).  The proxy runs with -c on the private rampartd's
config (enforce.proxy.listen and stats_file, the DB from state_dir), and that
rampartd shows its counters in `rampart status`, refusing stats files it
cannot trust."""
import http.server
import hashlib
import json
import random
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers"))
import rt  # noqa: E402

PROXY = os.path.join(rt.BUILD, "rampart-proxy")
NS_FLAG = "RAMPART_PROXY_TEST_IN_NS"
A, B = "reg-a.test", "reg-b.test"
C = "blobs.reg-a.test"           # reg-a's companion host (same upstream)
UP_A, UP_B = 5100, 5101          # python upstreams
REG_A, REG_B = 5000, 5001        # docker-registry (skopeo)


def enter_namespace():
    """Re-runs this file in its own network + mount namespace (nothing leaves the machine)."""
    if os.environ.get(NS_FLAG):
        return
    rt.need_root()
    if not os.path.exists(PROXY):
        rt.skip("rampart-proxy was not built (libevent missing)")
    env = dict(os.environ, **{NS_FLAG: rt.ns_ids()})   # the namespaces outside
    r = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", sys.executable, "-B",
                        os.path.abspath(__file__)], env=env)
    sys.exit(r.returncode)


def ns_setup(tmp):
    rt.require_private_namespace("test_proxy", os.environ.get(NS_FLAG))  # before any mount
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost %s %s %s\n::1 localhost\n" % (A, B, C))
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    resolv = os.path.join(tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    if os.path.exists("/etc/resolv.conf"):
        subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)


SEQ_BLOCK = random.Random(22).randbytes((1 << 20) + 7)


def seq_digest(n):
    h = hashlib.sha256()
    while n > 0:
        h.update(SEQ_BLOCK[:min(n, len(SEQ_BLOCK))])
        n -= len(SEQ_BLOCK)
    return h.hexdigest()


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        if self.path.startswith("/seq/"):
            # N bytes of a 1 MiB + 7 pseudo-random block, repeated: a lost,
            # doubled or reordered chunk anywhere changes the digest
            n = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            try:
                while n > 0:
                    self.wfile.write(SEQ_BLOCK[:min(n, len(SEQ_BLOCK))])
                    n -= len(SEQ_BLOCK)
            except OSError:
                pass
            return
        if self.path.startswith("/big"):
            n = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                while n > 0:
                    self.wfile.write(chunk[:min(n, len(chunk))])
                    n -= len(chunk)
            except OSError:
                pass
            return
        body = ("hello from %d %s" % (self.server.server_address[1], self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET


class TServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_upstream(port):
    s = TServer(("127.0.0.1", port), Upstream)
    s.seen = []
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def stats_path(tmp):
    return os.path.join(tmp, "run", "proxy-stats.json")


class Proxy:
    def __init__(self, db, tmp, extra=(), port=3128, config=None):
        """With config: listen address, DB and stats file from rampartd's config
        (enforce.proxy, -c); else from the command line."""
        self.port = port
        sd = os.path.join(tmp, "run")   # the proxy's own dir (it runs as nobody)
        os.makedirs(sd, exist_ok=True)
        os.chown(sd, 65534, 65534)
        self.stats = stats_path(tmp) if config else os.path.join(sd, "proxy-stats-%d.json" % port)
        self.log = open(os.path.join(tmp, "proxy-%d.log" % port), "w+")
        where = (["-c", config] if config else
                 ["--listen", "127.0.0.1:%d" % self.port, "--db", db, "--stats", self.stats])
        self.proc = subprocess.Popen([PROXY] + where + ["--user", "nobody",
                                      "--head-timeout", "2"] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("rampart-proxy did not start: " + self.text())

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def raw(data, port=3128, read_all=True, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if not read_all and b"\r\n\r\n" in out:
                break
    except socket.timeout:
        pass
    s.close()
    return out


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    return int(parts[1]), (parts[2] if len(parts) > 2 else "")


def body_of(resp):
    return resp.split(b"\r\n\r\n", 1)[1]


def connect(host, port, keep=False, via=3128):
    s = socket.create_connection(("127.0.0.1", via), timeout=10)
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        if not b:
            break
        head += b
    if keep:
        return s, head
    s.close()
    return None, head


def main():
    enter_namespace()
    import rtpolicy
    tmp = tempfile.mkdtemp(prefix="rampart-proxy-")
    os.chmod(tmp, 0o755)
    ns_setup(tmp)
    P = rtpolicy.PolicyEnv("proxy", extra_config={"enforce": {"proxy": {
        "listen": "127.0.0.1:3128", "stats_file": stats_path(tmp)}}})
    P.env.start()
    ups = [start_upstream(UP_A), start_upstream(UP_B)]
    regs = []
    proxy = None
    try:
        allowed = ("%s:%d" % (A, UP_A), "%s:%d" % (A, REG_A))
        P.publish(rtpolicy.sign(rtpolicy.payload(1, hosts=allowed), P.k[0]))
        r = P.refresh()
        assert r.returncode == 0, r
        os.chmod(P.env.path("state"), 0o755)
        db = P.env.path("state", "policy.db")
        proxy = Proxy(None, tmp, config=P.env.config_path)
        ctx = {"P": P, "proxy": proxy, "ups": ups, "tmp": tmp, "regs": regs, "allowed": allowed,
               "db": db}
        tests = [t for t in TESTS]
        failed = 0
        for t in tests:
            t0 = time.time()
            try:
                t(ctx)
                print("ok   %-50s %.2fs" % (t.__name__, time.time() - t0), flush=True)
            except Exception as ex:  # noqa: BLE001
                failed += 1
                import traceback
                traceback.print_exc()
                print("FAIL %-50s %s" % (t.__name__, ex), flush=True)
                print(ctx["proxy"].text()[-3000:])
        sys.exit(1 if failed else 0)
    finally:
        if proxy is not None:
            proxy.stop()
        for r in regs:
            r.terminate()
            try:
                r.wait(10)
            except subprocess.TimeoutExpired:
                r.kill()
        for u in ups:
            u.shutdown()
        P.cleanup()
        subprocess.run(["umount", "/etc/hosts"], check=False)
        subprocess.run(["umount", "/etc/resolv.conf"], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


# ---- the cases --------------------------------------------------------------

def test_connect_allowed_tunnels(ctx):
    s, head = connect(A, UP_A, keep=True)
    assert status_of(head)[0] == 200, head
    s.sendall(("GET /through-tunnel HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
               % (A, UP_A)).encode())
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    assert b"hello from 5100 /through-tunnel" in out, out


def test_connect_denied_names_rampart_and_policy(ctx):
    _, head = connect(B, UP_B)
    code, phrase = status_of(head)
    assert code == 403, head
    want = "rampart: %s:%d denied by policy acme v1" % (B, UP_B)
    assert phrase.startswith(want), phrase
    resp = raw(("CONNECT %s:%d HTTP/1.1\r\n\r\n" % (B, UP_B)).encode())
    err = json.loads(body_of(resp))["errors"][0]
    assert err["code"] == "DENIED" and err["message"].startswith(want), err
    assert not any(p for p in ctx["ups"][1].seen), "the denied upstream was contacted"


def test_connect_ip_literal_and_unlisted_port_denied(ctx):
    for host, port in (("127.0.0.1", UP_A), (A, UP_A + 7), (A, 443), ("[::1]", UP_A)):
        _, head = connect(host, port)
        assert status_of(head)[0] == 403, (host, port, head)


def test_plain_http_decided_by_host_and_repository(ctx):
    resp = raw(("GET http://%s:%d/v2/acme/app/manifests/1 HTTP/1.1\r\nHost: %s:%d\r\n"
                "Proxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n" % (A, UP_A, A, UP_A)).encode())
    assert status_of(resp)[0] == 200, resp
    assert b"hello from 5100 /v2/acme/app/manifests/1" in resp
    method, path, hdrs = ctx["ups"][0].seen[-1]
    assert path == "/v2/acme/app/manifests/1", path
    assert hdrs.get("Connection") == "close" and "Proxy-Connection" not in hdrs, hdrs
    n = len(ctx["ups"][1].seen)
    resp = raw(("GET http://%s:%d/v2/acme/app/blobs/sha256:00 HTTP/1.1\r\nHost: x\r\n\r\n"
                % (B, UP_B)).encode())
    assert status_of(resp)[0] == 403, resp
    err = json.loads(body_of(resp))["errors"][0]
    assert err["message"].startswith("rampart: %s:%d/acme/app denied by policy acme v1" % (B, UP_B)), err
    assert len(ctx["ups"][1].seen) == n, "a denied request reached the upstream"
    # the client's Host never reaches the origin: it would pick another site on a shared server
    resp = raw(("GET http://%s:%d/v2/acme/app/manifests/2 HTTP/1.1\r\nHost: evil.example\r\n\r\n"
                % (A, UP_A)).encode())
    assert status_of(resp)[0] == 200, resp
    assert ctx["ups"][0].seen[-1][2].get("Host") == "%s:%d" % (A, UP_A), ctx["ups"][0].seen[-1]
    # a /v2/ path the registry could decode or clean into another repository is refused
    n = len(ctx["ups"][0].seen)
    for path in ("/v2/evil/app/manifests%2F1", "/v2/evil/app/%6Danifests/1",
                 "/v2/acme/app/../../evil/x/manifests/1", "/v2/_catalog"):
        resp = raw(("GET http://%s:%d%s HTTP/1.1\r\n\r\n" % (A, UP_A, path)).encode())
        assert status_of(resp)[0] == 403, (path, resp)
    assert len(ctx["ups"][0].seen) == n, "a refused /v2/ path reached the upstream"


def test_malformed_and_oversize_heads_refused(ctx):
    cases = [
        (b"GET http://%s:%d/ HTTP/1.1\nHost: x\n\n" % (A.encode(), UP_A), 400),   # bare LF
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 405),                               # origin form
        (b"GET https://%s/ HTTP/1.1\r\n\r\n" % A.encode(), 405),                   # https URL
        (b"GET http://u:p@%s:%d/ HTTP/1.1\r\n\r\n" % (A.encode(), UP_A), 400),     # userinfo
        (b"GET http://%s:%d/ HTTP/2.0\r\n\r\n" % (A.encode(), UP_A), 400),
        (b"CONNECT %s HTTP/1.1\r\n\r\n" % A.encode(), 400),                        # no port
        (b"CONNECT %s:99999 HTTP/1.1\r\n\r\n" % A.encode(), 400),
        (b"GET http://%s:%d/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n" % (A.encode(), UP_A), 400),  # folded
        (b"GET http://%s:%d/ HTTP/1.1\r\n" % (A.encode(), UP_A) + b"X-A: " + b"a" * 9000, 431),
        (b"GET http://%s:%d/ HTTP/1.1\r\n" % (A.encode(), UP_A) +
         b"".join(b"X-%d: 1\r\n" % i for i in range(70)) + b"\r\n", 431),
        (b"POST http://%s:%d/v2/acme/app/blobs/uploads/ HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
         % (A.encode(), UP_A), 405),                                                # bodies
        (b"GET http://%s:%d/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
         % (A.encode(), UP_A), 405),
    ]
    for data, want in cases:
        resp = raw(data)
        assert resp and status_of(resp)[0] == want, (data[:80], resp[:200])
    assert ctx["proxy"].proc.poll() is None, "the proxy died"


def test_slowloris_is_cut_off(ctx):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=15)
    s.sendall(b"GET http://reg-a.test:5100/ HTTP/1.1\r\nX-Slow: ")
    t0 = time.time()
    for _ in range(30):
        try:
            s.sendall(b"a")
        except OSError:
            break
        time.sleep(0.2)
        s.settimeout(0.01)
        try:
            if s.recv(65536) == b"":   # the proxy's 408, then its close
                break
        except socket.timeout:
            pass
        except OSError:
            break
    waited = time.time() - t0
    s.close()
    assert waited < 5.5, "a client dribbling its head kept its slot for %.1f s" % waited


def test_many_idle_tunnels_and_a_new_client_still_served(ctx):
    proxy = ctx["proxy"]
    before = proxy.rss_kb()
    socks = []
    try:
        for _ in range(512):
            s, head = connect(A, UP_A, keep=True)
            assert status_of(head)[0] == 200, head
            socks.append(s)
        resp = raw(("GET http://%s:%d/v2/acme/app/manifests/2 HTTP/1.1\r\n\r\n" % (A, UP_A)).encode())
        assert status_of(resp)[0] == 200, resp[:200]
        after = proxy.rss_kb()
        print("figures: rss_kb_before=%d rss_kb_512_tunnels=%d" % (before, after))
    finally:
        for s in socks:
            s.close()


def test_client_that_never_reads_stays_bounded(ctx):
    proxy = ctx["proxy"]
    before = proxy.rss_kb()
    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(("GET http://%s:%d/big/268435456 HTTP/1.1\r\n\r\n" % (A, UP_A)).encode())
    time.sleep(2)
    grown = proxy.rss_kb() - before
    s.close()
    print("figures: rss_growth_kb_stalled_client=%d" % grown)
    # 256 MiB offered; the proxy may queue only its watermark per direction
    assert grown < 16 * 1024, "the proxy buffered %d KiB for a client that does not read" % grown


def test_refusals_are_audited_once_and_coalesced(ctx):
    for _ in range(40):
        connect(B, 7777)
    lines = [l for l in ctx["proxy"].text().splitlines()
             if "decision=deny" in l and "subject=%s:7777" % B in l]
    assert len(lines) == 1, lines
    assert "rule=- mode=enforce" in lines[0] and "denied by policy acme v1" in lines[0], lines[0]


def test_stats_file_counts(ctx):
    time.sleep(2.5)
    with open(ctx["proxy"].stats) as f:
        st = json.load(f)
    assert st["program"] == "rampart-proxy" and st["policy_version"] == 1, st
    assert st["denied"] >= 40 and st["allowed"] >= 512 and st["bad_requests"] >= 10, st
    assert st["connect"]["allowed"] >= 512 and st["connect"]["denied"] >= 40, st
    assert st["http"]["allowed"] >= 2 and st["http"]["denied"] >= 1, st
    assert st["connect"]["allowed"] + st["http"]["allowed"] == st["allowed"], st
    assert st["last_refusal"]["subject"] == "%s:7777" % B, st
    assert st["version"] == proxy_version() and st["listen"] == "127.0.0.1:3128", st
    assert os.stat(ctx["proxy"].stats).st_mode & 0o777 == 0o644


def proxy_version():
    return subprocess.run([PROXY, "--version"], capture_output=True, text=True).stdout.split()[1]


def proxy_status(ctx, user=None):
    r = ctx["P"].env.cli("--json", "status", user=user)
    assert r.returncode == 0, r
    return json.loads(r.stdout)["result"]["enforce"]["proxy"]


def test_status_shows_the_proxy(ctx):
    """rampartd reads the running proxy's stats file: running, version, counters."""
    p = proxy_status(ctx)
    assert p["running"] is True and p["error"] == "", p
    assert p["version"] == proxy_version() and p["pid"] == ctx["proxy"].proc.pid, p
    assert p["listen"] == "127.0.0.1:3128" and p["serving_version"] == 1, p
    c = p["counters"]
    assert c["connect"]["allowed"] >= 512 and c["connect"]["denied"] >= 40, c
    assert c["http"]["allowed"] >= 2 and c["http"]["denied"] >= 1 and c["bad_requests"] >= 10, c
    assert c["tunnels_open"] == 0 and c["tunnels"] >= 512, c
    assert p["last_refusal"]["subject"] == "%s:7777" % B and p["last_refusal"]["kind"] == "connect", p
    assert "denied by policy acme v1" in p["last_refusal"]["message"], p
    r = ctx["P"].env.cli("status")
    assert r.returncode == 0, r
    assert ("enforce proxy: listen 127.0.0.1:3128 (rampart-proxy %s, pid %d, serving policy v1)"
            % (proxy_version(), ctx["proxy"].proc.pid)) in r.stdout, r.stdout
    assert "CONNECT allowed %d, refused %d;" % (c["connect"]["allowed"], c["connect"]["denied"]) in r.stdout
    assert "last refusal " in r.stdout and "reg-b.test:7777 denied by policy" in r.stdout, r.stdout
    # someone else's refusals are not every user's business: counters only
    p = proxy_status(ctx, user="nobody")
    assert p["last_refusal"] == "(withheld: admins only)" and p["counters"]["connect"], p


def test_status_refuses_stats_it_cannot_trust(ctx):
    """A stats file another user could have written is not shown; a stale one is not running."""
    P, tmp = ctx["P"], ctx["tmp"]
    d = os.path.join(tmp, "fake")
    os.makedirs(d, mode=0o755, exist_ok=True)
    fake = os.path.join(d, "stats.json")
    with open(ctx["proxy"].stats) as f:
        good = json.load(f)
    good["updated_at"] = int(time.time())

    def status_with(text=None, uid=0, mode=0o644, dir_mode=0o755, link=False):
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        os.chmod(d, dir_mode)
        if link:
            os.symlink(ctx["proxy"].stats, fake)
        else:
            with open(fake, "w") as f:
                f.write(text if isinstance(text, str) else json.dumps(text))
            os.chown(fake, uid, uid)
            os.chmod(fake, mode)
        return proxy_status(ctx)

    cfg = json.loads(json.dumps(P.env.config))
    cfg["enforce"]["proxy"]["stats_file"] = fake
    P.env.write_config(cfg)
    assert P.env.request("daemon.reload")["ok"]
    try:
        p = status_with(good)   # control: the same bytes, owned by root, are shown
        assert p["running"] is True and p["counters"]["connect"]["allowed"] >= 512, p
        stale = dict(good, updated_at=int(time.time()) - 1000)
        p = status_with(stale)
        assert p["running"] is False and "s old" in p["error"], p
        p = status_with(dict(good, listen="127.0.0.1:3999"))
        assert "listens on 127.0.0.1:3999 but enforce.proxy.listen is 127.0.0.1:3128" in p["error"], p
        for kw, why in (({"uid": 4242}, "not trusted"),                 # another user's file
                        ({"mode": 0o666}, "not trusted"),               # anyone may write it
                        ({"dir_mode": 0o777}, "not trusted"),           # anyone may replace it
                        ({"link": True}, "cannot open"),                # a symlink
                        ({"text": json.dumps(good) + " " * 17000}, "at most 16384 bytes"),
                        ({"text": dict(good, program="other")}, "not rampart-proxy's stats"),
                        ({"text": dict(good, connect={"allowed": -1, "denied": 0})}, "bad field connect"),
                        ({"text": dict(good, last_refusal=dict(good["last_refusal"], message="a\x1b[2Jb"))},
                         "bad field last_refusal"),
                        ({"text": '{"program": "rampart-proxy", "program": "x"}'}, "not rampart-proxy's stats")):
            args = dict(kw)
            text = args.pop("text", good)
            p = status_with(text, **args)
            assert p["running"] is False and "counters" not in p and why in p["error"], (kw, p)
    finally:
        P.env.write_config(_restore(P, ctx))
        assert P.env.request("daemon.reload")["ok"]
        os.chmod(d, 0o755)


def _restore(P, ctx):
    cfg = json.loads(json.dumps(P.env.config))
    cfg["enforce"]["proxy"]["stats_file"] = ctx["proxy"].stats
    return cfg


def test_skopeo_through_the_proxy(ctx):
    if shutil.which("skopeo") is None or not os.path.exists("/usr/bin/docker-registry"):
        raise AssertionError("skopeo and docker-registry are needed (scripts/deps installs them)")
    tmp = ctx["tmp"]
    for port in (REG_A, REG_B):
        d = os.path.join(tmp, "reg%d" % port)
        os.makedirs(d)
        cfg = os.path.join(d, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%d\n" % (d, port))
        ctx["regs"].append(subprocess.Popen(["/usr/bin/docker-registry", "serve", cfg],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for port in (REG_A, REG_B):
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
    env = dict(os.environ, HTTP_PROXY="http://127.0.0.1:3128", HTTPS_PROXY="http://127.0.0.1:3128",
               NO_PROXY="")
    r = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                        "docker://%s:%d/acme/app:1" % (B, REG_B)],
                       capture_output=True, text=True, env=env, timeout=60)
    # containers/image reports a refused ping by status alone ("403 (Forbidden)"); the
    # reason is in the proxy's audit line (docker prints the JSON body of later requests)
    assert r.returncode != 0 and "403" in r.stderr, r.stderr
    assert "subject=%s:%d" % (B, REG_B) in ctx["proxy"].text(), ctx["proxy"].text()[-2000:]
    r = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                        "docker://%s:%d/acme/app:1" % (A, REG_A)],
                       capture_output=True, text=True, env=env, timeout=60)
    # the registry was reached (it has no such image): not a proxy refusal
    assert "rampart:" not in r.stderr and "manifest unknown" in r.stderr.lower(), r.stderr


def test_refresh_changes_decisions_without_restart(ctx):
    P = ctx["P"]
    P.publish(rtpolicy_sign(P, 2, ctx["allowed"] + ("%s:%d" % (B, UP_B),)))
    r = P.refresh()
    assert r.returncode == 0, r
    time.sleep(0.1)
    _, head = connect(B, UP_B)
    assert status_of(head)[0] == 200, head


def test_refresh_closes_the_tunnels_it_no_longer_allows(ctx):
    P = ctx["P"]
    keep, _ = connect(A, UP_A, keep=True)
    cut, head = connect(B, UP_B, keep=True)      # allowed by v2 (the test above)
    assert status_of(head)[0] == 200, head
    P.publish(rtpolicy_sign(P, 3, ctx["allowed"]))
    assert P.refresh().returncode == 0
    cut.settimeout(5)                            # the proxy re-decides within its 2 s tick
    try:
        assert cut.recv(1) == b"", "a tunnel to %s:%d outlived the rule that allowed it" % (B, UP_B)
    except ConnectionResetError:
        pass
    cut.close()
    keep.sendall(("GET /still-allowed HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                  % (A, UP_A)).encode())
    keep.settimeout(5)
    out = b""
    while True:
        b = keep.recv(65536)
        if not b:
            break
        out += b
    keep.close()
    assert b"hello from 5100 /still-allowed" in out, out
    assert "decision=deny kind=revoke subject=%s:%d version=3" % (B, UP_B) in ctx["proxy"].text()
    time.sleep(2.5)                              # the next stats write
    with open(ctx["proxy"].stats) as f:
        assert json.load(f)["revoked"] >= 1


def companion_policy(P, version, mode="enforce"):
    import rtpolicy
    body = rtpolicy.payload(version, hosts=ctx_hosts(P))
    body["schema_version"] = 2
    body["registries"].append({"host": "%s:%d/acme/" % (B, UP_B), "mode": mode,
                               "companions": ["%s:%d" % (C, UP_A)]})
    return rtpolicy.sign(body, P.k[0])


def ctx_hosts(P):
    return ("%s:%d" % (A, UP_A), "%s:%d" % (A, REG_A))


def test_companion_follows_its_rule(ctx):
    """A companion is reachable while its rule is an enforced allow rule, and not after a
    refresh that makes the rule warn-only or removes it; a registry pull on the companion
    host is still decided by the rules."""
    P, proxy = ctx["P"], ctx["proxy"]
    P.publish(companion_policy(P, 4))
    assert P.refresh().returncode == 0
    time.sleep(0.1)
    s, head = connect(C, UP_A, keep=True)
    assert status_of(head)[0] == 200, head
    s.close()
    resp = raw(("GET http://%s:%d/blob/sha256-1 HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                % (C, UP_A, C, UP_A)).encode())
    assert status_of(resp)[0] == 200 and b"hello from 5100 /blob/sha256-1" in resp, resp
    resp = raw(("GET http://%s:%d/v2/acme/app/manifests/1 HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                % (C, UP_A, C, UP_A)).encode())
    assert status_of(resp)[0] == 403, resp
    assert b"no rule matches registry %s:%d" % (C.encode(), UP_A) in resp, resp
    _, head = connect(C, 443)                       # not the port the entry names
    assert status_of(head)[0] == 403, head
    # policy show (daemon and --db) lists the companion under its rule
    for args in (("--json", "policy", "show"),
                 ("--json", "policy", "show", "--db", P.env.path("state", "policy.db"))):
        r = P.env.cli(*args)
        assert r.returncode == 0, r
        rules = json.loads(r.stdout)["result"]["registries"]
        assert ["%s:%d" % (C, UP_A)] in [x.get("companions") for x in rules], rules
    r = P.env.cli("policy", "show", "--db", P.env.path("state", "policy.db"))
    assert "companion %s:%d" % (C, UP_A) in r.stdout, r.stdout
    # policy verify re-proves the companions against the signed payload
    db = P.env.path("state", "policy.db")
    r = P.env.cli("policy", "verify", "--db", db, "--keys", P.keydir)
    assert r.returncode == 0, r
    import sqlite3
    forged = os.path.join(ctx["tmp"], "forged.db")
    shutil.copyfile(db, forged)
    con = sqlite3.connect(forged)
    con.execute("UPDATE companions SET host='evil.example.com' WHERE rule=2 AND pos=0")
    con.commit()
    con.close()
    r = P.env.cli("policy", "verify", "--db", forged, "--keys", P.keydir)
    assert r.returncode == 1 and "E_TAMPERED" in r.stderr, r
    os.unlink(forged)
    # the rule in mode warn: refused, naming the rule; an open companion tunnel is cut
    held, head = connect(C, UP_A, keep=True)
    assert status_of(head)[0] == 200, head
    P.publish(companion_policy(P, 5, mode="warn"))
    assert P.refresh().returncode == 0
    held.settimeout(5)
    try:
        assert held.recv(1) == b"", "a companion tunnel outlived its rule"
    except ConnectionResetError:
        pass
    held.close()
    assert "kind=revoke subject=%s:%d version=5" % (C, UP_A) in proxy.text(), proxy.text()[-2000:]
    _, head = connect(C, UP_A)
    code, phrase = status_of(head)
    assert code == 403 and "denied by policy acme v5" in phrase, head
    assert "companion host of allow rule %s:%d/acme/, which is in mode warn" % (B, UP_B) in phrase, phrase
    # the rule removed: refused like any unlisted host
    P.publish(rtpolicy_sign(P, 6, ctx_hosts(P)))
    assert P.refresh().returncode == 0
    time.sleep(0.1)
    _, head = connect(C, UP_A)
    code, phrase = status_of(head)
    assert code == 403 and "denied by policy acme v6: no rule matches registry" in phrase, head
    assert "rule=%s:%d/acme/ mode=enforce" % (B, UP_B) in proxy.text(), proxy.text()[-2000:]


def test_listen_beyond_loopback_and_root_refused(ctx):
    for addr in ("0.0.0.0:3129", "10.1.2.3:3129", "[::]:3129", "localhost:3129"):
        r = subprocess.run([PROXY, "--listen", addr, "--user", "nobody"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 2 and "loopback" in r.stderr, (addr, r)
    r = subprocess.run([PROXY, "--listen", "127.0.0.1:3130", "--db", "/nonexistent/p.db"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "refusing to run as root" in r.stderr, r


def rtpolicy_sign(P, version, hosts):
    import rtpolicy
    return rtpolicy.sign(rtpolicy.payload(version, hosts=hosts), P.k[0])


def read_reply(s):
    """A whole HTTP/1.1 reply with Content-Length: (head, body digest, body length)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        assert b, "connection closed inside the head: %r" % buf[:200]
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    want = int([l.split(b":", 1)[1] for l in head.split(b"\r\n")
                if l.lower().startswith(b"content-length:")][0])
    h = hashlib.sha256(body)
    got = len(body)
    while got < want:
        b = s.recv(1 << 20)
        if not b:
            break
        h.update(b)
        got += len(b)
    return head, h.hexdigest(), got


def check_bytes_whole(via):
    """Through the proxy on port via: a 48 MiB reply by the relay, the same by a tunnel
    whose request rides in the CONNECT's own packet, and a tunnel client that half-closes
    after its request still gets the whole reply."""
    n = 48 << 20
    want = seq_digest(n)
    s = socket.create_connection(("127.0.0.1", via), timeout=20)
    s.sendall(("GET http://%s:%d/seq/%d HTTP/1.1\r\n\r\n" % (A, UP_A, n)).encode())
    head, dig, got = read_reply(s)
    s.close()
    assert head.startswith(b"HTTP/1.1 200") and got == n and dig == want, (head[:80], got)
    s = socket.create_connection(("127.0.0.1", via), timeout=20)
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\n\r\nGET /seq/%d HTTP/1.1\r\nHost: x\r\n\r\n"
               % (A, UP_A, n)).encode())
    head, _, _ = read_reply_head_only(s)
    assert head.startswith(b"HTTP/1.1 200"), head
    head, dig, got = read_reply(s)
    s.close()
    assert got == n and dig == want, (head[:80], got)
    s, head = connect(A, UP_A, keep=True, via=via)
    assert status_of(head)[0] == 200, head
    s.sendall(b"GET /seq/1000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    head, dig, got = read_reply(s)
    s.close()
    assert got == 1000000 and dig == seq_digest(1000000), (head[:80], got)


def read_reply_head_only(s):
    """Reads exactly the CONNECT reply's head (one byte at a time: what follows is the
    tunnel's)."""
    buf = b""
    while not buf.endswith(b"\r\n\r\n"):
        b = s.recv(1)
        assert b, buf
        buf += b
    return buf, None, 0


def test_bytes_arrive_whole_by_splice_and_by_copy(ctx):
    check_bytes_whole(3128)
    px = Proxy(ctx["db"], ctx["tmp"], extra=["--copy"], port=3129)
    try:
        check_bytes_whole(3129)
    finally:
        px.stop()


TESTS = [
    test_connect_allowed_tunnels,
    test_connect_denied_names_rampart_and_policy,
    test_connect_ip_literal_and_unlisted_port_denied,
    test_plain_http_decided_by_host_and_repository,
    test_malformed_and_oversize_heads_refused,
    test_slowloris_is_cut_off,
    test_many_idle_tunnels_and_a_new_client_still_served,
    test_client_that_never_reads_stays_bounded,
    test_refusals_are_audited_once_and_coalesced,
    test_stats_file_counts,
    test_status_shows_the_proxy,
    test_status_refuses_stats_it_cannot_trust,
    test_skopeo_through_the_proxy,
    test_refresh_changes_decisions_without_restart,
    test_refresh_closes_the_tunnels_it_no_longer_allows,
    test_companion_follows_its_rule,
    test_listen_beyond_loopback_and_root_refused,
    test_bytes_arrive_whole_by_splice_and_by_copy,
]

if __name__ == "__main__":
    main()
