#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""scripts/install --enforce and scripts/uninstall for the Docker plugin, in temp staging
roots (never the real /etc/docker): rampart-authz and its systemd units are installed,
"authorization-plugins": ["rampart"] is merged into daemon.json with every other byte
kept (odd spacing, number spellings, other plugins, unicode escapes), uninstall takes
only that entry out again (the file comes back byte for byte), a daemon.json install
created is removed again, and a daemon.json that is not valid JSON is left alone."""
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
ROOTS = []
ORIGINAL = ('{\n\t"log-level" :  "warn",\n  "max-concurrent-downloads": 3.0e0,\n'
            '  "authorization-plugins": ["opa-docker-authz"],\n'
            '  "labels": ["a=\\u00e9", "b={}"],\n  "default-ulimits": {"nofile": {"Hard": 64000, "Name": "nofile", "Soft": 64000}}\n}\n')


def new_root():
    d = tempfile.mkdtemp(prefix="rampart-authz-stage-")
    os.chmod(d, 0o755)
    ROOTS.append(d)
    return d


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def read(p):
    with open(p) as f:
        return f.read()


def test_install_merges_and_uninstall_restores():
    root = new_root()
    dj = os.path.join(root, "etc", "docker", "daemon.json")
    os.makedirs(os.path.dirname(dj))
    with open(dj, "w") as f:
        f.write(ORIGINAL)
    os.chmod(dj, 0o640)
    r = run([INSTALL, "--root", root, "--build", rt.BUILD, "--enforce"])
    assert r.returncode == 0, r
    got = read(dj)
    assert got == ORIGINAL.replace('["opa-docker-authz"]', '["opa-docker-authz", "rampart"]'), got
    assert oct(os.stat(dj).st_mode & 0o777) == oct(0o640)
    for rel, mode in (("usr/local/sbin/rampart-authz", 0o755),
                      ("usr/local/lib/systemd/system/rampart-authz.socket", 0o644),
                      ("usr/local/lib/systemd/system/rampart-authz.service", 0o644),
                      ("usr/local/share/man/man8/rampart-authz.8", 0o644)):
        st = os.stat(os.path.join(root, rel))
        assert st.st_mode & 0o777 == mode and st.st_uid == 0, (rel, oct(st.st_mode))
    svc = read(os.path.join(root, "usr/local/lib/systemd/system/rampart-authz.service"))
    assert "ExecStart=/usr/local/sbin/rampart-authz -c /etc/rampart/rampartd.json" in svc
    assert "Restart=always" in svc and "Before=docker.service" in svc and "DynamicUser=yes" in svc
    sock = read(os.path.join(root, "usr/local/lib/systemd/system/rampart-authz.socket"))
    assert "ListenStream=/run/docker/plugins/rampart.sock" in sock and "SocketMode=0600" in sock
    assert "RequiredBy=docker.service" in sock
    # a second install changes nothing
    r = run([INSTALL, "--root", root, "--build", rt.BUILD, "--enforce"])
    assert r.returncode == 0 and read(dj) == got, r
    r = run([UNINSTALL, "--root", root])
    assert r.returncode == 0, r
    assert read(dj) == ORIGINAL
    for rel in ("usr/local/sbin/rampart-authz", "usr/local/lib/systemd/system/rampart-authz.socket",
                "usr/local/lib/systemd/system/rampart-authz.service"):
        assert not os.path.exists(os.path.join(root, rel)), rel


def test_created_daemon_json_is_removed_again():
    root = new_root()
    dj = os.path.join(root, "srv", "docker.json")
    r = run([INSTALL, "--root", root, "--build", rt.BUILD, "--enforce", "--daemon-json", "/srv/docker.json"])
    assert r.returncode == 0, r
    assert read(dj) == '{\n  "authorization-plugins": ["rampart"]\n}\n', read(dj)
    r = run([UNINSTALL, "--root", root, "--daemon-json", "/srv/docker.json"])
    assert r.returncode == 0, r
    assert not os.path.exists(dj) and not os.path.exists(dj + ".rampart-created")


def test_daemon_json_remove_deletes_only_what_add_created():
    """The binary itself (the package's prerm calls it): a file add created goes again
    when only rampart's entry was in it; with a key of the admin's it stays; a file the
    admin had (no .rampart-created) stays even when it ends up empty."""
    root = new_root()
    authz = os.path.join(rt.BUILD, "rampart-authz")
    dj = os.path.join(root, "daemon.json")
    r = run([authz, "daemon-json", "add", dj])
    assert r.returncode == 0 and os.path.isfile(dj + ".rampart-created"), r
    r = run([authz, "daemon-json", "remove", dj])
    assert r.returncode == 0 and "removed (rampart created it" in r.stdout, r
    assert not os.path.exists(dj) and not os.path.exists(dj + ".rampart-created")
    r = run([authz, "daemon-json", "add", dj])
    with open(dj, "w") as f:
        f.write('{"debug": true, "authorization-plugins": ["rampart"]}\n')
    r = run([authz, "daemon-json", "remove", dj])
    assert r.returncode == 0 and read(dj) == '{"debug": true}\n', (r, read(dj))
    assert not os.path.exists(dj + ".rampart-created")
    with open(dj, "w") as f:
        f.write('{"authorization-plugins": ["rampart"]}\n')
    r = run([authz, "daemon-json", "remove", dj])
    assert r.returncode == 0 and read(dj) == '{}\n', (r, read(dj))
    r = run([authz, "daemon-json", "remove", os.path.join(root, "none.json")])
    assert r.returncode == 0 and "nothing to remove" in r.stdout, r


def test_invalid_daemon_json_left_alone():
    root = new_root()
    dj = os.path.join(root, "etc", "docker", "daemon.json")
    os.makedirs(os.path.dirname(dj))
    bad = '{"debug": true,}\n'
    with open(dj, "w") as f:
        f.write(bad)
    r = run([INSTALL, "--root", root, "--build", rt.BUILD, "--enforce"])
    assert r.returncode != 0 and "not valid JSON" in r.stderr and "nothing changed" in r.stderr, r
    assert read(dj) == bad
    r = run([os.path.join(rt.BUILD, "rampart-authz"), "daemon-json", "add", "/nonexistent-dir/x.json"])
    assert r.returncode == 1 and "creating" in r.stderr, r
    r = run([INSTALL, "--root", root, "--build", rt.BUILD, "--enforce", "--user", "nobody"])
    assert r.returncode != 0 and "--enforce needs the helper" in r.stderr, r


if __name__ == "__main__":
    try:
        rt.run_tests([test_install_merges_and_uninstall_restores, test_created_daemon_json_is_removed_again,
                      test_daemon_json_remove_deletes_only_what_add_created, test_invalid_daemon_json_left_alone])
    finally:
        for d in ROOTS:
            shutil.rmtree(d, ignore_errors=True)
