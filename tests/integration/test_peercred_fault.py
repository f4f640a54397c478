# SPDX-License-Identifier: ISC
"""Peer credentials that cannot be read close the connection (issue 16 item 8).
Only fault injection reaches that path: a test-only LD_PRELOAD shim makes
getsockopt(SO_PEERCRED) fail inside the daemon under test while a flag file
exists.  Without the close, such a connection would run with zeroed
credentials, as uid 0."""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402

rt.need_root()
SHIM = os.environ.get("RAMPART_SHIM_PEERCRED", "")


def request_as_nobody(env, op):
    """Sends op from uid 65534; returns the reply, or None when the daemon closed."""
    os.setegid(65534)
    os.seteuid(65534)
    try:
        s = env.connect()
    finally:
        os.seteuid(0)
        os.setegid(0)
    try:
        s.sendall(rt.frame({"op": op, "id": 1}))
        return rt.read_reply(s)
    except (ConnectionError, OSError):
        return None
    finally:
        s.close()


def test_no_credentials_no_connection():
    if not SHIM or not os.path.exists(SHIM):
        rt.skip("the LD_PRELOAD shim is not built (RAMPART_SHIM_PEERCRED)")
    env = rt.Env(name="peercred")
    flag = env.path("fail-peercred")
    e = {"LD_PRELOAD": SHIM, "RAMPART_SHIM_PEERCRED_FAIL": flag}
    if rt.SANITIZE:
        e["ASAN_OPTIONS"] = "verify_asan_link_order=0"
    try:
        env.start(env=e)
        r = request_as_nobody(env, "daemon.reload")
        assert r and r["error"]["code"] == "E_PERM", r  # the shim is loaded, not failing yet
        open(flag, "w").close()
        for op in ("daemon.reload", "ping"):
            r = request_as_nobody(env, op)
            assert r is None, ("served without peer credentials", op, r)
        assert "peer credentials unavailable" in env.daemon_log(), env.daemon_log()
        os.unlink(flag)
        assert env.request("ping")["ok"]
        ok = [l for l in env.audit_lines() if "op=daemon.reload" in l and "result=ok" in l]
        assert not ok, ok
    finally:
        env.cleanup()


if __name__ == "__main__":
    rt.run_tests([test_no_credentials_no_connection])
