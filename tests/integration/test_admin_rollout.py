# SPDX-License-Identifier: ISC
"""The frictions of a real rollout (issue 21), each refused or shown as an admin needs:
rampart-sign refuses what machines refuse and warns near expiry; new content under an
old version is E_SAME_VERSION, recorded in status; --check-config and reload load every
key and CA file; status shows the trust and an honest refresh health; key directories
take *.pub; fetch failures name the URL and the fix.  A private rampartd on temp paths
and an HTTPS server on 127.0.0.1 only."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import SIGN, payload, rfc3339, sign  # noqa: E402

rt.need_root()
P = rtpolicy.PolicyEnv("rollout")
env = P.env
P.env.start()


def sign_cli(*args, data=None):
    return subprocess.run([SIGN] + list(args), input=data, capture_output=True, text=True)


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def status():
    return env.request("status")["result"]["policy"]


def test_sign_refuses_what_machines_refuse():
    d = env.path("secret")
    expired = payload(1, expires_in=-3600, extra={"issued_at": rfc3339(time.time() - 7200)})
    r = sign_cli("--key", P.k[0], write(os.path.join(d, "exp.json"), expired))
    assert r.returncode == 1 and "E_EXPIRED" in r.stderr and r.stdout == "", r
    assert "every machine would refuse it" in r.stderr, r
    hub = payload(1, hosts=("docker.io",), hub=False)
    r = sign_cli("--key", P.k[0], write(os.path.join(d, "hub.json"), hub))
    assert r.returncode == 1 and "E_PAYLOAD" in r.stderr and "allow_docker_hub is false" in r.stderr, r
    url = payload(1, hosts=("https://ghcr.io",))
    r = sign_cli("--check", write(os.path.join(d, "url.json"), url))
    assert r.returncode == 1 and "a host, not a URL" in r.stderr, r
    good = write(os.path.join(d, "good.json"), payload(1, expires_in=30 * 86400))
    r = sign_cli("--key", P.k[0], "--org", "other", good)
    assert r.returncode == 1 and "E_ORG" in r.stderr, r
    r = sign_cli("--key", P.k[0], "--org", "acme", good)
    assert r.returncode == 0 and "warning" not in r.stderr, r
    # near expiry: signed, with a warning; --warn-days 0 silences it
    soon = write(os.path.join(d, "soon.json"), payload(1, expires_in=2 * 86400))
    r = sign_cli("--key", P.k[0], soon)
    assert r.returncode == 0 and "warning: the policy expires" in r.stderr, r
    r = sign_cli("--key", P.k[0], "--warn-days", "0", soon)
    assert r.returncode == 0 and "warning" not in r.stderr, r
    r = sign_cli("--key", P.k[0], "--warn-days", "1", soon)
    assert r.returncode == 0 and "warning" not in r.stderr, r
    # --version, and -V no longer means --verify
    r = sign_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("rampart-sign "), r
    r = sign_cli("-V", "--pub", P.keys[0][1], good)
    assert r.returncode == 2 and "--verify or --version" in r.stderr, r


def test_same_version_new_content_is_refused_and_recorded():
    P.publish(sign(payload(5, ["ghcr.io"]), P.k[0]))
    assert P.refresh().returncode == 0
    P.publish(sign(payload(5, ["ghcr.io", "evil.example"]), P.k[0]))
    r = P.refresh()
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["error"]["code"] == "E_SAME_VERSION", r
    assert "bump version" in out["error"]["hint"] and "keeping version 5" in out["error"]["message"], out
    st = status()
    assert "already stored with different content" in st["last_error"] and st["last_error_at"], st
    rc, res = P.check("evil.example/x")
    assert rc == 1 and res[0]["allowed"] is False, res
    # a success clears the last error
    P.publish(sign(payload(6, ["ghcr.io", "evil.example"]), P.k[0]))
    assert P.refresh().returncode == 0
    st = status()
    assert st["last_error"] == "" and st["last_error_at"] is None and st["failures_in_a_row"] == 0, st
    assert st["failures"] >= 1, st


def test_failures_are_counted_and_explained():
    before = env.request("status")["result"]["ops"].get("policy.refresh", {"errors": 0})["errors"]
    fails = status()["failures"]
    P.set_policy(url=P.server.url("/p/missing.json"))
    for _ in range(3):
        r = P.refresh()
        assert r.returncode == 1, r
    out = json.loads(r.stdout)["error"]
    assert out["code"] == "E_FETCH_HTTP" and "/p/missing.json" in out["message"], out
    assert "check policy.url" in out["hint"], out
    st = env.request("status")["result"]
    assert st["ops"]["policy.refresh"]["errors"] == before + 3, st["ops"]
    assert st["policy"]["failures"] == fails + 3 and st["policy"]["failures_in_a_row"] == 3, st
    t = env.cli("status")
    assert "failed: %d (3 in a row)" % (fails + 3) in t.stdout and "last error (" in t.stdout, t
    assert "issued " in t.stdout and "expires " in t.stdout and "trust: 1 of 2" in t.stdout, t
    # a self-signed server without policy.ca_file: the hint says what to set
    cfg = json.loads(json.dumps(env.config))
    cfg["policy"]["url"] = P.server.url("/p/current.json")
    del cfg["policy"]["ca_file"]
    env.write_config(cfg)
    assert env.request("daemon.reload")["ok"]
    out = json.loads(P.refresh().stdout)["error"]
    assert out["code"] == "E_FETCH_TLS" and "policy.ca_file" in out["hint"], out
    P.set_policy(ca_file=P.server.cert)
    assert P.refresh().returncode == 0


def test_keys_error_is_recorded():
    # a key file that breaks while the daemon is down: it starts (the machine keeps its
    # ports and links), and a refresh records E_KEYS for status
    good = json.loads(json.dumps(env.config))
    bad = json.loads(json.dumps(good))
    bad["policy"]["keys"] = [os.path.join(P.keydir, "gone.pem")]
    env.stop()
    env.write_config(bad)
    env.start()
    try:
        r = P.refresh()
        assert json.loads(r.stdout)["error"]["code"] == "E_KEYS", r
        st = status()
        assert "trusted keys unusable" in st["last_error"] and st["last_error_at"], st
        assert st["trust"]["usable"] is False and st["keys_error"], st
    finally:
        env.stop()
        env.write_config(good)
        env.start()


def test_check_config_and_reload_load_keys_and_ca():
    good = json.loads(json.dumps(env.config))
    for field, value, needle in (("keys", [os.path.join(P.keydir, "gone.pem")], "policy.keys[0]"),
                                 ("ca_file", env.path("cert", "gone.pem"), "policy.ca_file"),
                                 ("ca_file", P.keys[0][1], "no PEM certificate"),
                                 ("threshold", 3, "policy.threshold")):
        bad = json.loads(json.dumps(good))
        bad["policy"][field] = value
        env.write_config(bad)
        r = subprocess.run([rt.RAMPARTD, "--check-config", "-c", env.config_path],
                           capture_output=True, text=True)
        assert r.returncode == 78 and needle in r.stderr and "OK" not in r.stdout, (field, r)
        r = env.cli("--json", "reload")
        out = json.loads(r.stdout)
        assert r.returncode == 1 and out["error"]["code"] == "E_CONFIG", (field, out)
        assert needle in out["error"]["message"] and "running configuration stays" in out["error"]["message"], out
    env.write_config(good)
    r = subprocess.run([rt.RAMPARTD, "--check-config", "-c", env.config_path], capture_output=True, text=True)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r
    # the running config stayed: a refresh still works
    assert P.refresh().returncode == 0


def test_status_shows_trust():
    st = status()
    t = st["trust"]
    ids = {k["keyid"] for k in t["keys"]}
    assert t["threshold"] == 1 and t["usable"] is True and len(ids) == 2, t
    assert {k["source"] for k in t["keys"]} == {os.path.join(P.keydir, "k0.pem"), os.path.join(P.keydir, "k1.pem")}, t
    assert {k["algorithm"] for k in t["keys"]} == {"Ed25519"}, t
    r = env.cli("--json", "diag", "bundle")
    b = json.loads(r.stdout)["result"]
    assert {k["keyid"] for k in b["status"]["policy"]["trust"]["keys"]} == ids, b


def test_key_dirs_take_pub_files():
    d = env.path("pubkeys")
    os.mkdir(d, 0o755)
    with open(P.keys[0][1], "rb") as s, open(os.path.join(d, "signer1.pub"), "wb") as o:
        o.write(s.read())
    r = env.cli("--json", "policy", "verify", "--db", env.path("state", "policy.db"), "--keys", d)
    assert r.returncode == 0 and json.loads(r.stdout)["result"]["verified"], r
    env_bytes = sign(payload(1), P.k[0])
    with open(env.path("secret", "e.json"), "wb") as f:
        f.write(env_bytes)
    r = sign_cli("--verify", "--keys", d, env.path("secret", "e.json"))
    assert r.returncode == 0, r
    empty = env.path("nokeys")
    os.mkdir(empty, 0o755)
    r = env.cli("policy", "verify", "--keys", empty)
    assert r.returncode == 2 and "*.pem or *.pub" in r.stderr, r


def test_missing_db_is_named():
    r = env.cli("--json", "policy", "check", "--db", env.path("state", "polcy.db"), "alpine")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["error"]["code"] == "E_NO_POLICY", out
    assert "polcy.db" in out["error"]["message"], out
    r = env.cli("--json", "policy", "show", "--db", env.path("stat", "policy.db"))
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["code"] in ("E_NO_POLICY", "E_STORE_PATH"), r


def test_show_db_lists_registries_offline():
    r = env.cli("--json", "policy", "show", "--db", env.path("state", "policy.db"), user="nobody")
    s = json.loads(r.stdout)["result"]
    assert r.returncode == 0 and [e["host"] for e in s["registries"]], s
    assert s["total"] == len(s["registries"]) and len(s["signers"]) == 1, s
    t = env.cli("policy", "show", "--db", env.path("state", "policy.db"), user="nobody")
    assert "ghcr.io" in t.stdout and "signers:" in t.stdout, t


def test_refresh_progress_only_on_a_terminal():
    import pty
    import select
    # a server that drips a byte a second (the low-speed limit ends it after ~2 s): the
    # CLI shows that it is waiting, on a terminal only
    P.set_policy(url=P.server.url("/drip?n=50&delay=1"))
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([env.cli_path, "--socket", env.sock, "policy", "refresh"],
                             stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        seen = b""
        while p.poll() is None or select.select([master], [], [], 0)[0]:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        p.wait(timeout=30)
    finally:
        os.close(master)
    assert b"refreshing the policy" in seen and b"waiting for the policy server" in seen, seen
    assert b"\x1b[K" in seen, seen  # the progress line is erased before the result
    r = env.cli("policy", "refresh")   # not a terminal: no progress, no escape codes
    assert "\x1b" not in r.stderr + r.stdout and "waiting" not in r.stderr, r
    P.set_policy(url=P.server.url("/p/current.json"))


try:
    rt.run_tests([test_sign_refuses_what_machines_refuse,
                  test_same_version_new_content_is_refused_and_recorded,
                  test_failures_are_counted_and_explained,
                  test_keys_error_is_recorded,
                  test_check_config_and_reload_load_keys_and_ca,
                  test_status_shows_trust,
                  test_key_dirs_take_pub_files,
                  test_missing_db_is_named,
                  test_show_db_lists_registries_offline,
                  test_refresh_progress_only_on_a_terminal])
finally:
    P.cleanup()
