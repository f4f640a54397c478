# SPDX-License-Identifier: ISC
"""rampart-proxy benchmark, each figure against a baseline from the same run:
256 MiB through the proxy (plain-HTTP relay and CONNECT tunnel) vs direct, CONNECT
set-up latency vs a direct TCP connect, RSS with 512 open tunnels, CPU used while
idle.  Runs inside its own network namespace (unshare -n); only 127.0.0.1.
usage: python3 bench/bench_proxy.py BUILD_DIR OUT.md   (as root)"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BLOB = 256 * 1024 * 1024
UP = 5200
PX = 3128
LINK_MIB_S = 119.0  # 1 Gbit/s


def in_namespace():
    if os.environ.get("RAMPART_BENCH_NS") == "1":
        return
    r = subprocess.run(["unshare", "-n", sys.executable, "-B"] + sys.argv,
                       env=dict(os.environ, RAMPART_BENCH_NS="1"))
    sys.exit(r.returncode)


def upstream():
    """A raw HTTP server: /blob -> 256 MiB, anything else -> 'ok'; and a raw echo for tunnels."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", UP))
    ls.listen(1024)
    chunk = b"x" * (1 << 20)

    def serve(c):
        try:
            req = b""
            while b"\r\n\r\n" not in req:
                b = c.recv(65536)
                if not b:
                    return
                req += b
            first = req.split(b"\r\n", 1)[0]
            if b" /blob" in first or b" /paced" in first:
                # /paced: a 1 Gbit/s link (LINK_MIB_S), the speed of a fast registry pull
                paced = b" /paced" in first
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % BLOB)
                t0 = time.perf_counter()
                for i in range(BLOB // len(chunk)):
                    if paced:
                        ahead = t0 + i / LINK_MIB_S - time.perf_counter()
                        if ahead > 0:
                            time.sleep(ahead)
                    c.sendall(chunk)
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError:
            pass
        finally:
            c.close()

    def loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def make_db(build, tmp):
    subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                 "policy-samples", "gen-test-keys.sh"), tmp + "/keys"],
                   check=True, capture_output=True)
    now = int(time.time())
    p = {"org": "bench", "version": 1,
         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
         "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 86400)),
         "allow_docker_hub": False, "registries": [{"host": "127.0.0.1:%d" % UP, "nickname": "up"}]}
    with open(tmp + "/p.json", "w") as f:
        json.dump(p, f)
    env = subprocess.run([build + "/rampart-sign", "--key", tmp + "/keys/test-ed25519.key",
                          tmp + "/p.json"], check=True, capture_output=True).stdout
    with open(tmp + "/p.env.json", "wb") as f:
        f.write(env)
    os.makedirs(tmp + "/state", exist_ok=True)
    subprocess.run([build + "/bench/bench_refresh", tmp + "/p.env.json",
                    tmp + "/keys/test-ed25519.pub", tmp + "/state/policy.db"],
                   check=True, capture_output=True)
    os.chmod(tmp, 0o755)
    os.chmod(tmp + "/state", 0o755)
    return tmp + "/state/policy.db"


def curl_secs(args):
    t0 = time.perf_counter()
    subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "120"] + args, check=True)
    return time.perf_counter() - t0


def connect_latency(n, via_proxy):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", PX if via_proxy else UP))
        if via_proxy:
            s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % UP)
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(4096)
            assert b" 200 " in buf.split(b"\r\n")[0], buf
        out.append((time.perf_counter() - t0) * 1e6)
        s.close()
    out.sort()
    return out[len(out) // 2], out[int(len(out) * 0.99) - 1]


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])  # utime + stime, clock ticks


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    in_namespace()
    build, out = sys.argv[1], sys.argv[2]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tmp = tempfile.mkdtemp(prefix="rampart-bench-proxy-")
    db = make_db(build, tmp)
    upstream()
    px = subprocess.Popen([build + "/rampart-proxy", "--listen", "127.0.0.1:%d" % PX, "--db", db,
                           "--user", "nobody"], stderr=subprocess.DEVNULL)
    # the same proxy on the portable path (buffers, no splice), for the copy row
    pxc = subprocess.Popen([build + "/rampart-proxy", "--copy", "--listen",
                            "127.0.0.1:%d" % (PX + 1), "--db", db, "--user", "nobody"],
                           stderr=subprocess.DEVNULL)
    try:
        for port in (PX, PX + 1):
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    time.sleep(0.05)
        url = "http://127.0.0.1:%d/blob" % UP
        runs = {"direct": [], "relay": [], "tunnel": [], "copy": [], "pdirect": [], "ptunnel": []}
        ticks = {"relay": [], "tunnel": [], "copy": []}

        def through(name, proc, args):
            c0 = proc_stat(proc.pid)
            runs[name].append(curl_secs(args))
            ticks[name].append(proc_stat(proc.pid) - c0)

        for _ in range(3):  # alternating runs
            runs["direct"].append(curl_secs([url]))
            through("relay", px, ["-x", "http://127.0.0.1:%d" % PX, url])
            through("tunnel", px, ["-p", "-x", "http://127.0.0.1:%d" % PX, url])
            through("copy", pxc, ["-p", "-x", "http://127.0.0.1:%d" % (PX + 1), url])
        purl = "http://127.0.0.1:%d/paced" % UP
        for _ in range(2):
            runs["pdirect"].append(curl_secs([purl]))
            runs["ptunnel"].append(curl_secs(["-p", "-x", "http://127.0.0.1:%d" % PX, purl]))
        pxc.terminate()
        pxc.wait()
        mb = BLOB / (1 << 20)
        d, r, t, cp, pd, pt = (mb / statistics.median(runs[k])
                               for k in ("direct", "relay", "tunnel", "copy", "pdirect", "ptunnel"))
        hz0 = os.sysconf("SC_CLK_TCK")
        cpu = {k: statistics.median(v) / hz0 for k, v in ticks.items()}
        c50, c99 = connect_latency(500, True)
        b50, b99 = connect_latency(500, False)
        rss0 = rss_kb(px.pid)
        socks = []
        for _ in range(512):
            s = socket.create_connection(("127.0.0.1", PX))
            s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % UP)
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(4096)
            socks.append(s)
        rss512 = rss_kb(px.pid)
        for s in socks:
            s.close()
        time.sleep(0.5)
        c0 = proc_stat(px.pid)
        time.sleep(5)
        idle_ticks = proc_stat(px.pid) - c0
        hz = os.sysconf("SC_CLK_TCK")
        with open(out, "w") as f:
            f.write("## rampart-proxy (issue 22)\n\n")
            f.write("Baselines in the same run: curl straight to the upstream for throughput, a direct "
                    "TCP connect for set-up latency. Upstream: a raw HTTP server on 127.0.0.1 sending "
                    "256 MiB; median of 3 alternating runs; inside a private network namespace. "
                    "Three processes (upstream, proxy, curl) share this machine's %d cores, so on "
                    "loopback the proxy's own CPU is what the ratio measures.\n\n" % os.cpu_count())
            f.write("| measure | direct | through rampart-proxy | ratio (target) |\n|---|---|---|---|\n")
            f.write("| 256 MiB, plain-HTTP relay | %.0f MiB/s | %.0f MiB/s | **%.2f** (≥ 0.9) |\n" % (d, r, r / d))
            f.write("| 256 MiB, CONNECT tunnel | %.0f MiB/s | %.0f MiB/s | **%.2f** (≥ 0.9) |\n" % (d, t, t / d))
            f.write("| 256 MiB, CONNECT tunnel, `--copy` (no splice: the macOS path) | %.0f MiB/s | %.0f MiB/s | **%.2f** (≥ 0.9) |\n" % (d, cp, cp / d))
            f.write("| 256 MiB, CONNECT tunnel, upstream paced to a 1 Gbit/s link | %.0f MiB/s | %.0f MiB/s | **%.2f** (≥ 0.9) |\n" % (pd, pt, pt / pd))
            f.write("| set-up p50 / p99, µs (TCP connect vs CONNECT + decision + upstream connect) | %.0f / %.0f | %.0f / %.0f | %.1f / %.1f |\n"
                    % (b50, b99, c50, c99, c50 / b50, c99 / b99))
            f.write("\n| resource | figure |\n|---|---|\n")
            f.write("| RSS idle | %d KiB |\n| RSS with 512 open tunnels | %d KiB (%.1f KiB per tunnel) |\n"
                    % (rss0, rss512, (rss512 - rss0) / 512.0))
            f.write("| proxy CPU per 256 MiB: relay / tunnel / tunnel `--copy` | %.2f / %.2f / %.2f s |\n"
                    % (cpu["relay"], cpu["tunnel"], cpu["copy"]))
            f.write("| what one core of proxy CPU relays (tunnel) | %.0f MiB/s |\n"
                    % (mb / cpu["tunnel"] if cpu["tunnel"] > 0 else float("inf")))
            f.write("| CPU while idle, 5 s | %d ticks (%.3f s; target 0) |\n" % (idle_ticks, idle_ticks / hz))
        print(open(out).read())
    finally:
        px.terminate()
        px.wait()


if __name__ == "__main__":
    main()
