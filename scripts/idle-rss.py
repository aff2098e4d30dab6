"""Resident memory of each role of a real cluster (1 gateway, 1 log, 1 query, 1 compactor on
Postgres + an S3 server), idle after a large ingest has been indexed. Run by
scripts/idle-rss.sh, which starts the servers; prints one line per role, in MiB.

    idle-rss.py [--records N] [--dim D] [--idle-s S] [--no-trim]

--no-trim starts the processes with SILT_MALLOC_TRIM_MS=0 (glibc keeps freed memory), to
measure what silt/src/memory.rs gives back."""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import httpx
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "compat"))
from cluster import SiltCluster  # noqa: E402

COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def catalog(cluster, sql):
    out = subprocess.run(["psql", "-tA", cluster.catalog, "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--idle-s", type=float, default=20)
    ap.add_argument("--no-trim", action="store_true")
    args = ap.parse_args()
    if args.no_trim:
        os.environ["SILT_MALLOC_TRIM_MS"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        cluster = SiltCluster(tmp, shape={"log": 1, "query": 1, "compactor": 1},
                              extra=["--compaction-max-age-ms", "1000"]).start()
        try:
            http = httpx.Client(base_url=cluster.url, timeout=60)
            r = http.post(COLLECTIONS, json={"name": "ingest"})
            r.raise_for_status()
            cid = r.json()["id"]
            rng = np.random.default_rng(0)
            started = time.time()
            for start in range(0, args.records, args.batch):
                n = min(args.batch, args.records - start)
                body = {"ids": [f"r{start + i}" for i in range(n)],
                        "embeddings": rng.normal(size=(n, args.dim)).astype(np.float32).round(5).tolist(),
                        "documents": [f"document {start + i} of the ingest" for i in range(n)],
                        "metadatas": [{"k": (start + i) % 10} for i in range(n)]}
                while True:
                    r = http.post(f"{COLLECTIONS}/{cid}/add", json=body)
                    if r.status_code != 429:  # backpressure: the tail is full, wait for the compactor
                        break
                    time.sleep(0.5)
                assert r.status_code == 201, r.text
            ingested = time.time() - started
            peak = {n.name: rss_mib(n.proc.pid) for n in cluster.all_nodes()}
            while True:
                compacted, position = map(int, catalog(cluster, f"select compacted_offset, log_position from collections where id = '{cid}'")[0])
                if compacted == position:
                    break
                time.sleep(0.5)
            indexed = time.time() - started
            time.sleep(args.idle_s)
            idle = {n.name: rss_mib(n.proc.pid) for n in cluster.all_nodes()}
            print(f"{args.records} records of dim {args.dim}: ingested in {ingested:.0f} s, indexed after {indexed:.0f} s; "
                  f"malloc_trim {'off' if args.no_trim else 'on'}; RSS in MiB at the end of the ingest and after "
                  f"{args.idle_s:.0f} s idle:")
            for name in idle:
                print(f"  {name:12} ingest end {peak[name]:7.1f}   idle {idle[name]:7.1f}")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
