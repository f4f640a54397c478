#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Test HTTP/HTTPS server for policy fetches (stdlib only, 127.0.0.1/::1 only).

Run as a program, it prints ONE JSON line on stdout once every socket listens:

    {"https": P, "http": P, "garbage": P, "hang": P, "cert": "...", "key": "...",
     "https6": P, "http6": P}          # the *6 keys only with --ipv6 and if ::1 works

or import it (sys.path.insert(0, ".../tests/integration/helpers")) and use
PolicyServer(root=..., cert_dir=...).start() / .stop() / .url(path).

Ports:
  https    TLS with a self-signed P-256 certificate for IP 127.0.0.1 (cert_dir/cert.pem,
           generated with the openssl CLI if missing; pass it to the client as the CA file)
  http     the same handler without TLS
  garbage  plain-text bytes to anyone who connects (not TLS), then close
  hang     accepts and never sends a byte (connect/handshake timeouts)

Paths (on http and https alike; GET and HEAD):
  /p/NAME              file ROOT/NAME, ETag "<sha256 prefix>", 304 on a matching If-None-Match;
                       ?etag=RAW overrides the ETag header sent
  /big?n=N             N bytes with Content-Length
  /big-chunked?n=N     N bytes, chunked, no Content-Length
  /big-close?n=N       N bytes, no length at all, end marked by closing the connection
  /drip?n=N&delay=S    Content-Length N, then one byte every S seconds
  /hang                reads the request, never answers
  /hang-body?n=N       headers with Content-Length N, then nothing
  /redirect?to=URL     302 to URL (&code=301/307/308 for others)
  /redirect-http?path=P  302 to http://127.0.0.1:<http port>P
  /loop                302 to /loop forever
  /reset               reads the request, then resets the connection (RST)
  /status?code=N       answers N with a short body
Every request is appended as one JSON line to --log FILE (method, path, if_none_match, port).

Options: --root DIR (default cwd), --cert-dir DIR (default: a temp dir), --log FILE, --ipv6,
--exit-on-eof (exit when stdin closes: the parent died or is done).
"""

import argparse
import hashlib
import http.server
import json
import os
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

MAX_HANG_S = 60


def make_cert(cert_dir, cn="127.0.0.1"):
    """Creates cert_dir/cert.pem + key.pem (P-256, SAN IP:127.0.0.1 and IP:::1) if missing."""
    cert_dir = os.path.abspath(cert_dir)
    cert = os.path.join(cert_dir, "cert.pem")
    key = os.path.join(cert_dir, "key.pem")
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=IP:127.0.0.1,IP:::1", "-days", "1",
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    os.chmod(cert, 0o644)
    return cert, key


def etag_of(data):
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rampart-test-policy-server/1"

    def log_message(self, fmt, *args):  # quiet; requests go to --log
        pass

    def _log(self):
        path = self.server.state.get("log")
        if not path:
            return
        line = json.dumps({"method": self.command, "path": self.path,
                           "if_none_match": self.headers.get("If-None-Match"),
                           "port": self.server.server_address[1],
                           "time": time.time()})
        with self.server.state["log_lock"], open(path, "a") as f:
            f.write(line + "\n")

    def _simple(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _wait(self, seconds=MAX_HANG_S):
        self.server.state["stopping"].wait(seconds)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self._log()
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        n = int(q.get("n", "0"))
        route = url.path
        try:
            if route.startswith("/p/"):
                return self._file(route[3:], q)
            handler = ROUTES.get(route)
            if handler is None:
                return self._simple(404, b"not found\n")
            return handler(self, q, n)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def _file(self, name, q):
        root = self.server.state["root"]
        if "/" in name or name in ("", ".", ".."):
            return self._simple(404, b"bad name\n")
        try:
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
        except OSError:
            return self._simple(404, b"no such file\n")
        tag = q.get("etag", etag_of(data))
        inm = self.headers.get("If-None-Match")
        if inm is not None and (inm.strip() == "*" or tag in [t.strip() for t in inm.split(",")]):
            return self._simple(304, b"", [("ETag", tag)])
        return self._simple(200, data, [("ETag", tag), ("Content-Type", "application/json")])

    def r_big(self, q, n):
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        self._send_x(n)

    def r_big_chunked(self, q, n):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        left = n
        while left > 0:
            c = min(left, 16384)
            self.wfile.write(b"%x\r\n" % c + b"x" * c + b"\r\n")
            left -= c
        self.wfile.write(b"0\r\n\r\n")

    def r_big_close(self, q, n):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self._send_x(n)

    def _send_x(self, n):
        left = n
        while left > 0:
            c = min(left, 65536)
            self.wfile.write(b"x" * c)
            left -= c

    def r_drip(self, q, n):
        delay = float(q.get("delay", "0.2"))
        n = n or 1000000
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        self.wfile.flush()
        deadline = time.monotonic() + MAX_HANG_S
        for _ in range(n):
            if self.server.state["stopping"].wait(delay) or time.monotonic() > deadline:
                break
            self.wfile.write(b"x")
            self.wfile.flush()
        self.close_connection = True

    def r_hang(self, q, n):
        self._wait()
        self.close_connection = True

    def r_hang_body(self, q, n):
        self.send_response(200)
        self.send_header("Content-Length", str(n or 100))
        self.end_headers()
        self.wfile.flush()
        self._wait()
        self.close_connection = True

    def r_redirect(self, q, n):
        self._simple(int(q.get("code", "302")), b"", [("Location", q.get("to", "/"))])

    def r_redirect_http(self, q, n):
        port = self.server.state["ports"].get("http")
        self._simple(302, b"", [("Location", "http://127.0.0.1:%d%s" % (port, q.get("path", "/")))])

    def r_loop(self, q, n):
        self._simple(302, b"", [("Location", "/loop")])

    def r_reset(self, q, n):
        # SO_LINGER 0: the close below (done once the handler's files let go) sends RST.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def r_status(self, q, n):
        code = int(q.get("code", "500"))
        self._simple(code, b"status %d\n" % code)


ROUTES = {
    "/big": Handler.r_big,
    "/big-chunked": Handler.r_big_chunked,
    "/big-close": Handler.r_big_close,
    "/drip": Handler.r_drip,
    "/hang": Handler.r_hang,
    "/hang-body": Handler.r_hang_body,
    "/redirect": Handler.r_redirect,
    "/redirect-http": Handler.r_redirect_http,
    "/loop": Handler.r_loop,
    "/reset": Handler.r_reset,
    "/status": Handler.r_status,
}


class HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, state, family=socket.AF_INET):
        self.address_family = family
        self.state = state
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # clients that hang up early are expected


class HTTPSServer(HTTPServer):
    def __init__(self, addr, state, ctx, family=socket.AF_INET):
        self.ctx = ctx
        super().__init__(addr, state, family)

    def finish_request(self, request, client_address):
        # The handshake runs in the per-connection thread, so a client that
        # never speaks TLS cannot block the accept loop.
        request.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            http.server.HTTPServer.finish_request(self, tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class RawServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, state, mode):
        self.state = state
        self.mode = mode
        super().__init__(addr, RawHandler)

    def handle_error(self, request, client_address):
        pass


class RawHandler(socketserver.BaseRequestHandler):
    def handle(self):
        if self.server.mode == "garbage":
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 20)
        else:
            self.server.state["stopping"].wait(MAX_HANG_S)


class PolicyServer:
    """All test sockets on 127.0.0.1 (and optionally ::1), each on its own thread."""

    def __init__(self, root=".", cert_dir=None, log=None, ipv6=False):
        self._tmp = None
        if cert_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="rampart-policy-server-")
            cert_dir = self._tmp.name
        self.cert, self.key = make_cert(cert_dir)
        self.state = {"root": os.path.abspath(root), "log": log, "log_lock": threading.Lock(),
                      "stopping": threading.Event(), "ports": {}}
        self.ipv6 = ipv6
        self.servers = []

    def _add(self, name, srv):
        self.servers.append(srv)
        self.state["ports"][name] = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    def start(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        self._add("https", HTTPSServer(("127.0.0.1", 0), self.state, ctx))
        self._add("http", HTTPServer(("127.0.0.1", 0), self.state))
        self._add("garbage", RawServer(("127.0.0.1", 0), self.state, "garbage"))
        self._add("hang", RawServer(("127.0.0.1", 0), self.state, "hang"))
        if self.ipv6:
            try:
                self._add("https6", HTTPSServer(("::1", 0), self.state, ctx, socket.AF_INET6))
                self._add("http6", HTTPServer(("::1", 0), self.state, socket.AF_INET6))
            except OSError:
                pass  # no IPv6 loopback here: the keys are simply absent
        return self.info()

    def info(self):
        d = dict(self.state["ports"])
        d["cert"] = self.cert
        d["key"] = self.key
        return d

    def url(self, path, scheme="https"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.state["ports"][scheme], path)

    def stop(self):
        self.state["stopping"].set()
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--cert-dir")
    ap.add_argument("--log")
    ap.add_argument("--ipv6", action="store_true")
    ap.add_argument("--exit-on-eof", action="store_true")
    a = ap.parse_args()
    srv = PolicyServer(root=a.root, cert_dir=a.cert_dir, log=a.log, ipv6=a.ipv6)
    info = srv.start()
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    try:
        if a.exit_on_eof:
            while sys.stdin.buffer.read(4096):
                pass
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    os._exit(0)  # do not wait for handler threads that hang on purpose


if __name__ == "__main__":
    main()
