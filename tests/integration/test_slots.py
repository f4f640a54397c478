# SPDX-License-Identifier: ISC
"""Connection slots (issue 16 item 1): a user who owns subordinate uids cannot
multiply the per-uid cap with a user namespace, and other users together can
never take the slots reserved for root, the owner and the admin group.

The namespace case is real: a throwaway user (rpi16a) with /etc/subuid
entries runs `unshare --user --map-auto --map-root-user` (setuid newuidmap) and connects as
nine different uids.  The user is created here and deleted afterwards."""
import json
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402

rt.need_root()

USER = "rpi16a"
MAX, PER_UID, RESERVED = 40, 8, 8
LIMITS = {"max_connections": MAX, "max_per_uid": PER_UID, "reserved": RESERVED}

# Runs with CAP_SETUID (root, or root of a user namespace): one child per uid,
# each opens `per` connections and pings on each, reports, then holds them
# until stdin closes.
HOLDER = r'''
import json, os, socket, struct, sys
path, per, uids = sys.argv[1], int(sys.argv[2]), [int(u) for u in sys.argv[3].split(",")]
r, w = os.pipe()
kids = []
for u in uids:
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            try:
                os.setgroups([])
            except OSError:
                pass
            os.setgid(u)
            os.setuid(u)
            res, held = [], []
            for _ in range(per):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                try:
                    s.connect(path)
                    b = json.dumps({"op": "ping", "id": 1}).encode()
                    s.sendall(struct.pack(">I", len(b)) + b)
                    hdr = b""
                    while len(hdr) < 4:
                        c = s.recv(4 - len(hdr))
                        if not c:
                            raise ConnectionError("closed")
                        hdr += c
                    n = struct.unpack(">I", hdr)[0]
                    body = b""
                    while len(body) < n:
                        c = s.recv(n - len(body))
                        if not c:
                            raise ConnectionError("closed")
                        body += c
                    rep = json.loads(body)
                    res.append("ok" if rep.get("ok") else rep["error"]["code"])
                    held.append(s)
                except (OSError, ConnectionError):
                    res.append("closed")
            os.write(w, (json.dumps({"uid": os.getuid(), "res": res}) + "\n").encode())
            sys.stdin.read()
        finally:
            os._exit(0)
    kids.append(pid)
os.close(w)
buf = b""
while buf.count(b"\n") < len(uids):
    c = os.read(r, 65536)
    if not c:
        break
    buf += c
print(json.dumps([json.loads(l) for l in buf.decode().splitlines()]), flush=True)
sys.stdin.read()
for pid in kids:
    os.waitpid(pid, 0)
'''


def with_env(fn):
    def run():
        env = rt.Env({"owner_user": "nobody", "limits": dict(LIMITS)}, name=fn.__name__)
        try:
            env.start()
            fn(env)
        finally:
            env.cleanup()
    run.__name__ = fn.__name__
    return run


def start_holder(env, prefix, uids):
    script = env.path("holder.py")
    with open(script, "w") as f:
        f.write(HOLDER)
    os.chmod(script, 0o644)
    p = subprocess.Popen(prefix + ["/usr/bin/python3", script, env.sock, str(PER_UID),
                                   ",".join(str(u) for u in uids)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    if not line:
        p.stdin.close()
        p.wait(30)
        raise AssertionError("holder failed: " + p.stderr.read())
    return p, json.loads(line)


def stop_holder(p):
    p.stdin.close()
    p.wait(30)


def assert_privileged_get_in(env):
    r = env.cli("ping")
    assert r.returncode == 0, ("root refused while others hold their slots", r)
    r = env.cli("ping", user="nobody")  # the owner
    assert r.returncode == 0, ("the owner refused while others hold their slots", r)
    st = env.request("status")["result"]
    assert st["refused_busy"] > 0, st


def assert_busy(r):
    """Refused at accept: the E_BUSY frame, or a close before the CLI's write."""
    out = r.stdout + r.stderr
    assert r.returncode != 0 and ("E_BUSY" in out or "lost the connection" in out), r


def user_delete():
    subprocess.run(["userdel", USER], capture_output=True)


def user_create():
    user_delete()
    r = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       capture_output=True, text=True)
    if r.returncode != 0:
        rt.skip("useradd failed: " + r.stderr.strip())
    with open("/etc/subuid") as f:
        mine = [l for l in f.read().splitlines() if l.split(":")[0] == USER]
    if not mine:
        r = subprocess.run(["usermod", "--add-subuids", "1600000-1665535", "--add-subgids",
                            "1600000-1665535", USER], capture_output=True, text=True)
        assert r.returncode == 0, r
    return pwd.getpwnam(USER).pw_uid


def userns_prefix():
    return ["setpriv", "--reuid=" + USER, "--regid=" + USER, "--clear-groups",
            "unshare", "--user", "--map-auto", "--map-root-user"]


@with_env
def test_subordinate_uids_share_their_users_cap(env):
    """Nine uids of one user namespace get PER_UID slots between them, not 9 x PER_UID."""
    uid = user_create()
    try:
        probe = subprocess.run(userns_prefix() + ["/usr/bin/python3", "-c",
                                                  "import os; os.setuid(1); print(os.getuid())"],
                               capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            rt.skip("user namespaces with --map-auto unavailable: " + probe.stderr.strip())
        p, got = start_holder(env, userns_prefix(), list(range(1, 10)))
        try:
            res = [x for g in got for x in g["res"]]
            assert len(got) == 9 and len(res) == 9 * PER_UID, got
            assert res.count("ok") == PER_UID, (res.count("ok"), got)
            assert all(x in ("ok", "E_BUSY", "closed") for x in res), res
            assert_privileged_get_in(env)
            # the user itself is charged to the same bucket: no slot left for it
            assert_busy(env.cli("ping", user=USER))
        finally:
            stop_holder(p)
        # once released, the user connects again
        r = env.cli("ping", user=USER)
        assert r.returncode == 0, r
        assert uid != 0
    finally:
        user_delete()
    with open("/etc/subuid") as f:
        assert not any(l.split(":")[0] == USER for l in f.read().splitlines())


@with_env
def test_other_users_cannot_take_the_reserved_slots(env):
    """Eight distinct unprivileged uids fill what they may; root and the owner still get in."""
    uids = list(range(21601, 21609))
    p, got = start_holder(env, [], uids)
    try:
        res = [x for g in got for x in g["res"]]
        assert res.count("ok") == MAX - RESERVED, (res.count("ok"), got)
        assert_privileged_get_in(env)
        # and a ninth unprivileged uid is refused
        assert_busy(env.cli("ping", user="daemon"))
    finally:
        stop_holder(p)


def test_reserved_must_leave_room():
    env = rt.Env({"limits": {"max_connections": 8, "reserved": 8}}, name="reserved_bad")
    try:
        rc = env.start(expect_fail=True)
        assert rc != 0 and "limits.reserved" in env.daemon_log(), env.daemon_log()
    finally:
        env.cleanup()


if __name__ == "__main__":
    rt.run_tests([
        test_subordinate_uids_share_their_users_cap,
        test_other_users_cannot_take_the_reserved_slots,
        test_reserved_must_leave_room,
    ])
