"""What recording metrics costs a warm query: two `silt run` on the same data, one with metrics
on and one with `--metrics false`, queried alternately from one client so that both see the
same machine load. Prints p50/p99 latency and CPU time per query of each.

    python scripts/metrics_overhead.py [--records 20000] [--dim 128] [--queries 5000]

Needs the debug or release binary (SILT_BIN, default $CARGO_TARGET_DIR/release/silt) and
httpx and numpy (the test venv has both)."""

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

import httpx
import numpy as np

COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary():
    if os.environ.get("SILT_BIN"):
        return os.environ["SILT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return os.path.join(target, "release", "silt")


class Server:
    def __init__(self, data, metrics, log, extra=()):
        self.port = free_port()
        self.cache = tempfile.mkdtemp(prefix="silt-overhead-cache-")
        self.proc = subprocess.Popen(
            [binary(), "run", "--path", data, "--port", str(self.port), "--cache-dir", self.cache,
             "--metrics", "true" if metrics else "false", *extra],
            stdout=log, stderr=log)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        deadline = time.time() + 30
        while True:
            try:
                if self.http.get("/api/v2/heartbeat").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("silt did not start")
            time.sleep(0.05)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.cache, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=5000, help="per server")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    data = tempfile.mkdtemp(prefix="silt-overhead-")
    log = open(os.path.join(data, "server.log"), "ab")
    try:
        loader = Server(os.path.join(data, "d"), True, log, ["--compaction-max-age-ms", "1000"])
        cid = loader.http.post(COLLECTIONS, json={"name": "bench"}).json()["id"]
        for start in range(0, args.records, 1000):
            n = min(1000, args.records - start)
            r = loader.http.post(f"{COLLECTIONS}/{cid}/add", json={
                "ids": [f"r{start + i}" for i in range(n)],
                "embeddings": rng.standard_normal((n, args.dim)).round(4).tolist(),
                "metadatas": [{"k": (start + i) % 10} for i in range(n)]})
            assert r.status_code == 201, r.text
        def version():
            listed = loader.http.get(COLLECTIONS).json()
            return next(c["version"] for c in listed if c["id"] == cid)

        while version() < 1:
            time.sleep(0.2)
        # Wait until every record is indexed, so neither server reads a log tail.
        time.sleep(3)
        loader.stop()

        on = Server(os.path.join(data, "d"), True, log)
        off = Server(os.path.join(data, "d"), False, log)
        servers = {"metrics on": on, "metrics off": off}
        queries = rng.standard_normal((200, args.dim)).round(4).tolist()

        def ask(server, q):
            body = {"query_embeddings": [q], "n_results": 10, "include": ["distances"]}
            t = time.perf_counter()
            r = server.http.post(f"{COLLECTIONS}/{cid}/query", json=body)
            took = time.perf_counter() - t
            assert r.status_code == 200, r.text
            return took

        for _ in range(3):  # warm both caches
            for q in queries:
                for s in servers.values():
                    ask(s, q)
        took = {name: [] for name in servers}
        cpu0 = {name: s.cpu_seconds() for name, s in servers.items()}
        for i in range(args.queries):
            q = queries[i % len(queries)]
            order = list(servers.items()) if i % 2 == 0 else list(servers.items())[::-1]
            for name, s in order:
                took[name].append(ask(s, q))
        cpu = {name: s.cpu_seconds() - cpu0[name] for name, s in servers.items()}
        print(f"{args.records} records x {args.dim} dims, {args.queries} warm queries per server, alternated")
        print(f"{'':12} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'CPU us/query':>13}")
        for name in servers:
            t = np.array(took[name]) * 1000
            print(f"{name:12} {np.percentile(t, 50):8.3f} {np.percentile(t, 99):8.3f} "
                  f"{t.mean():8.3f} {cpu[name] / args.queries * 1e6:13.1f}")
        for s in servers.values():
            s.stop()
    finally:
        log.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
