#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Refresh cost from an OCI registry vs a plain HTTPS URL, in the same run (issue 19).

Runs as root inside its own network + mount namespace (127.0.0.1 only): Debian's
docker-registry with TLS from a test CA (anonymous, and with token auth), and the test
suite's HTTPS policy server, serving the same signed 1,000-entry envelope.  rampartd
refreshes from each source N times unchanged and N times changed (a new signed version
each time); per refresh we record the requests and bytes rampart-fetch reports
(`status`: last_fetch_requests, last_fetch_bytes), the requests docker-registry logged,
and the refresh duration.  Prints one JSON line per case, then a markdown table.

usage: bench/bench_oci.py BUILD_DIR [N]     (scripts/bench runs it)
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
BUILD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(SRC, "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20
os.environ.update({"RAMPART_BUILD": BUILD, "RAMPARTD": os.path.join(BUILD, "rampartd"),
                   "RAMPART_CLI": os.path.join(BUILD, "rampart"), "RAMPART_SRC": SRC})
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "helpers"))
if os.geteuid() != 0:
    print("SKIP: bench_oci needs root (namespaces, a daemon as root)")
    sys.exit(0)

import oci_registry as oci  # noqa: E402

HOSTS = oci.enter_namespace(os.path.abspath(__file__), marker="RAMPART_BENCH_OCI_NS")
import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

REPO = "acme/policy"
ENTRIES = 1000
P = rtpolicy.PolicyEnv("bench-oci")
env = P.env
certs = env.path("certs")
os.mkdir(certs, 0o755)
CA, CERT, KEY = oci.make_ca(certs)
BUNDLE = env.path("ca-bundle.pem")
with open(BUNDLE, "w") as f:
    f.write(open(CA).read() + open(P.server.cert).read())
CRED = env.path("etc", "registry.cred")
with open(CRED, "w") as f:
    f.write("rampart:bench-pw\n")
os.chmod(CRED, 0o600)
issuer = oci.TokenIssuer(certs)
reg = oci.Registry(env.path("reg"), 16443, CA, CERT, KEY).start()
treg = oci.Registry(env.path("treg"), 16444, CA, CERT, KEY,
                    auth_yaml=issuer.yaml("https://127.0.0.1:16445/token")).start()
tsrv = oci.Hostile(16445, CERT, KEY).start()


def issue(h):
    from urllib.parse import parse_qs, urlparse
    _, repo, actions = parse_qs(urlparse(h.path).query)["scope"][0].split(":")
    return 200, {"Content-Type": "application/json"}, json.dumps(
        {"token": issuer.token(repo, actions.split(","))}).encode()


tsrv.routes["/token"] = issue
env.start()
version = [0]
hosts = ["r%04d.example.com" % i for i in range(ENTRIES)]


def new_envelope():
    version[0] += 1
    return sign(payload(version[0], hosts), P.k[0])


def publish_all(envelope):
    path = env.path("envelope.json")
    with open(path, "wb") as f:
        f.write(envelope)
    for port, cred in ((16443, []), (16444, ["--credentials", CRED])):
        subprocess.run([rtpolicy.SIGN, "publish", "--quiet", "--ca-file", CA] + cred +
                       [path, "oci://127.0.0.1:%d/%s:current" % (port, REPO)],
                       check=True, capture_output=True, timeout=60)
    P.publish(envelope)


def refresh_once(expect):
    t0 = time.monotonic()
    r = P.refresh()
    wall = (time.monotonic() - t0) * 1000
    out = json.loads(r.stdout)
    out = out.get("result", out)  # the CLI's --json envelope {ok, command, result}
    assert r.returncode == 0 and out["outcome"] == expect, (r, env.daemon_log()[-1500:])
    st = env.request("status")["result"]["policy"]
    return out["duration_ms"], wall, st["last_fetch_requests"], st["last_fetch_bytes"]


def measure(name, url, registry=None, more=None):
    cfg = {"url": url, "ca_file": BUNDLE}
    cfg.update(more or {})
    c = json.loads(json.dumps(env.config))
    c["policy"].pop("registry_credentials", None)
    env.write_config(c)
    P.set_policy(**cfg)
    res = {}
    for kind in ("changed", "unchanged"):
        rows, logged = [], []
        for _ in range(N if kind == "unchanged" else max(3, N // 4)):
            if kind == "changed":
                publish_all(new_envelope())
            mark = registry.mark() if registry else 0
            rows.append(refresh_once("updated" if kind == "changed" else "unchanged"))
            if registry:
                logged.append(registry.requests_since(mark))
        ms = [r[0] for r in rows]
        res[kind] = {"refreshes": len(rows), "requests": rows[-1][2], "bytes": rows[-1][3],
                     "ms_median": statistics.median(ms), "ms_min": min(ms),
                     "registry_requests": len(logged[-1]) if logged else None,
                     "registry_body_bytes": sum(x[3] for x in logged[-1]) if logged else None,
                     "blob_downloads": sum(1 for x in (logged[-1] if logged else []) if "/blobs/" in x[1])}
    res["case"] = name
    print(json.dumps(res), flush=True)
    return res


try:
    publish_all(new_envelope())
    refresh_once("updated")
    env_len = len(open(env.path("envelope.json"), "rb").read())
    results = [
        measure("https (plain URL, ETag)", P.server.url("/p/current.json")),
        measure("oci, anonymous", "oci://127.0.0.1:16443/%s:current" % REPO, reg),
        measure("oci, Bearer token", "oci://127.0.0.1:16444/%s:current" % REPO, treg,
                {"registry_credentials": CRED}),
    ]
    base = results[0]["unchanged"]["ms_median"]
    print()
    print("Envelope: %d entries, %d bytes. %d unchanged and %d changed refreshes per source; "
          "requests and bytes as rampart-fetch counted them (headers included), the registry's "
          "access log in brackets; time is the refresh's duration_ms (fork + exec of "
          "rampart-fetch, TLS, transfer, and for a change verify + store), median. Times on "
          "a shared machine are noisy and include each server's TLS handshake (the HTTPS "
          "baseline is a Python server, the registry is Go): track the request and byte "
          "counts."
          % (ENTRIES, env_len, N, max(3, N // 4)))
    print()
    print("| source | unchanged: requests | bytes in | blob downloads | ms (median) | vs https "
          "| changed: requests | bytes in | ms (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        u, c = r["unchanged"], r["changed"]
        logged = " [%s]" % u["registry_requests"] if u["registry_requests"] is not None else ""
        clogged = " [%s]" % c["registry_requests"] if c["registry_requests"] is not None else ""
        print("| %s | %d%s | %d | %d | %.0f | **%.2f** | %d%s | %d | %.0f |" % (
            r["case"], u["requests"], logged, u["bytes"], u["blob_downloads"], u["ms_median"],
            u["ms_median"] / base if base else 0, c["requests"], clogged, c["bytes"],
            c["ms_median"]))
    anon = results[1]["unchanged"]
    print()
    print("Target (anonymous OCI, unchanged): no blob downloaded and at most 2 requests: "
          "**%s** (%d request, %d blob downloads)." % (
              "met" if anon["blob_downloads"] == 0 and anon["requests"] <= 2 else "MISSED",
              anon["requests"], anon["blob_downloads"]))
finally:
    try:
        P.cleanup()
    finally:
        for s in (reg, treg):
            s.stop()
        tsrv.stop()
        oci.leave_namespace(HOSTS)
