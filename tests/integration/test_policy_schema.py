# SPDX-License-Identifier: ISC
"""schema/policy.schema.json and the C validator (rampart-sign --check) agree.

A small evaluator for the JSON Schema keywords the schema uses runs over the
samples and over many payload variants; for each, the schema verdict must
equal the C verdict, except for the rules the schema documents it cannot
express (marked C_ONLY: the C side must refuse those while the schema lets
them through).  Catches the schema and the code drifting apart.
"""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

SRC = os.environ["RAMPART_SRC"]
SIGN = os.path.join(os.environ.get("RAMPART_BUILD", ""), "rampart-sign")
if not os.access(SIGN, os.X_OK):
    print("skip: rampart-sign not built")
    sys.exit(77)

with open(os.path.join(SRC, "schema/policy.schema.json")) as f:
    SCHEMA = json.load(f)


def is_type(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":  # 2020-12: a number with a zero fraction is an integer
        return (isinstance(v, int) and not isinstance(v, bool)) or (
            isinstance(v, float) and v.is_integer())
    raise AssertionError("type %s not handled" % t)


def check(schema, v, path="$"):
    """Returns a list of violations (empty: valid)."""
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        return check(SCHEMA["$defs"][ref[8:]], v, path)
    known = {"$schema", "$id", "title", "description", "type", "properties", "required",
             "additionalProperties", "items", "maxItems", "minLength", "maxLength",
             "pattern", "minimum", "maximum", "$defs", "not", "oneOf", "anyOf", "const",
             "enum"}
    assert set(schema) <= known, set(schema) - known
    if "not" in schema and not check(schema["not"], v, path):
        return ["%s: matches 'not'" % path]
    if "oneOf" in schema:
        ok = [sub for sub in schema["oneOf"] if not check(sub, v, path)]
        if len(ok) != 1:
            return ["%s: matches %d of oneOf" % (path, len(ok))]
    if "anyOf" in schema and all(check(sub, v, path) for sub in schema["anyOf"]):
        return ["%s: matches none of anyOf" % path]
    if "const" in schema and not (v == schema["const"] and type(v) is type(schema["const"])):
        return ["%s: not const" % path]
    if "enum" in schema and v not in schema["enum"]:
        return ["%s: not in enum" % path]
    if "type" in schema and not is_type(v, schema["type"]):
        return ["%s: not %s" % (path, schema["type"])]
    errs = []
    if isinstance(v, str):
        if len(v) < schema.get("minLength", 0) or len(v) > schema.get("maxLength", 1 << 62):
            errs.append("%s: length" % path)
        # ECMA-262 '$' does not match before a final newline; Python's does
        pat = schema.get("pattern")
        if pat and not re.search(pat[:-1] + r"\Z" if pat.endswith("$") else pat, v):
            errs.append("%s: pattern" % path)
    if is_type(v, "integer") and not isinstance(v, str):
        if v < schema.get("minimum", -(1 << 64)) or v > schema.get("maximum", 1 << 64):
            errs.append("%s: range" % path)
    if isinstance(v, list):
        if len(v) > schema.get("maxItems", 1 << 62):
            errs.append("%s: maxItems" % path)
        for i, item in enumerate(v):
            errs += check(schema.get("items", {}), item, "%s[%d]" % (path, i))
    if isinstance(v, dict):
        props = schema.get("properties", {})
        errs += ["%s.%s: required" % (path, k) for k in schema.get("required", []) if k not in v]
        if schema.get("additionalProperties") is False:
            errs += ["%s.%s: unknown" % (path, k) for k in v if k not in props]
        for k, sub in props.items():
            if k in v:
                errs += check(sub, v[k], "%s.%s" % (path, k))
    return errs


tmpdir = tempfile.mkdtemp()


def c_accepts(text):
    p = os.path.join(tmpdir, "p.json")
    with open(p, "w", encoding="utf-8") as f:
        f.write(text)
    r = subprocess.run([SIGN, "--check", p], capture_output=True, text=True)
    assert r.returncode in (0, 1), r
    return r.returncode == 0, r.stderr.strip()


BASE = {
    "org": "Example Corp", "version": 5, "issued_at": "2025-01-01T00:00:00Z",
    "expires_at": "2099-01-01T00:00:00Z", "allow_docker_hub": False,
    "registries": [{"host": "ghcr.io", "nickname": "GitHub"}, {"host": "quay.io"}],
}
DEL = object()


def variant(path, value):
    d = copy.deepcopy(BASE)
    obj, key = d, path
    if path.startswith("registries[1]."):
        obj, key = d["registries"][1], path[len("registries[1]."):]
    if value is DEL:
        del obj[key]
    else:
        obj[key] = value
    return d


CASES = []  # (name, text, expectation) expectation: True valid, False invalid, "C_ONLY"


def add(name, doc, expect):
    CASES.append((name, doc if isinstance(doc, str) else json.dumps(doc), expect))


add("base", BASE, True)
for f in ("small.json", "wildcards-ports.json"):
    with open(os.path.join(SRC, "policy-samples", f)) as fh:
        add(f, fh.read(), True)
for n, ok in ((10000, True), (10001, False)):
    out = subprocess.run(["sh", os.path.join(SRC, "policy-samples/gen-10k.sh"), str(n)],
                         capture_output=True, text=True, check=True).stdout
    add("gen-10k %d" % n, out, ok)

for k in BASE:
    add("missing " + k, variant(k, DEL), False)
add("unknown field", variant("orgg", "x"), False)
add("$schema field", variant("$schema", "x"), False)
for org, ok in (("", False), ("a" * 128, True), ("a" * 129, False), ("a\nb", False),
                ("a\u0085b", False), ("a\u202eb", False), ("a\u2028b", False), (" a", False),
                ("a ", False), ("a b", True), ("Soci\u00e9t\u00e9", True), (42, False),
                ("\u00e9" * 100, "C_ONLY")):  # 100 characters but 200 bytes
    add("org %r" % org, variant("org", org), ok)
for ver, ok in ((1, True), (0, False), (-1, False), ("5", False), (True, False),
                (None, False), (2**63 - 1, True)):
    add("version %r" % (ver,), variant("version", ver), ok)
add("version 5.0", json.dumps(BASE).replace('"version": 5', '"version": 5.0'), "C_ONLY")
for t, ok in (("2025-01-01T00:00:00Z", True), ("2024-02-29T00:00:00Z", True),
              ("1970-01-01T00:00:00Z", True), ("9999-12-31T23:59:59Z", True),
              ("1969-12-31T23:59:59Z", False), ("2025-01-01T00:00:00+00:00", False),
              ("2025-01-01t00:00:00z", False), ("2025-01-01T00:00:00.5Z", False),
              ("2025-13-01T00:00:00Z", False), ("2025-01-01T24:00:00Z", False),
              ("2025-01-01T00:00:60Z", False), ("2025-01-01T00:00:00Z\n", False),
              ("2025-02-29T00:00:00Z", "C_ONLY"), ("2025-04-31T00:00:00Z", "C_ONLY")):
    d = variant("issued_at", t)
    d["expires_at"] = "9999-12-31T23:59:59Z" if t != "9999-12-31T23:59:59Z" else t
    if t == "9999-12-31T23:59:59Z":
        d["issued_at"] = "2025-01-01T00:00:00Z"
    add("time %r" % t, d, ok)
add("expires == issued", variant("expires_at", "2025-01-01T00:00:00Z"), "C_ONLY")
for v, ok in ((True, True), ("true", False), (1, False), (None, False)):
    add("allow_docker_hub %r" % (v,), variant("allow_docker_hub", v), ok)
add("registries empty", variant("registries", []), True)
add("registries object", variant("registries", {}), False)
add("registry string", variant("registries", ["ghcr.io"]), False)
add("registry unknown field", variant("registries[1].hots", "x"), False)
add("registry without host", variant("registries[1].host", DEL), False)
# (BASE itself has a registry without nickname)
for nick, ok in (("", True), ("n" * 128, True), ("n" * 129, False), ("a\tb", False),
                 ("a\u202eb", False), (5, False), ("\u00e9" * 100, "C_ONLY")):
    add("nickname %r" % (nick,), variant("registries[1].nickname", nick), ok)
add("duplicate host", variant("registries[1].host", "ghcr.io"), "C_ONLY")
# what machines refuse beyond the format: rampart-sign --check runs the daemon's checks
add("expired", variant("expires_at", "2025-06-01T00:00:00Z"), "C_ONLY")
for hub in ("docker.io", "index.docker.io", "registry-1.docker.io"):
    add("Docker Hub entry with allow_docker_hub false: %s" % hub,
        variant("registries[1].host", hub), "C_ONLY")
d = variant("registries[1].host", "docker.io")
d["allow_docker_hub"] = True
add("Docker Hub entry with allow_docker_hub true", d, True)
add("duplicate JSON key", json.dumps(BASE)[:-1] + ', "org": "Other"}', "C_ONLY")
label63, label64 = "a" * 63, "a" * 64
host253 = ".".join([label63] * 3 + ["a" * 61])
GOOD_HOSTS = ["gcr.io", "localhost", "registry", "10.0.0.5", "xn--bcher-kva.example",
              "a-b.c-d.io", "localhost:5000", "r.example.com:1", "r.example.com:65535",
              "*.a.b", "*.corp.example.com", "*.123.example", label63 + ".io", host253]
BAD_HOSTS = ["", "Quay.io", "quay..io", ".quay.io", "quay.io.", "-quay.io", "quay-.io",
             "qu_ay.io", "quay.io/x", "https://quay.io", "*", "*.", "*.com", "*.*.a.com",
             "a.*.b.com", "*a.com", "*.a.com:5000", "*.0.0.10", "*.a.123", "quay.io:", "quay.io:0", "quay.io:65536",
             "quay.io:05000", "quay.io:1:2", ":5000", "[::1]:5000", "\u00e9.example.com",
             label64 + ".io", host253 + "a", "quay.io\n"]
for h in GOOD_HOSTS:
    add("host %r" % h, variant("registries[1].host", h), True)
for h in BAD_HOSTS:
    add("host %r" % h, variant("registries[1].host", h), False)

# --- schema_version 2 -----------------------------------------------------------
add("schema_version 1", variant("schema_version", 1), True)
for sv in (0, 3, "2", 2.5, None, True):
    add("schema_version %r" % (sv,), variant("schema_version", sv), False)
add("v1 with deny", variant("deny", []), False)
add("v1 with a prefix", variant("registries[1].host", "quay.io/acme/"), False)
add("v1 with mode", variant("registries[1].mode", "warn"), False)
V2 = copy.deepcopy(BASE)
V2["schema_version"] = 2
V2["registries"].append({"host": "quay.io/acme/", "mode": "enforce"})
V2["deny"] = [{"host": "quay.io/acme/legacy/", "mode": "warn", "nickname": "old"},
              {"host": "*.evil.example"}]
add("v2 base", V2, True)


def v2(regs=None, deny=None, **top):
    d = copy.deepcopy(V2)
    if regs is not None:
        d["registries"] = regs
    if deny is not None:
        d["deny"] = deny
    d.update(top)
    return d


add("v2 without schema_version", {k: v for k, v in v2().items() if k != "schema_version"}, False)
add("v2 without deny", {k: v for k, v in v2().items() if k != "deny"}, True)
add("v2 unknown field", v2(extra=1), False)
add("v2 rule unknown field", v2(deny=[{"host": "a.example", "action": "deny"}]), False)
for mode, ok in (("warn", True), ("enforce", True), ("dry", False), ("WARN", False), (1, False)):
    add("v2 mode %r" % (mode,), v2(deny=[{"host": "a.example", "mode": mode}]), ok)
comps64 = "q.io/" + "a/" * 64
GOOD_RULES = ["quay.io/acme2/", "docker.io/library/", "reg.example.com:5000/team/app/",
              "10.0.0.1/x/", "quay.io/a.b/c_d/e__f/g-h/i--j/", comps64, "localhost/x/",
              "gha:5000/x/"] + GOOD_HOSTS
BAD_RULES = ["quay.io/acme", "quay.io/", "quay.io//x/", "quay.io/Acme/", "*.corp.example/x/",
             "/x/", "quay.io/a_/", "quay.io/-a/", "quay.io/a/../", "Quay.io/a/",
             comps64 + "a/", "quay.io:0/x/", "quay.io/a b/", "https://quay.io/a/",
             "gha/a/", "acme/team/"] + BAD_HOSTS  # no dot, no port: names Docker Hub
for h in GOOD_RULES:
    add("v2 rule %r" % h, v2(deny=[{"host": h}]), True)
for h in BAD_RULES:
    add("v2 rule %r" % h, v2(deny=[{"host": h}]), False)
add("v2 rule long host part", v2(deny=[{"host": host253 + "/a/"}]), True)
add("v2 rule host part 254", v2(deny=[{"host": host253 + "a/a/"}]), "C_ONLY")
add("v2 rule over 512", v2(deny=[{"host": "q.io/" + "abcdefg/" * 64}]), False)
add("v2 duplicate allow", v2(regs=[{"host": "ghcr.io"}, {"host": "ghcr.io", "mode": "warn"}]),
    "C_ONLY")
add("v2 duplicate spelling", v2(regs=[{"host": "index.docker.io/x/"}, {"host": "docker.io/x/"}]),
    "C_ONLY")
add("v2 allow and deny", v2(regs=[{"host": "ghcr.io"}], deny=[{"host": "ghcr.io"}]), "C_ONLY")
add("v2 allow and warn deny", v2(regs=[{"host": "ghcr.io"}],
                                 deny=[{"host": "ghcr.io", "mode": "warn"}]), True)
add("v2 deny docker.io with hub", v2(deny=[{"host": "docker.io"}], allow_docker_hub=True),
    "C_ONLY")
add("v2 10,000 rules", v2(regs=[{"host": "r%d.example/t/" % i} for i in range(6000)],
                          deny=[{"host": "r%d.example/t/o/" % i} for i in range(4000)]), True)
add("v2 10,001 rules", v2(regs=[{"host": "r%d.example/t/" % i} for i in range(6000)],
                          deny=[{"host": "r%d.example/t/o/" % i} for i in range(4001)]), "C_ONLY")

# --- companions (schema 2 allow rules) -------------------------------------------
def comp(cs, host="ghcr.io", **kw):
    return v2(regs=[dict({"host": host, "companions": cs}, **kw)])


GOOD_COMPANIONS = ["pkg-containers.githubusercontent.com", "blobs.example.com:8443",
                   "a.b", "1a.example", "x-y.example.com:1", "a.example:65535",
                   label63 + ".io", "docker.io.example", "auth.docker.io"]
BAD_COMPANIONS = ["", "*.githubusercontent.com", "a.*.com", "10.0.0.5", "10.0.0.5:443",
                  "a.123", "[::1]:443", "auth", "auth:443", "Auth.example.com",
                  "https://a.example", "a.example/t", "a.example:0", "a.example:65536",
                  "a.example:05", "a.example:", "a..example", "-a.example", "a-.example",
                  "a_b.example", "registry-1.docker.io", "docker.io", "index.docker.io:443",
                  "a.example:1:2", "a.example\n", 5, None, label64 + ".io"]
for c in GOOD_COMPANIONS:
    add("companion %r" % c, comp([c]), True)
for c in BAD_COMPANIONS:
    add("companion %r" % (c,), comp([c]), False)
add("companions empty list", comp([]), True)
add("companions not a list", v2(regs=[{"host": "ghcr.io", "companions": "a.example"}]), False)
add("companions on a warn rule", comp(["a.example"], mode="warn"), True)
add("companions on a repository rule", comp(["a.example"], host="quay.io/acme/"), True)
add("companions on a deny rule", v2(deny=[{"host": "quay.io", "companions": ["a.example"]}]),
    False)
add("companions in v1", variant("registries[1].companions", ["a.example"]), False)
add("companions 32", comp(["c%d.example" % i for i in range(32)]), True)
add("companions 33", comp(["c%d.example" % i for i in range(33)]), False)
add("companions twice", comp(["a.example", "a.example"]), "C_ONLY")
add("companions host part 254", comp([host253 + "a:1"]), "C_ONLY")
add("companions 1024 in all", v2(regs=[{"host": "r%d.example" % r,
                                        "companions": ["c%d.r%d.example" % (i, r) for i in range(32)]}
                                       for r in range(32)]), True)
add("companions 1025 in all", v2(regs=[{"host": "r%d.example" % r,
                                        "companions": ["c%d.r%d.example" % (i, r) for i in range(32)]}
                                       for r in range(32)] + [{"host": "x.example", "companions": ["c.x.example"]}]),
    "C_ONLY")


# --- drift: schema, C field lists and limits, docs/policy.md ---------------------
def c_list(csrc, name):
    m = re.search(r"%s\[\] = \{(.*?)\};" % re.escape(name), csrc, re.S)
    assert m, name
    return [x for x in re.findall(r'"([^"]*)"', m.group(1))]


def c_define(hsrc, name):
    m = re.search(r"#define %s (\d+)" % name, hsrc)
    assert m, name
    return int(m.group(1))


def drift(schema, csrc, hsrc, doc):
    """Every way the schema, the validator and the docs can part; [] when they agree."""
    d = schema["$defs"]
    errs = []
    for form, top, reg in (("payload_v1", "payload_top_keys_v1", "payload_reg_keys_v1"),
                           ("payload_v2", "payload_top_keys_v2", "payload_reg_keys_v2")):
        if sorted(d[form]["properties"]) != sorted(c_list(csrc, top)):
            errs.append("%s fields differ from %s in policy_payload.c" % (form, top))
        items = d[form]["properties"]["registries"]["items"]["$ref"].split("/")[-1]
        if sorted(d[items]["properties"]) != sorted(c_list(csrc, reg)):
            errs.append("%s rule fields differ from %s" % (form, reg))
        if d[form]["properties"]["schema_version"]["const"] != int(form[-1]):
            errs.append("%s schema_version const" % form)
        for k in ("registries", "deny"):
            if k in d[form]["properties"] and d[form]["properties"][k]["maxItems"] != c_define(hsrc, "POLICY_MAX_REGISTRIES"):
                errs.append("%s.%s maxItems != POLICY_MAX_REGISTRIES" % (form, k))
    if c_define(hsrc, "POLICY_SCHEMA_MAX") != 2:
        errs.append("POLICY_SCHEMA_MAX is not the newest payload_vN in the schema")
    if d["rule"]["properties"]["host"]["maxLength"] != c_define(hsrc, "POLICY_MAX_RULE"):
        errs.append("rule.host maxLength != POLICY_MAX_RULE")
    if "{1,%d}" % c_define(hsrc, "POLICY_MAX_COMPONENTS") not in d["rule"]["properties"]["host"]["anyOf"][1]["pattern"]:
        errs.append("rule pattern component count != POLICY_MAX_COMPONENTS")
    if d["allow_rule"]["properties"]["companions"]["maxItems"] != c_define(hsrc, "POLICY_MAX_COMPANIONS"):
        errs.append("companions maxItems != POLICY_MAX_COMPANIONS")
    if d["companion"]["maxLength"] != c_define(hsrc, "POLICY_MAX_COMPANION"):
        errs.append("companion maxLength != POLICY_MAX_COMPANION")
    if "1,024" not in d["payload_v2"]["properties"]["registries"]["description"] or c_define(hsrc, "POLICY_MAX_COMPANIONS_TOTAL") != 1024:
        errs.append("the companion total (POLICY_MAX_COMPANIONS_TOTAL) is not the one the schema states")
    if {k: v for k, v in d["allow_rule"]["properties"].items() if k != "companions"} != d["rule"]["properties"]:
        errs.append("allow_rule and rule differ beyond companions")
    if d["payload_v2"]["properties"].get("deny", {}).get("items", {}).get("$ref") != "#/$defs/rule":
        errs.append("deny rules must not accept companions")
    if d["rule"]["properties"]["mode"]["enum"] != ["enforce", "warn"] or '"enforce"' not in csrc or '"warn"' not in csrc:
        errs.append("mode values differ")
    fields = set()
    for form in ("payload_v1", "payload_v2"):
        fields |= set(d[form]["properties"])
        fields |= {"registries[i]." + k for k in d["registry"]["properties"]}
        fields |= {"rules[i]." + k for k in d["rule"]["properties"]}
        fields |= {"registries[i]." + k for k in d["allow_rule"]["properties"]
                   if k not in d["rule"]["properties"]}
    for f in sorted(fields):
        if "| `%s` |" % f not in doc:
            errs.append("docs/policy.md has no table row for `%s`" % f)
    return errs


with open(os.path.join(SRC, "src/trust/policy_payload.c")) as fh:
    CSRC = fh.read()
with open(os.path.join(SRC, "src/lib/policy_model.h")) as fh:
    HSRC = fh.read()
with open(os.path.join(SRC, "docs/policy.md")) as fh:
    DOC = fh.read()
with open(os.path.join(SRC, "src/lib/policy_match.c")) as fh:
    MSRC = fh.read()
with open(os.path.join(SRC, "include/rampart/policy.h")) as fh:
    PUBH = fh.read()


def hub_drift(msrc, pubh, doc):
    """Docker Hub's companion list: the C list, its version and docs/policy.md's table agree."""
    m = re.search(r"policy_hub_companions\[\] = \{(.*?)NULL", msrc, re.S)
    v = re.search(r"#define RAMPART_HUB_COMPANIONS_VERSION (\d+)", pubh)
    if not m or not v:
        return ["the Docker Hub companion list or its version is gone"]
    hosts = re.findall(r'"([^"]+)"', m.group(1))
    rows = re.findall(r"^\| (\d+) \| `([^`]+)` \|", doc, re.M)
    latest = [h for n, h in rows if int(n) == int(v.group(1))]
    if sorted(latest) != sorted(hosts):
        return ["docs/policy.md lists %s for Docker Hub companions version %s, the code %s"
                % (latest, v.group(1), hosts)]
    return []


drift_errs = drift(SCHEMA, CSRC, HSRC, DOC) + hub_drift(MSRC, PUBH, DOC)
if not hub_drift(MSRC.replace('"auth.docker.io",', '"auth2.docker.io",'), PUBH, DOC) or \
        not hub_drift(MSRC, PUBH.replace("VERSION 1", "VERSION 2"), DOC):
    print("FAIL drift control: a Docker Hub companion list change was not caught")
    drift_errs.append("hub control")
for e in drift_errs:
    print("FAIL drift: " + e)
# controls: each kind of drift must be caught, or the check proves nothing
mutated = copy.deepcopy(SCHEMA)
mutated["$defs"]["payload_v2"]["properties"]["denny"] = mutated["$defs"]["payload_v2"]["properties"].pop("deny")
controls = [drift(mutated, CSRC, HSRC, DOC),
            drift(SCHEMA, CSRC.replace('"mode", "companions",', '"mode",'), HSRC, DOC),
            drift(SCHEMA, CSRC, HSRC.replace("POLICY_MAX_COMPANIONS 32", "POLICY_MAX_COMPANIONS 33"), DOC),
            drift(SCHEMA, CSRC, HSRC, DOC.replace("| `registries[i].companions` |", "| companions |")),
            drift(SCHEMA, CSRC, HSRC.replace("POLICY_MAX_COMPONENTS 64", "POLICY_MAX_COMPONENTS 65"), DOC),
            drift(SCHEMA, CSRC, HSRC, DOC.replace("| `deny` |", "| deny |"))]
for i, c in enumerate(controls):
    if not c:
        print("FAIL drift control %d was not caught" % i)
        drift_errs.append("control %d" % i)

# --- rampart-sign: rules that change nothing are warned about, --strict refuses --
lint_doc = json.dumps(v2(regs=[{"host": "quay.io"}, {"host": "quay.io/acme/"}], deny=[]))
lp = os.path.join(tmpdir, "lint.json")
with open(lp, "w") as fh:
    fh.write(lint_doc)
r = subprocess.run([SIGN, "--check", lp], capture_output=True, text=True)
if r.returncode != 0 or "warning: registries[1].host: allow quay.io/acme/ changes nothing" not in r.stderr:
    print("FAIL lint warning: %r" % (r,))
    drift_errs.append("lint")
r = subprocess.run([SIGN, "--check", "--strict", lp], capture_output=True, text=True)
if r.returncode != 1 or "E_LINT" not in r.stderr:
    print("FAIL lint --strict: %r" % (r,))
    drift_errs.append("lint strict")

# a companion equal to a rule host changes nothing; one a deny matches is never allowed
lint_doc = json.dumps(v2(regs=[{"host": "ghcr.io", "companions": ["quay.io", "x.evil.example"]},
                               {"host": "quay.io"}], deny=[{"host": "*.evil.example"}]))
with open(lp, "w") as fh:
    fh.write(lint_doc)
r = subprocess.run([SIGN, "--check", lp], capture_output=True, text=True)
for want in ("warning: registries[0].companions: companion quay.io of ghcr.io changes nothing",
             "warning: registries[0].companions: companion x.evil.example of ghcr.io is never allowed"):
    if r.returncode != 0 or want not in r.stderr:
        print("FAIL companion lint %r: %r" % (want, r))
        drift_errs.append("companion lint")
r = subprocess.run([SIGN, "--check", "--strict", lp], capture_output=True, text=True)
if r.returncode != 1 or "E_LINT" not in r.stderr:
    print("FAIL companion lint --strict: %r" % (r,))
    drift_errs.append("companion lint strict")

failures = len(drift_errs)
for name, text, expect in CASES:
    try:
        doc = json.loads(text)
        schema_ok = not check(SCHEMA, doc)
    except ValueError:
        schema_ok = False
    c_ok, msg = c_accepts(text)
    if expect == "C_ONLY":
        good = schema_ok and not c_ok
    else:
        good = schema_ok == expect and c_ok == expect
    if not good:
        failures += 1
        print("FAIL %s: expected %s, schema %s, C %s (%s)" % (
            name, expect, schema_ok, c_ok, msg))
print("%d cases, %d failures" % (len(CASES), failures))
sys.exit(1 if failures else 0)
