# SPDX-License-Identifier: ISC
"""helper.uninstall in a temp tree: refused for others, then the daemon removes its
links (only links into the app dir), its hosts block, its socket link, its unit files,
binary and socket as configured, replies with what it did, and exits; the policy DB
stays unless --purge.  Every file of the user's stays byte for byte."""
import json
import os
import shutil
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402

rt.need_root()

USER_HOSTS = ("127.0.0.1\tlocalhost\n"
              "# the user's comment\n"
              "10.0.0.5 build-box\r\n")


def write(p, data, mode=0o644):
    os.makedirs(os.path.dirname(p), 0o755, exist_ok=True)
    with open(p, "w", newline="") as f:
        f.write(data)
    os.chmod(p, mode)


def read(p):
    with open(p, newline="") as f:
        return f.read()


class Tree:
    def __init__(self, name, foreign_socket_link=False):
        self.env = rt.Env(name=name)
        r = self.root = self.env.path("root")
        self.bin = os.path.join(r, "usr/local/bin")
        self.app = os.path.join(r, "opt/tool/bin")
        for n in ("docker", "kubectl", "helm"):
            write(os.path.join(self.app, n), "#!/bin/sh\n", 0o755)
        write(os.path.join(self.bin, "mytool"), "user's tool\n", 0o755)
        write(os.path.join(self.bin, "kubectl"), "user's kubectl\n", 0o755)
        os.symlink("/usr/bin/true", os.path.join(self.bin, "helm.old"))
        self.hosts = os.path.join(r, "etc/hosts")
        write(self.hosts, USER_HOSTS)
        self.units = os.path.join(r, "units")
        for u in ("rampartd.socket", "rampartd.service", "users-own.service"):
            write(os.path.join(self.units, u), "[Unit]\n")
        os.mkdir(os.path.join(self.units, "adir"), 0o755)
        self.binary = os.path.join(r, "sbin/rampartd")
        write(self.binary, "not really rampartd\n", 0o755)
        write(os.path.join(r, "sbin/user-tool"), "keep me\n", 0o755)
        home = os.path.join(r, "home/owner")
        os.makedirs(os.path.join(home, ".docker/run"), 0o755)
        for d in (home, os.path.join(home, ".docker"), os.path.join(home, ".docker/run")):
            os.chown(d, 65534, 65534)
        self.engine = socket.socket(socket.AF_UNIX)
        self.engine.bind(os.path.join(home, ".docker/run/docker.sock"))
        os.chown(os.path.join(home, ".docker/run/docker.sock"), 65534, 65534)
        os.makedirs(os.path.join(r, "var/run"), 0o755)
        self.link = os.path.join(r, "var/run/docker.sock")
        if foreign_socket_link:
            os.symlink("/somewhere/else.sock", self.link)
        # a cached policy in the state dir
        secret = self.env.path("secret")
        os.mkdir(secret, 0o700)
        key, pub = rtpolicy.gen_key(secret, "k")
        envl = os.path.join(secret, "env.json")
        with open(envl, "wb") as f:
            f.write(rtpolicy.sign(rtpolicy.payload(1), key))
        rc = self.env.cli("policy", "import", "--db", self.db(), "--keys", pub, "--org", "acme", envl)
        assert rc.returncode == 0, rc
        cfg = dict(self.env.config)
        cfg.update({
            "owner_user": "nobody",
            "links": {"bin_dir": self.bin, "app_dir": self.app,
                      "names": ["docker", "kubectl", "helm"]},
            "hosts": {"file": self.hosts, "names": {"kubernetes.docker.internal": "127.0.0.1"}},
            "socket_link": {"path": self.link, "target": ".docker/run/docker.sock", "home": home},
            "helper": {"unit_files": [os.path.join(self.units, u) for u in
                                      ("rampartd.socket", "rampartd.service", "missing.service",
                                       "adir")],
                       "binary": self.binary}})
        self.env.write_config(cfg)
        self.env.start()
        for op in ("links", "hosts", "socket-link"):
            verb = "install" if op == "links" else "ensure"
            r2 = self.env.cli(op, verb, user="nobody")
            assert r2.returncode in (0, 1), r2  # 1: the user's kubectl is kept
        assert "# BEGIN rampart" in read(self.hosts)
        assert os.readlink(os.path.join(self.bin, "docker")) == os.path.join(self.app, "docker")
        if not foreign_socket_link:
            assert os.path.islink(self.link)

    def db(self):
        return os.path.join(self.env.state, "policy.db")

    def check_users_things(self):
        assert read(os.path.join(self.bin, "mytool")) == "user's tool\n"
        assert read(os.path.join(self.bin, "kubectl")) == "user's kubectl\n"
        assert os.readlink(os.path.join(self.bin, "helm.old")) == "/usr/bin/true"
        assert read(os.path.join(self.units, "users-own.service")) == "[Unit]\n"
        assert os.path.isdir(os.path.join(self.units, "adir"))
        assert read(os.path.join(self.root, "sbin/user-tool")) == "keep me\n"
        for n in ("docker", "kubectl", "helm"):
            assert os.path.isfile(os.path.join(self.app, n))

    def cleanup(self):
        self.engine.close()
        self.env.cleanup()


def entries(lst):
    return {(e["what"], e["path"]) for e in lst}


def test_refused_for_others_and_bad_args():
    t = Tree("uninst-refused")
    try:
        r = t.env.cli("helper", "uninstall", "--purge", user="nobody")
        assert r.returncode == 1 and "E_PERM" in r.stderr, r
        r = t.env.request("helper.uninstall", {"purge": True, "everything": True})
        assert r["ok"] is False and r["error"]["code"] == "E_ARGS", r
        r = t.env.request("helper.uninstall", {"purge": "yes"})
        assert r["ok"] is False and r["error"]["code"] == "E_ARGS", r
        # still serving, nothing removed
        assert t.env.cli("ping").returncode == 0
        assert os.path.exists(t.binary) and os.path.exists(t.db()) and os.path.exists(t.env.sock)
        assert "# BEGIN rampart" in read(t.hosts)
        assert any("op=helper.uninstall uid=65534" in l and "result=refused" in l
                   for l in t.env.audit_lines())
    finally:
        t.cleanup()


def test_uninstall_removes_only_ours_and_exits():
    t = Tree("uninst")
    try:
        r = t.env.cli("--json", "helper", "uninstall")
        assert r.returncode == 0, r
        out = json.loads(r.stdout)["result"]
        assert out["complete"] is True and out["exiting"] is True and out["errors"] == [], out
        removed = entries(out["removed"])
        assert removed == {
            ("link", os.path.join(t.bin, "docker")), ("link", os.path.join(t.bin, "helm")),
            ("hosts-block", t.hosts), ("socket-link", t.link),
            ("unit", os.path.join(t.units, "rampartd.socket")),
            ("unit", os.path.join(t.units, "rampartd.service")),
            ("binary", t.binary), ("socket", t.env.sock)}, removed
        kept = entries(out["kept"])
        assert kept == {("link", os.path.join(t.bin, "kubectl")),
                        ("unit", os.path.join(t.units, "adir"))}, kept
        assert t.env.proc.wait(timeout=20) == 0
        t.check_users_things()
        assert read(t.hosts) == USER_HOSTS
        for p in (os.path.join(t.bin, "docker"), os.path.join(t.bin, "helm"), t.link, t.binary,
                  t.env.sock, os.path.join(t.units, "rampartd.socket")):
            assert not os.path.lexists(p), p
        assert os.path.isfile(t.db())  # kept without --purge
        assert any("op=helper.uninstall uid=0" in l and "result=ok" in l
                   for l in t.env.audit_lines())
    finally:
        t.cleanup()


def test_uninstall_purge_keeps_a_foreign_socket_link():
    t = Tree("uninst-purge", foreign_socket_link=True)
    try:
        r = t.env.cli("helper", "uninstall", "--purge")
        assert r.returncode == 0, r
        assert "removed  policy-db" in r.stdout and "kept     socket-link" in r.stdout, r.stdout
        assert t.env.proc.wait(timeout=20) == 0
        assert not os.path.exists(t.db()) and not os.path.exists(t.env.state)
        assert os.readlink(t.link) == "/somewhere/else.sock"
        t.check_users_things()
        assert read(t.hosts) == USER_HOSTS
    finally:
        t.cleanup()


def test_uninstall_reports_what_it_cannot_remove():
    t = Tree("uninst-fail")
    try:
        # a unit file in a directory others may write: refused, reported, daemon still exits
        bad = t.env.path("root", "open")
        os.mkdir(bad)
        os.chmod(bad, 0o777)
        write(os.path.join(bad, "rampartd.service"), "[Unit]\n")
        cfg = dict(t.env.config)
        cfg["helper"] = dict(cfg["helper"], unit_files=[os.path.join(bad, "rampartd.service")])
        t.env.write_config(cfg)
        assert t.env.cli("reload").returncode == 0
        r = t.env.cli("--json", "helper", "uninstall")
        assert r.returncode == 1, r
        out = json.loads(r.stdout)["result"]
        assert out["complete"] is False and out["exiting"] is True, out
        assert [e["path"] for e in out["errors"]] == [os.path.join(bad, "rampartd.service")], out
        assert os.path.exists(os.path.join(bad, "rampartd.service"))
        assert t.env.proc.wait(timeout=20) == 0
    finally:
        t.cleanup()


rt.run_tests([test_refused_for_others_and_bad_args,
              test_uninstall_removes_only_ours_and_exits,
              test_uninstall_purge_keeps_a_foreign_socket_link,
              test_uninstall_reports_what_it_cannot_remove])
