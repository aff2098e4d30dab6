"""Log garbage collection is driven by the catalog: after kill -9 of the log node that wrote a
collection's fragments (before it could collect them itself), the compactor's GC round still
deletes every fragment below the compacted offset once the grace period has passed, and no
fragment is leaked in S3. The surviving log node, taking over a fully compacted collection,
appends with one PUT and no LIST or GET (it starts from the catalog). The GC requests are read from the compactor's /metrics (run with -s
to see them)."""

import re
import time

import boto3
import httpx
import pytest

from cluster import SiltCluster
from test_failover import CLIENT_TIMEOUT_S, COLLECTIONS, catalog, create, placement

GRACE_MS = 3000


@pytest.fixture
def cluster(tmp_path):
    c = SiltCluster(str(tmp_path), extra=["--gc-grace-ms", str(GRACE_MS)],
                    shape={"log": 2, "query": 1, "compactor": 1}).start()
    yield c
    c.stop()


def log_keys(cluster, cid):
    """First offsets of the collection's log fragments in S3."""
    s3 = boto3.client("s3", endpoint_url=cluster.endpoint, aws_access_key_id="test",
                      aws_secret_access_key="test", region_name="us-east-1")
    firsts = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cluster.bucket, Prefix=cluster.prefix + "/"):
        for o in page.get("Contents", []):
            parts = o["Key"].split("/")
            if parts[-2] == "log" and parts[-3] == cid:
                firsts.append(int(parts[-1]))
    return sorted(firsts)


def offsets(cluster, cid):
    compacted, position = catalog(cluster, f"select compacted_offset, log_position from collections where id = '{cid}'")[0]
    return int(compacted), int(position)


def wait_compacted(cluster, cid, position, timeout=30):
    deadline = time.time() + timeout
    while offsets(cluster, cid) != (position, position):
        assert time.time() < deadline, f"not compacted: {offsets(cluster, cid)}"
        time.sleep(0.05)


def store_requests(node, component):
    text = httpx.get(node.url + "/metrics", timeout=5).text
    pattern = r'silt_object_store_requests_total\{component="%s",op="(\w+)"\} (\d+)' % component
    return {op: int(n) for op, n in re.findall(pattern, text)}


def add_one(http, cid, i):
    r = http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": [f"r{i}"], "embeddings": [[0.1 * i, 1.0, 0.5, 0.25]]})
    assert r.status_code == 201, r.text


def test_no_fragment_leaks_after_kill_9_of_the_log_node_that_wrote_them(cluster):
    http = httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S)
    owners = placement(cluster, "log")
    victim = cluster.role("log")[0]
    # Collections the victim owns, so that it writes (and would have collected) their fragments.
    cids = []
    for k in range(40):
        cid = create(http, f"gc-{k:02d}")
        if placement(cluster, "log")[cid]["address"] == victim.url:
            cids.append(cid)
        if len(cids) == 3:
            break
    assert cids, f"no collection routed to the victim: {owners}"
    compactor = cluster.role("compactor")[0]
    before = store_requests(compactor, "compactor")
    for cid in cids:
        for i in range(1, 6):  # five single-record writes: five fragments
            add_one(http, cid, i)
        wait_compacted(cluster, cid, 5)
        assert log_keys(cluster, cid) == [1, 2, 3, 4, 5]
    # Compacted: the victim would collect them a grace period from now. It dies first.
    cluster.kill_node(victim)
    killed_at = time.time()
    # The last collection was compacted well within the grace period: its fragments are still
    # there (a reader of version 0 may need them), and only the catalog remembers them now.
    assert log_keys(cluster, cids[-1]) == [1, 2, 3, 4, 5]

    # Writes go on through the surviving log node (after membership drops the victim). It has
    # never seen this collection; the catalog says its log is fully compacted, so it appends
    # at offset 6 with one PUT and reads nothing from S3.
    survivor = cluster.role("log")[1]
    survivor_before = store_requests(survivor, "log")
    deadline = time.time() + 30
    while True:
        try:
            add_one(http, cids[0], 6)
            break
        except AssertionError:
            assert time.time() < deadline, "writes did not resume on the other log node"
            time.sleep(0.2)
    wait_compacted(cluster, cids[0], 6)
    # A series appears on /metrics once something was counted on it: absent means 0.
    survivor_after = store_requests(survivor, "log")
    took_over = {op: survivor_after.get(op, 0) - survivor_before.get(op, 0) for op in ("put", "list", "get")}
    assert (took_over["put"], took_over["list"], took_over["get"]) == (1, 0, 0), took_over

    # After the grace period (plus a GC round, every 2 s here), nothing is left in any log.
    deadline = time.time() + GRACE_MS / 1000 + 20
    while True:
        left = {cid: log_keys(cluster, cid) for cid in cids}
        if not any(left.values()):
            break
        assert time.time() < deadline, f"log fragments leaked after the grace period: {left}"
        time.sleep(0.25)
    collected_after = time.time() - killed_at
    for cid in cids:
        compacted, position = offsets(cluster, cid)
        assert compacted == position
        got = http.post(f"{COLLECTIONS}/{cid}/get", json={"include": []}).json()["ids"]
        assert sorted(got) == sorted(f"r{i}" for i in range(1, position + 1)), "GC lost nothing acknowledged"
    rows = catalog(cluster, "select id, log_collected_offset, compacted_offset from collections where deleted_at_ms is null")
    for cid, collected, compacted in rows:
        if cid in cids:
            assert collected == compacted, "the catalog records how far the log is collected"
    after = store_requests(compactor, "compactor")
    spent = {op: after.get(op, 0) - before.get(op, 0) for op in ("list", "delete", "get", "put")}
    fragments = 5 * len(cids) + 1
    print(f"\nlog GC after kill -9 of a log node: {fragments} fragments of {len(cids)} collections collected "
          f"by {collected_after:.1f} s after the kill (grace {GRACE_MS / 1000:.0f} s); the compactor's requests "
          f"(4 compactions, GC of their fragments and of 1 superseded version): {spent}")
    assert spent["delete"] >= fragments
