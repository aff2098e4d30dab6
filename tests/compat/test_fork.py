"""Copy-on-write forks with Chroma's own client (`collection.fork`, `collection.fork_count`),
on `silt run` and, with SILT_COMPAT_TARGET=cluster, on a cluster. Every answer is compared
with an oracle the test keeps (oracle.py): a fork is its parent at the fork point, and
afterwards each side changes alone. Chroma's own `chroma run` refuses forks ("not supported
for local"), so the reference is Chroma's distributed API: the new collection's JSON, 409 for
a name in use, 404 for a missing collection, fork_count over the lineage."""

import copy
import os
import tempfile
import threading
import uuid

import chromadb.errors as errors
import httpx
import numpy as np
import pytest

from conftest import TARGET, SiltServer, wait_for_version
from oracle import Oracle
from test_hardening import wait_until

DIM = 4
COLLECTIONS = "/tenants/default_tenant/databases/default_database/collections"


def records(rng, prefix, n):
    ids = [f"{prefix}{i}" for i in range(n)]
    emb = rng.normal(size=(n, DIM)).astype(np.float32).tolist()
    docs = [f"{prefix} document {i}" for i in range(n)]
    metas = [{"i": i, "side": prefix} for i in range(n)]
    return ids, emb, docs, metas


def seeded(client, name, rng, n, batch=250, metadata=None):
    col = client.create_collection(name, embedding_function=None, metadata=metadata)
    oracle = Oracle("l2")
    ids, emb, docs, metas = records(rng, "r", n)
    for s in range(0, n, batch):
        col.add(ids=ids[s:s + batch], embeddings=emb[s:s + batch], documents=docs[s:s + batch],
                metadatas=metas[s:s + batch])
    oracle.add(ids, emb, docs, metas)
    return col, oracle


def assert_same(col, oracle, rng):
    """get, count and query of `col` agree with `oracle`."""
    got = col.get(include=["embeddings", "documents", "metadatas"])
    assert sorted(got["ids"]) == sorted(oracle.records)
    for i, id_ in enumerate(got["ids"]):
        r = oracle.records[id_]
        assert got["documents"][i] == r["document"], id_
        assert got["metadatas"][i] == r["metadata"], id_
        np.testing.assert_array_equal(np.asarray(got["embeddings"][i], dtype=np.float32), r["embedding"])
    assert col.count() == len(oracle.records)
    for q in rng.normal(size=(3, DIM)).astype(np.float32):
        res = col.query(query_embeddings=[q], n_results=7, include=["distances"])
        want, want_d = oracle.knn(q, 7)
        assert res["ids"][0] == want
        np.testing.assert_allclose(res["distances"][0], want_d, rtol=1e-4, atol=1e-4)
    side = col.get(where={"side": "f"}, include=[])["ids"]
    assert sorted(side) == sorted(oracle.matching(where={"side": "f"}))


def status(http, col):
    return http.get(f"{COLLECTIONS}/{col.id}/indexing_status").json()


def test_fork_is_the_parent_and_then_each_side_changes_alone(client, http, name):
    rng = np.random.default_rng(1)
    parent, oracle = seeded(client, name, rng, 600, metadata={"owner": "fork-test"})
    wait_for_version(http, name, 1)
    forked = parent.fork(name + "-fork")

    assert forked.name == name + "-fork" and forked.id != parent.id
    assert (forked.tenant, forked.database) == (parent.tenant, parent.database)
    model = http.get(f"{COLLECTIONS}/{name}-fork").json()
    assert model["id"] == str(forked.id) and model["dimension"] == DIM
    parent_model = http.get(f"{COLLECTIONS}/{name}").json()
    for key in ("configuration_json", "schema", "metadata", "tenant", "database"):
        assert model[key] == parent_model[key], key
    fork_oracle = copy.deepcopy(oracle)
    assert_same(forked, fork_oracle, rng)

    # Writes on either side are invisible to the other.
    ids, emb, docs, metas = records(rng, "p", 40)
    parent.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
    oracle.add(ids, emb, docs, metas)
    parent.delete(ids=[f"r{i}" for i in range(0, 100, 3)])
    oracle.delete([f"r{i}" for i in range(0, 100, 3)])
    ids, emb, docs, metas = records(rng, "f", 30)
    forked.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
    fork_oracle.add(ids, emb, docs, metas)
    up_ids = [f"r{i}" for i in range(50, 70)]
    up_emb = rng.normal(size=(20, DIM)).astype(np.float32).tolist()
    forked.upsert(ids=up_ids, embeddings=up_emb, metadatas=[{"side": "f"}] * 20)
    fork_oracle.upsert(up_ids, up_emb, metadatas=[{"side": "f"}] * 20)
    assert_same(parent, oracle, rng)
    assert_same(forked, fork_oracle, rng)

    # And stay apart once both are compacted.
    wait_for_version(http, name, 2)
    wait_for_version(http, name + "-fork", 2)
    assert_same(parent, oracle, rng)
    assert_same(forked, fork_oracle, rng)


@pytest.fixture(scope="module")
def tail_server():
    """Compacts a tail of 500 records at once and never a shorter one: what is written after a
    version stays unindexed as long as the test needs."""
    with tempfile.TemporaryDirectory() as d:
        s = SiltServer(d, extra=["--compaction-min-records", "500",
                                 "--compaction-max-age-ms", "3600000"]).start()
        yield s
        s.stop()


def test_fork_of_a_collection_with_an_unindexed_tail(tail_server):
    client = tail_server.client()
    name = "tail-" + uuid.uuid4().hex[:8]
    rng = np.random.default_rng(2)
    with httpx.Client(base_url=tail_server.url + "/api/v2", timeout=30) as http:
        parent, oracle = seeded(client, name, rng, 500)
        wait_for_version(http, name, 1)
        # The tail: updates, deletes and new records the version does not hold.
        up_ids = [f"r{i}" for i in range(10)]
        up_emb = rng.normal(size=(10, DIM)).astype(np.float32).tolist()
        parent.update(ids=up_ids, embeddings=up_emb, documents=["updated"] * 10)
        oracle.update(up_ids, up_emb, documents=["updated"] * 10)
        parent.delete(ids=["r10", "r11"])
        oracle.delete(["r10", "r11"])
        ids, emb, docs, metas = records(rng, "t", 50)
        parent.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
        oracle.add(ids, emb, docs, metas)
        before = status(http, parent)
        assert before["num_unindexed_ops"] == 62, before

        forked = parent.fork(name + "-fork")
        fork_oracle = copy.deepcopy(oracle)
        assert_same(forked, fork_oracle, rng)
        # The fork holds the same version and the copied tail, at the same log offsets.
        assert status(http, forked) == before
        p = http.get(f"{COLLECTIONS}/{name}").json()
        f = http.get(f"{COLLECTIONS}/{name}-fork").json()
        assert (f["version"], f["log_position"]) == (p["version"], p["log_position"])

        # The fork's tail is its own: it grows apart from the parent's.
        forked.delete(ids=["t0", "r20"])
        fork_oracle.delete(["t0", "r20"])
        parent.upsert(ids=["t1"], embeddings=[[9.0, 9.0, 9.0, 9.0]], documents=["moved"])
        oracle.upsert(["t1"], [[9.0, 9.0, 9.0, 9.0]], documents=["moved"])
        assert_same(parent, oracle, rng)
        assert_same(forked, fork_oracle, rng)

        # A fork of a collection never compacted copies its whole log.
        fresh = client.create_collection(name + "-fresh", embedding_function=None)
        ids, emb, docs, metas = records(rng, "n", 20)
        fresh.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
        fresh_oracle = Oracle("l2")
        fresh_oracle.add(ids, emb, docs, metas)
        fresh_fork = fresh.fork(name + "-fresh-fork")
        assert http.get(f"{COLLECTIONS}/{name}-fresh-fork").json()["version"] == 0
        assert_same(fresh_fork, fresh_oracle, rng)


def test_fork_under_concurrent_writes_holds_a_prefix_of_acknowledged_writes(tail_server):
    client = tail_server.client()
    name = "conc-" + uuid.uuid4().hex[:8]
    rng = np.random.default_rng(3)
    parent, _ = seeded(client, name, rng, 500)
    writers, batch = 3, 4
    acked = [0] * writers  # batches acknowledged, per writer
    stop = threading.Event()
    failures = []

    def write(w):
        try:
            col = tail_server.client().get_collection(name)
            k = 0
            while not stop.is_set() or k < 5:
                ids = [f"w{w}-{k}-{j}" for j in range(batch)]
                col.add(ids=ids, embeddings=[[float(w), float(k), float(j), 1.0] for j in range(batch)])
                k += 1
                acked[w] = k
        except Exception as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    wait_until(lambda: min(acked) >= 3 or failures, 60, "every writer has written")
    acked_before = list(acked)
    forked = parent.fork(name + "-fork")
    stop.set()
    for t in threads:
        t.join()
    assert not failures, failures

    got = set(forked.get(include=[])["ids"])
    for w in range(writers):
        batches = {}
        for id_ in got:
            if id_.startswith(f"w{w}-"):
                _, k, _ = id_.split("-")
                batches.setdefault(int(k), 0)
                batches[int(k)] += 1
        held = sorted(batches)
        # Whole batches only, in the order each writer wrote them, and every batch that was
        # acknowledged before the fork was asked for.
        assert all(n == batch for n in batches.values()), batches
        assert held == list(range(len(held))), held
        assert len(held) >= acked_before[w], (held, acked_before)
        assert len(held) <= acked[w]
    assert {f"r{i}" for i in range(500)} <= got
    assert forked.count() == len(got)
    # The parent got everything; the fork nothing after its point.
    assert parent.count() == 500 + batch * sum(acked)


def test_fork_errors_name_clash_missing_collection_and_other_tenants(client, http, name):
    col = client.create_collection(name, embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0, 3.0, 4.0]])
    client.create_collection(name + "-taken", embedding_function=None)
    with pytest.raises(errors.UniqueConstraintError):
        col.fork(name + "-taken")
    with pytest.raises(errors.UniqueConstraintError):
        col.fork(name)
    r = http.post(f"{COLLECTIONS}/{col.id}/fork", json={"new_name": name + "-taken"})
    assert r.status_code == 409 and r.json()["error"] == "UniqueConstraintError", r.text

    missing = uuid.uuid4()
    r = http.post(f"{COLLECTIONS}/{missing}/fork", json={"new_name": name + "-x"})
    assert r.status_code == 404 and r.json()["error"] == "NotFoundError", r.text
    r = http.get(f"{COLLECTIONS}/{missing}/fork_count")
    assert r.status_code == 404 and r.json()["error"] == "NotFoundError", r.text
    r = http.post(f"{COLLECTIONS}/{col.id}/fork", json={"new_name": "x"})
    assert r.status_code == 400 and r.json()["error"] == "InvalidArgumentError", r.text

    # A collection is addressed within its own tenant only: through another tenant's path it
    # does not exist, and nothing is created there or here.
    other = "fork-t-" + uuid.uuid4().hex[:8]
    assert http.post("/tenants", json={"name": other}).status_code == 200
    assert http.post(f"/tenants/{other}/databases", json={"name": "default_database"}).status_code == 200
    base = f"/tenants/{other}/databases/default_database/collections"
    r = http.post(f"{base}/{col.id}/fork", json={"new_name": name + "-stolen"})
    assert r.status_code == 404 and r.json()["error"] == "NotFoundError", r.text
    assert http.get(base).json() == []
    assert http.get(f"{COLLECTIONS}/{name}-stolen").status_code == 404
    # No fork was created by any of the refused calls.
    assert col.fork_count() == 0


def test_fork_count_counts_the_live_lineage(client, name):
    root = client.create_collection(name, embedding_function=None)
    root.add(ids=["a", "b"], embeddings=[[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    assert root.fork_count() == 0
    one = root.fork(name + "-1")
    assert (root.fork_count(), one.fork_count()) == (1, 1)
    two = one.fork(name + "-2")  # a fork of a fork joins the same lineage
    three = root.fork(name + "-3")
    for c in (root, one, two, three):
        assert c.fork_count() == 3
    unrelated = client.create_collection(name + "-other", embedding_function=None)
    assert unrelated.fork_count() == 0
    # Deleted forks leave the count (Silt counts live forks; see docs/fork.md).
    client.delete_collection(name + "-2")
    assert root.fork_count() == 2
    # The lineage outlives its root.
    client.delete_collection(name)
    assert one.fork_count() == 2
    assert isinstance(one.fork_count(), int)


# --- garbage collection with forks ----------------------------------------------------------

def object_keys(server):
    """Every object key the server stored (relative to its store's root)."""
    if TARGET == "cluster":
        import boto3
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=server.bucket,
                                                                 Prefix=server.prefix + "/"):
            keys += [o["Key"][len(server.prefix) + 1:] for o in page.get("Contents", [])]
        return keys
    root = os.path.join(server.path, "data", "objects")
    return [os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files]


def keys_of(server, cid):
    """Keys under a collection's prefix ({hash}/{id}/...), relative to it."""
    out = []
    for k in object_keys(server):
        parts = k.split("/")
        if len(parts) > 2 and parts[1] == str(cid):
            out.append("/".join(parts[2:]))
    return sorted(out)


def test_gc_keeps_what_a_fork_references_and_collects_it_after(tmp_path):
    s = SiltServer(str(tmp_path), extra=["--gc-grace-ms", "300", "--compaction-min-records", "1",
                                         "--compaction-max-age-ms", "50"]).start()
    try:
        client = s.client()
        http = httpx.Client(base_url=s.url + "/api/v2", timeout=30)
        rng = np.random.default_rng(4)
        # One write, so one version: everything under the parent's v/ is what the fork shares.
        parent, oracle = seeded(client, "gc-parent", rng, 300, batch=300)
        wait_for_version(http, "gc-parent", 1)
        forked = parent.fork("gc-fork")
        fork_oracle = copy.deepcopy(oracle)
        shared = [k for k in keys_of(s, parent.id) if k.startswith("v/")]
        assert shared, keys_of(s, parent.id)
        assert not [k for k in keys_of(s, forked.id) if k.startswith("v/")], "nothing copied"

        # The parent moves on: its old version is superseded and, after the grace period, its
        # compacted log collected, but the version's files stay: the fork reads them.
        ids, emb, docs, metas = records(rng, "p", 20)
        parent.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
        oracle.add(ids, emb, docs, metas)
        wait_for_version(http, "gc-parent", 2)
        wait_until(lambda: not [k for k in keys_of(s, parent.id) if k.startswith("log/")], 60,
                   "the parent's compacted log is collected")
        assert set(shared) <= set(keys_of(s, parent.id))
        assert_same(forked, fork_oracle, rng)
        assert_same(parent, oracle, rng)

        # The parent is deleted: everything of it goes but the version the fork still reads.
        client.delete_collection("gc-parent")
        wait_until(lambda: keys_of(s, parent.id) == sorted(shared), 60,
                   "only the shared version is left of the parent")
        assert_same(forked, fork_oracle, rng)

        # The fork moves on: the last reference goes, and the shared files with it.
        ids, emb, docs, metas = records(rng, "f", 20)
        forked.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
        fork_oracle.add(ids, emb, docs, metas)
        wait_until(lambda: not keys_of(s, parent.id), 60, "the shared version is collected")
        assert_same(forked, fork_oracle, rng)

        # With both gone, nothing is left.
        client.delete_collection("gc-fork")
        wait_until(lambda: not keys_of(s, forked.id), 60, "the fork's objects are collected")
        assert not object_keys(s), object_keys(s)
    finally:
        s.stop()


def test_fork_of_an_empty_collection_fixes_its_dimension_alone(client, name):
    empty = client.create_collection(name, embedding_function=None)
    forked = empty.fork(name + "-fork")
    assert forked.count() == 0 and empty.fork_count() == 1
    # Neither has a dimension yet: each side fixes its own with its first write.
    forked.add(ids=["a"], embeddings=[[1.0, 2.0, 3.0]])
    empty.add(ids=["b"], embeddings=[[1.0, 2.0, 3.0, 4.0, 5.0]])
    with pytest.raises(errors.InvalidArgumentError):
        forked.add(ids=["c"], embeddings=[[1.0, 2.0, 3.0, 4.0, 5.0]])
    assert forked.get()["ids"] == ["a"] and empty.get()["ids"] == ["b"]
