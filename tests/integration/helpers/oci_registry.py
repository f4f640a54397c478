# SPDX-License-Identifier: ISC
"""OCI registry fixtures for tests (127.0.0.1 only, inside the test's own network and
mount namespace): a test CA and server certificates, Debian's docker-registry started
on a port with optional htpasswd auth, its access log read back as request counts, and
a small hostile registry (python, TLS) whose answers a test chooses."""
import base64
import hashlib
import http.server
import json
import os
import re
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

REGISTRY = "/usr/bin/docker-registry"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_POLICY = "application/vnd.rampart.policy.dsse+json"
ARTIFACT = "application/vnd.rampart.policy"
ANN_REPO = "vnd.rampart.policy.repository"
EMPTY = b"{}"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def enter_namespace(script, marker="RAMPART_OCI_NS"):
    """Re-executes script in a private network + mount namespace (unshare -n -m) with lo
    up and a private /etc/hosts naming registry.test and storage.test; returns the path
    of that hosts file (the caller unmounts it at exit) when already inside."""
    import rt  # noqa: E402
    if not os.environ.get(marker):
        env = dict(os.environ)
        env[marker] = rt.ns_ids()   # the namespaces outside, checked once inside
        os.execvpe("unshare", ["unshare", "-n", "-m", "--propagation", "private",
                               os.environ.get("RAMPART_PYTHON", "python3"), "-B", script]
                   + sys.argv[1:], env)
    rt.require_private_namespace(os.path.basename(script), os.environ[marker])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    hosts = "/tmp/rampart-oci-hosts.%d" % os.getpid()
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost registry.test storage.test\n::1 localhost\n")
    os.chmod(hosts, 0o644)
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    return hosts


def leave_namespace(hosts):
    subprocess.run(["umount", "/etc/hosts"], check=False)
    try:
        os.unlink(hosts)
    except OSError:
        pass


def make_ca(d):
    """A test CA and one server certificate for 127.0.0.1, registry.test, storage.test."""
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, cert = (os.path.join(d, n) for n in ("srv.key", "srv.csr", "srv.pem"))
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True, timeout=60)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-subj", "/CN=rampart test CA", "-days", "1", "-keyout", ca_key, "-out", ca)
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=registry.test", "-keyout", key, "-out", csr)
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:registry.test,DNS:storage.test\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "1", "-extfile", ext, "-out", cert)
    for p in (ca, cert, key):
        os.chmod(p, 0o644)
    return ca, cert, key


class Registry:
    """docker-registry on 127.0.0.1:port with TLS, optionally htpasswd basic auth."""

    def __init__(self, d, port, ca, cert, key, htpasswd=None, auth_yaml="", tls=True):
        self.dir, self.port, self.ca = d, port, ca
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        self.log = os.path.join(d, "registry.log")
        auth = auth_yaml
        if htpasswd:
            auth = "auth:\n  htpasswd:\n    realm: rampart-test\n    path: %s\n" % htpasswd
        self.yml = os.path.join(d, "config.yml")
        with open(self.yml, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                    "http:\n  addr: 127.0.0.1:%d\n%s%s"
                    % (os.path.join(d, "data"), port,
                       "  tls:\n    certificate: %s\n    key: %s\n" % (cert, key) if tls else "",
                       auth))
        self.scheme = "https" if tls else "http"
        self.proc = None

    def start(self):
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([REGISTRY, "serve", self.yml], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        ctx = ssl.create_default_context(cafile=self.ca)
        for _ in range(200):
            try:
                urllib.request.urlopen("%s://127.0.0.1:%d/v2/" % (self.scheme, self.port),
                                       context=ctx if self.scheme == "https" else None,
                                       timeout=2)
                return self
            except urllib.error.HTTPError:
                return self  # 401: up, and wants credentials
            except OSError:
                time.sleep(0.05)
        raise AssertionError("docker-registry did not start: " + open(self.log).read())

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.logf.close()

    def mark(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def requests_since(self, mark):
        """(method, path, status, body bytes) of each access-log line after mark."""
        with open(self.log, errors="replace") as f:
            f.seek(mark)
            text = f.read()
        out = []
        for m in re.finditer(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d+) (\d+)', text):
            out.append((m.group(1), m.group(2), int(m.group(3)), int(m.group(4))))
        return out


def artifact_manifest(repo, blob, media=MT_POLICY, size=None, digest=None, artifact=ARTIFACT,
                      extra_layers=(), annotation_repo=None):
    """The manifest rampart-sign publish writes (same keys, same order)."""
    layers = list(extra_layers) + [{"mediaType": media, "digest": digest or sha(blob),
                                    "size": size if size is not None else len(blob)}]
    m = {"annotations": {ANN_REPO: annotation_repo or repo}, "artifactType": artifact,
         "config": {"digest": sha(EMPTY), "mediaType": "application/vnd.oci.empty.v1+json",
                    "size": 2}, "layers": layers, "mediaType": MT_MANIFEST,
         "schemaVersion": 2}
    return json.dumps(m, sort_keys=True, separators=(",", ":")).encode()


class Hostile:
    """A registry that answers what the test says.  self.routes maps a path to a
    function(handler) -> (status, headers dict, body bytes); self.log lists
    (method, path, headers dict) of every request."""

    def __init__(self, port, cert, key):
        self.port = port
        self.routes = {}
        self.log = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, head):
                outer.log.append((self.command, self.path, dict(self.headers)))
                fn = outer.routes.get(self.path.split("?")[0])
                status, hdrs, body = fn(self) if fn else (404, {}, b'{"errors":[]}')
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def do_GET(self):
                self.answer(False)

            def do_HEAD(self):
                self.answer(True)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", port), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def serve_artifact(self, repo, tag, blob, manifest=None, ctype=MT_MANIFEST,
                       header_digest=None):
        man = manifest if manifest is not None else artifact_manifest(repo, blob)
        self.routes["/v2/%s/manifests/%s" % (repo, tag)] = lambda h: (
            200, {"Content-Type": ctype, "Docker-Content-Digest": header_digest or sha(man)}, man)
        self.routes["/v2/%s/blobs/%s" % (repo, sha(blob))] = lambda h: (
            200, {"Content-Type": "application/octet-stream"}, blob)
        return man


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class TokenIssuer:
    """Signs registry tokens (RS256 JWTs with an x5c chain) the way docker-registry's
    token auth expects; the key is made with the openssl CLI and signs through it."""

    def __init__(self, d, issuer="rampart-test-issuer", service="rampart-test-registry"):
        self.issuer, self.service = issuer, service
        self.key, self.cert = os.path.join(d, "token.key"), os.path.join(d, "token.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                        "/CN=rampart test token issuer", "-days", "1", "-keyout", self.key,
                        "-out", self.cert], check=True, capture_output=True, timeout=60)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        os.chmod(self.cert, 0o644)

    def yaml(self, realm):
        return ("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n"
                "    rootcertbundle: %s\n" % (realm, self.service, self.issuer, self.cert))

    def token(self, repo, actions):
        now = int(time.time())
        head = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": "rampart", "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": "%d.%d" % (now, os.getpid()),
                  "access": [{"type": "repository", "name": repo, "actions": actions}]}
        signing = (b64url(json.dumps(head).encode()) + "." +
                   b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing,
                             check=True, capture_output=True).stdout
        return signing.decode() + "." + b64url(sig)
