"""Record operations through Chroma's Python client, checked against the numpy oracle."""

import numpy as np
import pytest

from conftest import wait_for_version
from oracle import Oracle

DIM = 16
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def dataset(rng, n, start=0):
    ids = [f"id-{i}" for i in range(start, start + n)]
    emb = rng.normal(size=(n, DIM)).astype(np.float32)
    docs = [f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]} number {i}" if i % 7 else None for i in range(start, start + n)]
    metas = []
    for i in range(start, start + n):
        m = {"i": i, "f": i / 4.0, "even": i % 2 == 0, "word": WORDS[i % 8], "tags": [WORDS[i % 3], "all"]}
        if i % 5 == 0:
            del m["word"]
        metas.append(m)
    return ids, emb, docs, metas


def populate(client, name, space, n=120, seed=0):
    rng = np.random.default_rng(seed)
    col = client.create_collection(name, metadata={"hnsw:space": space})
    ids, emb, docs, metas = dataset(rng, n)
    col.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
    oracle = Oracle(space)
    oracle.add(ids, emb, docs, metas)
    return col, oracle, rng


WHERES = [
    {"i": 7},
    {"i": {"$eq": 8}},
    {"word": {"$ne": "beta"}},
    {"f": {"$gt": 10.5}},
    {"f": {"$gte": 10.5}},
    {"i": {"$lt": 20}},
    {"i": {"$lte": 20}},
    {"word": {"$in": ["alpha", "gamma"]}},
    {"word": {"$nin": ["alpha", "gamma"]}},
    {"even": True},
    {"tags": {"$contains": "beta"}},
    {"tags": {"$not_contains": "alpha"}},
    {"$and": [{"even": False}, {"i": {"$gt": 30}}]},
    {"$or": [{"word": "delta"}, {"i": {"$lt": 5}}]},
    {"$and": [{"$or": [{"i": {"$lt": 10}}, {"i": {"$gt": 100}}]}, {"even": True}]},
]

WHERE_DOCUMENTS = [
    {"$contains": "gamma"},
    {"$not_contains": "alpha"},
    {"$regex": "number 1[0-9]$"},
    {"$not_regex": "^(alpha|beta)"},
    {"$and": [{"$contains": "eta"}, {"$not_contains": "zeta"}]},
    {"$or": [{"$contains": "delta alpha"}, {"$regex": "number [0-3]$"}]},
]


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_query_matches_brute_force_for_each_distance(client, name, space):
    col, oracle, rng = populate(client, name, space)
    queries = rng.normal(size=(5, DIM)).astype(np.float32)
    res = col.query(query_embeddings=queries, n_results=10, include=["distances"])
    for qi, q in enumerate(queries):
        want_ids, want_d = oracle.knn(q, 10)
        assert res["ids"][qi] == want_ids
        np.testing.assert_allclose(res["distances"][qi], want_d, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("where", WHERES, ids=[str(w) for w in WHERES])
def test_every_where_operator_in_get_and_query(client, name, where):
    col, oracle, rng = populate(client, name, "l2")
    got = col.get(where=where, include=[])
    assert got["ids"] == oracle.matching(where=where)
    q = rng.normal(size=DIM).astype(np.float32)
    res = col.query(query_embeddings=[q], n_results=7, where=where, include=["distances"])
    want_ids, _ = oracle.knn(q, 7, where=where)
    assert res["ids"][0] == want_ids


@pytest.mark.parametrize("wd", WHERE_DOCUMENTS, ids=[str(w) for w in WHERE_DOCUMENTS])
def test_every_where_document_operator(client, name, wd):
    col, oracle, rng = populate(client, name, "cosine")
    got = col.get(where_document=wd, include=["documents"])
    assert got["ids"] == oracle.matching(where_document=wd)
    q = rng.normal(size=DIM).astype(np.float32)
    res = col.query(query_embeddings=[q], n_results=5, where_document=wd, where={"even": True})
    want_ids, _ = oracle.knn(q, 5, where_document=wd, where={"even": True})
    assert res["ids"][0] == want_ids


def test_get_by_ids_limit_offset(client, name):
    col, oracle, _ = populate(client, name, "l2")
    all_ids = list(oracle.records)
    assert col.get(include=[])["ids"] == all_ids
    assert col.get(limit=10, offset=25, include=[])["ids"] == all_ids[25:35]
    assert col.get(offset=115, include=[])["ids"] == all_ids[115:]
    assert col.get(where={"even": True}, limit=5, offset=3, include=[])["ids"] == oracle.matching(where={"even": True})[3:8]
    got = col.get(ids=["id-3", "id-77", "missing"], include=["metadatas", "documents", "embeddings", "uris"])
    assert sorted(got["ids"]) == ["id-3", "id-77"]
    for i, id_ in enumerate(got["ids"]):
        r = oracle.records[id_]
        assert got["metadatas"][i] == r["metadata"]
        assert got["documents"][i] == r["document"]
        np.testing.assert_array_equal(np.asarray(got["embeddings"][i], dtype=np.float32), r["embedding"])


INCLUDES = [[], ["documents"], ["metadatas"], ["embeddings"], ["distances"], ["uris"],
            ["documents", "metadatas"], ["embeddings", "distances", "documents", "metadatas", "uris"]]


@pytest.mark.parametrize("include", INCLUDES, ids=[",".join(i) or "none" for i in INCLUDES])
def test_include_projection(http, client, name, include):
    col, oracle, rng = populate(client, name, "l2", n=30)
    base = f"/tenants/default_tenant/databases/default_database/collections/{col.id}"
    q = rng.normal(size=DIM).astype(np.float32).tolist()
    res = http.post(base + "/query", json={"query_embeddings": [q], "n_results": 3, "include": include}).json()
    for field in ["documents", "metadatas", "embeddings", "distances", "uris"]:
        if field in include:
            assert res[field] is not None and len(res[field][0]) == 3, field
        else:
            assert res[field] is None, field
    get_include = [f for f in include if f != "distances"]
    got = http.post(base + "/get", json={"limit": 4, "include": get_include}).json()
    assert got["ids"] == list(oracle.records)[:4]
    for field in ["documents", "metadatas", "embeddings", "uris"]:
        assert (got[field] is not None) == (field in get_include), field
    want_ids, _ = oracle.knn(np.asarray(q), 3)
    assert res["ids"][0] == want_ids


def test_add_upsert_update_delete_semantics(client, name):
    col, oracle, rng = populate(client, name, "l2", n=40)
    # add of existing ids is ignored; new ids are added
    ids, emb, docs, metas = dataset(rng, 10, start=35)
    col.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
    oracle.add(ids, emb, docs, metas)
    # upsert: replaces existing (merging metadata), creates missing
    ids = ["id-1", "id-2", "new-1"]
    emb = rng.normal(size=(3, DIM)).astype(np.float32)
    metas = [{"word": "upserted", "i": None}, {"extra": 1.5}, {"fresh": True}]
    col.upsert(ids=ids, embeddings=emb, metadatas=metas, documents=["u1", "u2", "u3"])
    oracle.upsert(ids, emb, ["u1", "u2", "u3"], metas)
    # update: only existing ids, embedding optional
    e2 = rng.normal(size=(2, DIM)).astype(np.float32)
    col.update(ids=["id-3", "ghost"], embeddings=e2, metadatas=[{"i": 999}, {"i": 1}], documents=["changed", "never"])
    oracle.update(["id-3", "ghost"], e2, ["changed", "never"], [{"i": 999}, {"i": 1}])
    col.update(ids=["id-7"], metadatas=[{"even": None, "note": "metadata only"}])
    oracle.update(["id-7"], None, None, [{"even": None, "note": "metadata only"}])
    col.update(ids=["id-4"], embeddings=[rng.normal(size=DIM).astype(np.float32)])
    oracle.update(["id-4"], [col.get(ids=["id-4"], include=["embeddings"])["embeddings"][0]])
    # delete by ids, by where, by where_document
    col.delete(ids=["id-5", "id-6", "nope"])
    oracle.delete(["id-5", "id-6"])
    col.delete(where={"i": {"$gte": 40}})
    oracle.delete(oracle.matching(where={"i": {"$gte": 40}}))
    col.delete(where_document={"$contains": "theta"})
    oracle.delete(oracle.matching(where_document={"$contains": "theta"}))

    assert col.count() == len(oracle.records)
    got = col.get(include=["metadatas", "documents", "embeddings"])
    assert got["ids"] == list(oracle.records)
    for i, id_ in enumerate(got["ids"]):
        r = oracle.records[id_]
        assert (got["metadatas"][i] or {}) == r["metadata"], id_
        assert got["documents"][i] == r["document"], id_
        np.testing.assert_allclose(got["embeddings"][i], r["embedding"], rtol=1e-6)
    q = rng.normal(size=DIM).astype(np.float32)
    assert col.query(query_embeddings=[q], n_results=15)["ids"][0] == oracle.knn(q, 15)[0]


def test_reads_are_identical_before_and_after_compaction(http, client, name):
    col, oracle, rng = populate(client, name, "cosine", n=60)
    q = rng.normal(size=(3, DIM)).astype(np.float32)
    before = col.query(query_embeddings=q, n_results=8, where={"even": False}, include=["distances"])
    for qi in range(3):
        assert before["ids"][qi] == oracle.knn(q[qi], 8, where={"even": False})[0]
    c = wait_for_version(http, name, 1)
    assert c["version"] >= 1
    compacted = col.query(query_embeddings=q, n_results=8, where={"even": False}, include=["distances"])
    assert compacted["ids"] == before["ids"]
    np.testing.assert_allclose(compacted["distances"], before["distances"], rtol=1e-6)
    col.upsert(ids=["id-0"], embeddings=[q[0]], metadatas=[{"even": False}])
    oracle.upsert(["id-0"], [q[0]], None, [{"even": False}])
    c2 = wait_for_version(http, name, c["version"] + 1)
    assert c2["version"] > c["version"]
    after = col.query(query_embeddings=q, n_results=8, where={"even": False})
    assert after["ids"][0][0] == "id-0"
    for qi in range(3):
        assert after["ids"][qi] == oracle.knn(q[qi], 8, where={"even": False})[0]


def test_metadata_value_types_round_trip(client, name):
    col = client.create_collection(name)
    meta = {"s": "text", "i": -3, "f": 2.5, "b": False, "ls": ["a", "b"], "li": [1, 2, 3], "lf": [0.5, 1.5], "lb": [True, False]}
    col.add(ids=["x"], embeddings=[[0.1, 0.2]], metadatas=[meta], uris=["s3://bucket/x"])
    got = col.get(ids=["x"], include=["metadatas", "uris"])
    assert got["metadatas"][0] == meta
    assert got["uris"][0] == "s3://bucket/x"
    assert col.get(where={"li": {"$contains": 2}}, include=[])["ids"] == ["x"]
    assert col.get(where={"lb": {"$contains": True}}, include=[])["ids"] == ["x"]
    assert col.get(where={"f": {"$gt": 2}}, include=[])["ids"] == ["x"]


def test_version_increases_after_each_compaction(http, client, name):
    col = client.create_collection(name)
    versions = []
    for round_ in range(3):
        col.add(ids=[f"r{round_}"], embeddings=[[float(round_), 1.0]])
        c = wait_for_version(http, name, round_ + 1)
        versions.append(c["version"])
    assert versions == sorted(versions) and versions[-1] >= 3
    assert col.count() == 3
