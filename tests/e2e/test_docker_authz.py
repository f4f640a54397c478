#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""End to end: the real dockerd with the real rampart-authz plugin, two real registries
on 127.0.0.1:5000 (allowed) and :5001 (not allowed), inside a private network and mount
namespace.  docker pull / create / run allowed and refused with the exact error text
(the refused registry sees no manifest or blob request), a refused image tagged locally
under an allowed name is still refused by create, a new signed policy is used by the next
pull without restarting anything, warn mode allows and logs, the plugin killed mid-run
is restarted on the same socket while dockerd holds its requests (nothing gets through
undecided), and daemon.json comes back byte for byte after removing the plugin key."""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration", "helpers"))
import e2e_env  # noqa: E402

e2e_env.enter_namespace()

import rt  # noqa: E402
from docker_env import PLUGIN_SOCK, Dockerd, PluginSupervisor  # noqa: E402
from rtauthz import AuthzEnv  # noqa: E402

DENIED = ("Error response from daemon: authorization denied by plugin rampart: rampart: "
          "%s denied by policy acme v%d: no rule matches registry 127.0.0.1:5001")


def set_mode(authz, sup, mode):
    """Config edit + SIGHUP, then wait until the plugin's counters record shows the mode."""
    authz.mode = mode
    authz.write_config()
    os.kill(sup.pid, signal.SIGHUP)
    want = {"off": 0, "warn": 1, "enforce": 2}[mode]
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if authz.counters()["mode"] == want:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("rampart-authz did not switch to %s" % mode)


def expect_denied(r, ref, version):
    assert r.returncode != 0, r
    assert (DENIED % (ref, version)) in r.stderr, r.stderr


def main():
    env = e2e_env.E2EEnv("i14d")
    authz = sup = dockerd = None
    t0 = time.time()
    try:
        authz = AuthzEnv("i14d-docker", hosts=("127.0.0.1:5000",), docker={"socket": PLUGIN_SOCK})
        sup = PluginSupervisor(authz)
        dockerd = Dockerd(env, "a", daemon_json={"labels": ["rampart.e2e=1"], "max-concurrent-downloads": 3,
                                                 "debug": False})
        with open(dockerd.config) as f:
            cfg_with_plugin = f.read()
        assert '"authorization-plugins": ["rampart"]' in cfg_with_plugin, cfg_with_plugin
        print("setup %.1fs" % (time.time() - t0), flush=True)
        ok, bad = env.ref(5000), env.ref(5001)
        reg1 = env.registry(5001)

        # 1. pull: allowed registry succeeds, the other is refused before any fetch
        r = dockerd.docker("pull", ok)
        assert r.returncode == 0, r
        mark = reg1.mark()
        r = dockerd.docker("pull", bad)
        expect_denied(r, bad, 3)
        assert reg1.manifest_gets(mark) == [] and reg1.blob_gets(mark) == [], reg1.requests(mark)
        print("ok   docker pull allowed / refused", flush=True)

        # 2. create / run: allowed image; the refused registry's name is refused even when
        #    the image is present locally under that name (tagged from the allowed one)
        r = dockerd.docker("create", "--name", "c1", ok)
        assert r.returncode == 0 and len(r.stdout.strip()) == 64, r
        r = dockerd.docker("run", "--rm", ok)
        assert "authorization denied" not in r.stderr, r
        print("     docker run of the allowed image: rc=%d %s" % (r.returncode, (r.stdout + r.stderr).strip()[:120]))
        r = dockerd.docker("tag", ok, bad)
        assert r.returncode == 0, r
        expect_denied(dockerd.docker("create", bad), bad, 3)
        expect_denied(dockerd.docker("run", "--rm", bad), bad, 3)
        img_id = dockerd.docker("image", "inspect", "--format", "{{.Id}}", bad).stdout.strip()
        r = dockerd.docker("create", img_id)
        assert r.returncode != 0 and "an image ID names no registry" in r.stderr, r
        print("ok   docker create / run allowed / refused (also a local tag, an image ID)", flush=True)

        lines = authz.audit_lines()
        assert any(" engine=docker op=pull result=denied mode=enforce " in ln and
                   'normalized="%s"' % bad in ln for ln in lines), lines
        assert any(" op=create result=denied " in ln for ln in lines), lines

        # 3. a new signed policy allowing :5001 is used by the next pull, nothing restarted
        pids = (sup.pid, dockerd.pid)
        authz.import_policy(4, ("127.0.0.1:5000", "127.0.0.1:5001"))
        time.sleep(0.05)
        env.push(5001, "acme/fresh", "1")
        r = dockerd.docker("pull", env.ref(5001, repo="acme/fresh"))
        assert r.returncode == 0, r
        assert (sup.pid, dockerd.pid) == pids and sup.starts == 1
        authz.import_policy(5, ("127.0.0.1:5000",))
        time.sleep(0.05)
        expect_denied(dockerd.docker("pull", bad), bad, 5)
        print("ok   policy v4 allows :5001 without restart, v5 takes it away", flush=True)

        # 4. warn mode: allowed and logged as a would-be refusal
        env.push(5001, "acme/warn", "1")
        set_mode(authz, sup, "warn")
        wref = env.ref(5001, repo="acme/warn")
        r = dockerd.docker("pull", wref)
        assert r.returncode == 0, r
        assert any(" result=warn mode=warn " in ln and 'normalized="%s"' % wref in ln
                   for ln in authz.audit_lines()), authz.audit_lines()
        set_mode(authz, sup, "enforce")
        expect_denied(dockerd.docker("pull", wref), wref, 5)
        print("ok   warn mode allows and logs; back to enforce", flush=True)

        # 5. the plugin killed mid-run: requests wait on the socket, none is served
        #    undecided; the restarted plugin decides them
        env.push(5000, "acme/gap", "1")
        gap = env.ref(5000, repo="acme/gap")
        reg0 = env.registry(5000)
        sup.hold()
        old = sup.pid
        os.kill(old, signal.SIGKILL)
        mark0, mark1 = reg0.mark(), reg1.mark()
        p_ok = dockerd.docker_bg("pull", gap)
        p_bad = dockerd.docker_bg("pull", bad)
        time.sleep(3)
        assert p_ok.poll() is None and p_bad.poll() is None, "a request was served without the plugin"
        assert reg0.manifest_gets(mark0) == [] and reg1.manifest_gets(mark1) == []
        # every API call waits, even a read-only one: nothing is answered undecided
        p_ro = dockerd.docker_bg("image", "ls")
        time.sleep(0.5)
        assert p_ro.poll() is None, "docker image ls was answered without the plugin"
        sup.release()
        new = sup.wait_restarted(old)
        out_ok = p_ok.communicate(timeout=60)
        out_bad = p_bad.communicate(timeout=60)
        assert p_ok.returncode == 0, out_ok
        assert p_ro.wait(timeout=30) == 0
        assert p_bad.returncode != 0 and (DENIED % (bad, 5)) in out_bad[1], out_bad
        assert reg1.manifest_gets(mark1) == [], reg1.requests(mark1)
        assert dockerd.proc.poll() is None
        print("ok   plugin killed (pid %d): requests held, restarted as %d, then decided" % (old, new), flush=True)

        # 6. uninstall: the key goes, every other byte of daemon.json stays
        r = subprocess.run([authz_bin(), "daemon-json", "remove", dockerd.config], capture_output=True, text=True)
        assert r.returncode == 0, r
        with open(dockerd.config) as f:
            assert f.read() == dockerd.original_config
        print("ok   daemon.json restored byte for byte", flush=True)
        print("total %.1fs" % (time.time() - t0), flush=True)
    finally:
        if dockerd is not None:
            dockerd.stop()
        if sup is not None:
            sup.stop()
        if authz is not None:
            authz.cleanup()
        env.cleanup()


def authz_bin():
    return os.path.join(rt.BUILD, "rampart-authz")


if __name__ == "__main__":
    main()
