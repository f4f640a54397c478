# SPDX-License-Identifier: ISC
"""Shared harness for rampart's end-to-end tests with real engines and registries.

Everything runs inside a private network and mount namespace, so no connection or
name lookup can leave the machine and nothing outside the namespace is changed:

    import e2e_env
    e2e_env.enter_namespace()        # first thing in the test: re-execs the script
                                     # under `unshare -n -m` (exits 77 with the
                                     # reason when the kernel refuses)
    env = e2e_env.E2EEnv("i14c")     # temp dir, private mounts, two registries,
    try:                             # a tiny image pushed to both
        ref = env.ref(5000)          # "127.0.0.1:5000/acme/hello:1"
        mark = env.registry(5001).mark()
        ... run an engine ...
        assert env.registry(5001).blob_gets(since=mark) == []
    finally:
        env.cleanup()                # stops registries by PID, unmounts

What E2EEnv sets up (all paths under env.dir, a fresh temp dir):
  - loopback up; /etc/hosts replaced (bind mount) by a file naming only localhost.
  - /etc/containers replaced (bind mount) by env.etc_containers, holding:
      policy.json       the "original" system policy (env.ORIGINAL_POLICY, accept
                        anything) so restore-on-uninstall can be checked byte for byte
      registries.conf   127.0.0.1:5000/5001 and localhost:5000/5001 marked insecure (http)
      storage.conf      vfs driver, graphroot/runroot under env.dir
      containers.conf   cgroupfs manager, file events logger (no systemd/journal here)
  - /var/lib and /run get an overlay whose upper layer is a tmpfs: engines that
    create /var/lib/containers/cache, /run/containers or /run/docker/plugins see
    the real tree but their writes vanish with the namespace.  env.private_dir(path)
    does the same for any other directory (e.g. /etc/docker).
  - two `docker-registry serve` on 127.0.0.1:5000 and :5001 (storage and config in
    env.dir/reg-PORT, stdout/stderr in env.dir/reg-PORT/access.log).
  - an image built offline (a static binary /hello, printing "hello from rampart e2e",
    packed as an OCI layout by hand: tar + gzip + sha256) and pushed to both registries
    as acme/hello:1 with `skopeo copy --dest-tls-verify=false --format v2s2`.

API
  enter_namespace()            re-exec under unshare; idempotent inside.
  E2EEnv(name, ports=(5000, 5001), repo="acme/hello", tag="1", push=True)
    .dir, .etc_containers, .oci_layout, .accept_policy (an accept-anything policy file
        for pushes), .path(*parts)
    .ref(port, repo=None, tag=None)      reference text for the pushed image
    .registry(port) -> Registry          .url, .log_path, .pid
    Registry(env.dir, port, tls=(cert, key))   one more registry, served over HTTPS
        (put it in env.registries[port] so cleanup stops it)
        .requests(since=0) -> [(method, path, status)]  from the access log
        .blob_gets(since=0) -> [path]    GET/HEAD .../blobs/... answered 200/307
        .manifest_gets(since=0) -> [path]
        .mark() -> int                   a position in the log, for since=
    .push(port, repo, tag)               push the image under another name
    .run(cmd, user=None, env=None, timeout=120, check=False) -> CompletedProcess
        user="nobody" runs via setpriv with HOME/XDG_* in a private writable home
    .user_env(user) -> dict              the environment .run uses for that user
    .private_dir(path)                   overlay a directory with a throwaway upper layer
    .cleanup()                           stop registries (by PID), unmount (reverse
                                         order), remove env.dir
Helpers for engines: SKOPEO, PODMAN, BUILDAH, DOCKER (= /usr/bin/docker).
"""
import gzip
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

SKIP = 77
SKOPEO = "/usr/bin/skopeo"
PODMAN = "/usr/bin/podman"
BUILDAH = "/usr/bin/buildah"
DOCKER = "/usr/bin/docker"
REGISTRY = "/usr/bin/docker-registry"
ORIGINAL_POLICY = ('{\n    "default": [\n        {\n            "type": "insecureAcceptAnything"\n'
                   '        }\n    ],\n    "transports": {"docker-daemon": {"": [{"type": '
                   '"insecureAcceptAnything"}]}}\n}\n')
_NS_MARK = "RAMPART_E2E_NETNS"


def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(SKIP)


def enter_namespace():
    """Re-executes the running script in a new network + mount namespace (private
    propagation), unless it already runs in one made by this function."""
    here = _ns_ids()
    if os.environ.get(_NS_MARK):
        # inside: both namespaces must differ from the ones the mark was taken in and
        # from PID 1's (a mark inherited into a shell without -m must not pass)
        mine, outer = set(here.split()), os.environ[_NS_MARK].split()
        shared = mine & (set(outer) | set((_ns_ids("/proc/1") or "").split()))
        if shared or len(outer) != 2:
            print("FAIL: not in a private network and mount namespace (%s shared with the "
                  "caller or PID 1): refusing to mount over /etc here" % " ".join(sorted(shared)),
                  flush=True)
            sys.exit(1)
        return
    if os.geteuid() != 0:
        skip("needs root (unshare -n -m, mounts, engines as root)")
    probe = subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip("kernel refuses a private network+mount namespace: " + probe.stderr.strip())
    os.environ[_NS_MARK] = here
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--",
            sys.executable, "-B"] + sys.argv
    sys.stdout.flush()
    os.execvp("unshare", argv)


def _ns_ids(proc="/proc/self"):
    """"net:[N] mnt:[M]" namespace ids of a process; None if hidden (PID 1's often are)."""
    try:
        return " ".join(os.readlink("%s/ns/%s" % (proc, n)) for n in ("net", "mnt"))
    except OSError:
        return None


def _sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _wait_tcp(port, proc, log_path, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            with open(log_path, errors="replace") as f:
                raise AssertionError("registry :%d exited:\n%s" % (port, f.read()))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("registry :%d did not start listening" % port)


_ACCESS = re.compile(r'^\S+ - - \[[^\]]*\] "(\w+) (\S+) HTTP/[\d.]+" (\d+) ')


class Registry:
    """One docker-registry process on 127.0.0.1:port."""

    def __init__(self, root, port, tls=None):
        """tls: (certificate, key) files to serve HTTPS instead of plain HTTP."""
        self.port = port
        self.url = "127.0.0.1:%d" % port
        self.dir = os.path.join(root, "reg-%d" % port)
        os.makedirs(os.path.join(self.dir, "storage"))
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\n  formatter: text\n"
                    "  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s\n  delete:\n    enabled: true\n"
                    "http:\n  addr: 127.0.0.1:%d\n" % (os.path.join(self.dir, "storage"), port))
            if tls:
                f.write("  tls:\n    certificate: %s\n    key: %s\n" % tls)
        self.log_path = os.path.join(self.dir, "access.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([REGISTRY, "serve", self.config], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        _wait_tcp(port, self.proc, self.log_path)

    def _lines(self):
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()

    def mark(self):
        return len(self._lines())

    def requests(self, since=0):
        out = []
        for line in self._lines()[since:]:
            m = _ACCESS.match(line)
            if m:
                out.append((m.group(1), m.group(2), int(m.group(3))))
        return out

    def blob_gets(self, since=0):
        return [p for (m, p, s) in self.requests(since)
                if m in ("GET", "HEAD") and "/blobs/" in p and s in (200, 307)]

    def manifest_gets(self, since=0):
        return [p for (m, p, s) in self.requests(since)
                if m in ("GET", "HEAD") and "/manifests/" in p]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


HELLO_C = r'''
#include <unistd.h>
int main(void) { static const char m[] = "hello from rampart e2e\n";
  return write(1, m, sizeof m - 1) == (ssize_t)(sizeof m - 1) ? 0 : 1; }
'''


def _tar_bytes(files):
    """files: [(name, bytes, mode)] -> deterministic uncompressed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data, mode in files:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime, ti.uid, ti.gid = len(data), mode, 0, 0, 0
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def build_oci_layout(workdir, tag="1"):
    """Builds a one-layer image with a static /hello in an OCI layout; returns its path."""
    src = os.path.join(workdir, "hello.c")
    binp = os.path.join(workdir, "hello")
    with open(src, "w") as f:
        f.write(HELLO_C)
    subprocess.run(["gcc", "-static", "-Os", "-s", "-o", binp, src], check=True)
    with open(binp, "rb") as f:
        hello = f.read()
    layer = _tar_bytes([("hello", hello, 0o755)])
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(layer)
    layer_gz = buf.getvalue()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Entrypoint": ["/hello"], "Env": ["PATH=/"]},
        "rootfs": {"type": "layers", "diff_ids": [_sha256(layer)]},
        "history": [{"created_by": "rampart e2e_env.py", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z"}, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha256(layer_gz), "size": len(layer_gz)}]},
        sort_keys=True).encode()
    layout = os.path.join(workdir, "oci")
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)
    for b in (layer_gz, config, manifest):
        with open(os.path.join(blobs, _sha256(b)[7:]), "wb") as f:
            f.write(b)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": _sha256(manifest), "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    return layout


class E2EEnv:
    """Private mounts, two loopback registries and a pushed image (see the module doc)."""

    def __init__(self, name, ports=(5000, 5001), repo="acme/hello", tag="1", push=True):
        if not os.environ.get(_NS_MARK):
            raise AssertionError("call e2e_env.enter_namespace() first")
        enter_namespace()   # inside: re-checks both namespaces (exits 1 if not private)
        self.name = name
        self.repo, self.tag = repo, tag
        self.dir = tempfile.mkdtemp(prefix="rampart-e2e-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.mounts = []
        self.registries = {}
        ok = False
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            self._private_hosts()
            self._private_etc_containers()
            self.private_dir("/var/lib")
            self.private_dir("/run")
            self.accept_policy = self.path("accept-policy.json")
            with open(self.accept_policy, "w") as f:
                f.write('{"default": [{"type": "insecureAcceptAnything"}]}\n')
            self.oci_layout = build_oci_layout(self.path(), tag)
            for p in ports:
                self.registries[p] = Registry(self.dir, p)
            if push:
                for p in ports:
                    self.push(p, repo, tag)
            ok = True
        finally:
            if not ok:
                self.cleanup()

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def _mount(self, args, target):
        subprocess.run(["mount"] + args + [target], check=True)
        self.mounts.append(target)

    def _bind(self, src, target):
        self._mount(["--bind", src], target)
        a, b = os.stat(src), os.stat(target)
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
            raise AssertionError("bind mount of %s over %s did not take effect: refusing to "
                                 "go on with the real %s" % (src, target, target))

    def private_dir(self, target):
        """Overlays target with a tmpfs-backed upper layer: reads see the real tree,
        writes are private to this namespace and are gone after cleanup."""
        base = self.path("ovl" + target.replace("/", "_"))
        os.mkdir(base)
        self._mount(["-t", "tmpfs", "-o", "mode=0755", "tmpfs"], base)
        for d in ("upper", "work"):
            os.mkdir(os.path.join(base, d))
        self._mount(["-t", "overlay", "-o", "lowerdir=%s,upperdir=%s/upper,workdir=%s/work"
                     % (target, base, base), "overlay"], target)

    def _private_hosts(self):
        hosts = self.path("hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
        os.chmod(hosts, 0o644)
        self._bind(hosts, "/etc/hosts")

    def _private_etc_containers(self):
        self.etc_containers = self.path("etc-containers")
        os.mkdir(self.etc_containers, 0o755)
        regs = "".join('[[registry]]\nlocation = "%s:%d"\ninsecure = true\n\n' % (h, p)
                       for h in ("127.0.0.1", "localhost") for p in (5000, 5001, 5002))
        files = {
            "policy.json": ORIGINAL_POLICY,
            "registries.conf": 'unqualified-search-registries = []\nshort-name-mode = "enforcing"\n\n' + regs,
            "storage.conf": '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n'
                            % (self.path("storage", "run"), self.path("storage", "graph")),
            "containers.conf": '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
        }
        for name, text in files.items():
            p = os.path.join(self.etc_containers, name)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, 0o644)
        self._bind(self.etc_containers, "/etc/containers")

    def ref(self, port, repo=None, tag=None):
        return "127.0.0.1:%d/%s:%s" % (port, repo or self.repo, tag or self.tag)

    def registry(self, port):
        return self.registries[port]

    def push(self, port, repo, tag):
        r = subprocess.run([SKOPEO, "--policy", self.accept_policy, "copy", "--quiet",
                            "--dest-tls-verify=false", "--format", "v2s2",
                            "oci:%s:%s" % (self.oci_layout, self.tag),
                            "docker://127.0.0.1:%d/%s:%s" % (port, repo, tag)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("push to :%d failed: %s" % (port, r.stderr))

    def user_env(self, user):
        e = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM")}
        e.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        if user in (None, "root"):
            e["HOME"] = "/root"
            return e
        home = self.path("home-" + user)
        if not os.path.isdir(home):
            os.mkdir(home, 0o700)
            for d in ("config/containers", "data", "run"):
                os.makedirs(os.path.join(home, d))
            with open(os.path.join(home, "config/containers/storage.conf"), "w") as f:
                f.write('[storage]\ndriver = "vfs"\n')
            subprocess.run(["chown", "-R", "%s:" % user, home], check=True)
        e.update({"HOME": home, "XDG_CONFIG_HOME": home + "/config",
                  "XDG_DATA_HOME": home + "/data", "XDG_RUNTIME_DIR": home + "/run",
                  "USER": user, "LOGNAME": user})
        return e

    def run(self, cmd, user=None, env=None, timeout=120, check=False, input=None):
        e = self.user_env(user)
        e.update(env or {})
        prefix = []
        if user not in (None, "root"):
            group = "nogroup" if user == "nobody" else user
            prefix = ["setpriv", "--reuid=" + user, "--regid=" + group, "--clear-groups"]
        r = subprocess.run(prefix + list(cmd), capture_output=True, text=True, env=e,
                           timeout=timeout, input=input, cwd=self.dir)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (cmd, r.returncode, r.stderr))
        return r

    def stop_pause_processes(self):
        """Rootless podman leaves a pause process holding its user namespace
        (pid in $XDG_RUNTIME_DIR/libpod/tmp/pause.pid): stop it, by that PID."""
        for name in os.listdir(self.dir) if os.path.isdir(self.dir) else []:
            pidfile = os.path.join(self.dir, name, "run", "libpod", "tmp", "pause.pid")
            if not name.startswith("home-") or not os.path.isfile(pidfile):
                continue
            try:
                with open(pidfile) as f:
                    pid = int(f.read().strip())
                with open("/proc/%d/environ" % pid, "rb") as f:
                    mine = (self.dir + "/").encode() in f.read()
            except (OSError, ValueError):
                continue
            if mine:  # the pid file is ours and so is the process it names
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def cleanup(self):
        for reg in self.registries.values():
            try:
                reg.stop()
            except OSError:
                pass
        self.registries = {}
        self.stop_pause_processes()
        for target in reversed(self.mounts):
            subprocess.run(["umount", "-l", target], capture_output=True)
        self.mounts = []
        shutil.rmtree(self.dir, ignore_errors=True)
