# SPDX-License-Identifier: ISC
"""Demo helper (scripts/demo): in a private network + mount namespace, two
loopback registries holding acme/hello:1; skopeo copies from each with the
policy.json rampartd compiled (argv[1]).  Prints both outcomes.  Nothing leaves
the namespace; everything it started is stopped."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import e2e_env  # noqa: E402

e2e_env.enter_namespace()


def main():
    policy = os.path.abspath(sys.argv[1])
    env = e2e_env.E2EEnv("demo")
    try:
        for port in (5000, 5001):
            ref = env.ref(port)
            mark = env.registry(port).mark()
            print("$ skopeo --policy %s copy docker://%s dir:..." % (policy, ref))
            r = env.run([e2e_env.SKOPEO, "--policy", policy, "copy", "--quiet",
                         "--src-tls-verify=false", "docker://" + ref, "dir:" + env.path("d%d" % port)])
            print("   " + ("copied (exit 0)" if r.returncode == 0 else r.stderr.strip()))
            print("   registry :%d served %d blob(s)" % (port, len(env.registry(port).blob_gets(mark))))
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
