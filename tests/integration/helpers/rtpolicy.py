# SPDX-License-Identifier: ISC
"""Policy fixtures for integration tests: TEST-ONLY keys made with the openssl CLI
at run time, payloads, envelopes signed with rampart-sign, and a daemon Env wired
to a local HTTPS policy server (127.0.0.1 only)."""
import base64
import json
import os
import subprocess
import time

import rt
from policy_server import PolicyServer

SIGN = os.path.join(rt.BUILD, "rampart-sign")


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def gen_key(dirpath, name, alg="ed25519"):
    key = os.path.join(dirpath, name + ".key")
    pub = os.path.join(dirpath, name + ".pem")
    if alg == "ed25519":
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True,
                       capture_output=True)
    else:
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    os.chmod(key, 0o600)
    os.chmod(pub, 0o644)
    return key, pub


def payload(version, hosts=("ghcr.io",), org="acme", expires_in=86400, hub=False, extra=None):
    now = int(time.time())
    p = {"org": org, "version": version, "issued_at": rfc3339(now - 60),
         "expires_at": rfc3339(now + expires_in), "allow_docker_hub": hub,
         "registries": [{"host": h, "nickname": "n-" + h.replace("*", "star")} for h in hosts]}
    if extra:
        p.update(extra)
    return p


def sign(payload_obj, *keys, raw=None, check=True):
    """Returns the envelope bytes signed by each key file (in order, duplicates allowed).
    check=False signs even an invalid payload (to test that the daemon refuses it)."""
    data = raw if raw is not None else json.dumps(payload_obj, indent=1).encode()
    args = [SIGN] + ([] if check else ["--no-check"])
    for k in keys:
        args += ["--key", k]
    args += ["-"]
    r = subprocess.run(args, input=data, capture_output=True)
    if r.returncode != 0:
        raise AssertionError("rampart-sign failed: %s" % r.stderr.decode())
    return r.stdout


def envelope_with_sigs(env_bytes_list):
    """Merges the signatures of several envelopes over the same payload into one."""
    envs = [json.loads(e) for e in env_bytes_list]
    out = dict(envs[0])
    out["signatures"] = [s for e in envs for s in e["signatures"]]
    return json.dumps(out).encode()


def b64(b):
    return base64.b64encode(b).decode()


class PolicyEnv:
    """rampartd + a local HTTPS server publishing ROOT/current.json."""

    def __init__(self, name, threshold=1, nkeys=2, extra_config=None):
        rt.need_root()
        self.env = rt.Env(name=name)
        self.keydir = self.env.path("etc", "keys")
        os.mkdir(self.keydir, 0o755)
        self.secret = self.env.path("secret")   # private keys: not under etc/keys
        os.mkdir(self.secret, 0o700)
        self.keys = [gen_key(self.secret, "k%d" % i) for i in range(nkeys)]
        for i, (_, pub) in enumerate(self.keys):
            dst = os.path.join(self.keydir, "k%d.pem" % i)
            with open(pub, "rb") as s, open(dst, "wb") as d:
                d.write(s.read())
            os.chmod(dst, 0o644)
        self.untrusted = gen_key(self.secret, "untrusted")
        self.www = self.env.path("www")
        os.mkdir(self.www, 0o755)
        os.mkdir(self.env.path("cert"), 0o755)
        self.server = PolicyServer(root=self.www, cert_dir=self.env.path("cert"))
        self.server.start()
        cfg = dict(self.env.config)
        cfg["policy"] = {"org": "acme", "url": self.server.url("/p/current.json"),
                         "ca_file": self.server.cert,
                         "keys": [os.path.join(self.keydir, "k%d.pem" % i) for i in range(nkeys)],
                         "threshold": threshold, "refresh_interval_s": 0,
                         "refresh_on_start": False, "total_timeout_s": 5,
                         "connect_timeout_s": 3, "low_speed_time_s": 2,
                         "low_speed_bytes": 100}
        if extra_config:
            for k, v in extra_config.items():
                if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                    cfg[k].update(v)
                else:
                    cfg[k] = v
        self.env.write_config(cfg)

    @property
    def k(self):
        return [k for k, _ in self.keys]

    def publish(self, data, name="current.json"):
        tmp = os.path.join(self.www, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.www, name))

    def set_policy(self, **changes):
        cfg = json.loads(json.dumps(self.env.config))
        cfg["policy"].update(changes)
        self.env.write_config(cfg)
        r = self.env.request("daemon.reload")
        assert r["ok"], r

    def refresh(self, user=None):
        return self.env.cli("--json", "policy", "refresh", user=user)

    def check(self, *refs, user=None, db=False):
        args = ["--json", "policy", "check"] + (["--db", self.env.path("state", "policy.db")] if db else []) + list(refs)
        r = self.env.cli(*args, user=user)
        try:
            out = json.loads(r.stdout)
            return r.returncode, out["result"]["results"] if out["ok"] else out
        except ValueError:
            raise AssertionError("policy check output: %r" % (r,))

    def version(self):
        st = self.env.request("status")["result"]["policy"]
        return st.get("version")

    def cleanup(self):
        try:
            self.server.stop()
        finally:
            self.env.cleanup()
