#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""docker pull of an image that is already present, with and without rampart-authz
(issue 14), run by scripts/bench as root.  Two private dockerds in one private network
and mount namespace (tests/e2e/e2e_env.py), one with "authorization-plugins":
["rampart"], one without, both already holding 127.0.0.1:5000/acme/hello:1; pulls
alternate between them (A B A B ...) so drift on this shared machine hits both alike.
Prints one JSON line: median and p90 wall time of each, and the ratio of the medians."""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "helpers"))
import e2e_env  # noqa: E402

e2e_env.enter_namespace()
from docker_env import PLUGIN_SOCK, Dockerd, PluginSupervisor  # noqa: E402
from rtauthz import AuthzEnv  # noqa: E402

ROUNDS = int(os.environ.get("RAMPART_BENCH_PULLS", "15"))


def timed_pull(d, ref):
    t = time.perf_counter()
    r = d.docker("pull", "-q", ref)
    if r.returncode != 0:
        raise AssertionError(r)
    return (time.perf_counter() - t) * 1000


def main():
    env = e2e_env.E2EEnv("bench-pull", ports=(5000,))
    authz = sup = with_p = without = None
    try:
        authz = AuthzEnv("bench-pull", hosts=("127.0.0.1:5000",), docker={"socket": PLUGIN_SOCK})
        sup = PluginSupervisor(authz)
        with_p = Dockerd(env, "p", plugin=True, ports=(5000,))
        without = Dockerd(env, "n", plugin=False, ports=(5000,))
        ref = env.ref(5000)
        for d in (with_p, without):
            timed_pull(d, ref)   # the first pull fetches; every later one finds it present
            timed_pull(d, ref)
        a, b = [], []
        for i in range(ROUNDS):
            if i % 2:
                a.append(timed_pull(with_p, ref))
                b.append(timed_pull(without, ref))
            else:
                b.append(timed_pull(without, ref))
                a.append(timed_pull(with_p, ref))
        q = lambda v: sorted(v)[int(len(v) * 0.9)]  # noqa: E731
        print(json.dumps({"with_ms": round(statistics.median(a), 1), "without_ms": round(statistics.median(b), 1),
                          "with_p90_ms": round(q(a), 1), "without_p90_ms": round(q(b), 1),
                          "ratio": round(statistics.median(a) / statistics.median(b), 3), "n": ROUNDS}))
    finally:
        for d in (with_p, without):
            if d is not None:
                d.stop()
        if sup is not None:
            sup.stop()
        if authz is not None:
            authz.cleanup()
        env.cleanup()


main()
