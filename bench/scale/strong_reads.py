"""What strong reads cost while a collection is being written, against eventual ones, on a real
cluster: a writer adds 10 records every 100 ms (100 records/s) to one collection while a reader
alternates strong and eventual queries of it. Prints p50/p99 of each.

    ./scripts/bench-scale.sh --strong-reads            (starts Postgres and the S3 server)
"""

import os
import sys
import tempfile
import threading
import time

import httpx
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "compat"))
from cluster import SiltCluster  # noqa: E402

BASE = "/api/v2/tenants/default_tenant/databases/default_database/collections"
DIM = 32


def main(queries=400):
    workdir = tempfile.mkdtemp()
    cluster = SiltCluster(workdir, allow_reset=False,
                          extra=["--compaction-interval-ms", "500", "--compaction-max-age-ms", "30000"]).start()
    try:
        http = httpx.Client(base_url=cluster.url, timeout=60)
        cid = http.post(BASE, json={"name": "trickle"}).json()["id"]
        rng = np.random.default_rng(1)
        stop = threading.Event()
        written = [0]

        def writer():
            w = httpx.Client(base_url=cluster.url, timeout=60)
            n = 0
            while not stop.is_set():
                ids = [f"r{n + i}" for i in range(10)]
                r = w.post(f"{BASE}/{cid}/add", json={"ids": ids, "embeddings": rng.normal(size=(10, DIM)).tolist()})
                if r.status_code == 201:
                    n += 10
                    written[0] = n
                time.sleep(0.1)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(3)
        q = np.random.default_rng(2).normal(size=DIM).tolist()
        lat = {"strong": [], "eventual": []}
        for i in range(queries):
            mode = "strong" if i % 2 == 0 else "eventual"
            started = time.time()
            r = http.post(f"{BASE}/{cid}/query", json={"query_embeddings": [q], "n_results": 5},
                          headers={"X-Silt-Consistency": mode})
            assert r.status_code == 200, r.text
            lat[mode].append((time.time() - started) * 1000)
            time.sleep(0.02)
        stop.set()
        t.join()
        for mode, xs in lat.items():
            print(f"{mode:8s} reads while writing 100 records/s: p50 {np.percentile(xs, 50):.1f} ms, "
                  f"p99 {np.percentile(xs, 99):.1f} ms ({len(xs)} reads)")
        print(f"records written during the run: {written[0]}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
