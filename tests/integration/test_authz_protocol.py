#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""rampart-authz at the protocol level: the requests dockerd sends, posted with
curl --unix-socket to the real plugin deciding against a real signed policy store.
Allowed and refused pulls, creates and plugin pulls with the exact refusal text, every
request-smuggling form that would make dockerd act on something the plugin did not
decide (form bodies, duplicate parameters, encoded paths, case-folded JSON keys,
missing bodies, image IDs), malformed requests answered fail-closed, warn mode, audit
lines and their coalescing, the counters record, privilege drop, socket activation,
and a policy change picked up without a restart."""
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers"))
import rt  # noqa: E402
import rtauthz  # noqa: E402
from rtauthz import AuthzEnv  # noqa: E402

DENY_5001 = ("rampart: 127.0.0.1:5001/other/x:1 denied by policy acme v3: "
             "no rule matches registry 127.0.0.1:5001")

E = None


def env():
    global E
    if E is None:
        E = AuthzEnv("authz-proto")
        E.start()
    return E


def denied(ans, msg=None):
    assert ans.get("Allow") is False, ans
    if msg is not None:
        assert ans.get("Msg") == msg, ans


def err(ans, fragment):
    """A request rampart cannot read: Err, and the same text in Msg (dockerd shows only Msg)."""
    assert ans.get("Allow") is False and ans.get("Msg") == ans.get("Err"), ans
    assert fragment in ans.get("Err", ""), ans


def test_activate_and_other_endpoints():
    e = env()
    code, ans = e.post("/Plugin.Activate", b"")
    assert code == 200 and ans == {"Implements": ["authz"]}, ans
    code, ans = e.post("/Nope", b"{}")
    assert code == 404, (code, ans)
    for m, uri in (("GET", "/v1.41/containers/json"), ("POST", "/v1.41/images/x/push"),
                   ("DELETE", "/v1.41/images/127.0.0.1:5001/other/x:1"), ("GET", "/_ping")):
        assert e.authz(m, uri) == {"Allow": True}, uri
    code, ans = e.post("/AuthZPlugin.AuthZRes", rtauthz.docker_req("GET", "/v1.41/info"))
    assert ans == {"Allow": True}, ans


def test_pull_allowed_and_refused_with_exact_text():
    e = env()
    assert e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fx&tag=1") == {"Allow": True}
    denied(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1%3A5001%2Fother%2Fx&tag=1"), DENY_5001)
    denied(e.authz("POST", "/images/create?fromImage=127.0.0.1:5001/other/x:1"), DENY_5001)
    # the tag parameter may be a digest; an image ending in ':' is trimmed as dockerd does
    d = "sha256:" + "a" * 64
    ans = e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=" + d)
    denied(ans, "rampart: 127.0.0.1:5001/other/x@%s denied by policy acme v3: "
           "no rule matches registry 127.0.0.1:5001" % d)
    denied(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x:&tag=1"), DENY_5001)
    # Docker Hub short names are normalised like policy.check
    denied(e.authz("POST", "/v1.41/images/create?fromImage=alpine&tag=3"),
           "rampart: docker.io/library/alpine:3 denied by policy acme v3: no rule matches "
           "registry docker.io and the policy does not allow Docker Hub (allow_docker_hub is false)")
    err(e.authz("POST", "/v1.41/images/create?fromImage=UPPER/Case&tag=1"), "invalid image reference")


def test_path_forms_dockerd_routes_are_decided():
    e = env()
    for uri in ("/v1.41/images/%63reate?fromImage=127.0.0.1:5001/other/x:1",
                "/v1.41//images/create?fromImage=127.0.0.1:5001/other/x:1",
                "/v1.41/images/./create?fromImage=127.0.0.1:5001/other/x:1",
                "/v1.41/x/../images/create?fromImage=127.0.0.1:5001/other/x:1",
                "/V1.41/IMAGES/CREATE?fromImage=127.0.0.1:5001/other/x:1",
                "/images%2Fcreate?fromImage=127.0.0.1:5001/other/x:1",
                "http://docker/v1.41/images/create?fromImage=127.0.0.1:5001/other/x:1"):
        denied(e.authz("POST", uri), DENY_5001)
    err(e.authz("POST", "/v1.41/images/cr%zzeate?fromImage=x"), "E_AUTHZ_URI")
    err(e.authz("POST", "/v1.41/images/cr%00eate?fromImage=x"), "E_AUTHZ_URI")


def test_query_smuggling_refused():
    e = env()
    # Go's Form.Get takes the first value: a second fromImage is refused, not guessed
    err(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&fromImage=127.0.0.1:5001/other/x&tag=1"),
        "given twice")
    err(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x;fromImage=127.0.0.1:5001/x"), "';'")
    err(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1&tag=2"), "given twice")
    denied(e.authz("POST", "/v1.41/images/create?from%49mage=127.0.0.1:5001/other/x:1"), DENY_5001)
    # parameters in a form body win over the query in Go's ParseForm: refused
    for ct in ("application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; charset=x",
               "multipart/form-data; boundary=x"):
        err(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1",
                    headers={"Content-Type": ct, "Content-Length": "0"}), "form parameters")
    # dockerd passes the LAST value of a repeated header but parses with the FIRST: with
    # "Content-Type: <form>" then "Content-Type: text/plain" the plugin sees text/plain
    # while Go reads the form body.  A body it was not shown is refused.
    for h in ({"Content-Type": "text/plain", "Content-Length": "40"}, {"Content-Type": "text/plain"},
              {"Content-Length": "12"}):
        err(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1", headers=h),
            "form parameters")
    err(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1",
                headers={"Content-Type": "text/plain", "content-type": "application/x-www-form-urlencoded"}),
        "Content-Type")
    # what the docker CLI sends, and a bodiless curl -X POST
    for h in ({"Content-Type": "text/plain", "Content-Length": "0"}, {}):
        assert e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1",
                       headers=h) == {"Allow": True}, h


def test_containers_create():
    e = env()
    ok = {"Image": "127.0.0.1:5000/x:1", "Cmd": ["/hello"]}
    h = {"Content-Type": "application/json"}
    assert e.authz("POST", "/v1.41/containers/create?name=a", ok, h) == {"Allow": True}
    denied(e.authz("POST", "/v1.41/containers/create", {"Image": "127.0.0.1:5001/other/x:1"}, h), DENY_5001)
    # Go's decoder matches keys case-insensitively and keeps the last: two spellings refused
    err(e.authz("POST", "/v1.41/containers/create",
                b'{"Image":"127.0.0.1:5000/x:1","image":"127.0.0.1:5001/other/x:1"}', h), "twice")
    denied(e.authz("POST", "/v1.41/containers/create", b'{"IMAGE":"127.0.0.1:5001/other/x:1"}', h), DENY_5001)
    err(e.authz("POST", "/v1.41/containers/create",
                b'{"Image":"127.0.0.1:5000/x:1","Image":"127.0.0.1:5001/other/x:1"}', h), "not valid JSON")
    # no body passed on (chunked, > 1 MiB): nothing to decide from, refused
    err(e.authz("POST", "/v1.41/containers/create", None, h), "did not pass the container config")
    err(e.authz("POST", "/v1.41/containers/create", b"[1]", h), "JSON object")
    err(e.authz("POST", "/v1.41/containers/create", {"Cmd": ["x"]}, h), "no usable Image")
    for ident in ("sha256:" + "b" * 64, "bbbbbbbbbbbb", "cafe"):
        ans = e.authz("POST", "/v1.41/containers/create", {"Image": ident}, h)
        denied(ans)
        assert "an image ID names no registry" in ans["Msg"], ans


def test_plugins_and_load():
    e = env()
    assert e.authz("POST", "/v1.41/plugins/pull?remote=127.0.0.1:5000/p:1&name=p", [], {}) == {"Allow": True}
    ans = e.authz("POST", "/v1.41/plugins/pull?remote=127.0.0.1:5001/other/x:1", [], {})
    denied(ans, DENY_5001)
    denied(e.authz("POST", "/v1.41/plugins/my/p:1/upgrade?remote=127.0.0.1:5001/other/x:1", [], {}), DENY_5001)
    err(e.authz("POST", "/v1.41/plugins/pull?name=p", [], {}), "without a remote")
    # load and import are allowed unless enforce.docker.block_load
    assert e.authz("POST", "/v1.41/images/load?quiet=1") == {"Allow": True}
    assert e.authz("POST", "/v1.41/images/create?fromSrc=-&repo=x") == {"Allow": True}


def test_block_load():
    b = AuthzEnv("authz-load", docker={"block_load": True})
    try:
        b.start()
        for uri in ("/v1.41/images/load", "/v1.41/images/create?fromSrc=http://127.0.0.1:9/x.tar",
                    "/v1.41/plugins/create?name=p",
                    "/v1.41/images/create?fromImage=&fromSrc=-"):
            ans = b.authz("POST", uri)
            denied(ans, "rampart: loading or importing images is disabled (enforce.docker.block_load): "
                   "images must come from a registry the policy allows")
        assert b.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1") == {"Allow": True}
    finally:
        b.cleanup()


def test_malformed_requests_fail_closed():
    e = env()
    cases = [(b"not json", "E_AUTHZ_JSON"), (b"[]", "JSON object"), (b"{}", "RequestMethod is missing"),
             (json.dumps({"RequestMethod": "POST"}).encode(), "RequestUri is missing"),
             (json.dumps({"RequestMethod": 1, "RequestUri": "/"}).encode(), "RequestMethod must be"),
             (json.dumps({"RequestMethod": "POST", "RequestUri": "/containers/create",
                          "RequestBody": "!!!"}).encode(), "base64"),
             (json.dumps({"RequestMethod": "POST", "RequestUri": "/x\u0000y"}).encode(), "E_AUTHZ_JSON"),
             (json.dumps({"RequestMethod": "POST", "RequestUri": "x" * 9000}).encode(), "RequestUri must be"),
             (json.dumps({"RequestMethod": "POST", "RequestUri": "/", "RequestHeaders": []}).encode(),
              "RequestHeaders"),
             (b'{"RequestMethod":"POST","RequestMethod":"GET","RequestUri":"/"}', "E_AUTHZ_JSON"),
             (b"{" * 100000, "E_AUTHZ_JSON"),
             (b" " * (5 << 20), "larger than")]
    for data, frag in cases:
        code, ans = e.post("/AuthZPlugin.AuthZReq", data)
        assert code == 200, (code, ans)
        err(ans, frag)
    code, ans = e.post("/AuthZPlugin.AuthZRes", b"nope")
    assert ans.get("Allow") is False and "Err" in ans, ans
    assert e.proc.poll() is None
    # a client that hangs up mid-body does not hurt the next one
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(e.sock)
    s.sendall(b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    s.close()
    assert e.authz("GET", "/_ping") == {"Allow": True}


def test_audit_lines_coalesced_and_counted():
    a = AuthzEnv("authz-audit")
    try:
        a.start()
        for _ in range(5):
            denied(a.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1"), DENY_5001)
        for _ in range(3):
            assert a.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1") == {"Allow": True}
        a.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/y%0Atime=forged&tag=1")
        lines = a.audit_lines()
        pulls = [ln for ln in lines if 'normalized="127.0.0.1:5001/other/x:1"' in ln]
        assert len(pulls) == 1, lines
        assert (' engine=docker op=pull result=denied mode=enforce ref="127.0.0.1:5001/other/x:1" '
                'normalized="127.0.0.1:5001/other/x:1" rule="" policy_version=3 msg="%s"' % DENY_5001) in pulls[0], pulls
        assert pulls[0].startswith("time=20"), pulls
        assert not any(ln.startswith("time=forged") for ln in lines), lines
        assert len(lines) == 2, lines   # allowed decisions are counted, not logged
        time.sleep(1.2)
        c = a.counters()
        assert c["magic"] == 0x72615a31 and c["size"] == rtauthz.WIRE.size, c
        assert c["denied"]["pull"] == 6 and c["allowed"]["pull"] == 3, c
        assert c["errors"] == 1 and c["audit_suppressed"] == 4 and c["mode"] == 2, c
        assert c["policy_version"] == 3 and c["socket"] == a.sock and c["pid"] == a.proc.pid, c
        assert a.stop() == 0
        lines = a.audit_lines()
        rep = [ln for ln in lines if "repeated=4" in ln]
        assert len(rep) == 1 and 'normalized="127.0.0.1:5001/other/x:1"' in rep[0], lines
    finally:
        a.cleanup()


def test_warn_mode_allows_and_logs():
    w = AuthzEnv("authz-warn", mode="warn")
    try:
        w.start()
        assert w.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1") == {"Allow": True}
        assert w.authz("POST", "/v1.41/containers/create", {"Image": "127.0.0.1:5001/other/x:1"},
                       {"Content-Type": "application/json"}) == {"Allow": True}
        lines = w.audit_lines()
        assert len(lines) == 2 and all(" result=warn mode=warn " in ln for ln in lines), lines
        assert DENY_5001 in lines[0], lines
        time.sleep(1.2)
        c = w.counters()
        assert c["warned"]["pull"] == 1 and c["warned"]["create"] == 1 and c["denied"]["pull"] == 0, c
        assert c["mode"] == 1, c
        # SIGHUP applies a mode change from the config without a restart
        w.mode = "enforce"
        w.write_config()
        w.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline:
            if w.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1").get("Allow") is False:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("SIGHUP did not switch to enforce")
    finally:
        w.cleanup()


def test_policy_change_without_restart():
    e = env()
    denied(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1"), DENY_5001)
    e.import_policy(4, ("127.0.0.1:5000", "127.0.0.1:5001"))
    time.sleep(0.05)
    assert e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1") == {"Allow": True}
    e.import_policy(5, ("127.0.0.1:5000",))
    time.sleep(0.05)
    denied(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1"),
           DENY_5001.replace(" v3:", " v5:"))


def test_no_policy_cached_denies():
    n = AuthzEnv("authz-nopol", version=None)
    try:
        n.start()
        denied(n.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1"),
               "rampart: 127.0.0.1:5000/x:1 denied: no policy cached; denied by default")
    finally:
        n.cleanup()


def test_unprivileged_socket_mode_and_no_openssl():
    e = env()
    with open("/proc/%d/status" % e.proc.pid) as f:
        st = dict(ln.split(":", 1) for ln in f.read().splitlines() if ":" in ln)
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
    assert st["Uid"].split() == [str(nobody)] * 4, st["Uid"]
    assert st["Groups"].strip() == "", st["Groups"]
    assert st["NoNewPrivs"].strip() == "1", st
    m = os.lstat(e.sock)
    assert stat.S_ISSOCK(m.st_mode) and stat.S_IMODE(m.st_mode) == 0o600 and m.st_uid == 0, m
    libs = subprocess.run(["ldd", rtauthz.AUTHZ], capture_output=True, text=True).stdout
    for bad in ("libssl", "libcrypto", "libcurl"):
        assert bad not in libs, libs
    # a second instance on the same socket refuses to start instead of stealing it
    r = subprocess.run([rtauthz.AUTHZ, "-c", e.config_path], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "in use" in r.stderr, r


def test_socket_activation():
    a = AuthzEnv("authz-sd")
    try:
        ls = rtauthz.listening_socket(a.sock)
        a.start(listen_fd=ls.fileno())
        denied(a.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1"), DENY_5001)
        # killed: the socket stays (systemd holds it), requests queue until the restart
        a.proc.kill()
        a.proc.wait()
        a.proc = None
        a.log.close()
        a.start(listen_fd=ls.fileno(), wait=False)
        assert a.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5000/x&tag=1") == {"Allow": True}
        ls.close()
    finally:
        a.cleanup()


def test_rampart_status_shows_the_plugin():
    e = env()
    assert e.authz("GET", "/_ping") == {"Allow": True}
    denied(e.authz("POST", "/v1.41/images/create?fromImage=127.0.0.1:5001/other/x&tag=1"))
    assert e.authz("POST", "/v1.41/containers/create", {"Image": "127.0.0.1:5000/x:1"},
                   {"Content-Type": "application/json"}) == {"Allow": True}
    time.sleep(1.2)
    with open(e.config_path) as f:
        cfg = json.load(f)
    cfg["audit_log"] = e.path("rampartd-audit.log")
    with open(e.config_path, "w") as f:
        json.dump(cfg, f)
    log = open(e.path("rampartd.log"), "w")
    d = subprocess.Popen([rt.RAMPARTD, "-c", e.config_path], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while not os.path.exists(cfg["socket"]) and time.time() < deadline:
            time.sleep(0.05)
        r = subprocess.run([rt.CLI, "--socket", cfg["socket"], "--json", "status"], capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 0, r
        # enforce.mode=enforce compiles the containers policy.json too: into the temp
        # tree the config names (rtauthz), never the default /etc/containers/policy.json
        pc = json.loads(r.stdout)["result"]["enforce"]["containers"]
        assert pc["file"] == e.path("sys", "etc", "containers", "policy.json"), pc
        assert pc["written_file"] == pc["file"] and os.path.isfile(pc["file"]), pc
        p = json.loads(r.stdout)["result"]["enforce"]["docker"]
        assert p["running"] is True and p["pid"] == e.proc.pid and p["serving_version"] == e.counters()["policy_version"], p
        assert p["mode"] == "enforce" and p["plugin_mode"] == "enforce" and p["socket"] == e.sock, p
        c = p["counters"]
        assert c["denied"]["pull"] >= 1 and c["allowed"]["create"] >= 1 and c["undecided"] >= 1, c
        r = subprocess.run([rt.CLI, "--socket", cfg["socket"], "status"], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0 and "enforce docker: mode enforce, socket %s (rampart-authz pid %d" % (
            e.sock, e.proc.pid) in r.stdout, r.stdout
        # a forged or truncated record is reported, not believed
        with open(e.stats, "r+b") as f:
            f.truncate(10)
        r = subprocess.run([rt.CLI, "--socket", cfg["socket"], "--json", "status"], capture_output=True,
                           text=True, timeout=20)
        p = json.loads(r.stdout)["result"]["enforce"]["docker"]
        assert p["running"] is False and "not a 296-byte regular file" in p["error"] and "counters" not in p, p
    finally:
        d.terminate()
        d.wait(timeout=20)
        log.close()


def test_config_errors():
    e = env()
    bad = e.path("bad.json")
    for cfg, frag in (({"enforce": {"mode": "loud"}}, "enforce.mode must be"),
                      ({"enforce": {"docker": {"sock": "/x"}}}, "unknown key \"enforce.docker.sock\""),
                      ({"enforce": {"docker": {"socket": "rel"}}}, "absolute path"),
                      ({"enforce": {"docker": {"block_load": 1}}}, "true or false")):
        with open(bad, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run([rtauthz.AUTHZ, "-c", bad, "--check-config"], capture_output=True, text=True)
        assert r.returncode == 1 and frag in r.stderr, (cfg, r)
    r = subprocess.run([rtauthz.AUTHZ, "-c", e.config_path, "--check-config"], capture_output=True, text=True)
    assert r.returncode == 0 and "mode enforce" in r.stdout, r
    r = subprocess.run([rtauthz.AUTHZ, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "daemon-json" in r.stdout, r

def test_policy_v2_through_the_plugin():
    """Policy v2 (issue 18) decided in the plugin with librampart's matcher: a
    repository allow on whole components, a deny exception carved out of an
    allowed host (pull and create), and a deny rule in mode warn that blocks
    nothing but is audited."""
    v = AuthzEnv("authz-v2", version=None)
    try:
        v.import_policy(3, (), extra={
            "schema_version": 2,
            "registries": [{"host": "127.0.0.1:5000/acme/"}, {"host": "127.0.0.1:5001"}],
            "deny": [{"host": "127.0.0.1:5001/secret/"},
                     {"host": "127.0.0.1:5001/new/", "mode": "warn"}]})
        v.start()
        pull = "/v1.41/images/create?fromImage=%s&tag=1"
        assert v.authz("POST", pull % "127.0.0.1:5000/acme/app") == {"Allow": True}
        assert v.authz("POST", pull % "127.0.0.1:5000/acme/team/app") == {"Allow": True}
        denied(v.authz("POST", pull % "127.0.0.1:5000/acme-evil/app"),
               "rampart: 127.0.0.1:5000/acme-evil/app:1 denied by policy acme v3: "
               "no rule matches registry 127.0.0.1:5000")
        assert v.authz("POST", pull % "127.0.0.1:5001/other/x") == {"Allow": True}
        secret = ("rampart: 127.0.0.1:5001/secret/x:1 denied by policy acme v3: "
                  "127.0.0.1:5001/secret/x matches deny rule 127.0.0.1:5001/secret/ (deny "
                  "127.0.0.1:5001/secret/ is more specific than allow 127.0.0.1:5001)")
        denied(v.authz("POST", pull % "127.0.0.1:5001/secret/x"), secret)
        denied(v.authz("POST", "/v1.41/containers/create", {"Image": "127.0.0.1:5001/secret/x:1"},
                       {"Content-Type": "application/json"}), secret)
        # the warn rule does not block; the allowed request is audited with the rule
        assert v.authz("POST", pull % "127.0.0.1:5001/new/x") == {"Allow": True}
        lines = v.audit_lines()
        warn = [ln for ln in lines if "result=warn-rule" in ln]
        assert len(warn) == 1 and 'ref="127.0.0.1:5001/new/x:1"' in warn[0], lines
        assert "rule deny 127.0.0.1:5001/new/ (mode warn) would deny" in warn[0], warn
        assert len([ln for ln in lines if "result=denied" in ln]) == 3, lines
        time.sleep(1.2)
        c = v.counters()
        assert c["allowed"]["pull"] == 4 and c["denied"]["pull"] == 2, c
        assert c["denied"]["create"] == 1 and c["warned"]["pull"] == 0, c
    finally:
        v.cleanup()


if __name__ == "__main__":
    rt.need_root()
    try:
        rt.run_tests([test_activate_and_other_endpoints, test_pull_allowed_and_refused_with_exact_text,
                      test_path_forms_dockerd_routes_are_decided, test_query_smuggling_refused,
                      test_containers_create, test_plugins_and_load, test_block_load,
                      test_malformed_requests_fail_closed, test_audit_lines_coalesced_and_counted,
                      test_warn_mode_allows_and_logs, test_policy_change_without_restart,
                      test_no_policy_cached_denies, test_unprivileged_socket_mode_and_no_openssl,
                      test_socket_activation, test_rampart_status_shows_the_plugin, test_config_errors,
                      test_policy_v2_through_the_plugin])
    finally:
        if E is not None:
            E.cleanup()
