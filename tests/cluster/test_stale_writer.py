"""The stale log writer, with real processes: a log node is stopped (SIGSTOP) inside its
fragment PUT, longer than the membership timeout and the log's GC grace period. Another log node
takes over and writes the same offsets, a compactor folds them into a version and garbage
collection deletes their fragments, so the stale node's key is free again. Then its PUT lands
and the node resumes (SIGCONT).

The catalog's fence must refuse that write: the client is not acknowledged, the stale records
never become visible, the log goes on densely, and every acknowledged write is there once.

To stop the node exactly inside its PUT, its S3 traffic goes through the fault proxy
(s3_faults.py), which parks the PUT of the stale fragment until released."""

import json
import os
import random
import subprocess
import threading
import time
import zlib

import boto3
import httpx
import pytest

from cluster import MEMBERSHIP_TIMEOUT_MS, SiltCluster
from common import silt_binary
from s3_faults import FaultProxy

GC_GRACE_MS = 1000
COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def vector(key, value, dim=8):
    rng = random.Random(zlib.crc32(f"{key}/{value}".encode()))
    return [rng.uniform(-1, 1) for _ in range(dim)]


def catalog_rows(cluster, sql):
    out = subprocess.run(["psql", "-tA", cluster.catalog, "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


@pytest.fixture
def proxy():
    endpoint = os.environ.get("SILT_TEST_S3_ENDPOINT")
    if not endpoint:
        raise RuntimeError("SILT_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh")
    p = FaultProxy(endpoint)
    yield p
    p.close()


def log_owner(cluster, cid):
    out = subprocess.run([silt_binary(), "admin", "--catalog", cluster.catalog, "placement", "--role", "log",
                          "--membership-timeout-ms", str(MEMBERSHIP_TIMEOUT_MS)],
                         check=True, capture_output=True, text=True)
    address = json.loads(out.stdout)[cid]["address"]
    (node,) = [n for n in cluster.role("log") if n.url == address]
    return node


def fragment_offsets(cluster, cid):
    s3 = boto3.client("s3", endpoint_url=cluster.endpoint, aws_access_key_id="test",
                      aws_secret_access_key="test", region_name="us-east-1")
    offsets = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cluster.bucket, Prefix=cluster.prefix + "/"):
        for o in page.get("Contents", []):
            parts = o["Key"].split("/")
            if cid in parts and parts[-2] == "log":
                offsets.append(int(parts[-1]))
    return sorted(offsets)


def positions(cluster, cid):
    (row,) = catalog_rows(cluster, f"select compacted_offset, log_position from collections where id = '{cid}'")
    return int(row[0]), int(row[1])


def wait_for(what, cond, timeout=30):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def upsert(http, cid, keys, value):
    return http.post(f"{COLLECTIONS}/{cid}/upsert", json={
        "ids": keys, "embeddings": [vector(k, value) for k in keys],
        "metadatas": [{"v": value, "key": k} for k in keys]})


def test_a_log_writer_stopped_inside_its_put_past_gc_is_fenced(tmp_path, proxy):
    cluster = SiltCluster(str(tmp_path), shape={"log": 2, "query": 1, "compactor": 1},
                          s3_endpoint=proxy.endpoint,
                          # The gateway waits for the stale node's own answer instead of giving
                          # up first, so the test sees what that node would acknowledge.
                          rpc_timeout_ms=30000,
                          extra=["--gc-grace-ms", str(GC_GRACE_MS), "--compaction-max-age-ms", "200"])
    cluster.start()
    stale_node = None
    try:
        http = httpx.Client(base_url=cluster.url, timeout=60)
        r = http.post(COLLECTIONS, json={"name": "stale", "metadata": {"hnsw:space": "l2"}})
        assert r.status_code == 200, r.text
        cid = r.json()["id"]
        stale_node = log_owner(cluster, cid)

        # Offset 1, written by the owner, compacted.
        assert upsert(http, cid, ["x1"], "x1").status_code == 200
        wait_for("the first compaction", lambda: positions(cluster, cid) == (1, 1))

        # The owner's next fragment PUT is parked in the proxy; the node is stopped there.
        proxy.hold(stale_node.name, lambda method, path: method == "PUT" and "/log/" in path)
        stale_reply = {}

        def stale_write():
            try:
                resp = httpx.post(f"{cluster.url}{COLLECTIONS}/{cid}/upsert", timeout=60, json={
                    "ids": ["s1", "s2", "s3"], "embeddings": [vector(k, "stale") for k in ("s1", "s2", "s3")],
                    "metadatas": [{"v": "stale", "key": k} for k in ("s1", "s2", "s3")]})
                stale_reply["status"] = resp.status_code
                stale_reply["body"] = resp.text
            except httpx.HTTPError as e:
                stale_reply["status"] = type(e).__name__

        writer = threading.Thread(target=stale_write)
        writer.start()
        wait_for("the stale PUT to reach the proxy", lambda: proxy.state.counts["held"] >= 1)
        stopped_at = time.time()
        cluster.pause_node(stale_node)

        # The other log node takes over once membership drops the stopped one.
        wait_for("membership to drop the stopped node",
                 lambda: all(m["address"] != stale_node.url for m in cluster.members()))
        time.sleep(0.5)  # the gateway refreshes its view of the membership every heartbeat
        for n in range(2):
            r = upsert(http, cid, [f"b{n}"], f"b{n}")
            assert r.status_code == 200, r.text
        assert log_owner(cluster, cid) is not stale_node
        compacted, position = positions(cluster, cid)
        assert position == 3, "the new owner wrote offsets 2 and 3"
        wait_for("compaction of the new owner's writes", lambda: positions(cluster, cid) == (3, 3))
        # Garbage collection deletes the fragment at offset 2, freeing the stale writer's key.
        wait_for("garbage collection of offset 2", lambda: 2 not in fragment_offsets(cluster, cid))

        # The stale PUT lands (the key is free, so it succeeds) and the node resumes.
        proxy.release(stale_node.name)
        wait_for("the stale fragment to land", lambda: 2 in fragment_offsets(cluster, cid))
        cluster.resume_node(stale_node)
        paused_for = time.time() - stopped_at
        writer.join(timeout=60)
        assert not writer.is_alive()
        assert paused_for > MEMBERSHIP_TIMEOUT_MS / 1000 + GC_GRACE_MS / 1000

        # Not acknowledged: the stale node's catalog commit was fenced.
        assert stale_reply.get("status") == 503, stale_reply
        with open(stale_node.log_path, errors="replace") as f:
            assert "stale log writer fenced" in f.read(), "the fence, not a timeout, refused the write"
        assert positions(cluster, cid) == (3, 3), "the fenced write did not move the log position"

        # Never visible, the log not corrupted: every acknowledged write once, through whichever
        # node, after more writes (the stale node owns the collection again) and compaction.
        cluster.wait_members(len(cluster.all_nodes()))
        for n in range(2, 4):
            r = upsert(http, cid, [f"b{n}"], f"b{n}")
            assert r.status_code == 200, r.text
        expected = {"x1": "x1", "b0": "b0", "b1": "b1", "b2": "b2", "b3": "b3"}

        def state():
            got = http.post(f"{COLLECTIONS}/{cid}/get", json={"include": ["metadatas"]}).json()
            assert len(got["ids"]) == len(set(got["ids"])), got["ids"]
            return {i: m["v"] for i, m in zip(got["ids"], got["metadatas"])}

        assert state() == expected
        assert positions(cluster, cid)[1] == 5
        wait_for("compaction after the fence", lambda: positions(cluster, cid) == (5, 5))
        assert state() == expected
        q = http.post(f"{COLLECTIONS}/{cid}/query", json={"query_embeddings": [vector("s1", "stale")],
                                                        "n_results": 10, "include": ["metadatas"]}).json()
        assert sorted(q["ids"][0]) == sorted(expected)
        print(f"\nstale writer: stopped {paused_for:.1f} s inside its PUT; answered {stale_reply['status']}; "
              f"fragments now at offsets {fragment_offsets(cluster, cid)}")
    finally:
        if stale_node is not None:
            proxy.release(stale_node.name)
        cluster.stop()
