"""kill -9 at any moment loses no acknowledged write, duplicates nothing, and leaves every
batch whole or absent; queries after restart match the oracle."""

import base64
import threading
import time

import httpx
import numpy as np

from conftest import SiltServer, wait_for_version
from oracle import Oracle

DIM = 8


def b64(v):
    return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()


def writer(url, cid, wid, vectors, acked, attempted, stop):
    base = f"{url}/api/v2/tenants/default_tenant/databases/default_database/collections/{cid}"
    with httpx.Client(timeout=10) as c:
        batch = 0
        while not stop.is_set():
            ids = [f"w{wid}-b{batch}-{i}" for i in range(10)]
            for id_ in ids:
                vectors[id_] = np.random.default_rng(hash(id_) % 2**32).normal(size=DIM).astype(np.float32)
            attempted.append(ids)
            try:
                r = c.post(base + "/add", json={"ids": ids, "embeddings": [b64(vectors[i]) for i in ids],
                                                "metadatas": [{"w": wid, "b": batch}] * 10})
            except httpx.HTTPError:
                return
            if r.status_code == 201:
                acked.extend(ids)
            batch += 1


def all_ids(http, cid):
    got = http.post(f"/tenants/default_tenant/databases/default_database/collections/{cid}/get",
                    json={"include": []}).json()
    return got["ids"]


def test_kill_minus_9_during_writes_and_compaction(tmp_path):
    server = SiltServer(str(tmp_path)).start()
    vectors, acked, attempted = {}, [], []
    http = httpx.Client(base_url=server.url + "/api/v2", timeout=30)
    cid = http.post("/tenants/default_tenant/databases/default_database/collections",
                    json={"name": "crash", "metadata": {"hnsw:space": "l2"}}).json()["id"]
    for cycle in range(3):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(server.url, cid, f"{cycle}.{w}", vectors, acked, attempted, stop))
                   for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.8 + 0.4 * cycle)  # the compactor runs every 100 ms: kills land mid-compaction too
        server.kill9()
        stop.set()
        for t in threads:
            t.join()
        server.start()
        http = httpx.Client(base_url=server.url + "/api/v2", timeout=30)

        present = all_ids(http, cid)
        assert len(present) == len(set(present)), "duplicated records after restart"
        missing = set(acked) - set(present)
        assert not missing, f"{len(missing)} acknowledged writes lost"
        present_set = set(present)
        for batch in attempted:
            inside = [i in present_set for i in batch]
            assert all(inside) or not any(inside), f"batch {batch[0]} is partially present"
        assert http.get(f"/tenants/default_tenant/databases/default_database/collections/{cid}/count").json() == len(present)

        oracle = Oracle("l2")
        oracle.add(present, [vectors[i] for i in present])
        rng = np.random.default_rng(cycle)
        for q in rng.normal(size=(3, DIM)).astype(np.float32):
            r = http.post(f"/tenants/default_tenant/databases/default_database/collections/{cid}/query",
                          json={"query_embeddings": [q.tolist()], "n_results": 10, "include": ["distances"]}).json()
            assert r["ids"][0] == oracle.knn(q, 10)[0]
    assert len(acked) > 0
    # After the last restart, compaction resumes: a new write becomes part of a new version and
    # nothing recovered is lost on the way.
    before = sorted(all_ids(http, cid))
    version = http.get("/tenants/default_tenant/databases/default_database/collections/crash").json()["version"]
    assert version > 0
    r = http.post(f"/tenants/default_tenant/databases/default_database/collections/{cid}/add",
                  json={"ids": ["after-restart"], "embeddings": [[0.0] * DIM]})
    assert r.status_code == 201
    c = wait_for_version(http, "crash", version + 1)
    assert c["version"] > version
    assert sorted(all_ids(http, cid)) == sorted(before + ["after-restart"])
    server.stop()


def test_kill_minus_9_while_a_one_object_version_is_written(tmp_path):
    """A small collection's version is one object (version.bin). With every PUT slowed down,
    kill -9 lands while that object is being written: after each restart every acknowledged
    record is there once, compaction completes, and once the grace period has passed the store
    holds the current version only — as exactly one object."""
    import os
    from conftest import EmbeddedServer
    server = EmbeddedServer(str(tmp_path), extra=[
        "--inject-put-latency-ms", "150", "--compaction-max-age-ms", "50",
        "--compaction-min-records", "1", "--gc-grace-ms", "500"]).start()
    base = "/tenants/default_tenant/databases/default_database/collections"
    http = httpx.Client(base_url=server.url + "/api/v2", timeout=30)
    cid = http.post(base, json={"name": "bundle-crash", "metadata": {"hnsw:space": "l2"}}).json()["id"]
    rng = np.random.default_rng(7)
    acked = []
    for cycle in range(5):
        ids = [f"c{cycle}-{i}" for i in range(40)]
        r = http.post(f"{base}/{cid}/add", json={"ids": ids, "embeddings": rng.normal(size=(40, DIM)).tolist()})
        assert r.status_code == 201, r.text
        acked += ids
        # The compactor starts within ~150 ms and its one PUT takes 150 ms: kill inside it.
        time.sleep(0.15 + 0.05 * cycle)
        server.kill9()
        server.start()
        http = httpx.Client(base_url=server.url + "/api/v2", timeout=30)
        present = all_ids(http, cid)
        assert sorted(present) == sorted(acked), "acknowledged records lost or duplicated"
    c = wait_for_version(http, "bundle-crash", 1, timeout=30)
    assert c["version"] >= 1
    deadline = time.time() + 30
    objects = os.path.join(str(tmp_path), "data", "objects")
    while True:
        dirs = [(root, files) for root, _, files in os.walk(objects)
                if os.path.basename(os.path.dirname(root)) == "v"]
        indexed = http.get(f"{base}/{cid}/count?read_level=index_only").json()
        if indexed == len(acked) and len(dirs) == 1:
            break
        assert time.time() < deadline, f"still {len(dirs)} version directories, {indexed} indexed"
        time.sleep(0.2)
    assert dirs[0][1] == ["version.bin"], dirs
    server.stop()
