# SPDX-License-Identifier: ISC
"""Shared harness for rampart integration tests.

Every test gets a private temp tree (socket, config, state dir, fake system
paths), a rampartd started on it, and helpers to talk to it as root or as an
unprivileged user (nobody via setpriv).  Nothing here touches real system
paths or the network beyond 127.0.0.1.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

RAMPARTD = os.environ.get("RAMPARTD", "")
CLI = os.environ.get("RAMPART_CLI", "")
SRC = os.environ.get("RAMPART_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
BUILD = os.environ.get("RAMPART_BUILD", "")
PYTHON = os.environ.get("RAMPART_PYTHON", sys.executable)
SANITIZE = os.environ.get("RAMPART_SANITIZE", "OFF") in ("ON", "1", "TRUE")
SKIP = 77


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


def need_root():
    if os.geteuid() != 0:
        skip("needs root (run the suite as root, as CI does)")


def setpriv_prefix(user):
    if user in (None, "root"):
        return []
    group = "nogroup" if user == "nobody" else user
    return ["setpriv", "--reuid=" + user, "--regid=" + group, "--clear-groups"]


# Every path rampartd (or rampart-authz, rampart-proxy) writes when its config does not
# name one: (section, subsection or None, key, path under the test's private "sys" tree).
# The defaults are the real system files (/etc/containers/policy.json, /etc/hosts,
# /usr/local/bin, /var/run/docker.sock, /run/...): a test config that leaves one out
# must get a temp path, never the default.
PRIVATE_PATHS = (
    ("hosts", None, "file", "etc/hosts"),
    ("links", None, "bin_dir", "usr/local/bin"),
    ("socket_link", None, "path", "var/run/docker.sock"),
    ("enforce", None, "containers_policy", "etc/containers/policy.json"),
    ("enforce", "docker", "socket", "authz.sock"),  # short: a sun_path
    ("enforce", "docker", "stats_file", "run/rampart-authz/stats"),
    ("enforce", "proxy", "stats_file", "run/rampart-proxy/stats.json"),
)


def make_private_tree(root):
    """The directories of PRIVATE_PATHS under root (0755, root's: trusted by rampartd)."""
    for _, _, _, rel in PRIVATE_PATHS:
        d = os.path.join(root, os.path.dirname(rel))
        os.makedirs(d, 0o755, exist_ok=True)
        while d.startswith(root) and len(d) > len(root):
            os.chmod(d, 0o755)
            d = os.path.dirname(d)


def fill_private_paths(cfg, root):
    """Sets, in cfg (a rampartd.json dict), every path of PRIVATE_PATHS the test left out
    to its place under root; keys the test set are kept.  A section that is not an object
    (a test of config errors) is left as it is.  Returns cfg."""
    for sec, sub, key, rel in PRIVATE_PATHS:
        obj = cfg.setdefault(sec, {}) if isinstance(cfg.get(sec, {}), dict) else None
        if obj is not None and sub is not None:
            obj = obj.setdefault(sub, {}) if isinstance(obj.get(sub, {}), dict) else None
        path = os.path.join(root, rel)
        if obj is not None and key not in obj and len(path) < 108:  # sun_path (the socket,
            obj[key] = path                                         # which rampartd only shows)
    return cfg


def ns_ids(proc="/proc/self"):
    """"net:[N] mnt:[M]" namespace ids of a process, or None when they cannot be read (PID 1's
    are often hidden, even from root)."""
    try:
        return " ".join(os.readlink("%s/ns/%s" % (proc, n)) for n in ("net", "mnt"))
    except OSError:
        return None


def require_private_namespace(what, outer):
    """Exits 1 (a failure, never a skip) unless this process's network and mount
    namespaces both differ from outer (ns_ids() taken before unshare, passed down in
    the environment) and from PID 1's when readable: called before a test mounts
    anything over a system path, since an inherited marker proves nothing."""
    here = set((ns_ids() or "? ?").split())
    refs = set()
    for r in (outer, ns_ids("/proc/1")):
        refs |= set(r.split()) if r else set()
    shared = here & refs
    if not outer or len(outer.split()) != 2 or shared:
        print("FAIL: %s: not inside a private network and mount namespace (unshare -n -m; "
              "shared: %s, recorded outside: %r); refusing to mount over system paths here"
              % (what, " ".join(sorted(shared)) or "-", outer), flush=True)
        sys.exit(1)


def frame(obj_or_bytes):
    b = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode()
    return struct.pack(">I", len(b)) + b


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_reply(s):
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    return json.loads(recv_exact(s, n))


class Env:
    """A private rampartd instance in a temp dir."""

    def __init__(self, config=None, name="t"):
        need_root()
        self.dir = tempfile.mkdtemp(prefix="rampart-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.bin = self.path("bin")
        os.mkdir(self.bin, 0o755)
        # Copies so an unprivileged user can run them whatever the checkout's modes.
        self.cli_path = os.path.join(self.bin, "rampart")
        shutil.copy2(CLI, self.cli_path)
        os.chmod(self.cli_path, 0o755)
        self.etc = self.path("etc")
        os.mkdir(self.etc, 0o755)
        self.state = self.path("state")
        os.mkdir(self.state, 0o755)
        self.sys = self.path("sys")   # where the system paths of PRIVATE_PATHS point
        make_private_tree(self.sys)
        self.sock = self.path("rampart.sock")
        self.audit = self.path("audit.log")
        self.config_path = os.path.join(self.etc, "rampartd.json")
        self.proc = None
        self.log = None
        base = {"socket": self.sock, "state_dir": self.state, "audit_log": self.audit}
        base.update(config or {})
        self.config = base
        self.write_config(base)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write_config(self, cfg=None, mode=0o644):
        if cfg is not None:
            self.config = cfg
        fill_private_paths(self.config, self.sys)
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=1)
        os.chmod(self.config_path, mode)

    def start(self, args=(), wait=True, env=None, expect_fail=False):
        self.logpath = self.path("rampartd.%d.log" % int(time.time() * 1000))
        self.log = open(self.logpath, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([RAMPARTD, "-c", self.config_path] + list(args),
                                     stdout=self.log, stderr=subprocess.STDOUT, env=e)
        if expect_fail:
            rc = self.proc.wait(timeout=20)
            self.proc = None
            return rc
        if wait:
            self.wait_ready()
        return 0

    def daemon_log(self):
        try:
            with open(self.logpath) as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("rampartd exited early (%d):\n%s" % (self.proc.returncode, self.daemon_log()))
            try:
                r = self.request("ping")
                if r.get("ok"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("rampartd did not become ready:\n" + self.daemon_log())

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("rampartd ignored signal %d" % sig)
        self.proc = None
        if self.log:
            self.log.close()
        return rc

    def cleanup(self):
        """Stops the daemon; fails the test run if a sanitizer reported anything."""
        try:
            self.stop(signal.SIGTERM)
        except AssertionError:
            pass
        logs = ""
        for name in os.listdir(self.dir):
            if name.startswith("rampartd.") and name.endswith(".log"):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    logs += f.read()
        shutil.rmtree(self.dir, ignore_errors=True)
        if "Sanitizer" in logs or "runtime error:" in logs:
            print(logs)
            print("FAIL sanitizer report in rampartd's log")
            sys.exit(1)

    def connect(self, timeout=10):
        deadline = time.time() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(self.sock)
                return s
            except BlockingIOError:  # listen backlog full for a moment
                s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.01)

    def request(self, op, args=None, rid=1, timeout=20):
        s = self.connect(timeout)
        try:
            req = {"op": op, "id": rid}
            if args is not None:
                req["args"] = args
            s.sendall(frame(req))
            return read_reply(s)
        finally:
            s.close()

    def cli(self, *args, user=None, timeout=60, input=None, env=None):
        cmd = setpriv_prefix(user) + [self.cli_path, "--socket", self.sock] + list(args)
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input, env=e)

    def audit_lines(self):
        try:
            with open(self.audit) as f:
                return f.read().splitlines()
        except OSError:
            return []


def run_tests(tests):
    """Runs test functions in order; prints a line per test; exits non-zero on failure."""
    failed = 0
    only = os.environ.get("RT_ONLY")
    for t in tests:
        if only and only not in t.__name__:
            continue
        t0 = time.time()
        try:
            t()
            print("ok   %-50s %.2fs" % (t.__name__, time.time() - t0), flush=True)
        except SystemExit:
            raise
        except Exception as ex:  # noqa: BLE001 - report every failure
            failed += 1
            import traceback
            traceback.print_exc()
            print("FAIL %-50s %s" % (t.__name__, ex), flush=True)
    sys.exit(1 if failed else 0)
