# SPDX-License-Identifier: ISC
"""Signed policy: fetch over HTTPS, verify, store; every attack is refused and the
last good policy stays in force with the reason recorded."""
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

rt.need_root()
P = rtpolicy.PolicyEnv("refresh")
env = P.env
DB = env.path("state", "policy.db")


def expect_refused(code_part, msg_part=None, keep=None):
    before = P.version()
    r = P.refresh()
    assert r.returncode == 1, r
    err = json.loads(r.stdout)["error"]
    assert code_part in err["code"], err
    if msg_part:
        assert msg_part in err["message"], err
    assert P.version() == (keep if keep is not None else before)
    st = env.request("status")["result"]["policy"]
    assert st["last_error"] and code_part not in ("",), st
    return err


def test_no_policy_denies():
    rc, res = P.check("ghcr.io/acme/app:1.2")
    assert rc == 1 and res[0]["allowed"] is False and "no policy cached" in res[0]["reason"], res


def test_first_refresh_and_checks():
    P.publish(sign(payload(1, ["ghcr.io", "*.corp.example", "reg.example.com:5000"]), P.k[0]))
    r = P.refresh()
    assert r.returncode == 0, r
    out = json.loads(r.stdout)
    assert out["outcome"] == "updated" and out["new_version"] == 1, out
    rc, res = P.check("ghcr.io/acme/app:1.2", user="nobody")
    assert rc == 0 and res[0]["rule"] == "ghcr.io" and res[0]["policy_version"] == 1, res
    rc, res = P.check("quay.io/x/y", user="nobody")
    assert rc == 1 and res[0]["allowed"] is False and res[0]["rule"] is None, res
    rc, res = P.check("a.b.corp.example/x", "corp.example/x", "reg.example.com:5000/x", "reg.example.com/x")
    assert [d["allowed"] for d in res] == [True, False, True, False], res
    rc, res = P.check("Not Valid!!")
    assert rc == 2 and res[0]["error"] == "E_REF", res
    check_wire_format()
    st = os.stat(DB)
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o644
    assert not [f for f in os.listdir(env.state) if ".tmp." in f]


def check_wire_format():
    """The decision is written as text by the daemon (no json_t tree): every field,
    in order, with its JSON type, for one ref, a batch, and an invalid ref."""
    fields = ["allowed", "rule", "normalized", "policy_version", "reason", "expired",
              "policy_cached"]
    one = env.request("policy.check", {"ref": "ghcr.io/acme/app:1.2"}, rid="w1")
    assert one["ok"] is True and one["id"] == "w1", one
    d = one["result"]
    assert list(d) == fields, d
    assert d == {"allowed": True, "rule": "ghcr.io", "normalized": "ghcr.io/acme/app:1.2",
                 "policy_version": 1, "reason": d["reason"], "expired": False,
                 "policy_cached": True}, d
    batch = env.request("policy.check", {"refs": ["quay.io/x", "BAD ref", "alpine"]}, rid=7)
    r = batch["result"]["results"]
    assert len(r) == 3 and batch["id"] == 7, batch
    assert list(r[0]) == fields and r[0]["allowed"] is False and r[0]["rule"] is None, r
    assert list(r[1]) == ["allowed", "rule", "normalized", "error", "reason"], r
    assert r[1]["error"] == "E_REF" and r[1]["allowed"] is False and r[1]["rule"] is None, r
    assert r[2]["normalized"] == "docker.io/library/alpine:latest", r
    bad = env.request("policy.check", {"refs": ["ghcr.io/x", 5]})
    assert bad["ok"] is False and bad["error"]["code"] == "E_ARGS", bad
    assert "refs[1]" in bad["error"]["message"], bad


def test_refresh_needs_admin():
    r = P.refresh(user="nobody")
    assert r.returncode == 1 and "E_PERM" in r.stdout, r


def test_equal_version_is_noop_and_304():
    # byte-identical: the server answers 304 to our stored ETag
    r = P.refresh()
    assert r.returncode == 0 and json.loads(r.stdout)["outcome"] == "unchanged", r
    ino = os.stat(DB).st_ino
    # different bytes, same version: verified, then a no-op
    P.publish(sign(payload(1, ["ghcr.io", "evil.example"]), P.k[0]))
    r = P.refresh()
    assert r.returncode == 0 and json.loads(r.stdout)["outcome"] == "unchanged", r
    assert os.stat(DB).st_ino == ino
    rc, res = P.check("evil.example/x")
    assert rc == 1, res


def test_update_then_rollback_refused():
    P.publish(sign(payload(2, ["ghcr.io", "quay.io"]), P.k[1]))
    r = P.refresh()
    assert r.returncode == 0 and "updated 1 -> 2" in json.loads(r.stdout)["message"], r
    P.publish(sign(payload(1, ["ghcr.io", "evil.example"]), P.k[0]))
    err = expect_refused("E_ROLLBACK", "rollback 1 < 2; keeping version 2", keep=2)
    rc, _ = P.check("evil.example/x")
    assert rc == 1


def test_tampered_payload_and_type():
    good = json.loads(sign(payload(3, ["ghcr.io", "evil.example"]), P.k[0]))
    bad = dict(good)
    body = json.loads(rtpolicy.base64.b64decode(good["payload"]))
    body["registries"].append({"host": "widened.example", "nickname": "x"})
    bad["payload"] = rtpolicy.b64(json.dumps(body).encode())
    P.publish(json.dumps(bad).encode())
    expect_refused("E_SIGNATURE", keep=2)
    bad = dict(good)
    bad["payloadType"] = "application/json"
    P.publish(json.dumps(bad).encode())
    expect_refused("E_PAYLOAD_TYPE", keep=2)


def test_untrusted_key_refused():
    P.publish(sign(payload(3, ["evil.example"]), P.untrusted[0]))
    expect_refused("E_SIGNATURE", keep=2)


def test_wrong_org_and_expired():
    P.publish(sign(payload(3, org="other-org"), P.k[0]))
    expect_refused("E_ORG", "other-org", keep=2)
    P.publish(sign(payload(3, expires_in=-10), P.k[0]))
    expect_refused("E_EXPIRED", keep=2)


def test_malformed_envelopes():
    good = json.loads(sign(payload(3), P.k[0]))
    cases = [b"not json", b"[]", b"{}",
             json.dumps(dict(good, payload="!!!notbase64")).encode(),
             json.dumps(dict(good, payload=5)).encode(),
             json.dumps(dict(good, signatures=[])).encode(),
             json.dumps(dict(good, signatures=[{"keyid": "", "sig": "%%%"}])).encode(),
             json.dumps(dict(good, signatures="x")).encode(),
             json.dumps(dict(good, payloadType=None)).encode(),
             sign(None, P.k[0], raw=b'{"org":"acme","version":3', check=False),  # signed, not JSON
             sign(payload(3, extra={"registries": [{"host": "UPPER.example", "nickname": ""}]}), P.k[0], check=False),
             sign(payload(3, extra={"version": "3"}), P.k[0], check=False),
             sign(payload(3, extra={"registries": [{"host": "a b", "nickname": ""}]}), P.k[0], check=False)]
    for i, c in enumerate(cases):
        P.publish(c)
        r = P.refresh()
        assert r.returncode == 1, (i, r)
        assert P.version() == 2, i


def test_threshold_two_distinct_keys():
    P.set_policy(threshold=2)
    try:
        p3 = payload(3, ["ghcr.io", "threshold.example"])
        raw = json.dumps(p3).encode()
        one = sign(None, P.k[0], raw=raw)
        P.publish(rtpolicy.envelope_with_sigs([one, one]))
        expect_refused("E_SIGNATURE", keep=2)
        P.publish(rtpolicy.envelope_with_sigs([one, sign(None, P.untrusted[0], raw=raw)]))
        expect_refused("E_SIGNATURE", keep=2)
        P.publish(sign(None, P.k[0], P.k[1], raw=raw))
        r = P.refresh()
        assert r.returncode == 0 and "2 -> 3" in r.stdout, r
        v = rt.subprocess.run([rt.CLI, "policy", "verify", "--db", DB, "--keys", P.keydir,
                               "--threshold", "2"], capture_output=True, text=True)
        assert v.returncode == 0, v
    finally:
        P.set_policy(threshold=1)


def test_transport_failures_keep_policy():
    P.set_policy(max_bytes=2048)
    try:
        for path in ("/big?n=4096", "/big-chunked?n=4096", "/big-close?n=4096"):
            P.set_policy(url=P.server.url(path))
            err = expect_refused("E_", keep=3)
            assert "large" in err["message"] or "cap" in err["message"] or "exceed" in err["message"], err
        t0 = time.time()
        P.set_policy(url=P.server.url("/drip?n=1000&delay=1"))
        expect_refused("E_", keep=3)
        assert time.time() - t0 < 15
        P.set_policy(url=P.server.url("/redirect-http?path=/p/current.json"))
        expect_refused("E_", keep=3)
        P.set_policy(url=P.server.url("/loop"))
        expect_refused("E_", keep=3)
        P.set_policy(url=P.server.url("/reset"))
        expect_refused("E_", keep=3)
        P.set_policy(url="https://127.0.0.1:%d/p/current.json" % P.server.state["ports"]["garbage"])
        expect_refused("E_", keep=3)
    finally:
        P.set_policy(max_bytes=1 << 20, url=P.server.url("/p/current.json"))
    assert env.cli("ping").returncode == 0


def test_show_and_verify_as_auditor():
    r = env.cli("--json", "policy", "show", user="nobody")
    assert r.returncode == 0, r
    s = json.loads(r.stdout)
    assert s["version"] == 3 and s["total"] == 2 and len(s["registries"]) == 2, s
    assert len(s["signers"].split(",")) == 2
    r = env.cli("policy", "verify", "--db", DB, "--keys", P.keydir, user="nobody")
    assert r.returncode == 0 and "verified" in r.stdout, r


def test_unprivileged_cannot_write_db():
    code = ("import os,sys\n"
            "for p in sys.argv[1:]:\n"
            "  try:\n"
            "    open(p,'r+b') if os.path.isfile(p) else open(os.path.join(p,'x'),'wb')\n"
            "    print('WROTE',p)\n"
            "  except OSError as e: print('denied',e.errno)\n")
    r = subprocess.run(rt.setpriv_prefix("nobody") + ["/usr/bin/python3", "-c", code, DB, env.state],
                       capture_output=True, text=True)
    assert "WROTE" not in r.stdout and r.stdout.count("denied") == 2, r


def test_verify_detects_tampering():
    # a forged row (as if someone got write access) is caught by policy verify
    forged = env.path("forged.db")
    with open(DB, "rb") as s, open(forged, "wb") as d:
        d.write(s.read())
    con = sqlite3.connect(forged)
    con.execute("INSERT INTO registries(host, nickname, kind) VALUES ('widened.example', '', 0)")
    con.commit()
    con.close()
    os.chmod(forged, 0o644)
    r = env.cli("policy", "verify", "--db", forged, "--keys", P.keydir, user="nobody")
    assert r.returncode == 1 and "E_TAMPERED" in r.stderr, r
    # a DB file made writable by others is flagged too
    os.chmod(forged, 0o666)
    con = sqlite3.connect(forged)
    con.execute("DELETE FROM registries WHERE host='widened.example'")
    con.commit()
    con.close()
    r = env.cli("policy", "verify", "--db", forged, "--keys", P.keydir, user="nobody")
    assert r.returncode == 1 and "writable" in r.stderr, r
    # a DB owned by a non-root user is flagged
    os.chmod(forged, 0o644)
    os.chown(forged, 65534, 65534)
    r = env.cli("policy", "verify", "--db", forged, "--keys", P.keydir)
    assert r.returncode == 1 and "owned by root" in r.stderr, r


def test_policy_survives_restart_and_status():
    env.stop()
    env.start()
    assert P.version() == 3
    st = env.request("status")["result"]["policy"]
    assert st["org"] == "acme" and st["expired"] is False and st["registries"] == 2, st


def test_daemon_sees_an_offline_import():
    """root imports a newer signed policy without the daemon: checks over the socket
    follow at once (the daemon's reader looks at the file once per request)."""
    env_path = env.path("v9.json")
    with open(env_path, "wb") as f:
        f.write(sign(payload(9, ["ghcr.io", "imported.example"]), P.k[0]))
    r = env.cli("policy", "import", "--db", DB, "--keys", P.keydir, "--org", "acme", env_path)
    assert r.returncode == 0 and "3 -> 9" in r.stdout, r
    rc, res = P.check("imported.example/x", user="nobody")
    assert rc == 0 and res[0]["policy_version"] == 9, res


def test_unreadable_store_fails_closed_on_rollback():
    """A store that exists but cannot be read must not reset the version floor."""
    with open(DB, "rb") as f:
        good = f.read()
    with open(DB, "wb") as f:
        f.write(b"this is not a rampart store" * 10)
    P.publish(sign(payload(2, ["evil.example"]), P.k[0]))   # an old, validly signed policy
    r = P.refresh()
    assert r.returncode == 1 and "E_STORE" in r.stdout and "floor" in r.stdout, r
    with open(DB, "rb") as f:
        assert f.read().startswith(b"this is not"), "the damaged store was replaced"
    with open(DB, "wb") as f:
        f.write(good)


def test_insecure_state_dir_refused():
    os.chmod(env.state, 0o777)
    try:
        P.publish(sign(payload(10, ["ghcr.io"]), P.k[0]))
        r = P.refresh()
        assert r.returncode == 1 and "E_STORE_INSECURE" in r.stdout, r
        assert P.version() == 9
    finally:
        os.chmod(env.state, 0o755)
    r = P.refresh()
    assert r.returncode == 0 and "9 -> 10" in r.stdout, r


def test_pipelined_refreshes_each_answered():
    """Two policy.refresh frames in one write: each gets its own answer, in order (the
    second refresh runs after the first is answered; it used to get the first's answer
    while its own fetch then answered nobody)."""
    before = env.request("status")["result"]["policy"]["refreshes"]
    P.publish(sign(payload(11, ["ghcr.io"]), P.k[0]))
    s = env.connect()
    try:
        s.sendall(rt.frame({"op": "policy.refresh", "id": "a"}) +
                  rt.frame({"op": "policy.refresh", "id": "b"}))
        first, second = rt.read_reply(s), rt.read_reply(s)
    finally:
        s.close()
    assert first["id"] == "a" and first["ok"], first
    assert first["result"]["outcome"] == "updated", first
    assert "10 -> 11" in first["result"]["message"], first
    assert second["id"] == "b" and second["ok"], second
    assert second["result"]["outcome"] == "unchanged", second
    st = env.request("status")["result"]["policy"]
    assert st["refreshes"] == before + 2 and st["refreshing"] is False, st


try:
    env.start()
    rt.run_tests([test_no_policy_denies, test_first_refresh_and_checks, test_refresh_needs_admin,
                  test_equal_version_is_noop_and_304, test_update_then_rollback_refused,
                  test_tampered_payload_and_type, test_untrusted_key_refused,
                  test_wrong_org_and_expired, test_malformed_envelopes,
                  test_threshold_two_distinct_keys, test_transport_failures_keep_policy,
                  test_show_and_verify_as_auditor, test_unprivileged_cannot_write_db,
                  test_verify_detects_tampering, test_policy_survives_restart_and_status,
                  test_daemon_sees_an_offline_import, test_unreadable_store_fails_closed_on_rollback,
                  test_insecure_state_dir_refused, test_pipelined_refreshes_each_answered])
finally:
    P.cleanup()
