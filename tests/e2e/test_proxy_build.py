#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""End to end: rampart-proxy in front of the engines' own downloads (issue 22), inside a
private network and mount namespace.

Two docker-registry instances serve HTTPS (a test CA made here with the openssl CLI) under
names that do not look like loopback, reg-a.test and reg-b.test, mapped to 127.0.0.1 in a
private /etc/hosts (Go never proxies localhost or 127.0.0.0/8).  A private rampartd fetches
a signed policy from a local HTTPS server (allowing reg-a.test:5000 only) and writes the
store rampart-proxy (as nobody) decides from.  A private dockerd, with the CA in a private
/etc/docker/certs.d and HTTP_PROXY/HTTPS_PROXY pointing at the proxy (NO_PROXY empty):

  - docker build FROM reg-b.test:5001/... is refused with rampart's message in the build
    output, with the legacy builder and with BuildKit; the denied registry sees no request;
  - docker build FROM reg-a.test:5000/... succeeds with both, and the registry served it;
  - skopeo and podman (root, HTTPS_PROXY in their environment, the CA via --cert-dir):
    reg-a succeeds, reg-b is refused with rampart's message;
  - a policy refresh that allows reg-b.test instead of reg-a.test is applied by the running
    proxy (same PID): docker pull and skopeo from reg-a are refused naming policy v2, reg-b
    is allowed, and a tunnel to reg-a opened under v1 is closed.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration", "helpers"))
import e2e_env  # noqa: E402

e2e_env.enter_namespace()

import rt  # noqa: E402
import rtpolicy  # noqa: E402
from docker_env import Dockerd  # noqa: E402

PROXY = os.path.join(rt.BUILD, "rampart-proxy")
PROXY_PORT = 3128
A, B = "reg-a.test", "reg-b.test"
PA, PB = 5000, 5001
PROXY_ENV = {"HTTP_PROXY": "http://127.0.0.1:%d" % PROXY_PORT,
             "HTTPS_PROXY": "http://127.0.0.1:%d" % PROXY_PORT, "NO_PROXY": "",
             "http_proxy": "http://127.0.0.1:%d" % PROXY_PORT,
             "https_proxy": "http://127.0.0.1:%d" % PROXY_PORT, "no_proxy": ""}


def denied_re(host, port, version):
    """rampart's refusal, by host (CONNECT) or by host and repository (plain HTTP: dockerd
    counts a name resolving into 127.0.0.0/8 as insecure and also tries http://)."""
    return re.compile(r"rampart: %s:%d(/[a-z0-9/._-]+)? denied by policy acme v%d: "
                      % (re.escape(host), port, version))


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, "openssl %s: %s" % (args[0], r.stderr)


def make_tls(d):
    """A throwaway CA and one server certificate for both registry names."""
    os.makedirs(d, mode=0o755)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=rampart e2e test CA (throwaway)",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-new", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=" + A, cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:%s,DNS:%s\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=critical,CA:FALSE\n" % (A, B))
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    ca_only = os.path.join(d, "certs")        # what --cert-dir gets: the CA, nothing else
    os.mkdir(ca_only, 0o755)
    with open(os.path.join(d, "ca.crt")) as s, open(os.path.join(ca_only, "ca.crt"), "w") as t:
        t.write(s.read())
    return os.path.join(d, "ca.crt"), (os.path.join(d, "srv.crt"), os.path.join(d, "srv.key")), ca_only


def private_names(env):
    """reg-a.test / reg-b.test -> 127.0.0.1 in the namespace's /etc/hosts (E2EEnv's bind
    mount: rewritten in place), and a resolver that answers nothing else."""
    with open(env.path("hosts"), "w") as f:
        f.write("127.0.0.1 localhost %s %s\n::1 localhost\n" % (A, B))
    resolv = env.path("resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    os.chmod(resolv, 0o644)
    if os.path.exists("/etc/resolv.conf"):
        env._bind(resolv, "/etc/resolv.conf")


class Proxy:
    """rampart-proxy on 127.0.0.1:3128 as nobody, deciding from db."""

    def __init__(self, env, db):
        run = env.path("proxy-run")
        os.mkdir(run, 0o755)
        os.chown(run, 65534, 65534)
        self.stats = os.path.join(run, "stats.json")
        self.logpath = env.path("proxy.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen([PROXY, "--listen", "127.0.0.1:%d" % PROXY_PORT, "--db", db,
                                      "--user", "nobody", "--stats", self.stats],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.time() + 10
        while time.time() < deadline:
            assert self.proc.poll() is None, "rampart-proxy exited: " + self.text()
            try:
                socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("rampart-proxy did not listen: " + self.text())

    def text(self):
        self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def counters(self, want_tunnels, timeout=4.0):
        """The stats file once it shows at least want_tunnels tunnels (written every 2 s)."""
        deadline = time.time() + timeout
        st = {}
        while time.time() < deadline:
            try:
                with open(self.stats) as f:
                    st = json.load(f)
                if st.get("tunnels", 0) >= want_tunnels:
                    return st
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        return st

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def open_tunnel(host, port):
    s = socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=10)
    s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        assert b, "the proxy closed the CONNECT to %s:%d: %r" % (host, port, head)
        head += b
    assert head.startswith(b"HTTP/1.1 200 "), head
    return s


def tunnel_closed(s, timeout):
    """True once the proxy has closed the tunnel s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


def build(dockerd, env, name, ref, buildkit):
    ctx = env.path("ctx-" + name)
    os.mkdir(ctx)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM %s\nLABEL rampart.e2e=%s\n" % (ref, name))
    args = ["build", "-t", "n22e/" + name]
    if buildkit:
        args += ["--progress=plain"]
    return dockerd.docker(*(args + [ctx]), environ={"DOCKER_BUILDKIT": "1" if buildkit else "0"},
                          timeout=180)


def expect_refused(r, host, port, version, what):
    out = r.stdout + r.stderr
    assert r.returncode != 0, "%s: not refused:\n%s" % (what, out)
    assert denied_re(host, port, version).search(out), "%s: no rampart message:\n%s" % (what, out)


def containers_cmd(env, tool, *args):
    """skopeo or podman as root with the proxy in the environment and a private TMPDIR."""
    tmp = env.path("tmp-" + tool)
    os.makedirs(tmp, exist_ok=True)
    return env.run([tool] + list(args), env=dict(PROXY_ENV, TMPDIR=tmp), timeout=120)


def main():
    t0 = time.time()
    if not os.path.exists(PROXY):
        e2e_env.skip("rampart-proxy was not built (libevent missing)")
    env = e2e_env.E2EEnv("n22e", ports=(), push=False)
    P = proxy = dockerd = None
    try:
        private_names(env)
        ca, server_pair, cert_dir = make_tls(env.path("tls"))
        for port in (PA, PB):
            env.registries[port] = e2e_env.Registry(env.dir, port, tls=server_pair)
        pushes = {PA: ("acme/hello:1", "acme/legacy:1", "acme/buildkit:1"),
                  PB: ("acme/hello:1", "acme/legacy:1", "acme/buildkit:1")}
        for port, refs in pushes.items():
            for ref in refs:
                env.push(port, *ref.split(":"))
        # dockerd reads certs.d only under /etc/docker: a private overlay of it
        env.private_dir("/etc/docker")
        for port in (PA, PB):
            d = "/etc/docker/certs.d/%s:%d" % ({PA: A, PB: B}[port], port)
            os.makedirs(d)
            with open(ca) as s, open(os.path.join(d, "ca.crt"), "w") as t:
                t.write(s.read())

        P = rtpolicy.PolicyEnv("n22e")
        P.env.start()
        P.publish(rtpolicy.sign(rtpolicy.payload(1, hosts=("%s:%d" % (A, PA),)), P.k[0]))
        r = P.refresh()
        assert r.returncode == 0, r
        os.chmod(P.env.path("state"), 0o755)
        proxy = Proxy(env, P.env.path("state", "policy.db"))
        dockerd = Dockerd(env, "n22e", plugin=False, ports=(),
                          daemon_json={"insecure-registries": []}, environ=PROXY_ENV)
        print("setup %.1fs" % (time.time() - t0), flush=True)

        reg_a, reg_b = env.registry(PA), env.registry(PB)
        # 1. docker build FROM the denied registry: refused by the proxy, both builders
        for buildkit in (False, True):
            name = "bk" if buildkit else "legacy"
            mark = reg_b.mark()
            r = build(dockerd, env, "deny-" + name, "%s:%d/acme/%s:1" % (B, PB, "buildkit" if buildkit else "legacy"),
                      buildkit)
            expect_refused(r, B, PB, 1, "docker build (%s) FROM %s" % (name, B))
            assert reg_b.requests(mark) == [], "the denied registry was reached: %s" % reg_b.requests(mark)
            print("ok   docker build (%s) FROM %s:%d refused by the proxy" % (name, B, PB), flush=True)

        # 2. FROM the allowed registry: both builders pull it through the proxy
        for buildkit in (False, True):
            name = "bk" if buildkit else "legacy"
            mark = reg_a.mark()
            r = build(dockerd, env, "allow-" + name, "%s:%d/acme/%s:1" % (A, PA, "buildkit" if buildkit else "legacy"),
                      buildkit)
            assert r.returncode == 0, "docker build (%s) FROM %s failed:\n%s%s" % (name, A, r.stdout, r.stderr)
            assert reg_a.manifest_gets(mark) and reg_a.blob_gets(mark), reg_a.requests(mark)
            r = dockerd.docker("image", "inspect", "--format", "{{index .Config.Labels \"rampart.e2e\"}}",
                               "n22e/allow-" + name)
            assert r.returncode == 0 and r.stdout.strip() == "allow-" + name, r
            print("ok   docker build (%s) FROM %s:%d pulled through the proxy" % (name, A, PA), flush=True)

        # 3. skopeo and podman as root, the proxy in their environment
        ok_ref, bad_ref = "%s:%d/acme/hello:1" % (A, PA), "%s:%d/acme/hello:1" % (B, PB)
        r = containers_cmd(env, "skopeo", "inspect", "--cert-dir", cert_dir, "docker://" + ok_ref)
        assert r.returncode == 0 and json.loads(r.stdout)["Name"] == "%s:%d/acme/hello" % (A, PA), r
        mark = reg_b.mark()
        r = containers_cmd(env, "skopeo", "inspect", "--cert-dir", cert_dir, "docker://" + bad_ref)
        expect_refused(r, B, PB, 1, "skopeo inspect " + B)
        r = containers_cmd(env, "podman", "pull", "--quiet", "--cert-dir", cert_dir, ok_ref)
        assert r.returncode == 0 and len(r.stdout.strip()) == 64, r
        r = containers_cmd(env, "podman", "pull", "--cert-dir", cert_dir, bad_ref)
        expect_refused(r, B, PB, 1, "podman pull " + B)
        assert reg_b.requests(mark) == [], reg_b.requests(mark)
        print("ok   skopeo inspect / podman pull: %s allowed, %s refused" % (A, B), flush=True)

        st = proxy.counters(want_tunnels=4)
        assert st.get("tunnels", 0) >= 4 and st.get("denied", 0) >= 4, st

        # 4. a refreshed policy allows reg-b.test, not reg-a.test: the running proxy
        #    refuses reg-a, allows reg-b, and closes a tunnel to reg-a opened under v1
        tunnel = open_tunnel(A, PA)
        P.publish(rtpolicy.sign(rtpolicy.payload(2, hosts=("%s:%d" % (B, PB),)), P.k[0]))
        r = P.refresh()
        assert r.returncode == 0, r
        r = dockerd.docker("pull", ok_ref)
        expect_refused(r, A, PA, 2, "docker pull %s after the refresh" % A)
        r = containers_cmd(env, "skopeo", "inspect", "--cert-dir", cert_dir, "docker://" + ok_ref)
        expect_refused(r, A, PA, 2, "skopeo inspect %s after the refresh" % A)
        r = containers_cmd(env, "skopeo", "inspect", "--cert-dir", cert_dir, "docker://" + bad_ref)
        assert r.returncode == 0, "skopeo inspect %s after the refresh: %s" % (B, r.stderr)
        assert tunnel_closed(tunnel, timeout=5.0), \
            "a tunnel to %s opened under policy v1 still works under v2" % A
        assert proxy.proc.poll() is None and proxy.pid == proxy.proc.pid
        assert "decision=deny kind=revoke subject=%s:%d version=2" % (A, PA) in proxy.text(), proxy.text()
        print("ok   policy v2: %s refused, %s allowed, the open tunnel to %s closed; same proxy "
              "(pid %d)" % (A, B, A, proxy.pid), flush=True)
        print("wall %.1fs" % (time.time() - t0), flush=True)
    except Exception:
        if proxy is not None:
            print("--- rampart-proxy log\n" + proxy.text()[-3000:])
        if dockerd is not None:
            print("--- dockerd log\n" + dockerd.read_log()[-3000:])
        raise
    finally:
        for stop in (dockerd, proxy):
            if stop is not None:
                stop.stop()
        if P is not None:
            P.cleanup()
        env.cleanup()


if __name__ == "__main__":
    main()
