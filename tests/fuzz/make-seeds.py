#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Regenerates the checked-in seed corpora in tests/fuzz/corpus/<target>/.

Seeds are small, deterministic and derived from the repo's own test vectors
(tests/vectors/dsse, tests/vectors/hosts, the reference table in
tests/unit/test_reference.c) plus hand-written cases.  Input formats:

  frame      2 bytes max frame length - 1 (big-endian), then the byte stream
  request    1 byte peer selector (0 root, 1 owner, 2 nobody, 3 admin group;
             +0x10: an fd rides along), then one request's JSON
  dsse       an envelope (JSON)
  payload    a policy payload (JSON)
  root       a root payload (JSON), or byte 0x01 then a root envelope
  reference  an image reference
  hosts      1 byte flags (bit 0 fix localhost, bits 1-2 how many extra names),
             then a hosts file
  fetch      1 byte (bits 0-1 the child's wait status, bits 2-3 the body
             limit), then the fetch child's answer (src/core/fetch_wire.h)
  oci        1 byte: odd = an oci:// URL follows, even = an artifact manifest (JSON)
  proxy_stats  rampart-proxy's stats file (JSON), as rampartd reads it

usage: tests/fuzz/make-seeds.py   (rewrites the corpus directories)
"""
import base64
import glob
import hashlib
import json
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "corpus")


def put(target, items):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for b in items:
        if isinstance(b, str):
            b = b.encode()
        h = hashlib.sha1(b).hexdigest()[:16]
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(d, "seed-" + h), "wb") as f:
            f.write(b)
    print("%-10s %3d seeds" % (target, len(seen)))


def frame(b):
    return struct.pack(">I", len(b)) + b


def frames():
    ping = json.dumps({"op": "ping", "id": 1}).encode()
    mx = struct.pack(">H", 65535)
    small = struct.pack(">H", 15)
    return [mx + frame(ping), mx + frame(ping) + frame(ping), mx + frame(ping)[:7],
            mx + b"\0\0\0\0", mx + b"\xff\xff\xff\xff" + ping, small + frame(ping),
            mx + struct.pack(">I", 65536) + b"{", mx + b"\0\0", mx + frame(b"{}") + b"\0\0\0\x05{}"]


def requests():
    ops = [("ping", None), ("status", {}), ("daemon.reload", None),
           ("policy.check", {"ref": "ghcr.io/org/app:1"}),
           ("policy.check", {"ref": "x.corp.example/a"}),
           ("policy.check", {"refs": ["alpine", "reg.example.com:5000/x", "Bad Ref"]}),
           ("policy.check", {"ref": "a", "refs": ["b"]}),
           ("policy.show", {"offset": 1, "limit": 2}), ("policy.show", {"limit": 0}),
           ("policy.refresh", None), ("policy.refresh", {"x": 1}),
           ("port.bind", {"proto": "tcp", "addr": "127.0.0.1", "port": 80, "backlog": 16}),
           ("port.bind", {"proto": "udp", "addr": "::1", "port": 53, "v6only": True}),
           ("port.bind", {"port": 70000}),
           ("links.install", {"force": True}), ("links.remove", None),
           ("hosts.ensure", {"fix_localhost": True}), ("hosts.remove", {}),
           ("socketlink.ensure", {"force": False}), ("socketlink.remove", None),
           ("socketlink.status", None), ("diag.trace", {"seconds": 2}),
           ("diag.audit", {"max": 5}), ("helper.uninstall", {"purge": False}),
           ("no.such.op", None)]
    out = []
    for i, (op, args) in enumerate(ops):
        req = {"op": op, "id": i}
        if args is not None:
            req["args"] = args
        body = json.dumps(req).encode()
        peers = [0, 1, 2, 3] if i % 3 == 0 else [i % 4]
        if op == "diag.trace":
            peers = [0x10, 0x12]
        for p in peers:
            out.append(bytes([p]) + body)
    out += [b"\x00" + x for x in (b"{", b"[]", b"null", b'{"op":1}', b'{"op":"ping","id":[1]}',
                                  b'{"op":"ping","args":[]}', b'{"op":"ping","id":"s"}',
                                  b'{"op":"ping","op":"ping"}', b'{"op":"policy.check","args":{"ref":"a\\u0000b"}}')]
    return out


def vector_envelopes():
    out = []
    for p in sorted(glob.glob(os.path.join(SRC, "tests/vectors/dsse/*.json"))):
        with open(p) as f:
            out.append(json.dumps(json.load(f)["envelope"], indent=1).encode())
    return out


def dsse():
    envs = vector_envelopes()
    e = json.loads(envs[0])
    bad = [dict(e, payload="!!"), dict(e, payload="aGk"), dict(e, signatures=[]),
           dict(e, signatures=[{"sig": "AAAA"}] * 17), dict(e, payloadType=7)]
    return envs + [json.dumps(b).encode() for b in bad] + [b"{}", b"[", b'"x"']


def payloads():
    out = []
    for p in sorted(glob.glob(os.path.join(SRC, "tests/vectors/dsse/*.json"))):
        with open(p) as f:
            env = json.load(f)["envelope"]
        out.append(base64.b64decode(env["payload"]))
    base = {"org": "acme", "version": 3, "issued_at": "2025-01-01T00:00:00Z",
            "expires_at": "2099-12-31T23:59:59Z", "allow_docker_hub": True,
            "registries": [{"host": "ghcr.io", "nickname": "GitHub"},
                           {"host": "*.corp.example.com", "nickname": "corp"},
                           {"host": "reg.example.com:5000"},
                           {"host": "localhost:5000", "nickname": "dev"},
                           {"host": "10.0.0.1", "nickname": ""}]}
    out.append(json.dumps(base).encode())
    for change in ({"version": 0}, {"version": 1.5}, {"org": ""}, {"extra": 1},
                   {"expires_at": "2024-02-30T00:00:00Z"}, {"allow_docker_hub": "yes"},
                   {"registries": [{"host": "A.example"}]}, {"registries": [{"host": "*.com"}]},
                   {"registries": [{"host": "a.example:0"}]},
                   {"registries": [{"host": "x.example"}, {"host": "x.example"}]},
                   {"registries": [{"host": "x.example", "nickname": "\u202e"}]},
                   {"registries": [{"host": "a\u0000b.example"}]}):
        out.append(json.dumps(dict(base, **change)).encode())
    v2 = dict(base, schema_version=2,
              registries=[{"host": "quay.io/acme/"}, {"host": "ghcr.io", "mode": "warn"}],
              deny=[{"host": "quay.io/acme/legacy/"}, {"host": "*.evil.example", "mode": "warn"}])
    out.append(json.dumps(v2).encode())
    for change in ({"schema_version": 3}, {"deny": [{"host": "ghcr.io"}]},
                   {"deny": [{"host": "quay.io/acme/"}]}, {"deny": {}},
                   {"registries": [{"host": "quay.io/" + "a/" * 65}]},
                   {"registries": [{"host": "ghcr.io", "companions": [
                       "pkg-containers.githubusercontent.com", "blobs.example.com:8443"]},
                       {"host": "quay.io", "mode": "warn", "companions": ["cdn.quay.example"]}]},
                   {"registries": [{"host": "ghcr.io", "companions": ["*.example.com"]}]},
                   {"deny": [{"host": "ghcr.io", "companions": ["a.example.com"]}]}):
        out.append(json.dumps(dict(v2, **change)).encode())
    return out


def references():
    with open(os.path.join(SRC, "tests/unit/test_reference.c"), encoding="utf-8") as f:
        text = f.read()
    refs = []
    for m in re.finditer(r'^\s*\{"((?:[^"\\]|\\.)*)",', text, re.M):
        s = m.group(1).encode().decode("unicode_escape").encode("latin-1")
        refs.append(s)
    h64 = b"0123456789abcdef" * 4
    refs += [b"ghcr.io/org/app@sha256:" + h64, b"app:v1@sha256:" + h64,
             b"[2001:db8::1]:5000/a/b:c", b"Foo/bar", b"a" * 300, b"x/" * 200]
    return refs


def hosts():
    out = []
    for p in sorted(glob.glob(os.path.join(SRC, "tests/vectors/hosts/*.in"))):
        with open(p, "rb") as f:
            data = f.read()
        for flags in (0, 1, 4, 7):
            out.append(bytes([flags]) + data)
    out.append(b"\x00")
    out.append(b"\x03127.0.0.1 localhost\n# BEGIN rampart\n::1 localhost\n# END rampart")
    return out


def roots():
    pem = ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="
           "\n-----END PUBLIC KEY-----\n")
    base = {"version": 2, "expires_at": "2099-01-01T00:00:00Z", "org": "acme",
            "root_keys": [pem], "root_threshold": 1, "policy_keys": [pem], "policy_threshold": 1}
    out = [json.dumps(base).encode()]
    for change in ({"version": 0}, {"root_threshold": 2}, {"root_keys": [pem, pem]},
                   {"extra": 1}, {"policy_keys": []}, {"expires_at": "never"}):
        out.append(json.dumps(dict(base, **change)).encode())
    env = {"payloadType": "application/vnd.rampart.root+json",
           "payload": base64.b64encode(out[0]).decode(), "signatures": [{"sig": "AAAA"}]}
    out.append(b"\x01" + json.dumps(env).encode())
    return out
def fetch_wire(kind, body=b"", http=200, curl=0, uid=65534, gid=65534, cls=0,
               etag=b"", text=b"", body_len=None):
    """struct fetch_wire (src/core/fetch_wire.h), then the body."""
    magic = 0x72706632
    n = len(body) if body_len is None else body_len
    hdr = struct.pack("=IIiiIIQIIQ", magic, kind, http, curl, uid, gid, n, cls, 1, len(body))
    return hdr + etag.ljust(256, b"\0")[:256] + text.ljust(256, b"\0")[:256] + body


def fetches():
    env = b'{"payloadType":"application/vnd.rampart.policy+json","payload":"e30=","signatures":[]}'
    sel_ok, sel_big = 0x04, 0x08  # exit 0 with a 1 KiB / 64 KiB limit
    return [
        bytes([sel_ok]) + fetch_wire(1, env, etag=b'"abc"'),           # FW_OK
        bytes([sel_big]) + fetch_wire(1, b"x" * 2000),
        bytes([sel_ok]) + fetch_wire(2, http=304),                       # not modified
        bytes([sel_ok]) + fetch_wire(3, http=503),                       # FW_HTTP
        bytes([sel_ok]) + fetch_wire(4),                                 # too large
        bytes([sel_ok]) + fetch_wire(5, curl=60, cls=5, text=b"SSL certificate problem"),
        bytes([sel_ok]) + fetch_wire(6, uid=0, gid=0, text=b"setresuid failed"),
        bytes([sel_ok]) + fetch_wire(8, text=b"Permission denied"),      # FW_EXEC
        bytes([sel_ok]) + fetch_wire(9, text=b"scheme differs"),         # FW_URL
        bytes([sel_ok]) + fetch_wire(10, cls=3, text=b"layer digest differs"),  # FW_OCI
        bytes([sel_ok]) + fetch_wire(10, cls=99, text=b"unknown row"),   # FW_OCI, bad class
        bytes([sel_ok]) + fetch_wire(1, b"short", body_len=10),          # truncated body
        bytes([sel_ok]) + fetch_wire(1, b"abc") + b"extra",             # more than announced
        bytes([sel_ok]) + fetch_wire(1, env, uid=0),                     # claims root
        bytes([0x01]) + fetch_wire(1, env),                              # exit 1
        bytes([0x02]) + fetch_wire(1, env),                              # killed
        bytes([0x00]) + fetch_wire(1, b"x" * 17),                        # over a 16 B limit
        bytes([sel_ok]) + fetch_wire(1, env)[:100],                      # half a header
        b"\x04",
    ]


def oci():
    """byte 0 odd: an oci:// URL; even: an artifact manifest."""
    d = "sha256:" + "a" * 64
    urls = ["oci://registry.example.com/acme/policy:current", "oci://127.0.0.1:5000/a/b@" + d,
            "oci://[::1]:443/x/y__z/w-v:v1.2", "oci://h/A:x", "oci://u@h/a:b", "oci://h/a",
            "oci://h:0/a:b", "oci://h/a@sha256:AB", "oci://h/a..b:t"]
    layer = {"mediaType": "application/vnd.rampart.policy.dsse+json", "digest": d, "size": 10}
    base = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.rampart.policy",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": d, "size": 2},
            "layers": [layer], "annotations": {"vnd.rampart.policy.repository": "acme/policy"}}
    mans = [base, dict(base, layers=[layer, layer]), dict(base, artifactType="x"),
            dict(base, annotations={"vnd.rampart.policy.repository": "acme/other"}),
            dict(base, layers=[dict(layer, size=1 << 40)]),
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": []}]
    return [b"\x01" + u.encode() for u in urls] + [b"\x00" + json.dumps(m).encode() for m in mans]


def proxy_stats():
    """rampart-proxy's stats file as the proxy writes it, and broken variants."""
    good = {"program": "rampart-proxy", "version": "0.1.0", "pid": 4242, "listen": "127.0.0.1:3128",
            "policy_version": 3, "accepted": 600, "allowed": 515, "denied": 47, "bad_requests": 13,
            "refused_busy": 0, "revoked": 1, "tunnels": 513, "tunnels_open": 2, "connections": 3,
            "started_at": 1796125247, "updated_at": 1796125263,
            "connect": {"allowed": 512, "denied": 46}, "http": {"allowed": 3, "denied": 1},
            "last_refusal": {"at": 1796125260, "kind": "connect", "subject": "reg-b.test:7777",
                             "message": "rampart: reg-b.test:7777 denied by policy acme v3: no rule"}}
    items = [good, dict(good, policy_version=0), {k: v for k, v in good.items() if k != "last_refusal"},
             dict(good, connect={"allowed": -1, "denied": 0}), dict(good, pid=0),
             dict(good, version="x" * 65), dict(good, program="rampart-authz"),
             dict(good, last_refusal=dict(good["last_refusal"], message="a\u001b[2Jb")),
             dict(good, tunnels_open=2 ** 62), dict(good, http=[1, 2]), []]
    out = [json.dumps(i) for i in items]
    return out + ['{"program": "rampart-proxy", "program": "x"}', '{"pid": 1e3}', "", "{"]


def main():
    put("frame", frames())
    put("request", requests())
    put("dsse", dsse())
    put("payload", payloads())
    put("reference", references())
    put("hosts", hosts())
    put("fetch", fetches())
    put("root", roots())
    put("oci", oci())
    put("proxy_stats", proxy_stats())


if __name__ == "__main__":
    main()
