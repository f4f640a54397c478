# SPDX-License-Identifier: ISC
"""dockerd and rampart-authz inside an e2e_env namespace.

    Dockerd(env, "a", daemon_json={...}, plugin=True)
        a private dockerd: --iptables=false --ip6tables=false --bridge=none,
        vfs storage, its own --data-root/--exec-root/-H unix://..., config from
        a daemon.json of its own to which `rampart-authz daemon-json add` gave
        "authorization-plugins": ["rampart"] (plugin=True), environ= added to its
        environment (e.g. HTTP_PROXY).  .docker(*args, environ=, cwd=) runs
        /usr/bin/docker against it; .stop() stops it by PID and unmounts what it
        left mounted (its data root bind mount, containerd's shm and rootfs mounts).
    PluginSupervisor(authz_env)
        what systemd does with rampart-authz.socket + Restart=always: it holds the
        listening socket at /run/docker/plugins/rampart.sock (the overlaid /run of
        the namespace) and restarts rampart-authz on that socket whenever it exits;
        .hold() / .release() delay restarts so a test can look at the gap.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "helpers"))
import rtauthz  # noqa: E402

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"
PLUGIN_SOCK = "/run/docker/plugins/rampart.sock"


class PluginSupervisor:
    def __init__(self, authz, restart_sec=0.3):
        self.authz = authz
        self.restart_sec = restart_sec
        os.makedirs(os.path.dirname(PLUGIN_SOCK), mode=0o755, exist_ok=True)
        self.listener = rtauthz.listening_socket(PLUGIN_SOCK)
        self.held = threading.Event()
        self.stopping = False
        self.starts = 0
        self.lock = threading.Lock()
        self._start()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _start(self):
        with self.lock:
            self.authz.start(listen_fd=self.listener.fileno(), wait=False)
            self.starts += 1

    @property
    def pid(self):
        p = self.authz.proc
        return p.pid if p else None

    def _loop(self):
        while not self.stopping:
            p = self.authz.proc
            if p is not None and p.poll() is None:
                time.sleep(0.05)
                continue
            if self.stopping:
                return
            time.sleep(self.restart_sec)
            while self.held.is_set() and not self.stopping:
                time.sleep(0.05)
            if not self.stopping:
                self.authz.log.close()
                self._start()

    def hold(self):
        self.held.set()

    def release(self):
        self.held.clear()

    def wait_restarted(self, old_pid, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.pid not in (None, old_pid) and self.authz.proc.poll() is None:
                return self.pid
            time.sleep(0.05)
        raise AssertionError("rampart-authz was not restarted")

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        with self.lock:
            try:
                self.authz.stop()
            except Exception:  # noqa: BLE001 - teardown
                if self.authz.proc:
                    self.authz.proc.kill()
                    self.authz.proc.wait()
                self.authz.proc = None
        self.listener.close()
        try:
            os.unlink(PLUGIN_SOCK)
        except OSError:
            pass


class Dockerd:
    def __init__(self, env, name, daemon_json=None, plugin=True, ports=(5000, 5001), environ=None):
        self.env = env
        self.dir = env.path("docker-" + name)
        os.mkdir(self.dir, 0o700)
        # containerd's sockets live under exec-root: keep it short (sun_path is 108 bytes)
        self.exec_root = "/run/rd-" + name
        os.mkdir(self.exec_root, 0o700)
        self.data_root = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.exec_root, "docker.sock")
        self.config = os.path.join(self.dir, "daemon.json")
        cfg = {"insecure-registries": ["127.0.0.1:%d" % p for p in ports],
               "storage-driver": "vfs", "log-level": "warn"}
        cfg.update(daemon_json or {})
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        with open(self.config) as f:
            self.original_config = f.read()
        if plugin:
            r = subprocess.run([rtauthz.AUTHZ, "daemon-json", "add", self.config],
                               capture_output=True, text=True)
            assert r.returncode == 0, r
        self.logpath = os.path.join(self.dir, "dockerd.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            [DOCKERD, "--config-file", self.config, "--iptables=false", "--ip6tables=false",
             "--bridge=none", "--data-root", self.data_root, "--exec-root", self.exec_root,
             "-H", "unix://" + self.sock, "--pidfile", os.path.join(self.dir, "docker.pid")],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, **(environ or {})))
        self.pid = self.proc.pid
        self._wait_ready()

    def read_log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def _wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dockerd exited (%d):\n%s" % (self.proc.returncode, self.read_log()[-3000:]))
            if os.path.exists(self.sock):
                r = self.docker("version", "--format", "{{.Server.Version}}", timeout=10)
                if r.returncode == 0:
                    return
            time.sleep(0.2)
        raise AssertionError("dockerd not ready:\n" + self.read_log()[-3000:])

    def docker(self, *args, timeout=120, environ=None, cwd=None):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.dir,
             "DOCKER_CONFIG": os.path.join(self.dir, "cli")}
        e.update(environ or {})
        return subprocess.run([DOCKER, "-H", "unix://" + self.sock] + list(args),
                              capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)

    def docker_bg(self, *args):
        return subprocess.Popen([DOCKER, "-H", "unix://" + self.sock] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.dir,
                                     "DOCKER_CONFIG": os.path.join(self.dir, "cli")})

    def _mounts_below(self):
        out = []
        with open("/proc/self/mounts") as f:
            for line in f:
                target = line.split()[1].replace("\\040", " ")
                if any(target == p or target.startswith(p + "/")
                       for p in (self.data_root, self.exec_root)):
                    out.append(target)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        # containerd (dockerd's child) exits with it; reap any left by PID file
        cpid = os.path.join(self.exec_root, "containerd", "containerd.pid")
        try:
            with open(cpid) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        for target in sorted(self._mounts_below(), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True)
        left = self._mounts_below()
        assert not left, "mounts left behind: %s" % left
