# SPDX-License-Identifier: ISC
"""The signed policy from an OCI registry (oci:// policy.url), in a private network and
mount namespace: Debian's docker-registry with TLS from a test CA, anonymous and with
htpasswd basic auth, published to with rampart-sign publish; a tag moved to a new
signed version is picked up, an unchanged one costs one manifest request and no blob,
digest pins hold.  A hostile registry (python) then answers with every packaging
attack — wrong layer digest, wrong media type, a huge layer, a manifest list, another
repository's manifest, a lying digest header, an off-host blob redirect, 401 loops —
and each is refused with the last good policy kept.  Credentials never leak."""
import json
import os
import stat
import subprocess
import sys


def unwrap(j):
    """The CLI's --json envelope ({ok, command, result|error}): the result, or the whole
    envelope for an error."""
    if isinstance(j, dict) and "ok" in j and "result" in j:
        return j["result"]
    return j

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402

rt.need_root()
for tool in ("/usr/bin/docker-registry", "/usr/bin/htpasswd", "/usr/bin/unshare"):
    if not os.path.exists(tool):
        rt.skip("%s is not installed (scripts/deps installs it)" % tool)

import oci_registry as oci  # noqa: E402

HOSTS = oci.enter_namespace(os.path.abspath(__file__))

import rtpolicy  # noqa: E402
from rtpolicy import payload, sign  # noqa: E402

PW = "S3cr3t-i19-pw"      # the basic-auth password: must never show up anywhere
TOKEN = "tok-i19-SECRET"  # the bearer token the hostile registry hands out
ANON, AUTH, EVIL, STORE, TOKREG, TOKSRV, PLAIN = 15443, 15444, 15445, 15446, 15447, 15448, 15449
REPO = "acme/policy"

P = rtpolicy.PolicyEnv("oci")
env = P.env
CERTS = env.path("certs")
os.mkdir(CERTS, 0o755)
CA, CERT, KEY = oci.make_ca(CERTS)
CRED = env.path("etc", "registry.cred")
with open(CRED, "w") as f:
    f.write("rampart:%s\n" % PW)
os.chmod(CRED, 0o600)
HTPASSWD = env.path("htpasswd")
subprocess.run(["htpasswd", "-B", "-b", "-c", HTPASSWD, "rampart", PW], check=True,
               capture_output=True)
reg_anon = oci.Registry(env.path("reg-anon"), ANON, CA, CERT, KEY).start()
reg_auth = oci.Registry(env.path("reg-auth"), AUTH, CA, CERT, KEY, htpasswd=HTPASSWD).start()
reg_plain = oci.Registry(env.path("reg-plain"), PLAIN, CA, CERT, KEY, tls=False).start()
issuer = oci.TokenIssuer(CERTS)
ISSUED = []
TOKEN_REQUESTS = []
reg_tok = oci.Registry(env.path("reg-token"), TOKREG, CA, CERT, KEY,
                       auth_yaml=issuer.yaml("https://127.0.0.1:%d/token" % TOKSRV)).start()
tokens = oci.Hostile(TOKSRV, CERT, KEY).start()


def issue(h):
    """The token server: basic credentials in, a JWT for the scope asked for out."""
    from urllib.parse import parse_qs, urlparse
    q = parse_qs(urlparse(h.path).query)
    TOKEN_REQUESTS.append(q)
    if h.headers.get("Authorization") != oci.basic("rampart", PW):
        return 401, {}, b'{"details":"bad credentials"}'
    _, repo, actions = q["scope"][0].split(":")
    tok = issuer.token(repo, actions.split(","))
    ISSUED.append(tok)
    return 200, {"Content-Type": "application/json"}, json.dumps({"token": tok}).encode()


tokens.routes["/token"] = issue
evil = oci.Hostile(EVIL, CERT, KEY).start()
storage = oci.Hostile(STORE, CERT, KEY).start()
env.start()


def url(port, ref=":current", host="127.0.0.1", repo=REPO):
    return "oci://%s:%d/%s%s" % (host, port, repo, ref)


def use(u, **more):
    cfg = json.loads(json.dumps(env.config))
    for k in ("registry_credentials", "blob_redirect_hosts", "allow_insecure_loopback"):
        cfg["policy"].pop(k, None)
    env.write_config(cfg)
    P.set_policy(url=u, ca_file=CA, **more)


def publish(port, version, tag="current", cred=None, repo=REPO):
    envelope = sign(payload(version), P.k[0])
    path = env.path("envelope-%d.json" % version)
    with open(path, "wb") as f:
        f.write(envelope)
    args = [rtpolicy.SIGN, "publish", "--ca-file", CA] + (["--credentials", cred] if cred else [])
    r = subprocess.run(args + [path, url(port, ":" + tag, repo=repo)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r
    digest = r.stdout.split()[1]
    assert digest.startswith("sha256:") and "pinned: oci://" in r.stdout, r.stdout
    return digest, envelope


def refreshed(outcome=None, version=None):
    r = P.refresh()
    out = unwrap(json.loads(r.stdout)) if r.stdout else {}
    assert r.returncode == 0, (r, env.daemon_log()[-2000:])
    if outcome:
        assert out["outcome"] == outcome, out
    if version is not None:
        assert P.version() == version, (P.version(), out)
    return out


def refused(code, msg=None):
    before = P.version()
    r = P.refresh()
    assert r.returncode == 1, r
    err = unwrap(json.loads(r.stdout))["error"]
    assert err["code"] == code, err
    if msg:
        assert msg in err["message"], err
    assert P.version() == before, (P.version(), before)
    if code != "E_FETCH_CREDENTIALS":  # refused before a fetch started: not a refresh outcome
        st = env.request("status")["result"]["policy"]
        assert err["message"][:60] in st["last_error"], (err, st)
    return err


def status():
    return env.request("status")["result"]["policy"]


# ---- config ------------------------------------------------------------------------

def test_config_refuses_bad_oci_urls():
    cases = {
        "oci://127.0.0.1:%d/acme/policy" % ANON: "tag or digest is missing",
        "oci://127.0.0.1/Acme/policy:x": "lower-case",
        "oci://u:p@127.0.0.1/acme/policy:x": "user name or password",
        "oci://127.0.0.1/acme/policy@sha256:abc": "64 lower-case hex",
        "oci://127.0.0.1:99999/acme/policy:x": "port",
        "oci://127.0.0.1/acme/policy:-x": "tag must be",
        "oci:///acme/policy:x": "host",
    }
    cfg = json.loads(json.dumps(env.config))
    for u, why in cases.items():
        cfg["policy"]["url"] = u
        env.write_config(cfg)
        r = subprocess.run([rt.RAMPARTD, "-c", env.config_path, "--check-config"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 78 and why in r.stderr, (u, r)
    cfg["policy"]["url"] = "https://127.0.0.1/p.json"
    cfg["policy"]["registry_credentials"] = CRED
    env.write_config(cfg)
    r = subprocess.run([rt.RAMPARTD, "-c", env.config_path, "--check-config"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 78 and "only to an oci://" in r.stderr + r.stdout, r
    cfg["policy"].pop("registry_credentials")
    cfg["policy"]["url"] = url(ANON)
    cfg["policy"]["blob_redirect_hosts"] = ["https://x"]
    env.write_config(cfg)
    r = subprocess.run([rt.RAMPARTD, "-c", env.config_path, "--check-config"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 78 and "blob_redirect_hosts[0]" in r.stderr + r.stdout, r
    cfg["policy"].pop("blob_redirect_hosts")
    env.write_config(cfg)
    r = subprocess.run([rt.RAMPARTD, "-c", env.config_path, "--check-config"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r


# ---- the real registry ---------------------------------------------------------------

def test_anonymous_publish_and_fetch():
    global D1
    D1, _ = publish(ANON, 1)
    use(url(ANON))
    m = reg_anon.mark()
    refreshed("updated", 1)
    reqs = reg_anon.requests_since(m)
    assert [r[0] for r in reqs] == ["GET", "GET"], reqs
    assert "/manifests/current" in reqs[0][1] and "/blobs/sha256:" in reqs[1][1], reqs


def test_unchanged_is_one_conditional_manifest_request():
    m = reg_anon.mark()
    out = refreshed("unchanged", 1)
    reqs = reg_anon.requests_since(m)
    assert len(reqs) == 1 and reqs[0][0] == "GET" and reqs[0][2] == 304, reqs
    assert not [r for r in reqs if "/blobs/" in r[1]], reqs
    st = status()
    assert st["last_fetch_requests"] == 1 and st["last_fetch_bytes"] < 1024, st
    assert "unchanged" in out["message"], out


def test_tag_moved_to_new_version_is_picked_up():
    global D2
    D2, _ = publish(ANON, 2)
    assert D2 != D1
    refreshed("updated", 2)
    refreshed("unchanged", 2)


def test_digest_pin():
    use(url(ANON, "@" + D2))
    refreshed(None, 2)
    publish(ANON, 3)             # the tag moves on; the pin does not
    refreshed("unchanged", 2)
    use(url(ANON, "@sha256:" + "0" * 64))
    refused("E_OCI_HTTP", "HTTP 404")
    use(url(ANON))
    refreshed("updated", 3)


def test_basic_auth_with_htpasswd():
    publish(AUTH, 4, cred=CRED)
    use(url(AUTH))
    refused("E_OCI_AUTH", "requires credentials")
    os.chmod(CRED, 0o640)
    use(url(AUTH), registry_credentials=CRED)
    refused("E_FETCH_CREDENTIALS", "readable by nobody else")
    os.chmod(CRED, 0o600)
    refreshed("updated", 4)
    m = reg_auth.mark()
    refreshed("unchanged", 4)
    reqs = reg_auth.requests_since(m)
    assert [r[2] for r in reqs] == [401, 304], reqs  # challenge, then the conditional GET
    wrong = env.path("etc", "wrong.cred")
    with open(wrong, "w") as f:
        f.write("rampart:not-%s\n" % PW)
    os.chmod(wrong, 0o600)
    use(url(AUTH), registry_credentials=wrong)
    refused("E_OCI_AUTH", "still answers 401")


def test_bearer_token_flow_with_docker_registry():
    """docker-registry with token auth: 401 + WWW-Authenticate Bearer, a token from the
    realm with scope repository:acme/policy:pull (push for publish), then the request."""
    publish(TOKREG, 5, cred=CRED)
    assert any(q["scope"] == ["repository:%s:pull,push" % REPO] for q in TOKEN_REQUESTS), TOKEN_REQUESTS
    use(url(TOKREG))
    refused("E_OCI_AUTH", "set policy.registry_credentials")
    use(url(TOKREG), registry_credentials=CRED)
    del TOKEN_REQUESTS[:]
    refreshed("updated", 5)
    assert TOKEN_REQUESTS[-1]["scope"] == ["repository:%s:pull" % REPO], TOKEN_REQUESTS
    assert TOKEN_REQUESTS[-1]["service"] == [issuer.service], TOKEN_REQUESTS
    m = reg_tok.mark()
    n = len(TOKEN_REQUESTS)
    refreshed("unchanged", 5)
    assert [r[2] for r in reg_tok.requests_since(m)] == [401, 304], reg_tok.requests_since(m)
    assert len(TOKEN_REQUESTS) == n + 1
    assert status()["last_fetch_requests"] == 3


def test_curl_push_from_the_docs():
    """The plain-curl push in docs/fleet.md, run as written (host and repository
    substituted), produces an artifact rampartd accepts."""
    with open(os.path.join(rt.SRC, "docs", "fleet.md")) as f:
        doc = f.read()
    start = doc.index("R=https://registry.acme.example")
    script = doc[start:doc.index("```", start)]
    script = script.replace("R=https://registry.acme.example; REPO=security/rampart-policy",
                            "R=https://127.0.0.1:%d; REPO=%s" % (ANON, REPO))
    work = env.path("curl-push")
    os.mkdir(work)
    with open(os.path.join(work, "envelope.json"), "wb") as f:
        f.write(sign(payload(6), P.k[0]))
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, CURL_CA_BUNDLE=CA))
    assert r.returncode == 0, r
    use(url(ANON))
    refreshed("updated", 6)


def test_plain_http_only_to_loopback_with_the_test_flag():
    envelope = sign(payload(7), P.k[0])
    path = env.path("envelope-7.json")
    with open(path, "wb") as f:
        f.write(envelope)
    r = subprocess.run([rtpolicy.SIGN, "publish", "--insecure-loopback", path, url(PLAIN)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    use(url(PLAIN))                      # without the flag: https, which this port does not speak
    err = refused("E_FETCH_TLS")
    use(url(PLAIN), allow_insecure_loopback=True)
    refreshed("updated", 7)
    use(url(PLAIN, host="localhost"), allow_insecure_loopback=True)  # a name: https again
    refused("E_FETCH_TLS")
    return err


def test_publish_refuses_without_credentials():
    path = env.path("envelope-4.json")
    r = subprocess.run([rtpolicy.SIGN, "publish", "--ca-file", CA, path, url(AUTH, ":other")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "E_OCI_AUTH" in r.stderr, r


# ---- the hostile registry ------------------------------------------------------------

def evil_url(ref=":current"):
    return url(EVIL, ref)


def hostile(version=10, manifest=None, **kw):
    """Serves a validly signed envelope (a higher version: only the packaging is wrong);
    manifest(envelope) makes the manifest when given."""
    evil.routes.clear()
    envelope = sign(payload(version), P.k[0])
    man = evil.serve_artifact(REPO, "current", envelope,
                              manifest=manifest(envelope) if manifest else None, **kw)
    return envelope, man


def blob_requests():
    return [r for r in evil.log if "/blobs/" in r[1]]


def test_wrong_layer_digest():
    envelope, _ = hostile()
    other = sign(payload(11), P.k[0])
    man = oci.artifact_manifest(REPO, other)   # names another blob's digest
    evil.routes["/v2/%s/manifests/current" % REPO] = lambda h: (200, {"Content-Type": oci.MT_MANIFEST}, man)
    evil.routes["/v2/%s/blobs/%s" % (REPO, oci.sha(other))] = lambda h: (200, {}, envelope)
    use(evil_url())
    refused("E_OCI_DIGEST", "does not match the manifest")


def test_wrong_media_type():
    hostile(manifest=lambda e: oci.artifact_manifest(REPO, e, media="application/vnd.oci.image.layer.v1.tar"))
    use(evil_url())
    refused("E_OCI_MEDIA_TYPE")
    hostile(manifest=lambda e: oci.artifact_manifest(REPO, e, artifact="application/vnd.example.other"))
    refused("E_OCI_MEDIA_TYPE", "not a rampart policy")


def test_huge_layer_is_not_downloaded():
    hostile(manifest=lambda e: oci.artifact_manifest(REPO, e, size=200 << 20))
    evil.log.clear()
    use(evil_url())
    refused("E_FETCH_TOO_LARGE", "nothing was downloaded")
    assert not blob_requests(), evil.log
    # a layer that says it is small and then is not: cut off at the declared size
    hostile(manifest=lambda e: oci.artifact_manifest(REPO, e, size=100))
    refused("E_OCI_DIGEST", "more than the 100 bytes")


def test_manifest_list():
    idx = json.dumps({"schemaVersion": 2, "mediaType": oci.MT_INDEX, "manifests": [
        {"mediaType": oci.MT_MANIFEST, "digest": oci.sha(b"x"), "size": 1}]}).encode()
    hostile(manifest=lambda e: idx, ctype=oci.MT_INDEX)
    use(evil_url())
    refused("E_OCI_INDEX", "manifest list")


def test_another_repositorys_manifest():
    hostile(manifest=lambda e: oci.artifact_manifest(REPO, e, annotation_repo="acme/other"))
    use(evil_url())
    refused("E_OCI_REPOSITORY", "another repository")


def test_lying_digest_header_and_pin():
    envelope, man = hostile(header_digest="sha256:" + "1" * 64)
    use(evil_url())
    refused("E_OCI_DIGEST", "hash to")
    envelope, man = hostile()
    pinned = "sha256:" + "2" * 64
    evil.routes["/v2/%s/manifests/%s" % (REPO, pinned)] = lambda h: (200, {"Content-Type": oci.MT_MANIFEST}, man)
    use(evil_url("@" + pinned))
    refused("E_OCI_PIN", "not the pinned")


def test_blob_redirect_off_host_only_where_allowed():
    envelope, _ = hostile()
    d = oci.sha(envelope)
    target = "https://storage.test:%d/bucket/%s?sig=x" % (STORE, d)
    evil.routes["/v2/%s/blobs/%s" % (REPO, d)] = lambda h: (307, {"Location": target}, b"")
    storage.routes["/bucket/" + d] = lambda h: (200, {}, envelope)
    storage.log.clear()
    use(evil_url())
    refused("E_OCI_REDIRECT", "blob_redirect_hosts")
    assert not storage.log, storage.log
    # http off-host is refused even when the host is listed
    evil.routes["/v2/%s/blobs/%s" % (REPO, d)] = lambda h: (
        307, {"Location": target.replace("https:", "http:")}, b"")
    use(evil_url(), blob_redirect_hosts=["storage.test"])
    refused("E_OCI_REDIRECT")
    evil.routes["/v2/%s/blobs/%s" % (REPO, d)] = lambda h: (307, {"Location": target}, b"")
    refreshed("updated", 10)
    assert len(storage.log) == 1 and "Authorization" not in storage.log[0][2], storage.log


def challenge(h):
    return (401, {"WWW-Authenticate": 'Bearer realm="https://127.0.0.1:%d/token",'
                  'service="evil.test",scope="repository:%s:pull"' % (EVIL, REPO)},
            b'{"errors":[{"code":"UNAUTHORIZED"}]}')


def test_bearer_token_flow_and_401_loops():
    envelope, man = hostile(11)
    routes = dict(evil.routes)
    seen = []

    def guarded(fn):
        return lambda h: fn(h) if h.headers.get("Authorization") == "Bearer " + TOKEN else challenge(h)

    def token(h):
        seen.append(h.path)
        if h.headers.get("Authorization") != oci.basic("rampart", PW):
            return 401, {}, b"{}"
        return 200, {"Content-Type": "application/json"}, json.dumps({"token": TOKEN}).encode()

    for k, fn in routes.items():
        evil.routes[k] = guarded(fn)
    evil.routes["/token"] = token
    use(evil_url(), registry_credentials=CRED)
    refreshed("updated", 11)
    assert seen and "scope=repository%3Aacme%2Fpolicy%3Apull" in seen[-1] and "service=evil.test" in seen[-1], seen
    # the token server refuses our credentials
    wrong = env.path("etc", "wrong.cred")
    use(evil_url(), registry_credentials=wrong)
    refused("E_OCI_AUTH", "credentials refused")
    # the registry keeps answering 401 whatever token it was given: one round, then stop
    evil.routes["/v2/%s/manifests/current" % REPO] = challenge
    use(evil_url(), registry_credentials=CRED)
    evil.log.clear()
    refused("E_OCI_AUTH", "refusing to loop")
    assert len(evil.log) == 3, evil.log   # manifest 401, token, manifest 401
    # a challenge whose realm is not https gets no credentials
    evil.routes["/v2/%s/manifests/current" % REPO] = lambda h: (
        401, {"WWW-Authenticate": 'Bearer realm="http://127.0.0.1:%d/token"' % EVIL}, b"")
    evil.log.clear()
    refused("E_OCI_AUTH", "not an https URL")
    assert len(evil.log) == 1, evil.log


def test_credentials_never_leak():
    secrets = [PW, TOKEN, oci.basic("rampart", PW).split()[1]] + ISSUED
    assert ISSUED
    st = json.dumps(env.request("status"))
    bundle = env.cli("diag", "bundle")
    audit = "\n".join(env.audit_lines())
    logs = env.daemon_log()
    for where, text in (("status", st), ("diag bundle", bundle.stdout + bundle.stderr),
                        ("audit", audit), ("daemon log", logs)):
        for s in secrets:
            assert s not in text, (where, s)
    assert bundle.returncode == 0, bundle


def cleanup():
    try:
        P.cleanup()
    finally:
        for s in (reg_anon, reg_auth, reg_tok, reg_plain):
            s.stop()
        tokens.stop()
        evil.stop()
        storage.stop()
        oci.leave_namespace(HOSTS)


try:
    rt.run_tests([test_config_refuses_bad_oci_urls, test_anonymous_publish_and_fetch,
                  test_unchanged_is_one_conditional_manifest_request,
                  test_tag_moved_to_new_version_is_picked_up, test_digest_pin,
                  test_basic_auth_with_htpasswd, test_bearer_token_flow_with_docker_registry,
                  test_curl_push_from_the_docs,
                  test_plain_http_only_to_loopback_with_the_test_flag,
                  test_publish_refuses_without_credentials,
                  test_wrong_layer_digest, test_wrong_media_type,
                  test_huge_layer_is_not_downloaded, test_manifest_list,
                  test_another_repositorys_manifest, test_lying_digest_header_and_pin,
                  test_blob_redirect_off_host_only_where_allowed,
                  test_bearer_token_flow_and_401_loops, test_credentials_never_leak])
finally:
    cleanup()
