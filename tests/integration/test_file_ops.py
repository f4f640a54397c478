# SPDX-License-Identifier: ISC
"""links.*, hosts.* and socketlink.* through the daemon, in a temp root: the owner
may run them, others may not, the user's own files are never touched, and the
client can never choose a path."""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "helpers"))
import rt  # noqa: E402

rt.need_root()

HOSTS = ("127.0.0.1\tlocalhost   \r\n"
         "# my own comment\n"
         "10.0.0.5 build-box build-box.lan\n"
         "::1 ip6-localhost ip6-loopback\n"
         "192.168.1.9 printer")            # no final newline


def setup():
    env = rt.Env(name="files")
    root = env.path("root")
    for d in ("usr/local/bin", "opt/tool/bin", "etc", "var/run", "home/owner/.docker/run"):
        os.makedirs(os.path.join(root, d), 0o755, exist_ok=True)
    for name in ("docker", "kubectl", "helper"):
        p = os.path.join(root, "opt/tool/bin", name)
        with open(p, "w") as f:
            f.write("#!/bin/sh\necho %s\n" % name)
        os.chmod(p, 0o755)
    with open(os.path.join(root, "etc/hosts"), "w", newline="") as f:
        f.write(HOSTS)
    home = os.path.join(root, "home/owner")
    os.chown(home, 65534, 65534)
    os.chown(os.path.join(home, ".docker"), 65534, 65534)
    os.chown(os.path.join(home, ".docker/run"), 65534, 65534)
    engine = os.path.join(home, ".docker/run/docker.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(engine)
    os.chown(engine, 65534, 65534)
    cfg = dict(env.config)
    cfg.update({"owner_user": "nobody",
                "links": {"bin_dir": os.path.join(root, "usr/local/bin"),
                          "app_dir": os.path.join(root, "opt/tool/bin"),
                          "names": ["docker", "kubectl", "helper"]},
                "hosts": {"file": os.path.join(root, "etc/hosts"),
                          "names": {"kubernetes.docker.internal": "127.0.0.1"}},
                "socket_link": {"path": os.path.join(root, "var/run/docker.sock"),
                                "target": ".docker/run/docker.sock", "home": home}})
    env.write_config(cfg)
    env.start()
    return env, root, s


env, root, engine_sock = setup()
BIN = os.path.join(root, "usr/local/bin")
HOSTS_FILE = os.path.join(root, "etc/hosts")
LINK = os.path.join(root, "var/run/docker.sock")


def j(r, rc=0):
    assert r.returncode == rc, r
    out = json.loads(r.stdout)
    return out["result"] if out["ok"] else out


def test_links_install_keeps_user_file_and_is_idempotent():
    with open(os.path.join(BIN, "kubectl"), "w") as f:
        f.write("user's own kubectl")
    out = j(env.cli("--json", "links", "install", user="nobody"), rc=1)  # partial: exit 1
    states = {x["name"]: x["state"] for x in out["links"]}
    assert states == {"docker": "created", "kubectl": "kept-foreign", "helper": "created"}, out
    assert "incomplete" in out
    assert os.readlink(os.path.join(BIN, "docker")) == os.path.join(root, "opt/tool/bin/docker")
    with open(os.path.join(BIN, "kubectl")) as f:
        assert f.read() == "user's own kubectl"
    out = j(env.cli("--json", "links", "install", user="nobody"), rc=1)
    assert out["changed"] is False and {x["state"] for x in out["links"]} == {"unchanged", "kept-foreign"}, out
    # --force from the owner is ignored; from root it replaces
    out = j(env.cli("--json", "links", "install", "--force", user="nobody"), rc=1)
    assert out["force_ignored"] is True and os.path.isfile(os.path.join(BIN, "kubectl")), out


def test_links_refused_for_non_owner():
    r = env.cli("links", "install", user="daemon")
    assert r.returncode == 1 and "E_PERM" in r.stderr, r
    r = env.cli("links", "remove", user="daemon")
    assert r.returncode == 1 and "E_PERM" in r.stderr, r


def test_links_remove_only_ours():
    os.symlink("/usr/bin/true", os.path.join(BIN, "helper.user"))
    out = j(env.cli("--json", "links", "remove", user="nobody"))
    states = {x["name"]: x["state"] for x in out["links"]}
    assert states["docker"] == "removed" and states["kubectl"] != "removed", out
    assert os.path.isfile(os.path.join(BIN, "kubectl"))
    assert os.readlink(os.path.join(BIN, "helper.user")) == "/usr/bin/true"


def test_hosts_ensure_preserves_user_bytes_and_is_idempotent():
    out = j(env.cli("--json", "hosts", "ensure", user="nobody"))
    assert out["changed"] is True, out
    with open(HOSTS_FILE, newline="") as f:
        after = f.read()
    # the user's bytes come first, unchanged; our block follows in the file's line style
    assert after.startswith(HOSTS + "\r\n# BEGIN rampart\r\n"), repr(after)
    assert "kubernetes.docker.internal" in after and after.endswith("# END rampart\r\n")
    st = os.stat(HOSTS_FILE)
    out = j(env.cli("--json", "hosts", "ensure", user="nobody"))
    assert out["changed"] is False, out
    assert os.stat(HOSTS_FILE).st_ino == st.st_ino
    with open(HOSTS_FILE, newline="") as f:
        assert f.read() == after


def test_hosts_remove_restores_original():
    j(env.cli("--json", "hosts", "remove", user="nobody"))
    with open(HOSTS_FILE, newline="") as f:
        back = f.read()
    assert back == HOSTS + "\r\n", repr(back)  # only the missing final newline added


def test_hosts_refused_for_non_owner_and_no_client_paths():
    r = env.cli("hosts", "ensure", user="daemon")
    assert r.returncode == 1 and "E_PERM" in r.stderr, r
    r = env.request("hosts.ensure", {"file": "/etc/passwd"})
    assert r["ok"] is False and r["error"]["code"] == "E_ARGS", r
    r = env.request("links.install", {"bin_dir": "/tmp"})
    assert r["ok"] is False and r["error"]["code"] == "E_ARGS", r


def test_socket_link_ensure_idempotent():
    out = j(env.cli("--json", "socket-link", "ensure", user="nobody"))
    assert out["state"] == "created", out
    ino = os.lstat(LINK).st_ino
    assert os.readlink(LINK) == os.path.join(root, "home/owner/.docker/run/docker.sock")
    out = j(env.cli("--json", "socket-link", "ensure", user="nobody"))
    assert out["state"] == "unchanged" and os.lstat(LINK).st_ino == ino, out
    out = j(env.cli("--json", "socket-link", "status", user="daemon"))
    assert out["found"] == "ours", out
    # what the root walk saw inside the owner's home is not shown to other users
    assert "target_ready" not in out and "note" not in out, out
    out = j(env.cli("--json", "socket-link", "status", user="nobody"))
    assert out["target_ready"] is True, out


def test_socket_link_refusals():
    r = env.cli("socket-link", "ensure", user="daemon")
    assert r.returncode == 1 and "E_PERM" in r.stderr, r
    r = env.request("socketlink.ensure", {"target": "/etc/shadow"})
    assert r["ok"] is False and r["error"]["code"] == "E_ARGS", r


def test_socket_link_remove_leaves_foreign_link():
    j(env.cli("--json", "socket-link", "remove", user="nobody"))
    assert not os.path.lexists(LINK)
    os.symlink("/somewhere/else.sock", LINK)
    out = j(env.cli("--json", "socket-link", "remove", user="nobody"))
    assert os.readlink(LINK) == "/somewhere/else.sock", out
    r = env.cli("--json", "socket-link", "ensure", user="nobody")
    assert os.readlink(LINK) == "/somewhere/else.sock", r
    os.unlink(LINK)
    with open(LINK, "w") as f:
        f.write("regular file")
    env.cli("socket-link", "ensure", user="nobody")
    with open(LINK) as f:
        assert f.read() == "regular file"
    os.unlink(LINK)


try:
    rt.run_tests([test_links_install_keeps_user_file_and_is_idempotent,
                  test_links_refused_for_non_owner, test_links_remove_only_ours,
                  test_hosts_ensure_preserves_user_bytes_and_is_idempotent,
                  test_hosts_remove_restores_original,
                  test_hosts_refused_for_non_owner_and_no_client_paths,
                  test_socket_link_ensure_idempotent, test_socket_link_refusals,
                  test_socket_link_remove_leaves_foreign_link])
finally:
    engine_sock.close()
    env.cleanup()
