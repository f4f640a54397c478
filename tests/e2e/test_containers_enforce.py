# SPDX-License-Identifier: ISC
"""End to end: the signed policy, compiled by rampartd into the containers
policy.json, is what skopeo, podman (root and rootless) and buildah enforce.

Inside a private network + mount namespace (e2e_env): two registries on
127.0.0.1:5000 and :5001 holding acme/hello:1, /etc/containers a private bind
mount holding an accept-anything "original" policy.json, rampartd with
enforce.mode=enforce on /etc/containers/policy.json.  Policy v1 allows only
:5000; every engine pulls from :5000 and is refused from :5001 with the
engine's exact error, and :5001's access log shows no blob fetched.  A
refresh to v2 (both registries) lets the next pull from :5001 through, no
engine restarted, the compiled file's inode changed exactly once.  Warn mode
leaves the original in place and writes policy.json.rampart-next; mode off
and `rampart helper uninstall` put the original back byte for byte.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration", "helpers"))

import e2e_env  # noqa: E402

e2e_env.enter_namespace()

import rt  # noqa: E402
import rtpolicy  # noqa: E402

POLICY = "/etc/containers/policy.json"
ORIG = POLICY + ".rampart-orig"
NEXT = POLICY + ".rampart-next"
E = None   # E2EEnv
P = None   # PolicyEnv


def rejected(ref):
    return "Source image rejected: Running image docker://%s is rejected by policy." % ref


def publish(version, hosts):
    P.publish(rtpolicy.sign(rtpolicy.payload(version, hosts=hosts), P.k[0]))
    r = P.refresh()
    assert r.returncode == 0, r.stderr + r.stdout


def containers_status(user=None):
    r = P.env.cli("--json", "enforce", "status", user=user)
    assert r.returncode == 0, r.stderr + r.stdout
    return json.loads(r.stdout)["containers"]


def ino(path):
    return os.lstat(path).st_ino


def read(path):
    with open(path) as f:
        return f.read()


def audit_compiles():
    return [line for line in P.env.audit_lines() if "enforce.compile" in line]


def pull(engine, ref, user=None):
    """Runs one pull; returns the CompletedProcess."""
    if engine == "skopeo":
        cmd = [e2e_env.SKOPEO, "copy", "--src-tls-verify=false", "docker://" + ref,
               "dir:" + E.path("copy-%d" % len(os.listdir(E.dir)))]
    elif engine == "podman":
        cmd = [e2e_env.PODMAN, "pull", "--tls-verify=false", ref]
    elif engine == "podman-rootless":
        cmd = [e2e_env.PODMAN, "pull", "--tls-verify=false", "--signature-policy", POLICY, ref]
    else:
        cmd = [e2e_env.BUILDAH, "pull", "--tls-verify=false", ref]
    return E.run(cmd, user=user)


def check_engine(engine, user=None):
    ok, bad = E.ref(5000), E.ref(5001)
    r = pull(engine, ok, user)
    assert r.returncode == 0, "%s pull %s: %s" % (engine, ok, r.stderr)
    mark = E.registry(5001).mark()
    r = pull(engine, bad, user)
    assert r.returncode != 0, "%s pulled %s, which the policy denies" % (engine, bad)
    assert rejected(bad) in r.stderr, "%s: %r" % (engine, r.stderr)
    assert E.registry(5001).blob_gets(mark) == [], E.registry(5001).requests(mark)


def test_compiled_at_refresh():
    publish(1, ["127.0.0.1:5000"])
    pol = json.loads(read(POLICY))
    assert pol["default"] == [{"type": "reject"}], pol
    assert pol["transports"]["docker"] == {
        "127.0.0.1:5000": [{"type": "insecureAcceptAnything"}]}, pol
    assert pol["transports"]["containers-storage"] == {"": [{"type": "insecureAcceptAnything"}]}
    assert read(ORIG) == e2e_env.ORIGINAL_POLICY
    st = os.stat(POLICY)
    assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o644), st
    s = containers_status(user="nobody")   # any user may read it
    assert s["mode"] == "enforce" and s["compiled_version"] == 1 and s["scopes"] == 1, s
    assert s["file"] == POLICY and s["last_error"] == "", s
    status = json.loads(P.env.cli("--json", "status").stdout)
    assert status["enforce"]["containers"]["compiled_version"] == 1, status
    text = P.env.cli("status", user="nobody").stdout
    assert "enforce containers: mode enforce, file %s" % POLICY in text, text
    assert "compiled from policy version 1: 1 scope(s)" in text, text
    lines = audit_compiles()
    assert any("version=1" in x and "scopes=1" in x and "replaced" in x and POLICY in x
               for x in lines), lines
    r = P.env.cli("enforce", "apply", user="nobody")
    assert r.returncode == 1 and "E_PERM" in r.stderr, r


def test_skopeo():
    check_engine("skopeo")
    # a local transport still works under the compiled file (oci layout -> dir)
    r = E.run([e2e_env.SKOPEO, "copy", "oci:%s:1" % E.oci_layout, "dir:" + E.path("local")])
    assert r.returncode == 0, r.stderr


def test_podman_root():
    check_engine("podman")


def test_podman_rootless():
    check_engine("podman-rootless", user="nobody")


def test_buildah():
    check_engine("buildah")


def test_refresh_v2_allows_next_pull():
    before = ino(POLICY)
    n_before = len([x for x in audit_compiles() if "result=replaced" in x])
    publish(2, ["127.0.0.1:5000", "127.0.0.1:5001"])
    after = ino(POLICY)
    assert after != before
    r = pull("skopeo", E.ref(5001))
    assert r.returncode == 0, r.stderr
    r = pull("podman", E.ref(5001))
    assert r.returncode == 0, r.stderr
    # the same policy again (refresh, apply): not rewritten
    r = P.refresh()
    assert r.returncode == 0, r.stderr
    r = P.env.cli("--json", "enforce", "apply")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["containers"]["last_result"] == "unchanged", r.stdout
    assert ino(POLICY) == after
    replaced = [x for x in audit_compiles() if "result=replaced" in x]
    assert len(replaced) == n_before + 1 and "version=2" in replaced[-1], replaced
    assert containers_status()["compiled_version"] == 2


def test_offline_import_compiled():
    env_path = P.env.path("v3.json")
    with open(env_path, "wb") as f:
        f.write(rtpolicy.sign(rtpolicy.payload(3, hosts=["127.0.0.1:5001"]), P.k[0]))
    r = P.env.cli("policy", "import", "--db", P.env.path("state", "policy.db"),
                  "--keys", P.keydir, "--org", "acme", env_path)
    assert r.returncode == 0, r.stderr + r.stdout
    deadline = time.time() + 10
    while time.time() < deadline and "127.0.0.1:5000" in read(POLICY):
        time.sleep(0.1)
    docker = json.loads(read(POLICY))["transports"]["docker"]
    assert list(docker) == ["127.0.0.1:5001"], docker
    assert containers_status()["compiled_version"] == 3
    r = pull("skopeo", E.ref(5000))
    assert r.returncode != 0 and rejected(E.ref(5000)) in r.stderr, r.stderr


def set_mode(mode):
    cfg = json.loads(json.dumps(P.env.config))
    cfg["enforce"]["mode"] = mode
    P.env.write_config(cfg)
    r = P.env.cli("reload")
    assert r.returncode == 0, r.stderr


def test_warn_mode():
    publish(4, ["127.0.0.1:5000"])
    assert "127.0.0.1:5001" not in read(POLICY)
    set_mode("warn")
    assert read(POLICY) == e2e_env.ORIGINAL_POLICY   # the engine's own file again
    assert not os.path.exists(ORIG)
    nxt = json.loads(read(NEXT))
    assert list(nxt["transports"]["docker"]) == ["127.0.0.1:5000"], nxt
    s = containers_status()
    assert s["mode"] == "warn" and s["written_file"] == NEXT and s["compiled_version"] == 4, s
    r = pull("skopeo", E.ref(5001))   # warn: allowed (the policy would deny it)
    assert r.returncode == 0, r.stderr
    assert any("mode=warn" in x and NEXT.rsplit(".", 1)[0] in x for x in audit_compiles())


def test_mode_off_restores():
    set_mode("enforce")
    assert "127.0.0.1:5000" in read(POLICY) and not os.path.exists(NEXT)
    set_mode("off")
    assert read(POLICY) == e2e_env.ORIGINAL_POLICY
    assert not os.path.exists(ORIG) and not os.path.exists(NEXT)
    assert containers_status()["mode"] == "off"


def test_uninstall_restores():
    set_mode("enforce")
    assert read(POLICY) != e2e_env.ORIGINAL_POLICY
    r = P.env.cli("--json", "helper", "uninstall")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert any(x["what"] == "containers-policy" for x in out["removed"]), out
    P.env.proc.wait(timeout=20)
    P.env.proc = None
    assert read(POLICY) == e2e_env.ORIGINAL_POLICY
    assert not os.path.exists(ORIG) and not os.path.exists(NEXT)


def main():
    global E, P
    E = e2e_env.E2EEnv("i14c")
    try:
        P = rtpolicy.PolicyEnv("e2e-enforce", extra_config={
            "enforce": {"mode": "enforce", "containers_policy": POLICY}})
        try:
            P.env.start()
            rt.run_tests([test_compiled_at_refresh, test_skopeo, test_podman_root,
                          test_podman_rootless, test_buildah, test_refresh_v2_allows_next_pull,
                          test_offline_import_compiled, test_warn_mode, test_mode_off_restores, test_uninstall_restores])
        finally:
            P.cleanup()
    finally:
        E.cleanup()


if __name__ == "__main__":
    main()
