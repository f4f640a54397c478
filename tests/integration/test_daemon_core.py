# SPDX-License-Identifier: ISC
"""Foundation: socket safety, framing, peer-credential authorisation, limits, signals."""
import array
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402

rt.need_root()


def with_env(config=None, args=()):
    def deco(fn):
        def run():
            env = rt.Env(config, name=fn.__name__)
            try:
                env.start(args)
                fn(env)
            finally:
                env.cleanup()
        run.__name__ = fn.__name__
        return run
    return deco


@with_env()
def test_socket_mode_and_ping_as_nobody(env):
    st = os.stat(env.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666, oct(st.st_mode)
    assert st.st_uid == 0
    r = env.cli("ping", user="nobody")
    assert r.returncode == 0 and "pong" in r.stdout, r
    r = env.cli("--json", "status", user="nobody")
    assert r.returncode == 0, r
    s = json.loads(r.stdout)["result"]
    assert s["pid"] == env.proc.pid and s["ops"]["count"] >= 1, s
    # per-op counters would show the owner's activity: totals only for anyone (issue 16)
    assert "ping" not in s["ops"] and "admin_group" in s["details"], s
    s = env.request("status")["result"]  # root sees them
    assert s["ops"]["ping"]["count"] >= 1 and "details" not in s, s


@with_env()
def test_reload_refused_for_nobody_allowed_for_root(env):
    r = env.cli("reload", user="nobody")
    assert r.returncode == 1, r
    assert "E_PERM" in r.stderr and "not allowed" in r.stderr, r.stderr
    r = env.cli("reload")
    assert r.returncode == 0 and "reloaded" in r.stdout, r
    lines = env.audit_lines()
    assert any("op=daemon.reload uid=65534" in l and "result=refused" in l for l in lines), lines
    assert any("op=daemon.reload uid=0" in l and "result=ok" in l for l in lines), lines


@with_env()
def test_reload_keeps_old_config_when_new_is_invalid(env):
    cfg = dict(env.config)
    cfg["limits"] = {"max_connections": -5}
    env.write_config(cfg)
    r = env.cli("reload")
    assert r.returncode == 1 and "limits.max_connections" in r.stderr, r
    assert env.cli("ping").returncode == 0


@with_env()
def test_admin_group_may_reload(env):
    cfg = dict(env.config)
    cfg["admin_group"] = "nogroup"
    env.write_config(cfg)
    assert env.cli("reload").returncode == 0
    # nobody's primary group is now the admin group
    r = env.cli("reload", user="nobody")
    assert r.returncode == 0, r


@with_env()
def test_malformed_requests_get_errors_and_do_not_hurt_others(env):
    other = env.connect()
    s = env.connect()
    s.sendall(rt.frame(b"{not json"))
    r = rt.read_reply(s)
    assert r["ok"] is False and r["error"]["code"] == "E_BAD_JSON", r
    s.sendall(rt.frame(b"[1,2]"))
    assert rt.read_reply(s)["error"]["code"] == "E_BAD_JSON"
    s.sendall(rt.frame({"id": 5}))
    r = rt.read_reply(s)
    assert r["error"]["code"] == "E_BAD_REQUEST" and r["id"] == 5, r
    s.sendall(rt.frame({"op": "no.such", "id": 6}))
    assert rt.read_reply(s)["error"]["code"] == "E_UNKNOWN_OP"
    s.sendall(rt.frame({"op": "ping", "id": 7, "args": [1]}))
    assert rt.read_reply(s)["error"]["code"] == "E_BAD_REQUEST"
    s.sendall(rt.frame({"op": "ping", "id": 8, "args": {"bogus": 1}}))
    assert rt.read_reply(s)["error"]["code"] == "E_ARGS"
    s.sendall(rt.frame(b'{"op":"ping","op":"ping"}'))
    assert rt.read_reply(s)["error"]["code"] == "E_BAD_JSON"
    # unknown top-level keys are refused, not ignored (a misplaced argument, issue 16)
    for extra in ({"arsg": {}}, {"ref": "ghcr.io/x"}, {"\n": 1}):
        req = {"op": "policy.check", "id": 10, "args": {"ref": "ghcr.io/x"}}
        req.update(extra)
        s.sendall(rt.frame(req))
        r = rt.read_reply(s)
        assert r["ok"] is False and r["error"]["code"] == "E_BAD_REQUEST" and r["id"] == 10, r
        assert "top level" in r["error"]["message"] and "\n" not in r["error"]["message"], r
    # the same connection still works after all that
    s.sendall(rt.frame({"op": "ping", "id": 9}))
    r = rt.read_reply(s)
    assert r["ok"] is True and r["id"] == 9 and r["result"]["pong"] == "rampartd", r
    other.sendall(rt.frame({"op": "ping", "id": 1}))
    assert rt.read_reply(other)["ok"] is True
    s.close()
    other.close()


@with_env()
def test_oversize_and_zero_frames_close(env):
    s = env.connect()
    s.sendall(struct.pack(">I", 65537))
    r = rt.read_reply(s)
    assert r["error"]["code"] == "E_TOO_BIG", r
    assert s.recv(1) == b""  # closed after the error
    s = env.connect()
    s.sendall(struct.pack(">I", 0))
    assert rt.read_reply(s)["error"]["code"] == "E_FRAME"
    assert s.recv(1) == b""
    # exactly at the limit is accepted as a frame (and then judged as JSON)
    s = env.connect()
    body = b'{"op":"ping","id":1' + b" " * (65536 - 20) + b'}'  # JSON whitespace as padding
    assert len(body) == 65536, len(body)
    s.sendall(rt.frame(body))
    assert rt.read_reply(s)["ok"] is True
    assert env.cli("ping").returncode == 0


@with_env(config={"limits": {"idle_timeout_ms": 400}})
def test_half_frame_then_stall_is_dropped(env):
    s = env.connect()
    s.sendall(b"\x00")
    t0 = time.time()
    s.settimeout(5)
    assert s.recv(1) == b""
    assert time.time() - t0 < 4
    # a slowloris that keeps sending a byte at a time is dropped too
    s = env.connect()
    s.sendall(struct.pack(">I", 100))
    dropped = False
    for _ in range(30):
        try:
            s.send(b" ")
        except OSError:
            dropped = True
            break
        time.sleep(0.1)
    assert dropped, "slow sender never dropped"
    assert env.cli("ping").returncode == 0
    st = env.request("status")["result"]
    assert st["dropped_idle"] >= 2, st


@with_env(config={"limits": {"max_connections": 400}})
def test_256_idle_connections_plus_working_client(env):
    idle = [env.connect() for _ in range(256)]
    try:
        for i in range(20):
            r = env.cli("ping", timeout=10)
            assert r.returncode == 0, r
        st = env.request("status")["result"]
        assert st["connections"] >= 256, st
    finally:
        for s in idle:
            s.close()


@with_env(config={"limits": {"max_per_uid": 4}})
def test_per_uid_cap_for_unprivileged_users(env):
    r_fd, w_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            socks, results = [], []
            for i in range(6):
                s = env.connect()
                socks.append(s)
            time.sleep(0.3)
            for s in socks:
                try:
                    s.sendall(rt.frame({"op": "ping", "id": 1}))
                    r = rt.read_reply(s)
                    results.append(r.get("ok") and "ok" or r["error"]["code"])
                except (OSError, ConnectionError):
                    results.append("closed")
            os.write(w_fd, json.dumps(results).encode())
        finally:
            os._exit(0)
    os.close(w_fd)
    os.waitpid(pid, 0)
    results = json.loads(os.read(r_fd, 4096))
    assert results.count("ok") == 4, results
    assert all(r in ("E_BUSY", "closed") for r in results[4:]), results
    # root is not subject to the per-uid cap and still gets through
    assert env.cli("ping").returncode == 0


@with_env()
def test_client_vanishing_mid_reply(env):
    for _ in range(50):
        s = env.connect()
        s.sendall(rt.frame({"op": "status", "id": 1}))
        s.close()
    assert env.cli("ping").returncode == 0


@with_env()
def test_fd_sent_to_op_that_takes_none(env):
    s = env.connect()
    r, w = os.pipe()
    data = rt.frame({"op": "ping", "id": 3})
    s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
    rep = rt.read_reply(s)
    assert rep["ok"] is False and rep["error"]["code"] == "E_ARGS", rep
    os.close(r)
    os.close(w)
    # two fds with one request: refused and closed
    s = env.connect()
    a, b = os.pipe()
    s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [a, b]))])
    rep = rt.read_reply(s)
    assert rep["error"]["code"] == "E_PROTO", rep
    os.close(a)
    os.close(b)


def test_sigterm_removes_socket_and_exits_zero():
    env = rt.Env(name="sigterm")
    try:
        env.start()
        assert os.path.exists(env.sock)
        assert env.stop() == 0
        assert not os.path.exists(env.sock)
    finally:
        env.cleanup()


def test_world_writable_config_refused():
    env = rt.Env(name="insecure")
    try:
        env.write_config(mode=0o666)
        rc = env.start(expect_fail=True)
        assert rc == 78, rc
        assert env.config_path in env.daemon_log() and "writable" in env.daemon_log()
        assert not os.path.exists(env.sock)
        env.write_config(mode=0o644)
        os.chmod(env.etc, 0o777)
        rc = env.start(expect_fail=True)
        assert rc == 78 and "config directory" in env.daemon_log(), env.daemon_log()
    finally:
        env.cleanup()


def test_invalid_config_values_refused():
    env = rt.Env(name="badcfg")
    base = dict(env.config)
    try:
        for bad, needle in [({"limits": {"max_frame": 10}}, "limits.max_frame"),
                            ({"bogus": 1}, "unknown key"),
                            ({"owner_user": "no-such-user-xyz"}, "owner_user"),
                            ({"policy": {"url": "ftp://x", "keys": ["/k"], "org": "a"}}, "https"),
                            ({"socket": "relative.sock"}, "absolute")]:
            cfg = dict(base)
            cfg.update(bad)
            env.write_config(cfg)
            r = subprocess.run([rt.RAMPARTD, "-c", env.config_path, "--check-config"],
                               capture_output=True, text=True)
            assert r.returncode == 78, (bad, r)
            assert needle in r.stderr, (needle, r.stderr)
    finally:
        env.cleanup()


def test_existing_non_socket_path_is_not_replaced():
    env = rt.Env(name="nonsock")
    try:
        with open(env.sock, "w") as f:
            f.write("precious")
        rc = env.start(expect_fail=True)
        assert rc == 1 and "not a socket" in env.daemon_log(), env.daemon_log()
        with open(env.sock) as f:
            assert f.read() == "precious"
        os.unlink(env.sock)
        # a stale socket (nobody listening) is replaced
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(env.sock)
        s.close()
        env.start()
        assert env.cli("ping").returncode == 0
        # a live daemon is not replaced by a second one
        other = rt.subprocess.run([rt.RAMPARTD, "-c", env.config_path], capture_output=True,
                                  text=True, timeout=20)
        assert other.returncode == 1 and "already serving" in other.stderr, other
        assert env.cli("ping").returncode == 0
    finally:
        env.cleanup()


def test_systemd_socket_activation():
    if shutil.which("systemd-socket-activate") is None:
        rt.skip("systemd-socket-activate not installed")
    env = rt.Env(name="sockact")
    try:
        env.log = open(env.path("act.log"), "w")
        env.logpath = env.path("act.log")
        env.proc = subprocess.Popen(["systemd-socket-activate", "-l", env.sock, rt.RAMPARTD,
                                     "-c", env.config_path], stdout=env.log,
                                    stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(env.sock) and time.time() < deadline:
            time.sleep(0.05)
        r = env.cli("--json", "status")
        assert r.returncode == 0, (r, env.daemon_log())
        assert json.loads(r.stdout)["result"]["socket_activated"] is True
        env.stop()
        assert "socket activation" in env.daemon_log()
    finally:
        env.cleanup()


def test_unreachable_daemon_exit_code():
    env = rt.Env(name="unreach")
    try:
        r = env.cli("ping")
        assert r.returncode == 3 and "E_UNREACHABLE" in r.stderr, r
        r = env.cli("frobnicate")
        assert r.returncode == 2, r
        for cmd in ("ping", "status", "reload"):
            r = env.cli(cmd, "--help")
            assert r.returncode == 0 and "usage: rampart " + cmd in r.stdout, r
    finally:
        env.cleanup()


rt.run_tests([
    test_socket_mode_and_ping_as_nobody,
    test_reload_refused_for_nobody_allowed_for_root,
    test_reload_keeps_old_config_when_new_is_invalid,
    test_admin_group_may_reload,
    test_malformed_requests_get_errors_and_do_not_hurt_others,
    test_oversize_and_zero_frames_close,
    test_half_frame_then_stall_is_dropped,
    test_256_idle_connections_plus_working_client,
    test_per_uid_cap_for_unprivileged_users,
    test_client_vanishing_mid_reply,
    test_fd_sent_to_op_that_takes_none,
    test_sigterm_removes_socket_and_exits_zero,
    test_world_writable_config_refused,
    test_invalid_config_values_refused,
    test_existing_non_socket_path_is_not_replaced,
    test_systemd_socket_activation,
    test_unreachable_daemon_exit_code,
])
