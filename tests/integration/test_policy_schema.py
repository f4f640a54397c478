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
             "pattern", "minimum", "maximum", "$defs", "not"}
    assert set(schema) <= known, set(schema) - known
    if "not" in schema and not check(schema["not"], v, path):
        return ["%s: matches 'not'" % path]
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

failures = 0
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
