"""Many small collections on a real cluster (gateway, log, query and compactor processes on
Postgres and an S3 server): creates N collections of 20 records, waits until the compactors
have indexed every one, then queries random ones. Reports the creation rate, catalog rows and
bytes per collection, how the compactors worked through the backlog (oldest tail first?), and
the query nodes' RSS against their cache settings.

Run through scripts/bench-scale.sh, which starts Postgres and the S3 server:
    ./scripts/bench-scale.sh --collections 100000
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "compat"))
from cluster import SiltCluster  # noqa: E402

BASE = "/api/v2/tenants/default_tenant/databases/default_database/collections"
DIM = 32
RECORDS = 20


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def psql(catalog, sql):
    out = subprocess.run(["psql", "-At", catalog, "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def percentile(xs, p):
    return float(np.percentile(np.array(xs), p)) if xs else 0.0


def create_all(url, n, workers):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(RECORDS, DIM)).astype(np.float32).tolist()
    ids = [f"r{i}" for i in range(RECORDS)]
    created = [None] * n
    errors = []
    local = threading.local()

    def client():
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=60)
        return local.http

    def one(i):
        http = client()
        r = http.post(BASE, json={"name": f"scale-{i:08d}"})
        if r.status_code != 200:
            errors.append(r.text)
            return
        cid = r.json()["id"]
        r = http.post(f"{BASE}/{cid}/add", json={"ids": ids, "embeddings": vectors,
                                                 "documents": [f"doc {j} of {i}" for j in range(RECORDS)],
                                                 "metadatas": [{"j": j} for j in range(RECORDS)]})
        if r.status_code != 201:
            errors.append(r.text)
            return
        created[i] = (cid, time.time())

    started = time.time()
    with ThreadPoolExecutor(workers) as pool:
        for k, _ in enumerate(pool.map(one, range(n))):
            if k and k % 10000 == 0:
                print(f"  {k} collections created ({k / (time.time() - started):.0f}/s)", flush=True)
    return [c for c in created if c], time.time() - started, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--collections", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--cache-mb", type=int, default=64)
    ap.add_argument("--index-timeout", type=float, default=3600)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    workdir = os.environ.get("SILT_SCALE_DIR") or tempfile.mkdtemp()
    # Production scheduling (500 ms rounds, 30 s age bound); a small memory cache so the RSS bound
    # shows (the harness gives each query node a 64 MiB disk cache).
    cluster = SiltCluster(workdir, allow_reset=False,
                          extra=["--compaction-interval-ms", "500", "--compaction-max-age-ms", "30000",
                                 "--cache-mb", str(args.cache_mb)],
                          shape={"log": 2, "query": 2, "compactor": 2}).start()
    report = {"collections": args.collections, "records_per_collection": RECORDS, "dimension": DIM}
    try:
        print(f"creating {args.collections} collections of {RECORDS} records", flush=True)
        created, seconds, errors = create_all(cluster.url, args.collections, args.workers)
        report["create"] = {"seconds": seconds, "collections_per_s": len(created) / seconds,
                            "errors": len(errors), "first_error": errors[0] if errors else None}
        print(json.dumps(report["create"]), flush=True)

        # The backlog, sampled until every collection is indexed.
        t0 = time.time()
        backlog = []
        while True:
            lagging = int(psql(cluster.catalog, "select count(*) from collections where log_position > compacted_offset and deleted_at_ms is null"))
            backlog.append((round(time.time() - t0, 1), lagging))
            if lagging == 0 or time.time() - t0 > args.index_timeout:
                break
            time.sleep(5)
        report["indexing"] = {"seconds_after_last_write": time.time() - t0, "left_lagging": backlog[-1][1],
                              "backlog": backlog[:: max(1, len(backlog) // 40)]}
        # Oldest first: rank correlation between when a tail started (creation order) and when
        # its version was registered.
        rows = psql(cluster.catalog, "select c.created_seq, v.created_at_ms from collections c join collection_versions v on v.collection_id = c.id where v.version = 1 order by c.created_seq")
        order = [int(line.split("|")[1]) for line in rows.splitlines() if line]
        if len(order) > 1:
            ranks = np.argsort(np.argsort(np.array(order)))
            report["indexing"]["spearman_creation_vs_indexing"] = float(
                np.corrcoef(np.arange(len(ranks)), ranks)[0, 1])
        report["indexing"]["versions_registered"] = len(order)
        print(json.dumps({k: v for k, v in report["indexing"].items() if k != "backlog"}), flush=True)

        # The catalog's size per collection.
        tables = ["collections", "collection_versions", "compaction_attempts", "databases", "tenants", "nodes"]
        catalog = {}
        for t in tables:
            rows_n = int(psql(cluster.catalog, f"select count(*) from {t}"))
            size = int(psql(cluster.catalog, f"select pg_total_relation_size('{t}')"))
            catalog[t] = {"rows": rows_n, "bytes": size}
        total = sum(v["bytes"] for v in catalog.values())
        report["catalog"] = {"tables": catalog, "bytes_per_collection": total / max(1, len(created)),
                             "database_bytes": int(psql(cluster.catalog, "select pg_database_size(current_database())"))}
        print(json.dumps(report["catalog"]), flush=True)

        # Random cold-then-warm queries; query nodes' RSS against the cache settings.
        query_pids = [n.proc.pid for n in cluster.role("query")]
        rss_before = [rss_mb(p) for p in query_pids]
        rng = random.Random(3)
        q = np.random.default_rng(5).normal(size=DIM).astype(np.float32).tolist()
        lat = []
        failures = 0
        with httpx.Client(base_url=cluster.url, timeout=60) as http:
            for _ in range(args.queries):
                cid, _ = rng.choice(created)
                t = time.time()
                r = http.post(f"{BASE}/{cid}/query", json={"query_embeddings": [q], "n_results": 5})
                lat.append((time.time() - t) * 1000)
                failures += r.status_code != 200 or len(r.json()["ids"][0]) != 5
        rss_after = [rss_mb(p) for p in query_pids]
        report["queries"] = {"count": args.queries, "failures": failures,
                             "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                             "query_node_rss_mb_before": rss_before, "query_node_rss_mb_after": rss_after,
                             "cache_mb_setting": args.cache_mb}
        print(json.dumps(report["queries"]), flush=True)
        report["roles_rss_mb"] = {n.name: rss_mb(n.proc.pid) for n in cluster.nodes + cluster.gateways}
        print(json.dumps(report["roles_rss_mb"]), flush=True)
    finally:
        cluster.stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
