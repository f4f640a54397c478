#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The harness's own protections against touching the real system (docs/design-notes.md,
"Tests never write the real system"): every config rt.Env writes names a temp path for
each path the daemons would otherwise default to a system file (that rampartd then
compiles into the temp one is test_authz_protocol's test_rampart_status_shows_the_plugin); the namespace checks
refuse the system's namespaces, a network-only namespace and an inherited marker; and
tests/guard_protected.py names a file that appeared in, or changed under, a protected
directory.  The guard is exercised inside a private mount namespace over a temp copy of
/etc/containers, so nothing real is changed."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "helpers"))
import rt  # noqa: E402

GUARD = os.path.join(rt.SRC, "tests", "guard_protected.py")
E2E = os.path.join(rt.SRC, "tests", "e2e")
PY = rt.PYTHON


def test_every_default_path_is_private():
    env = rt.Env(name="hiso")
    try:
        # a test that sets a section but not its path, one that sets the path, one that
        # writes a config error on purpose
        env.write_config({"socket": env.sock, "state_dir": env.state,
                          "hosts": {"names": {"a.test": "127.0.0.1"}},
                          "links": {"bin_dir": env.path("mine")},
                          "enforce": {"mode": "enforce", "proxy": {"listen": "127.0.0.1:3999"}},
                          "socket_link": "not an object"})
        with open(env.config_path) as f:
            c = json.load(f)
        assert c["links"]["bin_dir"] == env.path("mine"), c
        assert c["socket_link"] == "not an object", c
        assert c["enforce"]["proxy"]["listen"] == "127.0.0.1:3999", c
        for sec, sub, key, _ in rt.PRIVATE_PATHS:
            v = c[sec]
            if not isinstance(v, dict):
                continue
            v = v[sub] if sub else v
            assert v[key].startswith(env.dir + "/"), (sec, sub, key, v[key])
            assert os.path.isdir(os.path.dirname(v[key])), v[key]
    finally:
        env.cleanup()


def ns_probe(prefix, marker):
    code = ("import sys; sys.path.insert(0, %r); import rt; "
            "rt.require_private_namespace('probe', %r); print('private')" %
            (os.path.join(HERE, "helpers"), marker))
    return subprocess.run(prefix + [PY, "-c", code], capture_output=True, text=True, timeout=30)


def test_namespace_check_refuses_what_is_not_private():
    outer = rt.ns_ids()
    for prefix, ok in (([], False), (["unshare", "-n"], False), (["unshare", "-m"], False),
                       (["unshare", "-n", "-m"], True)):
        r = ns_probe(prefix, outer)
        assert (r.returncode == 0 and "private" in r.stdout) == ok, (prefix, r)
        if not ok:
            assert r.returncode == 1 and "refusing to mount" in r.stdout, (prefix, r)
    r = ns_probe(["unshare", "-n", "-m"], None)   # no record of outside: refused
    assert r.returncode == 1, r
    # e2e_env: a marker inherited into a network-only namespace used to pass
    code = "import sys; sys.path.insert(0, %r); import e2e_env; e2e_env.enter_namespace(); print('in')" % E2E
    r = subprocess.run(["unshare", "-n", PY, "-c", code], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, RAMPART_E2E_NETNS=outer))
    assert r.returncode == 1 and "refusing to mount over /etc" in r.stdout, r


def test_guard_names_what_changed():
    d = tempfile.mkdtemp(prefix="rampart-hiso-guard-")
    try:
        os.chmod(d, 0o755)
        fake = os.path.join(d, "etc-containers")
        if os.path.isdir("/etc/containers"):
            shutil.copytree("/etc/containers", fake, symlinks=True)
        else:
            os.mkdir(fake, 0o755)
        snap = os.path.join(d, "snap.json")
        script = """set -e
mount --bind "$1" /etc/containers
g() { %s -B %s "$@"; }
g snapshot "$2" >/dev/null
g verify "$2" >"$3/same.out"; echo "same=$?" >>"$3/same.out"
echo probe >/etc/containers/policy.json.rampart-test-probe
printf '{"default": [{"type": "reject"}]}\\n' >/etc/containers/policy.json
set +e; g verify "$2" >"$3/changed.out"; echo "changed=$?" >>"$3/changed.out"
""" % (PY, GUARD)
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script, "guard",
                            fake, snap, d], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r
        with open(os.path.join(d, "same.out")) as f:
            same = f.read()
        with open(os.path.join(d, "changed.out")) as f:
            changed = f.read()
        assert "guard: ok" in same and "same=0" in same, same
        assert "changed=1" in changed, changed
        assert "/etc/containers/policy.json.rampart-test-probe: appeared (file)" in changed, changed
        assert "/etc/containers/policy.json: " in changed and "content (sha256" in changed, changed
        assert not os.path.exists("/etc/containers/policy.json.rampart-test-probe")
        r = subprocess.run([PY, "-B", GUARD, "verify", os.path.join(d, "none.json")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "no snapshot" in r.stdout, r
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    rt.need_root()
    rt.run_tests([test_every_default_path_is_private, test_namespace_check_refuses_what_is_not_private,
                  test_guard_names_what_changed])
