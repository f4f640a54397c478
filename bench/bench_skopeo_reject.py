# SPDX-License-Identifier: ISC
"""How long skopeo takes to refuse a pull with a 10,000-scope compiled
policy.json vs a 1-scope one: the engine-side cost users feel.  Runs in a
private network + mount namespace with a loopback registry (tests/e2e/e2e_env).
usage: bench_skopeo_reject.py POLICY_10K.json [RUNS]; prints one JSON line."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import e2e_env  # noqa: E402

e2e_env.enter_namespace()


def main():
    big = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    env = e2e_env.E2EEnv("bench", ports=(5001,))
    try:
        small = env.path("one-scope.json")
        with open(small, "w") as f:
            json.dump({"default": [{"type": "reject"}], "transports": {"docker": {
                "127.0.0.1:5000": [{"type": "insecureAcceptAnything"}]}}}, f)
        times = {"1": [], "10k": []}
        for i in range(runs):   # alternating, so load drifts hit both alike
            for name, pol in (("1", small), ("10k", big)):
                t0 = time.monotonic()
                r = env.run([e2e_env.SKOPEO, "--policy", pol, "copy", "--src-tls-verify=false",
                             "docker://" + env.ref(5001), "dir:" + env.path("d%d" % i)])
                times[name].append((time.monotonic() - t0) * 1e3)
                if r.returncode == 0 or "rejected by policy" not in r.stderr:
                    raise SystemExit("expected a policy rejection: %s" % r.stderr)
        m1, m10 = statistics.median(times["1"]), statistics.median(times["10k"])
        print(json.dumps({"bench": "skopeo_reject", "runs": runs, "one_scope_ms_median": round(m1, 1),
                          "scopes_10k_ms_median": round(m10, 1), "ratio": round(m10 / m1, 2)}))
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
