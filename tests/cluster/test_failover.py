"""kill -9 of a query node, a log node and the compactor of a real cluster (1 gateway, 2 log,
3 query, 1 compactor processes on Postgres and an S3 server): reads and writes recover after the
membership timeout, answers stay correct, no acknowledged write is lost or duplicated, and an
interrupted compaction leaves nothing behind. Recovery times are printed (run with -s)."""

import json
import os
import subprocess
import threading
import time

import boto3
import httpx
import numpy as np
import pytest

from cluster import MEMBERSHIP_TIMEOUT_MS, SiltCluster
from common import silt_binary
from oracle import Oracle

DIM = 8
COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"
# Every request must end within this: the gateway's internal calls time out well before.
CLIENT_TIMEOUT_S = 20


@pytest.fixture
def cluster(tmp_path):
    c = SiltCluster(str(tmp_path)).start()
    yield c
    c.stop()


def vec(rng):
    return rng.normal(size=DIM).astype(np.float32)


def create(http, name):
    r = http.post(COLLECTIONS, json={"name": name, "metadata": {"hnsw:space": "l2"}})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def fill(http, n_collections, per_collection, seed=0):
    rng = np.random.default_rng(seed)
    data = {}
    for k in range(n_collections):
        cid = create(http, f"coll-{k:03d}")
        ids = [f"r{k}-{i}" for i in range(per_collection)]
        vectors = [vec(rng) for _ in ids]
        r = http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ids, "embeddings": [v.tolist() for v in vectors]})
        assert r.status_code == 201, r.text
        oracle = Oracle("l2")
        oracle.add(ids, vectors)
        data[cid] = oracle
    return data


def seconds_until_dropped(cluster, node, since):
    """Polls membership until `node` is no longer live; returns the seconds since `since`."""
    deadline = time.time() + 30
    while any(m["address"] == node.url for m in cluster.members()):
        assert time.time() < deadline, "a killed node stayed in the membership"
        time.sleep(0.05)
    return time.time() - since


def kill_under_load(cluster, victim, worker, stop, what):
    """Runs 4 `worker` threads, kills `victim` with SIGKILL 1.5 s in, keeps the load on until
    3 s past the membership timeout, and checks no thread hung. Returns the kill time and how
    long membership took to drop the victim."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    killed_at = time.time()
    cluster.kill_node(victim)
    dropped = seconds_until_dropped(cluster, victim, killed_at)
    time.sleep(max(0.0, killed_at + MEMBERSHIP_TIMEOUT_MS / 1000 + 3 - time.time()))
    stop.set()
    for t in threads:
        t.join(timeout=CLIENT_TIMEOUT_S + 5)
        assert not t.is_alive(), f"a {what} hung past its timeout"
    return killed_at, dropped


def placement(cluster, role):
    out = subprocess.run([silt_binary(), "admin", "--catalog", cluster.catalog, "placement", "--role", role],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_reads_survive_kill_9_of_a_query_node(cluster):
    http = httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S)
    data = fill(http, 12, 30)
    owners = placement(cluster, "query")
    victim = cluster.role("query")[0]
    victim_address = victim.url
    on_victim = [c for c, node in owners.items() if node["address"] == victim_address]
    assert on_victim, "pick a victim that owns collections"

    results, stop = [], threading.Event()

    def reader(seed):
        rng = np.random.default_rng(seed)
        with httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S) as c:
            while not stop.is_set():
                # Half the reads go to collections the victim owns: those are the ones at risk.
                cid = on_victim[rng.integers(len(on_victim))] if rng.random() < 0.5 else list(data)[rng.integers(len(data))]
                q = vec(rng)
                started = time.time()
                try:
                    r = c.post(f"{COLLECTIONS}/{cid}/query", json={"query_embeddings": [q.tolist()], "n_results": 5,
                                                                   "include": ["distances"]})
                    ok = r.status_code == 200 and r.json()["ids"][0] == data[cid].knn(q, 5)[0]
                    status = r.status_code
                except httpx.HTTPError as e:
                    ok, status = False, type(e).__name__
                results.append((started, time.time() - started, status, ok))

    killed_at, dropped = kill_under_load(cluster, victim, reader, stop, "read")

    assert all(took < CLIENT_TIMEOUT_S for _, took, _, _ in results)
    after = [r for r in results if r[0] > killed_at + MEMBERSHIP_TIMEOUT_MS / 1000 + 0.5]
    assert len(after) > 20 and all(ok for _, _, _, ok in after), [r for r in after if not r[3]][:5]
    before = [r for r in results if r[0] < killed_at]
    assert before and all(ok for _, _, _, ok in before)
    failed = [r for r in results if not r[3]]
    recovery = max((s + took for s, took, _, _ in failed), default=killed_at) - killed_at
    print(f"\nquery node kill: {len(results)} reads, {len(failed)} failed, "
          f"last failure ended {recovery:.2f} s after the kill, membership dropped the node after {dropped:.2f} s; "
          f"statuses of failures: {sorted(set(str(r[2]) for r in failed))}")


def test_writes_survive_kill_9_of_a_log_node(cluster):
    http = httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S)
    cids = [create(http, f"w-{k:02d}") for k in range(8)]
    owners = placement(cluster, "log")
    victim = cluster.role("log")[0]
    assert any(owners[c]["address"] == victim.url for c in cids), "the victim must own some collections"

    acked, attempted, outcomes = {c: [] for c in cids}, {c: [] for c in cids}, []
    lock, stop = threading.Lock(), threading.Event()

    def writer(w):
        rng = np.random.default_rng(100 + w)
        batch = 0
        with httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S) as c:
            while not stop.is_set():
                cid = cids[(w + batch) % len(cids)]
                ids = [f"w{w}-b{batch}-{i}" for i in range(5)]
                started = time.time()
                try:
                    r = c.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ids, "embeddings": [vec(rng).tolist() for _ in ids]})
                    status = r.status_code
                except httpx.HTTPError as e:
                    status = type(e).__name__
                with lock:
                    attempted[cid].append(ids)
                    if status == 201:
                        acked[cid].extend(ids)
                    outcomes.append((started, time.time() - started, status, cid))
                batch += 1

    killed_at, dropped = kill_under_load(cluster, victim, writer, stop, "write")

    settled = killed_at + MEMBERSHIP_TIMEOUT_MS / 1000 + 0.5
    after = [o for o in outcomes if o[0] > settled]
    assert len(after) > 10 and all(o[2] == 201 for o in after), [o for o in after if o[2] != 201][:5]
    victim_cids = {c for c in cids if owners[c]["address"] == victim.url}
    assert any(o[3] in victim_cids for o in after), "writes to the dead node's collections resumed elsewhere"
    for cid in cids:
        got = http.post(f"{COLLECTIONS}/{cid}/get", json={"include": []}).json()["ids"]
        assert len(got) == len(set(got)), "a record is present twice"
        missing = set(acked[cid]) - set(got)
        assert not missing, f"{len(missing)} acknowledged writes lost in {cid}"
        present = set(got)
        for ids in attempted[cid]:
            inside = [i in present for i in ids]
            assert all(inside) or not any(inside), "a batch is partially present"
    failed = [o for o in outcomes if o[2] != 201]
    recovery = max((s + took for s, took, _, _ in failed), default=killed_at) - killed_at
    print(f"\nlog node kill: {len(outcomes)} writes, {sum(len(a) for a in acked.values())} records acked, "
          f"{len(failed)} failed, last failure ended {recovery:.2f} s after the kill, membership dropped the node "
          f"after {dropped:.2f} s; statuses: {sorted(set(str(o[2]) for o in failed))}")


def s3_keys(cluster):
    s3 = boto3.client("s3", endpoint_url=cluster.endpoint, aws_access_key_id="test",
                      aws_secret_access_key="test", region_name="us-east-1")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cluster.bucket, Prefix=cluster.prefix + "/"):
        keys += [o["Key"][len(cluster.prefix) + 1:] for o in page.get("Contents", [])]
    return keys


def catalog(cluster, sql):
    out = subprocess.run(["psql", "-tA", cluster.catalog, "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


def test_compaction_completes_after_kill_9_of_the_compactor(tmp_path):
    # The compactor's PUTs are slowed down so that the kill lands inside an attempt, after it is
    # recorded and before its version can be registered.
    cluster = SiltCluster(str(tmp_path), extra=["--gc-grace-ms", "2000"],
                          role_extra={"compactor": ["--inject-put-latency-ms", "1500"]}).start()
    try:
        http = httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S)
        data = fill(http, 1, 200, seed=7)
        (cid, oracle), = data.items()
        deadline = time.time() + 20
        while not catalog(cluster, "select dir from compaction_attempts"):
            assert time.time() < deadline, "no compaction started"
            time.sleep(0.02)
        compactor = cluster.role("compactor")[0]
        cluster.kill_node(compactor)
        abandoned = [d for (d,) in catalog(cluster, "select dir from compaction_attempts")]
        (version,) = catalog(cluster, f"select version from collections where id = '{cid}'")[0]
        assert version == "0", "the kill must land before registration"

        compactor.extra = []  # restart at full speed
        restarted_at = time.time()
        cluster.start_node(compactor)
        deadline = time.time() + 30
        while True:
            row = catalog(cluster, f"select version, compacted_offset, log_position, manifest from collections where id = '{cid}'")[0]
            if int(row[0]) >= 1 and row[1] == row[2]:
                break
            assert time.time() < deadline, f"compaction did not complete: {row}"
            time.sleep(0.1)
        manifest_key = row[3]
        print(f"\ncompactor kill: restarted compactor registered the version {time.time() - restarted_at:.2f} s after its start")
        # Versions are consistent: the registered manifest and every file it lists exist, and
        # reads from the new version match the oracle.
        keys = set(s3_keys(cluster))
        assert manifest_key in keys
        s3 = boto3.client("s3", endpoint_url=cluster.endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
        body = s3.get_object(Bucket=cluster.bucket, Key=f"{cluster.prefix}/{manifest_key}")["Body"].read()
        if manifest_key.endswith("/version.bin"):
            # A small version is one object: data files, head, and a 24-byte footer (head
            # offset, head length, magic) whose head must end exactly where the footer begins.
            assert body[-8:] == b"SLTBNDL1", "a bundle ends with its footer"
            head_offset = int.from_bytes(body[-24:-16], "little")
            head_len = int.from_bytes(body[-16:-8], "little")
            assert 0 < head_len and head_offset + head_len == len(body) - 24
        else:
            manifest = json.loads(body)
            version_dir = manifest_key.rsplit("/", 1)[0]
            for f in manifest["files"]:
                assert f"{version_dir}/{f['name']}" in keys
        got = http.post(f"{COLLECTIONS}/{cid}/get", json={"include": []}).json()["ids"]
        assert sorted(got) == sorted(oracle.records)
        q = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
        r = http.post(f"{COLLECTIONS}/{cid}/query", json={"query_embeddings": [q.tolist()], "n_results": 10}).json()
        assert r["ids"][0] == oracle.knn(q, 10)[0]
        # No garbage is left: the abandoned attempt's objects are deleted after the grace period,
        # and nothing the catalog references is touched.
        deadline = time.time() + 30
        while True:
            keys = set(s3_keys(cluster))
            leftovers = [k for k in keys for d in abandoned if k.startswith(d + "/")]
            if not leftovers and not catalog(cluster, "select dir from compaction_attempts"):
                break
            assert time.time() < deadline, f"abandoned attempt not collected: {leftovers}"
            time.sleep(0.2)
        assert manifest_key in keys
        referenced = {m for (m,) in catalog(cluster, "select manifest from collection_versions")}
        assert all(m in keys for m in referenced)
    finally:
        cluster.stop()


def test_a_joining_query_node_takes_about_a_quarter_of_the_collections(cluster):
    http = httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S)
    for k in range(200):
        create(http, f"p-{k:03d}")
    before = placement(cluster, "query")
    cluster.add_node("query")
    cluster.wait_members(len(cluster.nodes) + 1)
    after = placement(cluster, "query")
    assert set(before) == set(after) and len(after) == 200
    new = cluster.role("query")[-1].url
    moved = [c for c in before if before[c]["address"] != after[c]["address"]]
    assert all(after[c]["address"] == new for c in moved), "a collection moved between old nodes"
    share = len(moved) / len(before)
    print(f"\na fourth query node took {len(moved)} of {len(before)} collections ({share:.1%})")
    assert 0.15 < share < 0.35
