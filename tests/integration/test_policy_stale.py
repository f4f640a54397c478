# SPDX-License-Identifier: ISC
"""Withheld updates (issue 16 item 3): a feed that keeps answering 304 (or
re-serves the current envelope) while a newer policy is published used to
leave status looking healthy (age_s 0, fresh last_success_at).  Now status
reports the signed issued_at's age next to the fetch age, and with
policy.max_age_s set every decision and status say "stale": true (still
enforced) and the audit log says so once."""
import json
import os
import sys
import time


def unwrap(j):
    """The CLI's --json envelope ({ok, command, result|error}): the result, or the whole
    envelope for an error (its "error" key is what tests read)."""
    if isinstance(j, dict) and "ok" in j and "result" in j:
        return j["result"]
    return j

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import payload, rfc3339, sign  # noqa: E402

rt.need_root()
MAX_AGE = 3600


def old_policy(version, age):
    p = payload(version)
    p["issued_at"] = rfc3339(int(time.time()) - age)
    return p


def stale_lines(env):
    return [l for l in env.audit_lines() if "op=policy.stale" in l]


def test_withheld_feed_is_flagged_stale():
    P = rtpolicy.PolicyEnv("stale", extra_config={"policy": {"max_age_s": MAX_AGE}})
    env = P.env
    try:
        env.start()
        P.publish(sign(old_policy(1, 2 * MAX_AGE), P.k[0]))
        r = P.refresh()
        assert r.returncode == 0, r
        # the feed now withholds: 304 to the stored ETag, again and again
        for _ in range(2):
            r = P.refresh()
            assert unwrap(json.loads(r.stdout))["outcome"] == "unchanged", r
        st = env.request("status")["result"]["policy"]
        assert st["age_s"] is not None and st["age_s"] < 60, st  # the fetch looks fresh...
        assert st["issued_age_s"] >= 2 * MAX_AGE and st["stale"] is True, st  # ...the policy is not
        assert st["max_age_s"] == MAX_AGE, st
        rc, res = P.check("ghcr.io/acme/app:1", user="nobody")
        assert rc == 0 and res[0]["allowed"] is True, res  # still enforced
        assert res[0]["stale"] is True and "stale" in res[0]["reason"], res
        deadline = time.time() + 10
        while not stale_lines(env) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(2.5)  # several more looks: still one line
        lines = stale_lines(env)
        assert len(lines) == 1 and "result=stale" in lines[0] and "version 1" in lines[0], lines
        # a fresh policy clears it
        P.publish(sign(payload(2), P.k[0]))
        assert P.refresh().returncode == 0
        st = env.request("status")["result"]["policy"]
        assert st["stale"] is False and st["issued_age_s"] < MAX_AGE, st
        rc, res = P.check("ghcr.io/acme/app:1")
        assert res[0]["stale"] is False and "stale" not in res[0]["reason"], res
    finally:
        P.cleanup()


def test_no_max_age_never_stale():
    P = rtpolicy.PolicyEnv("stale0")
    env = P.env
    try:
        env.start()
        P.publish(sign(old_policy(1, 30 * 86400), P.k[0]))
        assert P.refresh().returncode == 0
        st = env.request("status")["result"]["policy"]
        assert st["stale"] is False and st["max_age_s"] is None, st
        assert st["issued_age_s"] >= 30 * 86400, st
    finally:
        P.cleanup()


def test_server_text_not_shown_to_users():
    """A refusal message can quote the fetched bytes: any user's status must not carry
    them (issue 16 item 7); root's does, so the admin can see what went wrong."""
    P = rtpolicy.PolicyEnv("stale_text")
    env = P.env
    try:
        env.start()
        P.publish(b'{"payloadType": "SERVERTEXT-evil", "payload": "e30=", '
                  b'"signatures": [{"keyid": "", "sig": "AAAA"}]}')
        r = P.refresh()
        assert r.returncode == 1, r
        root = env.request("status")["result"]
        assert "SERVERTEXT" in json.dumps(root), root["policy"]  # the check below can fail
        r = env.cli("--json", "status", user="nobody")
        assert r.returncode == 0, r
        assert "SERVERTEXT" not in r.stdout, r.stdout
        st = unwrap(json.loads(r.stdout))["policy"]
        assert st["last_outcome"] == "refused" and "admins only" in st["last_error"], st
        r = env.cli("status", user="nobody")
        assert r.returncode == 0 and "SERVERTEXT" not in r.stdout, r
    finally:
        P.cleanup()


if __name__ == "__main__":
    rt.run_tests([test_withheld_feed_is_flagged_stale, test_no_max_age_never_stale,
                  test_server_text_not_shown_to_users])
