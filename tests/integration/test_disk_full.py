# SPDX-License-Identifier: ISC
"""Full disk: rampartd's state dir is a 64 KiB tmpfs.  A small policy fits; a
10,000-entry policy does not.  That refresh must fail with a clear disk-full
error (E_STORE_DISK_FULL), leave no temp file behind, and keep the last good
policy in force (daemon, read-only readers and `policy verify` agree); once the
failed write is gone a small policy applies again.  Skipped (77) where mounting
a tmpfs is not permitted."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

rt.need_root()
P = rtpolicy.PolicyEnv("diskfull", extra_config={"policy": {"max_bytes": 4 << 20}})
env = P.env
DB = env.path("state", "policy.db")
mounted = False


def mount_tiny_state():
    global mounted
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", env.state],
                       capture_output=True, text=True)
    if r.returncode != 0:
        P.cleanup()
        rt.skip("cannot mount a 64 KiB tmpfs here (%s); the full-disk test needs mount "
                "permission (CAP_SYS_ADMIN)" % (r.stderr.strip() or r.returncode))
    mounted = True


def temps():
    return [f for f in os.listdir(env.state) if ".tmp." in f]


def refresh_json():
    r = P.refresh()
    out = json.loads(r.stdout)
    return r.returncode, out["result"] if out["ok"] else out


def test_full_disk_keeps_last_good_policy():
    P.publish(sign(payload(1, ["ghcr.io", "small.example"]), P.k[0]))
    rc, out = refresh_json()
    assert rc == 0 and out["outcome"] == "updated", out
    P.publish(sign(payload(2, ["h%05d.big.example" % i for i in range(10000)]), P.k[0]))
    rc, out = refresh_json()
    assert rc == 1, out
    err = out["error"]
    assert err["code"] == "E_STORE_DISK_FULL", err
    assert "disk full" in err["message"] and "keeping version 1" in err["message"], err
    st = env.request("status")["result"]["policy"]
    assert st["version"] == 1 and "disk full" in st["last_error"], st
    assert temps() == [], temps()
    rc, res = P.check("small.example/app", "h00000.big.example/app", user="nobody", db=True)
    assert rc == 1 and res[0]["allowed"] and not res[1]["allowed"], res
    assert res[0]["policy_version"] == 1, res
    r = env.cli("policy", "verify", "--db", DB, "--keys", P.keydir, user="nobody")
    assert r.returncode == 0, r
    print("figures: " + json.dumps({"fs_bytes": 65536, "db_bytes": os.path.getsize(DB),
                                    "error": err["message"]}), flush=True)


def test_small_policy_applies_after_the_failure():
    P.publish(sign(payload(3, ["ghcr.io", "after.example"]), P.k[0]))
    rc, out = refresh_json()
    assert rc == 0 and out["outcome"] == "updated" and out["new_version"] == 3, out
    env.stop()
    env.start()
    assert P.version() == 3
    assert temps() == []


try:
    mount_tiny_state()
    env.start()
    rt.run_tests([test_full_disk_keeps_last_good_policy, test_small_policy_applies_after_the_failure])
finally:
    try:
        env.stop()
    except AssertionError:
        pass
    if mounted:
        subprocess.run(["umount", "-l", env.state], check=False)
    P.cleanup()
