# SPDX-License-Identifier: ISC
"""rampart-authz fixtures: a temp dir with TEST-ONLY signing keys, a policy store made
with `rampart policy import`, a config, and the plugin on a UNIX socket in that dir.
Requests are sent with curl --unix-socket, as dockerd would send them."""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import rt
import rtpolicy

AUTHZ = os.path.join(rt.BUILD, "rampart-authz")
# struct authz_wire (src/core/authz_wire.h), little-endian x86-64 layout
WIRE = struct.Struct("<IIqqqqII5Q5Q5QQQ108s4x")
KINDS = ("other", "pull", "create", "plugin", "load")


def docker_req(method, uri, body=None, headers=None):
    """The JSON dockerd posts to /AuthZPlugin.AuthZReq (moby pkg/authorization)."""
    req = {"User": "", "UserAuthNMethod": "", "RequestMethod": method, "RequestUri": uri,
           "RequestHeaders": headers if headers is not None else {"User-Agent": "Docker-Client/20.10"}}
    if body is not None:
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        req["RequestBody"] = base64.b64encode(body).decode()
    return req


class AuthzEnv:
    def __init__(self, name, hosts=("127.0.0.1:5000",), version=3, mode="enforce", docker=None):
        rt.need_root()
        self.dir = tempfile.mkdtemp(prefix="rampart-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.keydir = self.path("keys")
        os.mkdir(self.keydir, 0o755)
        secret = self.path("secret")
        os.mkdir(secret, 0o700)
        self.key, pub = rtpolicy.gen_key(secret, "k0")
        shutil.copy(pub, os.path.join(self.keydir, "k0.pem"))
        os.chmod(os.path.join(self.keydir, "k0.pem"), 0o644)
        self.state = self.path("state")
        os.mkdir(self.state, 0o755)
        self.db = os.path.join(self.state, "policy.db")
        self.run = self.path("run")          # owned by nobody once the plugin drops root
        os.mkdir(self.run, 0o755)
        self.sock = self.path("run", "rampart.sock")
        self.audit = self.path("authz-audit.log")
        self.stats = self.path("run", "stats", "stats")
        self.config_path = self.path("rampartd.json")
        self.proc = None
        self.logpath = self.path("authz.log")
        self.docker = {"socket": self.sock, "audit_log": self.audit, "stats_file": self.stats}
        self.docker.update(docker or {})
        self.mode = mode
        self.write_config()
        if version is not None:
            self.import_policy(version, hosts)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write_config(self, **docker):
        self.docker.update(docker)
        # enforce.mode is one switch for every engine: a rampartd started on this
        # config (test_rampart_status_shows_the_plugin) compiles the containers
        # policy.json too, so every path it could write is a temp one (rt.PRIVATE_PATHS)
        cfg = {"state_dir": self.state, "socket": self.path("rampartd.sock"),
               "audit_log": self.path("rampartd-audit.log"),
               "enforce": {"mode": self.mode, "docker": dict(self.docker)}}
        rt.make_private_tree(self.path("sys"))
        rt.fill_private_paths(cfg, self.path("sys"))
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=1)
        os.chmod(self.config_path, 0o644)

    def import_policy(self, version, hosts, hub=False, extra=None):
        env = rtpolicy.sign(rtpolicy.payload(version, hosts=hosts, hub=hub, extra=extra), self.key)
        p = self.path("envelope-v%d.json" % version)
        with open(p, "wb") as f:
            f.write(env)
        r = subprocess.run([rt.CLI, "policy", "import", "--db", self.db, "--keys", self.keydir,
                            "--org", "acme", p], capture_output=True, text=True)
        assert r.returncode == 0, r
        os.chmod(self.db, 0o644)

    def start(self, args=(), listen_fd=None, wait=True):
        self.log = open(self.logpath, "a")
        cmd = [AUTHZ, "-c", self.config_path] + list(args)
        kw = {}
        if listen_fd is not None:
            # systemd socket activation: the listening socket on fd 3, LISTEN_PID = child's pid
            def child():
                os.dup2(listen_fd, 3)
                os.environ["LISTEN_PID"] = str(os.getpid())
                os.environ["LISTEN_FDS"] = "1"
            kw = {"preexec_fn": child, "pass_fds": tuple(sorted({listen_fd, 3}))}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, **kw)
        if wait:
            self.wait_ready()
        return self.proc

    def wait_ready(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("rampart-authz exited (%d): %s" % (self.proc.returncode, self.read_log()))
            try:
                if self.post("/Plugin.Activate", b"", timeout=2)[1].get("Implements") == ["authz"]:
                    return
            except (OSError, ValueError, AssertionError):
                pass
            time.sleep(0.05)
        raise AssertionError("rampart-authz not ready: " + self.read_log())

    def read_log(self):
        try:
            with open(self.logpath) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=10)
        self.proc = None
        self.log.close()
        return rc

    def cleanup(self):
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - best effort at teardown
            if self.proc:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def post(self, path, data, timeout=10, sock=None):
        """POST with curl --unix-socket; returns (http status, parsed JSON)."""
        if not isinstance(data, bytes):
            data = json.dumps(data).encode()
        r = subprocess.run(["curl", "-sS", "--unix-socket", sock or self.sock, "-m", str(timeout),
                            "-H", "Content-Type: application/json", "--data-binary", "@-",
                            "-w", "\n%{http_code}", "http://plugin" + path],
                           input=data, capture_output=True, timeout=timeout + 5)
        if r.returncode != 0:
            raise OSError("curl: %s" % r.stderr.decode(errors="replace"))
        body, _, code = r.stdout.rpartition(b"\n")
        return int(code), json.loads(body)

    def authz(self, method, uri, body=None, headers=None):
        code, ans = self.post("/AuthZPlugin.AuthZReq", docker_req(method, uri, body, headers))
        assert code == 200, (code, ans)
        return ans

    def audit_lines(self):
        try:
            with open(self.audit) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def counters(self):
        with open(self.stats, "rb") as f:
            v = WIRE.unpack(f.read())
        out = {"magic": v[0], "size": v[1], "pid": v[2], "started_at": v[3], "updated_at": v[4],
               "policy_version": v[5], "mode": v[6], "block_load": v[7],
               "allowed": dict(zip(KINDS, v[8:13])), "denied": dict(zip(KINDS, v[13:18])),
               "warned": dict(zip(KINDS, v[18:23])), "errors": v[23], "audit_suppressed": v[24],
               "socket": v[25].rstrip(b"\0").decode()}
        return out


def listening_socket(path):
    """A listening UNIX socket as systemd's rampart-authz.socket would make it (0600)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        s.bind(path)
    finally:
        os.umask(old)
    s.listen(128)
    return s
