#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""scripts/install --enforce and scripts/uninstall for rampart-proxy, in temp staging roots
(never the real /etc/systemd): its unit and the docker.service.d / containerd.service.d
drop-ins are installed with HTTP_PROXY taken from enforce.proxy.listen, a re-install
changes nothing (or follows a changed listen address), uninstall removes exactly what
install added and nothing of the admin's, a drop-in of the same name that rampart did not
install (or that was changed since) is refused with nothing changed, and a config whose
enforce.proxy.listen is not loopback is refused by install and by the proxy itself."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402

rt.need_root()
INSTALL = os.path.join(rt.SRC, "scripts", "install")
UNINSTALL = os.path.join(rt.SRC, "scripts", "uninstall")
PROXY = os.path.join(rt.BUILD, "rampart-proxy")
UNITDIR = "usr/local/lib/systemd/system"
ROOTS = []
ADMIN_DROPIN = "[Service]\nEnvironment=HTTPS_PROXY=http://corp-proxy.example:8080\n"


def new_root():
    d = tempfile.mkdtemp(prefix="rampart-n22d-proxy-stage-")
    os.chmod(d, 0o755)
    ROOTS.append(d)
    return d


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def install(root, *extra):
    return run([INSTALL, "--root", root, "--build", rt.BUILD, "--enforce"] + list(extra))


def uninstall(root, *extra):
    return run([UNINSTALL, "--root", root] + list(extra))


def read(p):
    with open(p) as f:
        return f.read()


def write(p, text, mode=0o644):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)


def tree(root):
    """Every file and directory under root: path -> (mode, sha256 or None)."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            h = None
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, h)
    return out


def dropin(root, engine, base=UNITDIR):
    return os.path.join(root, base, engine + ".service.d", "rampart-proxy.conf")


def config_with(root, listen):
    c = json.loads(read(os.path.join(rt.SRC, "launchd", "rampartd.json.example")))
    c.setdefault("enforce", {})["proxy"] = {"listen": listen}
    write(os.path.join(root, "etc/rampart/rampartd.json"), json.dumps(c, indent=2) + "\n")


def test_install_reinstall_uninstall_exact():
    root = new_root()
    # the admin's own drop-ins: another name in docker.service.d, kept byte for byte
    admin = os.path.join(root, "etc/systemd/system/docker.service.d/http-proxy.conf")
    write(admin, ADMIN_DROPIN)
    before = tree(root)
    r = install(root)
    assert r.returncode == 0, r
    # the admin's proxy setting may compete with ours: said, not changed
    assert "http-proxy.conf also sets proxy variables" in r.stderr, r.stderr
    svc = read(os.path.join(root, UNITDIR, "rampart-proxy.service"))
    assert "ExecStart=/usr/local/sbin/rampart-proxy -c /etc/rampart/rampartd.json\n" in svc, svc
    assert "Before=docker.service containerd.service" in svc and "DynamicUser=yes" in svc
    for engine in ("docker", "containerd"):
        p = dropin(root, engine)
        st = os.stat(p)
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o644, oct(st.st_mode)
        d = read(p)
        assert ("Environment=HTTP_PROXY=http://127.0.0.1:3128 HTTPS_PROXY=http://127.0.0.1:3128 "
                "NO_PROXY=\n") in d, d
        assert "Wants=rampart-proxy.service" in d and "After=rampart-proxy.service" in d, d
    assert os.access(os.path.join(root, "usr/local/sbin/rampart-proxy"), os.X_OK)
    assert read(admin) == ADMIN_DROPIN
    once = tree(root)
    # a second install changes nothing at all (no duplicate record lines either)
    r = install(root)
    assert r.returncode == 0, r
    twice = tree(root)
    assert twice == once, sorted(set(twice.items()) ^ set(once.items()))
    r = uninstall(root, "--purge")
    assert r.returncode == 0, r
    after = tree(root)
    # exactly what install added is gone: what is left are the shared directories install
    # created (bin, lib, share/man ...), never a file, never a systemd directory
    gone = set(before) - set(after)
    assert not gone, gone
    left = set(after) - set(before)
    assert all(after[p][2] is None for p in left), [p for p in left if after[p][2] is not None]
    assert not any(".service.d" in p or p.endswith("rampart-proxy.service") for p in left), left
    assert after[os.path.relpath(admin, root)] == before[os.path.relpath(admin, root)]


def test_listen_address_comes_from_the_config():
    root = new_root()
    config_with(root, "127.0.0.2:3999")
    r = install(root)
    assert r.returncode == 0, r
    for engine in ("docker", "containerd"):
        assert "HTTPS_PROXY=http://127.0.0.2:3999 " in read(dropin(root, engine))
    out = run([PROXY, "-c", os.path.join(root, "etc/rampart/rampartd.json"), "--check-config"])
    assert out.returncode == 0 and "listen 127.0.0.2:3999\n" in out.stdout, out
    # the admin changes the address: a re-install follows it (the recorded drop-ins are ours)
    config_with(root, "[::1]:4000")
    r = install(root)
    assert r.returncode == 0, r
    for engine in ("docker", "containerd"):
        d = read(dropin(root, engine))
        assert "HTTP_PROXY=http://[::1]:4000 HTTPS_PROXY=http://[::1]:4000 " in d, d
    r = uninstall(root)
    assert r.returncode == 0, r
    for engine in ("docker", "containerd"):
        assert not os.path.exists(os.path.dirname(dropin(root, engine))), engine


def test_foreign_dropin_refused_nothing_changed():
    for base, engine in ((UNITDIR, "docker"), ("etc/systemd/system", "containerd")):
        root = new_root()
        theirs = dropin(root, engine, base)
        write(theirs, "[Service]\nEnvironment=HTTP_PROXY=http://10.0.0.1:3128\n")
        before = tree(root)
        r = install(root)
        assert r.returncode != 0, r
        rel = "/" + os.path.relpath(theirs, root)
        assert ("%s exists and was not installed by rampart: nothing changed" % rel) in r.stderr, r.stderr
        assert tree(root) == before, "install wrote something before refusing"
    # a drop-in of ours the admin edited since is theirs now: refused, and kept by uninstall
    root = new_root()
    assert install(root).returncode == 0
    edited = dropin(root, "docker")
    with open(edited, "a") as f:
        f.write("Environment=NO_PROXY=.corp\n")
    before = tree(root)
    r = install(root)
    assert r.returncode != 0 and "was changed since rampart installed it: nothing changed" in r.stderr, r
    assert tree(root) == before
    r = uninstall(root)
    assert r.returncode == 1 and "kept %s: changed since" % edited in r.stderr, r
    assert os.path.exists(edited) and "NO_PROXY=.corp" in read(edited)
    assert not os.path.exists(dropin(root, "containerd"))   # the unchanged one is gone


def test_uninstall_without_record_removes_no_dropin():
    """A drop-in install did not record (the record is the only proof) stays."""
    root = new_root()
    assert install(root).returncode == 0
    os.unlink(os.path.join(root, "usr/local/share/rampart/proxy-dropins.installed"))
    r = uninstall(root)
    assert r.returncode == 0, r
    assert os.path.exists(dropin(root, "docker")) and os.path.exists(dropin(root, "containerd"))


def test_non_loopback_listen_refused():
    root = new_root()
    config_with(root, "0.0.0.0:3128")
    before = tree(root)
    r = install(root)
    assert r.returncode != 0, r
    assert 'enforce.proxy.listen "0.0.0.0:3128" is not a loopback ADDR:PORT' in r.stderr, r.stderr
    assert "/etc/rampart/rampartd.json" in r.stderr and "nothing changed" in r.stderr, r.stderr
    assert tree(root) == before
    cfg = os.path.join(root, "etc/rampart/rampartd.json")
    for argv in ([PROXY, "-c", cfg, "--check-config"], [PROXY, "-c", cfg, "--user", "nobody"],
                 [os.path.join(rt.BUILD, "rampartd"), "--check-syntax", "-c", cfg]):
        r = run(argv)
        assert r.returncode != 0 and cfg in r.stderr and "enforce.proxy.listen" in r.stderr, (argv, r)
    # the command line may override the listen address, but only with loopback
    config_with(root, "127.0.0.1:3128")
    r = run([PROXY, "-c", cfg, "--listen", "192.168.1.1:3128", "--check-config"])
    assert r.returncode == 2 and "loopback" in r.stderr, r
    r = run([PROXY, "-c", cfg, "--listen", "127.0.0.9:3128", "--check-config"])
    assert r.returncode == 0 and "listen 127.0.0.9:3128\n" in r.stdout, r


def test_macos_installs_no_proxy():
    root = new_root()
    r = install(root, "--platform", "macos")
    assert r.returncode == 0, r
    assert "no rampart-proxy either" in r.stdout, r.stdout
    assert not any("rampart-proxy" in p and not p.endswith(".8") for p in tree(root)), tree(root)


if __name__ == "__main__":
    if not os.path.exists(PROXY):
        rt.skip("rampart-proxy was not built (libevent missing)")
    try:
        rt.run_tests([test_install_reinstall_uninstall_exact, test_listen_address_comes_from_the_config,
                      test_foreign_dropin_refused_nothing_changed,
                      test_uninstall_without_record_removes_no_dropin, test_non_loopback_listen_refused,
                      test_macos_installs_no_proxy])
    finally:
        for d in ROOTS:
            shutil.rmtree(d, ignore_errors=True)
