# SPDX-License-Identifier: ISC
"""port.bind: an unprivileged owner serves on port 80; everyone else is refused."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402

rt.need_root()

SERVER = r'''
import os, socket, sys
assert os.environ["LISTEN_PID"] == str(os.getpid()) and os.environ["LISTEN_FDS"] == "1"
s = socket.socket(fileno=3)
c, _ = s.accept()
c.recv(4096)
body = ("served by uid %d" % os.getuid()).encode()
c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
c.close()
'''

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else rt.PYTHON


def free_port(candidates):
    for p in candidates:
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    rt.skip("no free privileged port among %s" % candidates)


env = rt.Env({"owner_user": "nobody", "ports": {"allow": [[1, 1023]], "deny": [81]}}, name="port")


def test_owner_serves_http_on_port_80():
    port = free_port([80, 8, 180, 280])
    p = subprocess.Popen(rt.setpriv_prefix("nobody") + [env.cli_path, "--socket", env.sock, "bind",
                         str(port), "--", PY, "-c", SERVER], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    body = None
    deadline = time.time() + 15
    while time.time() < deadline and body is None:
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5).read().decode()
        except OSError:
            if p.poll() is not None:
                break
            time.sleep(0.05)
    out, err = p.communicate(timeout=15)
    assert body == "served by uid 65534", (body, out, err)
    assert p.returncode == 0, err
    assert any("op=port.bind uid=65534" in l and "result=ok" in l for l in env.audit_lines())


def test_non_owner_refused():
    r = env.cli("bind", "80", "--", "true", user="daemon")
    assert r.returncode == 1 and "E_PERM" in r.stderr, r
    assert any("op=port.bind uid=1 " in l and "result=refused" in l for l in env.audit_lines())


def test_unprivileged_port_refused():
    r = env.cli("bind", "8080", "--", "true", user="nobody")
    assert r.returncode == 1 and "E_PORT_DENIED" in r.stderr and "below 1024" in r.stderr, r


def test_denied_port_refused():
    r = env.cli("bind", "81", "--", "true", user="nobody")
    assert r.returncode == 1 and "E_PORT_DENIED" in r.stderr and "deny" in r.stderr, r


def test_builtin_deny_list():
    # system daemons' ports, whatever ports.allow says (it allows 1-1023 here)
    for port, who in ((22, "sshd"), (53, "DNS"), (631, "CUPS")):
        r = env.cli("bind", str(port), "--", "true", user="nobody")
        assert r.returncode == 1 and "E_PORT_DENIED" in r.stderr and who in r.stderr, r
        assert "built-in deny list" in r.stderr, r
    r = env.cli("bind", "22", "--", "true")  # root too: nobody impersonates sshd through us
    assert r.returncode == 1 and "built-in" in r.stderr, r


def test_port_in_use():
    port = free_port([79, 180, 281, 382])
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen(1)
    try:
        r = env.cli("bind", str(port), "--", "true", user="nobody")
        assert r.returncode == 1 and "EADDRINUSE" in r.stderr, r
    finally:
        s.close()


def test_address_policy():
    r = env.cli("bind", "--addr", "0.0.0.0", "80", "--", "true", user="nobody")
    assert r.returncode == 1 and "E_ADDR_DENIED" in r.stderr, r
    r = env.cli("bind", "--addr", "10.1.2.3", "80", "--", "true", user="nobody")
    assert r.returncode == 1 and "E_ADDR_DENIED" in r.stderr, r
    r = env.cli("bind", "--addr", "not-an-ip", "80", "--", "true", user="nobody")
    assert r.returncode == 1 and "E_ARGS" in r.stderr, r
    # IPv6 too: on Linux a "::" socket also serves IPv4, so a privileged port would be on
    # every interface; a mapped IPv4 address is not loopback either (issue 16)
    for addr in ("::", "2001:db8::1", "::ffff:10.1.2.3", "::ffff:127.0.0.1", "fe80::1"):
        r = env.request("port.bind", {"addr": addr, "port": 80})
        assert r["ok"] is False and r["error"]["code"] == "E_ADDR_DENIED", (addr, r)
        r = env.cli("bind", "--addr", addr, "80", "--", "true", user="nobody")
        assert r.returncode == 1 and "E_ADDR_DENIED" in r.stderr, (addr, r)


def test_udp_and_ipv6():
    port = free_port([153, 253, 353])
    check = "import socket;s=socket.socket(fileno=3);print(s.type, s.getsockname()[1])"
    # UDP is opt-in: a bound UDP socket can also send from the privileged port
    r = env.cli("bind", "--udp", str(port), "--", PY, "-c", check, user="nobody")
    assert r.returncode == 1 and "allow_udp" in r.stderr, r
    cfg = json.loads(json.dumps(env.config))
    cfg["ports"]["allow_udp"] = True
    env.write_config(cfg)
    assert env.cli("reload").returncode == 0
    r = env.cli("bind", "--udp", str(port), "--", PY, "-c", check, user="nobody")
    assert r.returncode == 0 and r.stdout.split() == [str(int(socket.SOCK_DGRAM)), str(port)], r
    if socket.has_ipv6:
        try:
            socket.socket(socket.AF_INET6).bind(("::1", 0))
        except OSError:
            return
        check6 = "import socket;s=socket.socket(fileno=3);print(s.family)"
        r = env.cli("bind", "--addr", "::1", str(port), "--", PY, "-c", check6, user="nobody")
        assert r.returncode == 0 and r.stdout.strip() == str(int(socket.AF_INET6)), r


def test_raw_request_validation():
    for args, code in [({"port": "80"}, "E_ARGS"), ({}, "E_ARGS"), ({"port": 80, "proto": "sctp"}, "E_ARGS"),
                       ({"port": 0}, "E_ARGS"), ({"port": 80, "backlog": -1}, "E_ARGS"),
                       ({"port": 80, "evil": 1}, "E_ARGS")]:
        r = env.request("port.bind", args)
        assert r["ok"] is False and r["error"]["code"] == code, (args, r)


try:
    env.start()
    rt.run_tests([test_owner_serves_http_on_port_80, test_non_owner_refused,
                  test_unprivileged_port_refused, test_denied_port_refused, test_builtin_deny_list, test_port_in_use,
                  test_address_policy, test_udp_and_ipv6, test_raw_request_validation])
finally:
    env.cleanup()
