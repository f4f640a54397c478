# SPDX-License-Identifier: ISC
"""The signed root end to end: rampartd walks N.root.json through the real,
unprivileged fetch helper from a local HTTPS server, verifies the policy against
the newest root's policy keys, refuses the attacks with the last good policy and
root kept, keeps enforcing a policy signed by a retired key (flagged in status),
proves the store offline from the pinned root, and answers schema-2 decisions
(deny, warn) over the socket."""
import json
import os
import subprocess
import sys


def unwrap(j):
    """The CLI's --json envelope ({ok, command, result|error}): the result, or the whole
    envelope for an error (its "error" key is what tests read)."""
    if isinstance(j, dict) and "ok" in j and "result" in j:
        return j["result"]
    return j

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

rt.need_root()
SIGN = os.path.join(rt.BUILD, "rampart-sign")
P = rtpolicy.PolicyEnv("root", nkeys=2)
env = P.env
R = [rtpolicy.gen_key(P.secret, "root%d" % i) for i in range(3)]
PIN = env.path("etc", "1.root.json")


def root(version, root_key, policy_key, signers, expires="2099-01-01T00:00:00Z"):
    doc = subprocess.run([SIGN, "root", "new", "--org", "acme", "--version", str(version),
                          "--expires", expires, "--root-key", R[root_key][1],
                          "--policy-key", P.keys[policy_key][1]],
                         capture_output=True, check=True).stdout
    path = env.path("secret", "root%d.json" % version)
    with open(path, "wb") as f:
        f.write(doc)
    args = [SIGN, "root", "sign"]
    for s in signers:
        args += ["--key", R[s][0]]
    return subprocess.run(args + [path], capture_output=True, check=True).stdout


def status():
    return env.request("status")["result"]["policy"]


def expect_refused(code):
    before = (P.version(), status()["root_version"])
    r = P.refresh()
    assert r.returncode == 1, r
    err = unwrap(json.loads(r.stdout))["error"]
    assert code in err["code"], err
    after = status()
    assert (after["version"], after["root_version"]) == before, (before, after)
    assert code in after["last_error"] or err["message"] in after["last_error"], after


def test_setup_and_first_root():
    with open(PIN, "wb") as f:
        f.write(root(1, 0, 0, [0]))
    os.chmod(PIN, 0o644)
    cfg = json.loads(json.dumps(env.config))
    del cfg["policy"]["keys"]
    cfg["policy"]["root"] = PIN
    cfg["policy"]["max_root_rotations"] = 4
    env.write_config(cfg)
    env.start()
    P.publish(sign(payload(1, ["ghcr.io"]), P.k[0]))
    r = P.refresh()
    assert r.returncode == 0 and "root version 1" in r.stdout + r.stderr, r
    st = status()
    assert st["root_version"] == 1 and st["policy_signed_by_root"] is True, st


def test_root_attacks_refused():
    P.publish(root(2, 1, 1, [1]), "2.root.json")          # only the new root key
    expect_refused("E_ROOT_SIGNATURE")
    P.publish(root(2, 1, 1, [0]), "2.root.json")          # only the old root key
    expect_refused("E_ROOT_SIGNATURE")
    P.publish(root(3, 1, 1, [0, 1]), "2.root.json")       # a skipped version
    expect_refused("E_ROOT_VERSION")
    P.publish(root(2, 1, 1, [0, 1], expires="2020-01-01T00:00:00Z"), "2.root.json")
    expect_refused("E_ROOT_EXPIRED")
    P.publish(b"x" * (70 * 1024), "2.root.json")          # the size cap, while fetching
    expect_refused("E_ROOT_TOO_BIG")


def test_rotation_keeps_old_policy_flagged():
    # root 2 rotates the root key and the policy key (k0 -> k1); the policy is not
    # re-signed yet: it stays enforced and status says it is not signed by the root
    P.publish(root(2, 1, 1, [0, 1]), "2.root.json")
    r = P.refresh()
    assert r.returncode == 0, r
    st = status()
    assert st["root_version"] == 2 and st["policy_signed_by_root"] is False, st
    assert st["version"] == 1
    rc, res = P.check("ghcr.io/acme/app")
    assert rc == 0 and res[0]["allowed"], res
    # a policy signed by the revoked key, however high its version: refused
    P.publish(sign(payload(50, ["quay.io"]), P.k[0]))
    expect_refused("E_SIGNATURE")


def test_new_policy_v2_with_new_key():
    body = payload(2, ["ghcr.io", "quay.io/acme/"])
    body["schema_version"] = 2
    body["deny"] = [{"host": "quay.io/acme/legacy/"}, {"host": "ghcr.io/soon/", "mode": "warn"}]
    P.publish(sign(body, P.k[1]))
    r = P.refresh()
    assert r.returncode == 0 and "updated 1 -> 2" in r.stdout + r.stderr, r
    assert status()["policy_signed_by_root"] is True
    res = env.request("policy.check", {"refs": ["quay.io/acme/legacy/x", "ghcr.io/soon/a",
                                                "quay.io/acme/app"]})["result"]["results"]
    assert res[0]["allowed"] is False and res[0]["denied_by_rule"] is True, res
    assert "more specific than allow quay.io/acme/" in res[0]["reason"], res
    assert res[1]["allowed"] is True and res[1]["warn"] is True, res
    assert res[1]["warn_rule"] == "deny ghcr.io/soon/", res
    assert res[2]["allowed"] is True and res[2]["rule"] == "quay.io/acme/", res


def test_endless_chain_capped():
    for v in range(3, 9):  # 6 valid new roots, cap 4
        P.publish(root(v, 2, 1, [1, 2] if v == 3 else [2]), "%d.root.json" % v)
    expect_refused("E_ROOT_CHAIN")
    for v in range(4, 9):
        os.unlink(os.path.join(P.www, "%d.root.json" % v))
    r = P.refresh()
    assert r.returncode == 0 and status()["root_version"] == 3, r


def test_offline_proof_from_the_pin():
    r = env.cli("--json", "policy", "verify", "--db", env.path("state", "policy.db"),
                "--root", PIN, user="nobody")
    assert r.returncode == 0, r
    out = unwrap(json.loads(r.stdout))
    assert out["root_version"] == 3 and out["version"] == 2, out
    other = env.path("etc", "other.root.json")
    with open(other, "wb") as f:
        f.write(root(1, 2, 1, [2]))
    os.chmod(other, 0o644)
    r = env.cli("policy", "verify", "--db", env.path("state", "policy.db"), "--root", other,
                user="nobody")
    assert r.returncode == 1 and "E_TAMPERED" in r.stderr, r


def test_draft_check_and_diff():
    old = payload(5, ["ghcr.io", "quay.io"])
    new = dict(payload(6, ["ghcr.io", "quay.io/acme/"]), schema_version=2,
               deny=[{"host": "ghcr.io/old/", "mode": "warn"}])
    paths = []
    for name, doc in (("old", old), ("new", new)):
        path = env.path("etc", name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        os.chmod(path, 0o644)
        paths.append(path)
    r = env.cli("--json", "policy", "check", "--payload", paths[1], "quay.io/acme/a",
                "ghcr.io/old/x", user="nobody")
    res = unwrap(json.loads(r.stdout))
    assert r.returncode == 0 and res[1]["warn"] is True, (r, res)
    r = env.cli("policy", "check", "--payload", paths[1], "quay.io/other", user="nobody")
    assert r.returncode == 1 and "not installed" in r.stdout + r.stderr, r
    bad = env.path("etc", "bad.json")
    with open(bad, "w") as f:
        json.dump(dict(new, schema_version=3), f)
    os.chmod(bad, 0o644)
    r = env.cli("policy", "check", "--payload", bad, "ghcr.io/x", user="nobody")
    assert r.returncode == 2 and "E_SCHEMA_VERSION" in r.stderr, r
    r = env.cli("policy", "diff", paths[0], paths[1], "quay.io/other", "ghcr.io/x",
                user="nobody")
    assert r.returncode == 1, r
    assert "- allow quay.io" in r.stdout and "+ allow quay.io/acme/" in r.stdout + r.stderr, r
    assert "+ deny ghcr.io/old/ (mode warn)" in r.stdout + r.stderr, r
    assert "CHANGED quay.io/other: allow -> deny" in r.stdout + r.stderr, r
    assert "same    ghcr.io/x: allow -> allow" in r.stdout + r.stderr, r
    r = env.cli("policy", "diff", paths[0], paths[0], "ghcr.io/x", user="nobody")
    assert r.returncode == 0 and "(no rule changed)" in r.stdout + r.stderr, r
    # companions: a change of a rule's companions is a change; check notes a companion host
    comp = dict(new, registries=[{"host": "ghcr.io", "companions": ["pkg.ghcr.example"]},
                                 {"host": "quay.io/acme/"}])
    cpath = env.path("etc", "comp.json")
    with open(cpath, "w") as f:
        json.dump(comp, f)
    os.chmod(cpath, 0o644)
    r = env.cli("policy", "diff", paths[1], cpath, user="nobody")
    assert r.returncode == 1, r
    assert "~ allow ghcr.io -> allow ghcr.io [companions pkg.ghcr.example]" in r.stdout, r
    r = env.cli("--json", "policy", "check", "--payload", cpath, "pkg.ghcr.example/x",
                user="nobody")
    res = unwrap(json.loads(r.stdout))
    assert r.returncode == 1 and res[0]["allowed"] is False, (r, res)
    assert res[0]["companion_of"] == "ghcr.io", res


def test_import_with_root():
    # offline install: the chain read next to the first root, then the policy
    d = env.path("etc", "roots")
    os.mkdir(d, 0o755)
    for name in ("1.root.json",):
        with open(PIN, "rb") as s, open(os.path.join(d, name), "wb") as o:
            o.write(s.read())
    for v in (2, 3):
        with open(os.path.join(P.www, "%d.root.json" % v), "rb") as s, \
                open(os.path.join(d, "%d.root.json" % v), "wb") as o:
            o.write(s.read())
    st = env.path("imported")
    os.mkdir(st, 0o755)
    db = os.path.join(st, "p.db")
    cur = os.path.join(P.www, "current.json")
    r = env.cli("policy", "import", "--db", db, "--root", os.path.join(d, "1.root.json"),
                "--org", "acme", cur)
    assert r.returncode == 0 and "root version 3" in r.stdout + r.stderr, r
    old = env.path("etc", "old.dsse.json")
    with open(old, "wb") as f:
        f.write(sign(payload(9, ["x.example"]), P.k[0]))  # a retired policy key
    r = env.cli("policy", "import", "--db", db, "--root", os.path.join(d, "1.root.json"),
                "--org", "acme", old)
    assert r.returncode == 1 and "signature threshold not met" in r.stdout + r.stderr, r


try:
    rt.run_tests([test_draft_check_and_diff, test_setup_and_first_root, test_root_attacks_refused,
                  test_rotation_keeps_old_policy_flagged, test_new_policy_v2_with_new_key,
                  test_endless_chain_capped, test_offline_proof_from_the_pin,
                  test_import_with_root])
finally:
    P.cleanup()
