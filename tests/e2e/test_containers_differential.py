# SPDX-License-Identifier: ISC
"""Differential: for the references of docs/lookups.md (and the near misses it
names), `rampart policy check` and `skopeo copy --policy <compiled file>` agree
on allow/deny, except for the cases docs/enforcement.md lists, each in the
direction it says.

Then the same with a policy v2 (issue 18): repository allows, deny exceptions
carved out of an allowed host and repository (also on a port), warn rules of
both actions, docker.io/library/ and a deny inside it.  The daemon compiles
it at the refresh; its decisions are also compared with `rampart policy check
--payload` on the unsigned payload (the review an admin does before signing).

Every host name resolves to 127.0.0.1 through the namespace's private hosts
file, and plain registries on :80, :443 and :5000 hold every repository, so a
copy can only fail because of the policy (anything else fails the test).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration", "helpers"))

import e2e_env  # noqa: E402

e2e_env.enter_namespace()

import rt  # noqa: E402
import rtpolicy  # noqa: E402

POLICY = "/etc/containers/policy.json"
# docs/lookups.md, section 2, plus localhost:5000.  Repository-prefix rules cannot be
# signed yet (the payload validator refuses them); their mapping is unit-tested.
ENTRIES = ["ghcr.io", "reg.example.com:5000", "*.corp.example", "localhost:5000"]
# reference -> port its registry listens on (80 = no port: https fails, http:80 answers)
REFS = {
    "ghcr.io/acme/app:1": 80,
    "ghcr.io:443/acme/app:1": 443,
    "reg.example.com:5000/a:1": 5000,
    "reg.example.com:05000/a:1": 5000,
    "reg.example.com/a:1": 80,
    "a.corp.example/x:1": 80,
    "a.b.corp.example/x:1": 80,
    "corp.example/x:1": 80,
    "a.corp.example:5000/x:1": 5000,
    "quay.io/myorg/app:1": 80,
    "quay.io/myorg/a/b:1": 80,
    "quay.io/myorgx/app:1": 80,
    "quay.io/other/app:1": 80,
    "localhost:5000/app:1": 5000,
    "127.0.0.1:5000/app:1": 5000,
    "docker.io/trusted/app:1": 80,
    "trusted/app:1": 80,
    "alpine:1": 80,
    "index.docker.io/user/app:1": 80,
    "registry-1.docker.io/nginx:1": 80,
    "GHCR.IO/org/app:1": 80,
    "Foo/bar:1": 80,
    "example.com:1": 80,
}
# docs/enforcement.md, "Where the matchers differ": ref -> (rampart, engine)
DOCUMENTED = {
    "GHCR.IO/org/app:1": ("allow", "deny"),          # names are matched as written
    "reg.example.com:05000/a:1": ("allow", "deny"),  # the port as written
    "a.corp.example:5000/x:1": ("deny", "allow"),    # wildcard scopes match any port
}
# Policy v2: docs/enforcement.md, "Policy v2 forms".
V2_ALLOW = [{"host": "quay.io/acme/"}, {"host": "ghcr.io"}, {"host": "reg.example.com:5000"},
            {"host": "*.corp.example"}, {"host": "docker.io/library/"},
            {"host": "reg.example.com", "mode": "warn"}]
V2_DENY = [{"host": "quay.io/acme/legacy/"}, {"host": "ghcr.io/evil/"},
           {"host": "reg.example.com:5000/secret/"}, {"host": "bad.corp.example"},
           {"host": "docker.io/library/nginx/"}, {"host": "ghcr.io/new/", "mode": "warn"}]
V2_REFS = {
    "quay.io/acme/app:1": 80,
    "quay.io/acme/team/app:1": 80,
    "quay.io/acme-evil/app:1": 80,
    "quay.io/acme/legacy/app:1": 80,
    "quay.io/acme/legacyx:1": 80,
    "ghcr.io/org/app:1": 80,
    "ghcr.io/evil/app:1": 80,
    "ghcr.io/new/app:1": 80,            # a deny in mode warn blocks nothing
    "reg.example.com/a:1": 80,          # an allow in mode warn allows nothing
    "reg.example.com:5000/a:1": 5000,
    "reg.example.com:5000/secret/x:1": 5000,
    "a.corp.example/x:1": 80,
    "bad.corp.example/x:1": 80,
    "alpine:1": 80,
    "nginx:1": 80,
    "docker.io/acme/app:1": 80,
    "registry-1.docker.io/library/alpine:1": 80,
    "registry-1.docker.io/alpine:1": 80,
    "registry-1.docker.io/nginx:1": 80,
}
V2_DOCUMENTED = {
    "registry-1.docker.io/alpine:1": ("allow", "deny"),  # one alias scope, two Hub names
}
NAMES = ["ghcr.io", "reg.example.com", "a.corp.example", "a.b.corp.example", "corp.example",
         "quay.io", "registry-1.docker.io", "index.docker.io", "docker.io", "foo",
         "bad.corp.example"]


def repo_path(ref):
    """Where the registry must hold the image for ref (as the engine will ask)."""
    name = ref.rsplit(":", 1)[0]
    first, _, rest = name.partition("/")
    hub = True
    path = name
    if rest and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        path = rest
        hub = first in ("docker.io", "index.docker.io")  # c/image: no library/ for registry-1
    if hub and "/" not in path:
        path = "library/" + path
    return path


def engine_decides(env, ref, tag):
    r = env.run([e2e_env.SKOPEO, "--policy", POLICY, "copy", "--src-tls-verify=false",
                 "docker://" + ref, "dir:" + env.path("d" + tag)], timeout=60)
    if r.returncode == 0:
        return "allow"
    if "is rejected by policy" in r.stderr:
        return "deny"
    if "invalid reference format" in r.stderr:
        return "deny"   # the engine cannot even name it (Foo/bar): nothing is pulled
    raise AssertionError("skopeo copy %s failed for another reason: %s" % (ref, r.stderr))


def compare(env, pe, refs, documented, tag):
    """Both decide every reference; returns {ref: rampart decision}."""
    _, out = pe.check(*refs)
    rampart = {ref: ("allow" if res["allowed"] else "deny") for ref, res in zip(refs, out)}
    differ = {}
    for i, ref in enumerate(refs):
        eng = engine_decides(env, ref, "%s%d" % (tag, i))
        print("%-40s rampart %-5s skopeo %s" % (ref, rampart[ref], eng))
        if eng != rampart[ref]:
            differ[ref] = (rampart[ref], eng)
    assert differ == documented, "undocumented differences: %s" % {
        k: v for k, v in differ.items() if documented.get(k) != v}
    for ref in refs:   # and the test can fail: the two really were compared
        assert rampart[ref] in ("allow", "deny")
    print("ok   %d references: agree except the %d documented cases" % (len(refs), len(differ)))
    return rampart, out


def push_all(env, refs, pushed):
    for ref, port in refs.items():
        key = (port, repo_path(ref))
        if key not in pushed:
            env.push(port, key[1], "1")
            pushed.add(key)


def check_v2(env, pe):
    v2 = rtpolicy.payload(2, hosts=(), extra={"schema_version": 2, "registries": V2_ALLOW,
                                              "deny": V2_DENY})
    pe.publish(rtpolicy.sign(v2, pe.k[0]))
    r = pe.refresh()
    assert r.returncode == 0, r.stderr
    with open(POLICY) as f:
        compiled = json.load(f)["transports"]["docker"]
    print("v2 compiled:", " ".join("%s%s" % ("!" if v[0]["type"] == "reject" else "", k)
                                   for k, v in sorted(compiled.items())))
    assert compiled["quay.io/acme/legacy"] == [{"type": "reject"}], compiled
    assert "ghcr.io/new" not in compiled and "reg.example.com" not in compiled, compiled
    st = pe.env.cli("enforce", "status")
    assert st.returncode == 0 and "2 rules in mode warn not written" in st.stdout, st
    st = json.loads(pe.env.cli("--json", "enforce", "status").stdout)["result"]["containers"]
    assert st["omitted"]["warn"] == 2 and st["reject_scopes"] == 6, st
    rampart, out = compare(env, pe, list(V2_REFS), V2_DOCUMENTED, "v2-")
    warned = {ref for ref, res in zip(V2_REFS, out) if res.get("warn")}
    assert warned == {"ghcr.io/new/app:1", "reg.example.com/a:1"}, warned
    draft = env.path("draft.json")
    with open(draft, "w") as f:
        json.dump(v2, f)
    r = pe.env.cli("--json", "policy", "check", "--payload", draft, *V2_REFS)
    assert r.returncode in (0, 1), r.stderr
    offline = {ref: ("allow" if res["allowed"] else "deny")
               for ref, res in zip(V2_REFS, json.loads(r.stdout))}
    assert offline == rampart, "policy check --payload differs from the daemon"


def main():
    env = e2e_env.E2EEnv("i14c-diff", ports=(5000,), push=False)
    extra = []
    pe = None
    try:
        with open(env.path("hosts"), "a") as f:   # bind-mounted over /etc/hosts
            f.write("127.0.0.1 %s\n" % " ".join(NAMES))
        extra = [e2e_env.Registry(env.dir, 80), e2e_env.Registry(env.dir, 443)]
        pushed = set()
        push_all(env, REFS, pushed)
        push_all(env, V2_REFS, pushed)
        pe = rtpolicy.PolicyEnv("e2e-diff", extra_config={
            "enforce": {"mode": "enforce", "containers_policy": POLICY}})
        pe.env.start()
        pe.publish(rtpolicy.sign(rtpolicy.payload(1, hosts=ENTRIES), pe.k[0]))
        r = pe.refresh()
        assert r.returncode == 0, r.stderr
        compare(env, pe, list(REFS), DOCUMENTED, "v1-")
        check_v2(env, pe)
    finally:
        if pe is not None:
            pe.cleanup()
        for reg in extra:
            reg.stop()
        env.cleanup()


if __name__ == "__main__":
    main()
