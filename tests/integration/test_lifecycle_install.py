# SPDX-License-Identifier: ISC
"""scripts/install and scripts/uninstall in temp staging roots (--root): every mode and
owner, the config never overwritten, the macOS layout, install --user (links, hosts,
cached policy, helper left disabled) and uninstall removing only what is ours: the
user's files in the bin dir and the user's hosts lines stay byte for byte.  Nothing
outside the temp roots is touched (the one-shot rampartd runs on a config whose paths
the scripts moved under the root)."""
import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402

rt.need_root()
if shutil.which("python3") is None:
    rt.skip("the scripts need python3 for --root one-shot configs")

INSTALL = os.path.join(rt.SRC, "scripts", "install")
UNINSTALL = os.path.join(rt.SRC, "scripts", "uninstall")
HEADERS = sorted(os.listdir(os.path.join(rt.SRC, "include", "rampart")))
HAVE_SIGN = os.path.exists(os.path.join(rt.BUILD, "rampart-sign"))
MAN = sorted(f for f in os.listdir(os.path.join(rt.SRC, "docs", "man"))
             if f.rsplit(".", 1)[-1] in ("1", "5", "8")) if os.path.isdir(
    os.path.join(rt.SRC, "docs", "man")) else []
ROOTS = []
USER_HOSTS = ("127.0.0.1\tlocalhost\n"
              "# the user's own comment  \n"
              "10.0.0.5 build-box build-box.lan\r\n"
              "::1 ip6-localhost ip6-loopback\n")


def new_root():
    d = tempfile.mkdtemp(prefix="rampart-stage-")
    os.chmod(d, 0o755)
    ROOTS.append(d)
    return d


def run(cmd, user=None, timeout=120):
    r = subprocess.run(rt.setpriv_prefix(user) + cmd, capture_output=True, text=True,
                       timeout=timeout)
    out = r.stdout + r.stderr
    if "Sanitizer" in out or "runtime error:" in out:
        raise AssertionError("sanitizer report:\n" + out)
    return r


def install(root, *args, build=None):
    return run([INSTALL, "--root", root, "--build", build or rt.BUILD] + list(args))


def uninstall(root, *args):
    return run([UNINSTALL, "--root", root] + list(args))


def tree(root):
    """relpath -> (kind, mode, uid, gid, link target or None) for everything under root."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            kind = "l" if stat.S_ISLNK(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else \
                "f" if stat.S_ISREG(st.st_mode) else "s" if stat.S_ISSOCK(st.st_mode) else "?"
            out[os.path.relpath(p, root)] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                             os.readlink(p) if kind == "l" else None)
    return out


def read(p, mode="r"):
    with open(p, mode, **({} if "b" in mode else {"newline": ""})) as f:
        return f.read()


def write(p, data, mode=0o644):
    os.makedirs(os.path.dirname(p), 0o755, exist_ok=True)
    with open(p, "wb" if isinstance(data, bytes) else "w", **({} if isinstance(data, bytes) else {"newline": ""})) as f:
        f.write(data)
    os.chmod(p, mode)


def expected_linux(prefix="usr/local", unitdir="usr/local/lib/systemd/system"):
    e = {
        prefix + "/sbin/rampartd": ("f", 0o755),
        prefix + "/libexec/rampart": ("d", 0o755),
        prefix + "/libexec/rampart/rampart-fetch": ("f", 0o711),
        prefix + "/bin/rampart": ("f", 0o755),
        prefix + "/lib/librampart.so.0.1.0": ("f", 0o755),
        prefix + "/lib/librampart.so.0": ("l", None),
        prefix + "/lib/librampart.so": ("l", None),
        prefix + "/lib/pkgconfig/rampart.pc": ("f", 0o644),
        prefix + "/include/rampart": ("d", 0o755),
        prefix + "/share/rampart": ("d", 0o755),
        prefix + "/share/rampart/uninstall": ("f", 0o755),
        prefix + "/share/rampart/lifecycle.sh": ("f", 0o644),
        prefix + "/share/rampart/install.md": ("f", 0o644),
        prefix + "/share/bash-completion/completions/rampart": ("f", 0o644),
        prefix + "/share/bash-completion/completions/rampart-sign": ("f", 0o644),
        prefix + "/share/zsh/site-functions/_rampart": ("f", 0o644),
        unitdir + "/rampartd.socket": ("f", 0o644),
        unitdir + "/rampartd.service": ("f", 0o644),
        "etc/rampart": ("d", 0o755),
        "etc/rampart/keys": ("d", 0o755),
        "etc/rampart/rampartd.json": ("f", 0o644),
        "var/lib/rampart": ("d", 0o755),
    }
    if HAVE_SIGN:
        e[prefix + "/bin/rampart-sign"] = ("f", 0o755)
    for h in HEADERS:
        e[prefix + "/include/rampart/" + h] = ("f", 0o644)
    for m in MAN:
        e["%s/share/man/man%s/%s" % (prefix, m.rsplit(".", 1)[1], m)] = ("f", 0o644)
    return e


def check_expected(root, exp):
    t = tree(root)
    for rel, (kind, mode) in exp.items():
        assert rel in t, "missing %s" % rel
        k, m, uid, gid, _ = t[rel]
        assert k == kind, (rel, k)
        assert uid == 0 and gid == 0, (rel, uid, gid)
        if mode is not None:
            assert m == mode, (rel, oct(m))
    # nothing but directories on the way is left over: no stray files, no socket
    extra = [r for r, v in t.items() if r not in exp and v[0] != "d"]
    assert extra == [], extra
    return t


def test_install_modes_owners_and_config():
    root = new_root()
    r = install(root)
    assert r.returncode == 0, r
    t = check_expected(root, expected_linux())
    assert os.path.realpath(os.path.join(root, "usr/local/lib/librampart.so")) == \
        os.path.join(root, "usr/local/lib/librampart.so.0.1.0")
    pc = read(os.path.join(root, "usr/local/lib/pkgconfig/rampart.pc"))
    assert "prefix=/usr/local\n" in pc and "libdir=${prefix}/lib\n" in pc, pc
    svc = read(os.path.join(root, "usr/local/lib/systemd/system/rampartd.service"))
    assert "\nExecStart=/usr/local/sbin/rampartd -c /etc/rampart/rampartd.json\n" in svc
    cfgp = os.path.join(root, "etc/rampart/rampartd.json")
    cfg = json.loads(read(cfgp))
    assert cfg["helper"] == {"unit_files": ["/usr/local/lib/systemd/system/rampartd.socket",
                                            "/usr/local/lib/systemd/system/rampartd.service"],
                             "binary": "/usr/local/sbin/rampartd"}, cfg["helper"]
    assert cfg["state_dir"] == "/var/lib/rampart" and cfg["owner_user"] == "", cfg
    chk = run([os.path.join(root, "usr/local/sbin/rampartd"), "--check-config", "-c", cfgp])
    assert chk.returncode == 0, chk
    for u in ("sbin/rampartd", "bin/rampart"):
        assert read(os.path.join(root, "usr/local", u), "rb") == \
            read(os.path.join(rt.BUILD, os.path.basename(u)), "rb")
    # a reinstall keeps an existing config byte for byte (here: an admin's edit)
    edited = read(cfgp).replace('"owner_user": ""', '"owner_user": "nobody"') + "\n"
    write(cfgp, edited)
    r = install(root)
    assert r.returncode == 0 and "keeping the existing config" in r.stdout, r
    assert read(cfgp) == edited
    assert tree(root) == t


def test_install_other_prefix_and_given_config():
    root = new_root()
    given = os.path.join(root, "given.json")
    write(given, '{"socket": "/var/run/rampart.sock", "admin_group": "nogroup"}\n', 0o600)
    r = install(root, "--prefix", "/opt/rampart", "--config", given)
    assert r.returncode == 0, r
    exp = expected_linux("opt/rampart", "etc/systemd/system")
    exp["given.json"] = ("f", 0o600)
    check_expected(root, exp)
    assert read(os.path.join(root, "etc/rampart/rampartd.json")) == read(given)
    svc = read(os.path.join(root, "etc/systemd/system/rampartd.service"))
    assert "\nExecStart=/opt/rampart/sbin/rampartd -c /etc/rampart/rampartd.json\n" in svc, svc
    assert "\nReadWritePaths=-/opt/rampart/sbin -/etc/systemd/system\n" in svc, svc
    assert "prefix=/opt/rampart\n" in read(os.path.join(root, "opt/rampart/lib/pkgconfig/rampart.pc"))
    r = uninstall(root, "--prefix", "/opt/rampart")
    assert r.returncode == 0, r
    left = {k for k, v in tree(root).items() if v[0] != "d"}
    assert left == {"given.json", "etc/rampart/rampartd.json"}, left


def test_install_macos_layout():
    root = new_root()
    r = install(root, "--platform", "macos")
    assert r.returncode == 0, r
    pl = os.path.join(root, "Library/LaunchDaemons/com.rampart.helper.plist")
    st = os.stat(pl)
    assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == 0 and st.st_gid == 0
    with open(pl, "rb") as f:
        p = plistlib.load(f)
    args = p["ProgramArguments"]
    assert args[0] == "/usr/local/sbin/rampartd" and os.path.isfile(root + args[0]), args
    assert args[1:] == ["-c", "/Library/Preferences/com.rampart.helper/rampartd.json"], args
    cfg = json.loads(read(root + args[2]))
    assert cfg["state_dir"] == "/Library/Application Support/rampart", cfg
    assert cfg["helper"]["unit_files"] == ["/Library/LaunchDaemons/com.rampart.helper.plist"], cfg
    sd = os.stat(os.path.join(root, "Library/Application Support/rampart"))
    assert stat.S_IMODE(sd.st_mode) == 0o755 and sd.st_uid == 0
    assert os.path.isdir(os.path.join(root, "Library/Preferences/com.rampart.helper/keys"))
    assert not os.path.exists(os.path.join(root, "etc")) and \
        not os.path.exists(os.path.join(root, "usr/local/lib/systemd"))
    r = uninstall(root, "--platform", "macos", "--purge")
    assert r.returncode == 0, r
    left = {k for k, v in tree(root).items() if v[0] != "d"}
    assert left == set(), left
    assert not os.path.exists(os.path.join(root, "Library/Application Support/rampart"))


def test_install_keys_and_new_root():
    # --root DIR is created; --keys DIR puts the public keys (*.pub and *.pem) in place
    parent = new_root()
    root = os.path.join(parent, "new", "stage")
    keys = tempfile.mkdtemp(prefix="rampart-keysrc-")
    ROOTS.append(keys)
    k, pub = rtpolicy.gen_key(keys, "signer1")
    os.rename(pub, os.path.join(keys, "signer1.pub"))
    os.unlink(k)
    r = install(root, "--keys", keys)
    assert r.returncode == 0 and os.path.isdir(root), r
    dst = os.path.join(root, "etc/rampart/keys/signer1.pub")
    st = os.stat(dst)
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o644, oct(st.st_mode)
    assert "done:" in r.stdout, r
    # a private key among them is refused before anything is installed
    k2, _ = rtpolicy.gen_key(keys, "oops")
    os.rename(k2, os.path.join(keys, "oops.pem"))
    root2 = os.path.join(parent, "other")
    r = install(root2, "--keys", keys)
    assert r.returncode != 0 and "private key" in r.stderr, r
    assert not os.path.exists(os.path.join(root2, "etc/rampart")), "installed despite the refusal"


def test_install_refusals():
    root = new_root()
    for args, msg in ((["--platform", "macos"], "needs --root"),
                      (["--prefix", "relative/dir"], "absolute"),
                      (["--prefix", "/opt/x\"y"], "absolute"),
                      (["--user", "no-such-user-rampart"], "no such user"),
                      (["--user", "-rf"], "not a valid user name"),
                      (["--policy", "/nonexistent"], "--user")):
        r = run([INSTALL, "--build", rt.BUILD] + (["--root", root] if "--platform" not in args else []) + args)
        assert r.returncode != 0 and msg in r.stderr, (args, r)
    r = run([INSTALL, "--root", root, "--build", "/nonexistent"])
    assert r.returncode != 0 and "build first" in r.stderr, r
    r = run([INSTALL, "--root", root, "--build", rt.BUILD], user="nobody")
    assert r.returncode != 0 and "must run as root" in r.stderr, r
    r = run([UNINSTALL, "--root", root], user="nobody")
    assert r.returncode != 0 and "must run as root" in r.stderr, r
    assert os.listdir(root) == [], os.listdir(root)


class Stage:
    """A staging root with an app dir, a bin dir holding the user's own files, a
    hosts file with the user's lines, trusted keys and a signed policy."""

    def __init__(self):
        self.root = new_root()
        R = self.root
        self.bin = os.path.join(R, "usr/local/bin")
        self.app = os.path.join(R, "opt/tool/bin")
        for n in ("docker", "kubectl", "helm"):
            write(os.path.join(self.app, n), "#!/bin/sh\necho %s\n" % n, 0o755)
        write(os.path.join(self.bin, "mytool"), "user's tool\n", 0o755)
        write(os.path.join(self.bin, "kubectl"), "user's own kubectl\n", 0o755)
        os.symlink("/usr/bin/true", os.path.join(self.bin, "helm.old"))
        self.hosts = os.path.join(R, "etc/hosts")
        write(self.hosts, USER_HOSTS)
        os.makedirs(os.path.join(R, "var/run"), 0o755)
        self.secret = tempfile.mkdtemp(prefix="rampart-keys-")
        ROOTS.append(self.secret)
        key, pub = rtpolicy.gen_key(self.secret, "k0")
        self.key = key
        self.keysdir = os.path.join(R, "etc/rampart/keys")
        os.makedirs(self.keysdir, 0o755)
        shutil.copy(pub, os.path.join(self.keysdir, "k0.pem"))
        os.chmod(os.path.join(self.keysdir, "k0.pem"), 0o644)
        self.envelope = os.path.join(self.secret, "policy.json")
        write(self.envelope, rtpolicy.sign(rtpolicy.payload(3, ["ghcr.io"]), key))
        self.cfg = os.path.join(self.secret, "rampartd.json")
        self.config = {
            "socket": "/var/run/rampart.sock", "state_dir": "/var/lib/rampart",
            "owner_user": "nobody",
            "links": {"bin_dir": "/usr/local/bin", "app_dir": "/opt/tool/bin",
                      "names": ["docker", "kubectl", "helm"]},
            "hosts": {"file": "/etc/hosts",
                      "names": {"kubernetes.docker.internal": "127.0.0.1",
                                "registry.test.internal": "127.0.0.1"}},
            "policy": {"org": "acme", "keys": ["/etc/rampart/keys/k0.pem"],
                       "refresh_on_start": False},
            "helper": {"unit_files": ["/usr/local/share/rampart/units/rampartd.socket",
                                      "/usr/local/share/rampart/units/rampartd.service"],
                       "binary": "/usr/local/sbin/rampartd"}}
        write(self.cfg, json.dumps(self.config, indent=1))
        self.user_files = {p: read(os.path.join(self.bin, p), "rb") for p in ("mytool", "kubectl")}

    def p(self, *rel):
        return os.path.join(self.root, *rel)

    def check_user_files(self):
        for n, data in self.user_files.items():
            assert read(os.path.join(self.bin, n), "rb") == data, n
        assert os.readlink(os.path.join(self.bin, "helm.old")) == "/usr/bin/true"

    def check_user_mode(self):
        for n in ("docker", "helm"):
            assert os.readlink(os.path.join(self.bin, n)) == os.path.join(self.app, n), n
        self.check_user_files()
        h = read(self.hosts)
        assert h.startswith(USER_HOSTS) and "# BEGIN rampart" in h, repr(h)
        assert "registry.test.internal" in h and "kubernetes.docker.internal" in h, h
        db = self.p("var/lib/rampart/policy.db")
        st = os.stat(db)
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o644, oct(st.st_mode)
        # the helper is left disabled: no socket, no live unit
        assert not os.path.lexists(self.p("var/run/rampart.sock"))
        assert not os.path.exists(self.p("usr/local/lib/systemd/system/rampartd.socket"))
        for u in ("rampartd.socket", "rampartd.service"):
            st = os.stat(self.p("usr/local/share/rampart/units", u))
            assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == 0
        # the cached policy answers without any daemon, for anyone
        cli = self.p("usr/local/bin/rampart")
        r = run([cli, "--json", "policy", "check", "--db", db, "ghcr.io/acme/app:1", "quay.io/x/y"],
                user="nobody")
        assert r.returncode == 1, r
        res = json.loads(r.stdout)["result"]["results"]
        assert [d["allowed"] for d in res] == [True, False] and res[0]["policy_version"] == 3, res


def test_install_user_mode_then_uninstall_only_ours():
    s = Stage()
    r = install(s.root, "--user", "nobody", "--config", s.cfg, "--policy", s.envelope,
                "--org", "acme")
    assert r.returncode == 0, r
    assert "kept the user's own file" in r.stdout and "kubectl" in r.stdout, r.stdout
    s.check_user_mode()
    hosts_after_install = read(s.hosts)
    # again: the previous installation is removed first, then everything is set up again
    r = install(s.root, "--user", "nobody", "--config", s.cfg, "--policy", s.envelope,
                "--org", "acme")
    assert r.returncode == 0 and "removing the previous installation" in r.stdout, r
    s.check_user_mode()
    assert read(s.hosts) == hosts_after_install
    # uninstall: links into the app dir, the hosts block and our files go; the user's stay
    r = uninstall(s.root)
    assert r.returncode == 0, r
    s.check_user_files()
    for n in ("docker", "helm"):
        assert not os.path.lexists(os.path.join(s.bin, n)), n
    assert read(s.hosts) == USER_HOSTS, repr(read(s.hosts))
    left = {k for k, v in tree(s.root).items() if v[0] != "d"}
    assert left == {"usr/local/bin/mytool", "usr/local/bin/kubectl", "usr/local/bin/helm.old",
                    "opt/tool/bin/docker", "opt/tool/bin/kubectl", "opt/tool/bin/helm",
                    "etc/hosts", "etc/rampart/keys/k0.pem", "etc/rampart/rampartd.json",
                    "var/lib/rampart/policy.db"}, left
    # --purge: the state, config and keys go too; still nothing of the user's
    r = uninstall(s.root, "--purge")
    assert r.returncode == 0, r
    left = {k for k, v in tree(s.root).items() if v[0] != "d"}
    assert left == {"usr/local/bin/mytool", "usr/local/bin/kubectl", "usr/local/bin/helm.old",
                    "opt/tool/bin/docker", "opt/tool/bin/kubectl", "opt/tool/bin/helm",
                    "etc/hosts"}, left
    assert not os.path.exists(s.p("etc/rampart")) and not os.path.exists(s.p("var/lib/rampart"))
    s.check_user_files()
    assert read(s.hosts) == USER_HOSTS


def test_install_user_mode_fetches_policy_and_sets_owner():
    s = Stage()
    www = tempfile.mkdtemp(prefix="rampart-www-")
    ROOTS.append(www)
    os.chmod(www, 0o755)
    server = rtpolicy.PolicyServer(root=www, cert_dir=www)
    server.start()
    try:
        write(os.path.join(www, "current.json"), rtpolicy.sign(rtpolicy.payload(3, ["ghcr.io"]), s.key))
        cfg = dict(s.config)
        cfg["policy"] = {"org": "acme", "url": server.url("/p/current.json"), "ca_file": server.cert,
                         "keys": ["/etc/rampart/keys/k0.pem"], "refresh_on_start": False,
                         "total_timeout_s": 10, "connect_timeout_s": 5}
        write(s.cfg, json.dumps(cfg, indent=1))
        r = install(s.root, "--user", "nobody", "--config", s.cfg)
        assert r.returncode == 0 and "policy cached" in r.stdout, r
        s.check_user_mode()
        # a failing source is reported and fails the install (nothing new cached)
        os.unlink(os.path.join(www, "current.json"))
        r = install(s.root, "--user", "nobody", "--config", s.cfg)
        assert r.returncode == 1 and "policy refresh failed" in r.stderr, r
        s.check_user_mode()  # the previous policy (v3) is still cached
    finally:
        server.stop()
    r = uninstall(s.root, "--purge")
    assert r.returncode == 0, r
    s.check_user_files()
    assert read(s.hosts) == USER_HOSTS


def test_install_user_mode_generated_config_names_the_owner():
    root = new_root()
    write(os.path.join(root, "etc/hosts"), USER_HOSTS)
    r = install(root, "--user", "nobody")
    assert r.returncode == 0, r
    assert "links: none configured" in r.stdout and "no policy.url configured" in r.stdout, r
    cfg = json.loads(read(os.path.join(root, "etc/rampart/rampartd.json")))
    assert cfg["owner_user"] == "nobody", cfg
    assert cfg["helper"]["unit_files"] == ["/usr/local/share/rampart/units/rampartd.socket",
                                           "/usr/local/share/rampart/units/rampartd.service"], cfg
    h = read(os.path.join(root, "etc/hosts"))
    assert h.startswith(USER_HOSTS) and "kubernetes.docker.internal" in h, h
    assert not os.path.exists(os.path.join(root, "var/lib/rampart/policy.db"))
    r = uninstall(root, "--purge")
    assert r.returncode == 0, r
    assert read(os.path.join(root, "etc/hosts")) == USER_HOSTS
    left = {k for k, v in tree(root).items() if v[0] != "d"}
    assert left == {"etc/hosts"}, left


try:
    rt.run_tests([test_install_keys_and_new_root,
                  test_install_modes_owners_and_config,
                  test_install_other_prefix_and_given_config,
                  test_install_macos_layout,
                  test_install_refusals,
                  test_install_user_mode_then_uninstall_only_ours,
                  test_install_user_mode_fetches_policy_and_sets_owner,
                  test_install_user_mode_generated_config_names_the_owner])
finally:
    for d in ROOTS:
        shutil.rmtree(d, ignore_errors=True)
