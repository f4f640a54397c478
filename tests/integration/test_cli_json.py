# SPDX-License-Identifier: ISC
"""`rampart --json`: every command, its success and its refusals, prints exactly one
object on stdout that validates against schema/cli-output.schema.json, wherever --json
stands on the line; usage errors too.  A private rampartd (temp root for links, hosts
and the socket link) and an HTTPS policy server on 127.0.0.1."""
import json
import os
import socket
import sys

import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402
import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

rt.need_root()
with open(os.path.join(rt.SRC, "schema", "cli-output.schema.json")) as f:
    SCHEMA = json.load(f)
jsonschema.Draft202012Validator.check_schema(SCHEMA)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

P = rtpolicy.PolicyEnv("clijson")
env = P.env
root = env.path("root")
for d in ("usr/local/bin", "opt/tool/bin", "etc", "var/run", "home/owner/.docker/run"):
    os.makedirs(os.path.join(root, d), 0o755, exist_ok=True)
with open(os.path.join(root, "opt/tool/bin/docker"), "w") as f:
    f.write("#!/bin/sh\n")
with open(os.path.join(root, "etc/hosts"), "w") as f:
    f.write("127.0.0.1 localhost\n")
home = os.path.join(root, "home/owner")
engine = socket.socket(socket.AF_UNIX)
engine.bind(os.path.join(home, ".docker/run/docker.sock"))
for p in (home, os.path.join(home, ".docker"), os.path.join(home, ".docker/run"),
          os.path.join(home, ".docker/run/docker.sock")):
    os.chown(p, 65534, 65534)
cfg = json.loads(json.dumps(env.config))
cfg.update({"owner_user": "nobody",
            "links": {"bin_dir": os.path.join(root, "usr/local/bin"),
                      "app_dir": os.path.join(root, "opt/tool/bin"), "names": ["docker"]},
            "hosts": {"file": os.path.join(root, "etc/hosts"), "names": {}},
            "socket_link": {"path": os.path.join(root, "var/run/docker.sock"),
                            "target": ".docker/run/docker.sock", "home": home}})
env.write_config(cfg)
env.start()
DB = env.path("state", "policy.db")
SEEN = set()


def run(*args, rc=None, ok=None, user=None, where="front"):
    """Runs rampart with --json at the front, at the end, or in the middle; validates."""
    args = list(args)
    if where == "front":
        args = ["--json"] + args
    elif where == "end":
        args = args + ["--json"]
    else:
        args = args[:1] + ["--json"] + args[1:]
    r = env.cli(*args, user=user)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("not one JSON document: %r" % (r,))
    errors = sorted(VALIDATOR.iter_errors(doc), key=str)
    assert not errors, (args, doc, [e.message for e in errors])
    if rc is not None:
        assert r.returncode == rc, (args, r)
    if ok is not None:
        assert doc["ok"] is ok, (args, doc)
    SEEN.add(doc["command"])
    return doc


def test_core_commands():
    assert run("ping", ok=True, rc=0)["result"]["pong"] == "rampartd"
    s = run("status", where="end", ok=True, rc=0)["result"]
    assert "trust" in s["policy"], s
    run("reload", ok=True, rc=0)
    e = run("reload", user="nobody", ok=False, rc=1)["error"]
    assert e["code"] == "E_PERM", e
    v = run("--version", ok=True, rc=0)
    assert v["command"] == "rampart" and v["result"]["rampart"], v


def test_policy_commands():
    P.publish(sign(payload(1, ["ghcr.io"]), P.k[0]))
    assert run("policy", "refresh", ok=True, rc=0)["result"]["outcome"] == "updated"
    assert run("policy", "refresh", where="end", ok=True, rc=0)["result"]["outcome"] == "unchanged"
    P.publish(sign(payload(1, ["other.example"]), P.k[0]))
    e = run("policy", "refresh", ok=False, rc=1)["error"]
    assert e["code"] == "E_SAME_VERSION" and e["hint"], e
    d = run("policy", "check", "ghcr.io/a/b", "quay.io/x", "Bad/Ref", where="middle", rc=2)
    res = d["result"]["results"]
    assert [x["ref"] for x in res] == ["ghcr.io/a/b", "quay.io/x", "Bad/Ref"], res
    assert res[0]["allowed"] and not res[1]["allowed"] and res[2]["error"] == "E_REF", res
    assert d["result"]["all_allowed"] is False
    d = run("policy", "check", "--db", DB, "ghcr.io/a/b", user="nobody", ok=True, rc=0)
    assert d["result"]["results"][0]["ref"] == "ghcr.io/a/b", d
    s = run("policy", "show", user="nobody", ok=True, rc=0)["result"]
    assert isinstance(s["signers"], list) and len(s["signers"]) == 1, s
    s2 = run("policy", "show", "--db", DB, user="nobody", ok=True, rc=0)["result"]
    assert s2["signers"] == s["signers"] and s2["registries"] == s["registries"], (s, s2)
    v = run("policy", "verify", "--db", DB, "--keys", P.keydir, ok=True, rc=0)["result"]
    assert v["signers"] == s["signers"], v
    e = run("policy", "verify", "--db", DB, "--keys", P.keys[1][1], ok=False, rc=1)["error"]
    assert e["code"] == "E_SIGNATURE", e
    envf = env.path("secret", "env.json")
    with open(envf, "wb") as f:
        f.write(sign(payload(7, ["ghcr.io"]), P.k[0]))
    idb = env.path("state", "import.db")
    d = run("policy", "import", "--db", idb, "--keys", P.keydir, "--org", "acme", envf, ok=True, rc=0)
    assert d["result"]["new_version"] == 7, d
    e = run("policy", "import", "--db", idb, "--keys", P.keydir, "--org", "other", envf,
            ok=False, rc=1)["error"]
    assert e["code"] == "E_ORG", e
    e = run("policy", "check", ok=False, rc=2)["error"]
    assert e["code"] == "E_USAGE", e


def test_file_and_port_commands():
    run("links", "install", user="nobody", ok=True, rc=0)
    run("links", "remove", user="nobody", where="end", ok=True, rc=0)
    run("hosts", "ensure", user="nobody", ok=True, rc=0)
    run("hosts", "remove", user="nobody", ok=True, rc=0)
    run("socket-link", "ensure", user="nobody", ok=True, rc=0)
    run("socket-link", "status", user="nobody", where="end", ok=True, rc=0)
    run("socket-link", "remove", user="nobody", ok=True, rc=0)
    e = run("hosts", "ensure", user="daemon", ok=False, rc=1)["error"]
    assert e["code"] == "E_PERM", e
    e = run("bind", "8080", "--", "true", user="nobody", ok=False, rc=1)["error"]
    assert e["code"] == "E_PORT_DENIED", e
    e = run("bind", "--bogus", ok=False, rc=2)["error"]
    assert e["code"] == "E_USAGE", e


def test_enforce_commands():
    run("enforce", "status", ok=True, rc=0)
    run("enforce", "status", where="end", user="nobody")


def test_diag_commands():
    t = run("diag", "trace", "--seconds", "1", ok=True, rc=0)["result"]
    assert t["lines"][0]["type"] == "start" and t["lines"][-1]["type"] == "end", t
    a = run("diag", "audit", "--max", "2", where="end", ok=True, rc=0)["result"]
    assert 1 <= len(a["lines"]) <= 2, a
    b = run("diag", "bundle", user="nobody", ok=True, rc=0)["result"]
    assert b["audit"]["error"]["code"] == "E_PERM", b


def test_errors_and_usage():
    e = run("nosuchcommand", ok=False, rc=2)["error"]
    assert e["code"] == "E_USAGE" and e["hint"], e
    e = run("--timeout", "x", "ping", ok=False, rc=2)["error"]
    assert e["code"] == "E_USAGE" and "--timeout" in e["message"], e
    e = run("--socket", env.path("nope.sock"), "status", ok=False, rc=3)["error"]
    assert e["code"] == "E_UNREACHABLE" and "rampartd running" in e["hint"], e
    e = run("status", "extra", ok=False, rc=2)["error"]
    assert e["code"] == "E_USAGE", e


def test_uninstall_last():
    d = run("helper", "uninstall", ok=None)
    assert d["command"] == "helper uninstall", d
    env.proc.wait(timeout=20)
    env.proc = None


def test_every_command_was_validated():
    want = {"ping", "status", "reload", "rampart", "policy show", "policy check", "policy refresh",
            "policy verify", "policy import", "links install", "links remove", "hosts ensure",
            "hosts remove", "socket-link ensure", "socket-link remove", "socket-link status",
            "bind", "diag trace", "diag audit", "diag bundle", "helper uninstall",
            "enforce status"}
    assert want <= SEEN, sorted(want - SEEN)


try:
    rt.run_tests([test_core_commands, test_policy_commands, test_file_and_port_commands,
                  test_enforce_commands, test_diag_commands, test_errors_and_usage, test_uninstall_last,
                  test_every_command_was_validated])
finally:
    engine.close()
    P.cleanup()
