"""`silt admin status` against a real cluster (gateway, log, query, compactor processes on
Postgres + S3) with a collection that lags behind its log because its compactor is gone: the
status names every node by role with its heartbeat, lists the lagging collection with its exact
unindexed record count, the earlier compaction of another collection, and the live query node's
cache figures. `/readyz` answers 200 on every live role, with each check named."""

import json
import subprocess
import time

import httpx
import pytest

from cluster import MEMBERSHIP_TIMEOUT_MS, SiltCluster
from common import silt_binary


@pytest.fixture
def cluster(tmp_path):
    c = SiltCluster(str(tmp_path), shape={"log": 1, "query": 1, "compactor": 1}).start()
    yield c
    c.stop()


def status(cluster, *extra):
    out = subprocess.run([silt_binary(), "admin", *cluster.admin_args(), "status",
                          "--membership-timeout-ms", str(MEMBERSHIP_TIMEOUT_MS), *extra],
                         check=True, capture_output=True, text=True, timeout=30)
    return out.stdout


def add(cluster, cid, ids):
    r = httpx.post(f"{cluster.url}/api/v2/tenants/default_tenant/databases/default_database/collections/{cid}/add",
                   json={"ids": ids, "embeddings": [[float(i), 1.0] for i in range(len(ids))]}, timeout=30)
    assert r.status_code in (200, 201), r.text


def indexing_status(cluster, cid):
    r = httpx.get(f"{cluster.url}/api/v2/tenants/default_tenant/databases/default_database/collections/{cid}/indexing_status",
                  timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_status_shows_nodes_lag_compactions_and_caches(cluster):
    client = cluster.client()
    indexed = client.create_collection("indexed", embedding_function=None)
    add(cluster, str(indexed.id), ["a", "b", "c"])
    deadline = time.time() + 30
    while indexing_status(cluster, str(indexed.id))["num_unindexed_ops"] != 0:
        assert time.time() < deadline, "the first collection was never compacted"
        time.sleep(0.1)
    # A read through the query node, so its cache has figures.
    assert indexed.query(query_embeddings=[[0.0, 1.0]], n_results=1)["ids"] == [["a"]]

    [compactor] = cluster.role("compactor")
    cluster.kill_node(compactor)
    lagging = client.create_collection("lagging", embedding_function=None)
    add(cluster, str(lagging.id), [f"r{i}" for i in range(7)])
    st = indexing_status(cluster, str(lagging.id))
    assert (st["num_indexed_ops"], st["num_unindexed_ops"], st["total_ops"]) == (0, 7, 7)
    assert st["op_indexing_progress"] == 0.0
    time.sleep(MEMBERSHIP_TIMEOUT_MS / 1000 + 0.5)  # the dead compactor's heartbeat goes stale

    report = json.loads(status(cluster, "--json"))
    by_role = {}
    for n in report["nodes"]:
        by_role.setdefault(n["role"], []).append(n)
    assert sorted(by_role) == ["compactor", "gateway", "log", "query"]
    assert [n["live"] for n in by_role["compactor"]] == [False]
    assert all(n["live"] and n["heartbeat_age_ms"] < MEMBERSHIP_TIMEOUT_MS
               for role in ("gateway", "log", "query") for n in by_role[role])

    lag = [entry for entry in report["lagging_collections"] if entry["collection"]["name"] == "lagging"]
    assert len(lag) == 1 and lag[0]["unindexed_records"] == 7
    assert lag[0]["collection"]["id"] == str(lagging.id)
    assert all(entry["collection"]["name"] != "indexed" for entry in report["lagging_collections"])

    compactions = [c for c in report["recent_compactions"] if c["collection"]["name"] == "indexed"]
    assert compactions and compactions[0]["records"] == 3 and compactions[0]["version"] >= 1
    assert compactions[0]["bytes"] > 0
    assert report["failing_compactions"] == []

    [cache] = report["query_caches"]
    assert "error" not in cache, cache
    assert cache["hits"] + cache["misses"] > 0

    text = status(cluster)
    for heading in ("NODES", "LAGGING COLLECTIONS", "RECENT COMPACTIONS", "QUERY NODE CACHES"):
        assert heading in text
    assert "default_tenant/default_database/lagging" in text and "silent" in text


def test_readyz_on_every_live_role(cluster):
    for node in cluster.all_nodes():
        r = httpx.get(node.url + "/readyz", timeout=10)
        assert r.status_code == 200, (node.role, r.text)
        body = r.json()
        assert body["ready"] is True
        assert body["checks"] == {"catalog": "ok", "store": "ok", "membership": "ok"}, (node.role, body)
