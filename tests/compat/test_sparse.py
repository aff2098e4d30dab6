"""Sparse vectors through Chroma's Python client: `SparseVector` metadata values stored and
returned exactly, sparse `Knn` ranking against a brute-force dot-product oracle (before and
after compaction, with the log tail overriding the index), hybrid `Rrf` of dense and sparse
terms computed by hand, filters, Chroma's BM25 flow end to end, Silt's own full-text ranking,
and Chroma's refusals of malformed sparse vectors."""

import httpx
import numpy as np
import pytest
from chromadb import K, Knn, Rrf, Schema, Search, SparseVectorIndexConfig
from chromadb.base_types import SparseVector

from conftest import wait_for_version
from oracle import Oracle

DIM = 8
KEY = "sv"
WORDS = ["rust", "search", "vector", "sparse", "index", "object", "storage", "query"]


def rand_sparse(rng, dims=40, most=6):
    n = int(rng.integers(1, most + 1))
    idx = sorted(int(i) for i in rng.choice(dims, size=n, replace=False))
    return SparseVector(indices=idx, values=[float(v) for v in rng.uniform(0.05, 2.0, size=n)])


def f32(x):
    return float(np.float32(x))


def dot(a, b):
    """Shared dimensions' products over f32 values, summed in f64; None when none is shared."""
    bv = dict(zip(b.indices, b.values))
    shared = [(v, bv[i]) for i, v in zip(a.indices, a.values) if i in bv]
    if not shared:
        return None
    return float(np.float32(sum(f32(x) * f32(y) for x, y in shared)))


def sparse_nearest(oracle, q, limit, keep=lambda id_, r: True, key=KEY):
    """Chroma's sparse Knn: records holding a sparse vector at `key` that share a dimension
    with the query, scored 1 - q·d, best (lowest) first."""
    scored = []
    for id_, r in oracle.records.items():
        v = r["metadata"].get(key)
        if not isinstance(v, SparseVector) or not keep(id_, r):
            continue
        d = dot(q, v)
        if d is not None:
            scored.append((id_, f32(1.0 - d)))
    scored.sort(key=lambda t: (t[1], t[0]))
    return scored[:limit]


def dense_nearest(oracle, q, limit, keep=lambda id_, r: True):
    ids = [i for i, r in oracle.records.items() if keep(i, r)]
    d = oracle.distances(q, ids)
    order = np.argsort(d, kind="stable")[:limit]
    return [(ids[j], float(d[j])) for j in order]


def check(res, expected, i=0):
    assert res["ids"][i] == [id_ for id_, _ in expected]
    np.testing.assert_allclose(res["scores"][i], [s for _, s in expected], rtol=1e-5, atol=1e-5)


def sparse_schema():
    """Chroma ranks by a sparse key only when the schema declares its index."""
    return Schema().create_index(key=KEY, config=SparseVectorIndexConfig())


def populate(client, name, n=160, seed=3):
    rng = np.random.default_rng(seed)
    col = client.create_collection(name, schema=sparse_schema(), embedding_function=None)
    ids = [f"s{i:04d}" for i in range(n)]
    emb = rng.normal(size=(n, DIM)).astype(np.float32)
    docs = [f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]} doc {i}" for i in range(n)]
    # Every fifth record has no sparse vector; a few others hold one at a second key.
    metas = [{"i": i, "kind": ["a", "b", "c"][i % 3], **({KEY: rand_sparse(rng)} if i % 5 else {}),
              **({"other": rand_sparse(rng)} if i % 7 == 0 else {})} for i in range(n)]
    col.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
    oracle = Oracle("l2")
    oracle.add(ids, emb, docs, metas)
    return col, oracle, rng


def assert_same_records(col, oracle):
    got = col.get(include=["metadatas", "documents"])
    assert sorted(got["ids"]) == sorted(oracle.records)
    for id_, meta in zip(got["ids"], got["metadatas"]):
        want = oracle.records[id_]["metadata"]
        assert meta.keys() == want.keys()
        for k, v in want.items():
            if isinstance(v, SparseVector):
                assert isinstance(meta[k], SparseVector), (id_, k, meta[k])
                assert meta[k].indices == v.indices
                # Chroma stores f32 and prints each value's shortest form.
                assert meta[k].values == [float(str(np.float32(x))) for x in v.values]
            else:
                assert meta[k] == v


def test_sparse_metadata_round_trips_through_every_write(http, client, name):
    col, oracle, rng = populate(client, name, n=30)
    assert_same_records(col, oracle)
    # The dict form with #type is what the client sends; tokens (labels) come back too.
    labelled = SparseVector(indices=[1, 9], values=[0.5, 1.25], labels=["rust", "search"])
    col.update(ids=["s0001"], metadatas=[{KEY: labelled}])
    oracle.update(["s0001"], metadatas=[{KEY: labelled}])
    emb = rng.normal(size=(2, DIM)).astype(np.float32)
    metas = [{KEY: rand_sparse(rng)}, {KEY: SparseVector(indices=[], values=[])}]
    col.upsert(ids=["s0002", "new"], embeddings=emb, metadatas=metas)
    oracle.upsert(["s0002", "new"], emb, metadatas=metas)
    col.update(ids=["s0003"], metadatas=[{KEY: None}])
    oracle.update(["s0003"], metadatas=[{KEY: None}])
    col.delete(ids=["s0004"])
    oracle.delete(["s0004"])
    for _ in range(2):
        assert_same_records(col, oracle)
        got = col.get(ids=["s0001"])["metadatas"][0][KEY]
        assert got.labels == ["rust", "search"]
        # query returns them the same way.
        emb = oracle.records["s0001"]["embedding"]
        hit = col.query(query_embeddings=[emb], n_results=1, include=["metadatas"])
        assert hit["ids"][0] == ["s0001"] and hit["metadatas"][0][0][KEY] == got
        wait_for_version(http, name, 1)


def test_sparse_knn_matches_brute_force_before_and_after_compaction(http, client, name):
    col, oracle, rng = populate(client, name)
    queries = [rand_sparse(rng, most=10) for _ in range(3)]

    def check_all():
        for q in queries:
            res = col.search(Search().rank(Knn(query=q, key=KEY, limit=25)).limit(12)
                             .select(K.SCORE, K.METADATA))
            check(res, sparse_nearest(oracle, q, 25)[:12])

    check_all()
    wait_for_version(http, name, 1)
    check_all()
    # The tail overrides the index: re-vectored, removed, deleted and new records.
    changed = [f"s{i:04d}" for i in range(1, 40, 3)]
    new_vectors = [{KEY: rand_sparse(rng)} for _ in changed]
    col.update(ids=changed, metadatas=new_vectors)
    oracle.update(changed, metadatas=new_vectors)
    col.update(ids=["s0006", "s0007"], metadatas=[{KEY: None}, {KEY: None}])
    oracle.update(["s0006", "s0007"], metadatas=[{KEY: None}, {KEY: None}])
    gone = [f"s{i:04d}" for i in range(50, 90, 2)]
    col.delete(ids=gone)
    oracle.delete(gone)
    fresh = [f"t{i}" for i in range(20)]
    emb = rng.normal(size=(20, DIM)).astype(np.float32)
    metas = [{KEY: rand_sparse(rng), "i": 1000 + i, "kind": "a"} for i in range(20)]
    col.upsert(ids=fresh, embeddings=emb, metadatas=metas)
    oracle.upsert(fresh, emb, metadatas=metas)
    version = http.get(f"/tenants/default_tenant/databases/default_database/collections/{name}").json()["version"]
    check_all()
    wait_for_version(http, name, version + 1)
    check_all()


@pytest.mark.parametrize("case", range(3))
def test_sparse_knn_respects_the_filter(http, client, name, case):
    where, keep = [
        (K("kind") == "b", lambda i, r: r["metadata"]["kind"] == "b"),
        ((K("i") < 60) & K.DOCUMENT.contains("rust"),
         lambda i, r: r["metadata"]["i"] < 60 and "rust" in (r["document"] or "")),
        (K.ID.not_in(["s0001", "s0002", "s0003"]) | (K("kind") == "c"),
         lambda i, r: i not in ("s0001", "s0002", "s0003") or r["metadata"]["kind"] == "c"),
    ][case]
    col, oracle, rng = populate(client, name)
    q = rand_sparse(rng, most=12)
    for _ in range(2):
        res = col.search(Search(where=where, rank=Knn(query=q, key=KEY, limit=10), select=["#score"]))
        check(res, sparse_nearest(oracle, q, 10, keep))
        wait_for_version(http, name, 1)


def test_hybrid_rrf_of_dense_and_sparse_terms_is_computed_by_hand(http, client, name):
    col, oracle, rng = populate(client, name)
    qd, qs = rng.normal(size=DIM), rand_sparse(rng, most=12)
    rrf = Rrf([Knn(query=qd, limit=30, return_rank=True, default=1000.0),
               Knn(query=qs, key=KEY, limit=30, return_rank=True, default=1000.0)],
              k=60, weights=[1.0, 2.0])
    dense = {id_: pos for pos, (id_, _) in enumerate(dense_nearest(oracle, qd, 30))}
    sparse = {id_: pos for pos, (id_, _) in enumerate(sparse_nearest(oracle, qs, 30))}
    scores = {i: -(1.0 / (60 + dense.get(i, 1000.0)) + 2.0 / (60 + sparse.get(i, 1000.0)))
              for i in set(dense) | set(sparse)}
    want = sorted(scores.items(), key=lambda kv: (kv[1], kv[0]))[:15]
    for _ in range(2):
        res = col.search(Search().rank(rrf).limit(15).select(K.SCORE))
        check(res, want)
        wait_for_version(http, name, 1)
    # A weighted sum of the raw scores (no ranks), with defaults, in one expression.
    expr = Knn(query=qd, limit=40, default=10.0) * 0.5 + Knn(query=qs, key=KEY, limit=40, default=1.0)
    d = dict(dense_nearest(oracle, qd, 40))
    s = dict(sparse_nearest(oracle, qs, 40))
    sums = {i: 0.5 * d.get(i, 10.0) + s.get(i, 1.0) for i in set(d) | set(s)}
    res = col.search(Search().rank(expr).limit(10).select(K.SCORE))
    want = sorted(sums.items(), key=lambda kv: (kv[1], kv[0]))[:10]
    assert res["ids"][0] == [i for i, _ in want]
    np.testing.assert_allclose(res["scores"][0], [v for _, v in want], rtol=1e-4, atol=1e-4)


def test_hybrid_rrf_with_a_filter_ranks_only_matching_records(http, client, name):
    col, oracle, rng = populate(client, name)
    keep = lambda i, r: r["metadata"]["kind"] != "b" and r["metadata"]["i"] >= 20
    where = (K("kind") != "b") & (K("i") >= 20)
    qd, qs = rng.normal(size=DIM), rand_sparse(rng, most=12)
    rrf = Rrf([Knn(query=qd, limit=25, return_rank=True, default=500.0),
               Knn(query=qs, key=KEY, limit=25, return_rank=True, default=500.0)], k=10, weights=[3.0, 1.0])
    dense = {id_: pos for pos, (id_, _) in enumerate(dense_nearest(oracle, qd, 25, keep))}
    sparse = {id_: pos for pos, (id_, _) in enumerate(sparse_nearest(oracle, qs, 25, keep))}
    scores = {i: -(3.0 / (10 + dense.get(i, 500.0)) + 1.0 / (10 + sparse.get(i, 500.0)))
              for i in set(dense) | set(sparse)}
    want = sorted(scores.items(), key=lambda kv: (kv[1], kv[0]))[:12]
    for _ in range(2):
        check(col.search(Search(where=where).rank(rrf).limit(12).select(K.SCORE)), want)
        wait_for_version(http, name, 1)


def raw(http, col, route, body):
    return http.post(f"/tenants/default_tenant/databases/default_database/collections/{col.id}/{route}",
                     json=body)


@pytest.mark.parametrize("vector,needle", [
    ({"#type": "sparse_vector", "indices": [3, 1], "values": [1.0, 2.0]}, "strictly ascending"),
    ({"#type": "sparse_vector", "indices": [1, 1], "values": [1.0, 2.0]}, "strictly ascending"),
    ({"#type": "sparse_vector", "indices": [1, 2], "values": [1.0]}, "same length"),
    ({"#type": "sparse_vector", "indices": [-1], "values": [1.0]}, "indices"),
    ({"#type": "sparse_vector", "indices": [1], "values": ["x"]}, "values"),
    ({"#type": "dense", "indices": [1], "values": [1.0]}, "sparse_vector"),
])
def test_malformed_sparse_vectors_are_refused_with_400(http, client, name, vector, needle):
    col = client.create_collection(name, schema=sparse_schema(), embedding_function=None)
    r = raw(http, col, "add", {"ids": ["x"], "embeddings": [[0.0] * DIM], "metadatas": [{KEY: vector}]})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "InvalidArgumentError"
    assert "Invalid sparse vector" in r.json()["message"] and needle in r.json()["message"]
    r = raw(http, col, "search", {"searches": [{"rank": {"$knn": {"query": vector, "key": KEY}}}]})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "InvalidArgumentError"
    assert col.count() == 0
    # A filter cannot compare a sparse vector: it is not a valid operand.
    r = raw(http, col, "get", {"where": {KEY: {"$eq": {"#type": "sparse_vector", "indices": [1], "values": [1.0]}}}})
    assert r.status_code == 400, r.text


def test_sparse_knn_needs_the_key_the_schema_declares(http, client, name):
    """As Chroma: ranking by a key without an enabled sparse vector index is refused."""
    col, _, rng = populate(client, name, n=20)
    q = rand_sparse(rng)
    r = raw(http, col, "search", {"searches": [{"rank": {"$knn": {"query": q.to_dict(), "key": "other"}}}]})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "InvalidArgumentError"
    assert "other" in r.json()["message"]
    plain = client.create_collection(name + "-plain", embedding_function=None)
    plain.add(ids=["a"], embeddings=[[0.0] * DIM], metadatas=[{KEY: q}])
    r = raw(http, plain, "search", {"searches": [{"rank": {"$knn": {"query": q.to_dict(), "key": KEY}}}]})
    assert r.status_code == 400, r.text


def test_a_sparse_value_equals_nothing_in_filters(client, name):
    col, oracle, _ = populate(client, name, n=20)
    assert col.get(where={KEY: {"$eq": 1}})["ids"] == []
    # $ne is the complement of $eq: records whose sparse value is not 1 match it.
    assert sorted(col.get(where={KEY: {"$ne": 1}})["ids"]) == sorted(oracle.records)


def test_chroma_bm25_flow_end_to_end(http, client, name, monkeypatch):
    """The client embeds documents into a sparse key with Chroma's BM25 function, as declared in
    the collection's schema, and embeds text queries for that key the same way."""
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    # chromadb-client 1.5.9 does not ship the JSON schemas its embedding functions validate
    # their configuration against (the full chromadb package does): skip that check only.
    monkeypatch.setattr(ChromaBm25EmbeddingFunction, "validate_config", staticmethod(lambda config: None))

    bm25 = ChromaBm25EmbeddingFunction()
    schema = Schema().create_index(
        key="bm25", config=SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=bm25))
    col = client.create_collection(name, schema=schema, embedding_function=None)
    rng = np.random.default_rng(5)
    docs = [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 9)))) for _ in range(60)]
    ids = [f"b{i:03d}" for i in range(60)]
    col.add(ids=ids, embeddings=rng.normal(size=(60, DIM)).astype(np.float32), documents=docs)
    stored = col.get(ids=ids[:3], include=["metadatas"])["metadatas"]
    assert all(isinstance(m["bm25"], SparseVector) for m in stored)
    oracle = Oracle("l2")
    oracle.add(ids, np.zeros((60, DIM)), docs, [{"bm25": v} for v in bm25(docs)])
    q = "sparse rust storage"
    (qv,) = bm25.embed_query([q])
    for _ in range(2):
        res = col.search(Search().rank(Knn(query=q, key="bm25", limit=10)).select(K.SCORE, K.DOCUMENT))
        check(res, sparse_nearest(oracle, qv, 10, key="bm25"))
        wait_for_version(http, name, 1)


def test_full_text_bm25_is_reachable_from_search(http, client, name):
    """Silt's extension: `$knn` with a text query on "#document" ranks by the full-text index
    (BM25), version and tail alike, scored -bm25 so lower is better."""
    col, oracle, rng = populate(client, name, n=60)
    body = {"searches": [{"rank": {"$knn": {"query": "storage", "key": "#document", "limit": 100}},
                          "select": {"keys": ["#score", "#document"]}}]}
    for _ in range(2):
        r = raw(http, col, "search", body)
        assert r.status_code == 200, r.text
        res = r.json()
        want = {i for i, rec in oracle.records.items() if "storage" in rec["document"].split()}
        assert set(res["ids"][0]) == want
        assert all(s < 0 for s in res["scores"][0])
        assert res["scores"][0] == sorted(res["scores"][0])
        wait_for_version(http, name, 1)
    col.upsert(ids=["late"], embeddings=rng.normal(size=(1, DIM)).astype(np.float32),
               documents=["storage storage storage"])
    res = raw(http, col, "search", body).json()
    assert "late" in res["ids"][0]


def idf_scaled(oracle, q, key):
    """Chroma's BM25 mode: each query weight times ln(1 + (n - n_t + 0.5) / (n_t + 0.5)) in f32,
    n the collection's records, n_t those whose vector at `key` holds the dimension."""
    n = np.float32(len(oracle.records))
    values = []
    for i, w in zip(q.indices, q.values):
        nt = np.float32(sum(1 for r in oracle.records.values()
                            if isinstance(r["metadata"].get(key), SparseVector) and i in r["metadata"][key].indices))
        scale = np.log1p(np.float32((n - nt + np.float32(0.5)) / (nt + np.float32(0.5))), dtype=np.float32)
        values.append(float(np.float32(scale) * np.float32(w)))
    return SparseVector(indices=list(q.indices), values=values)


def test_a_bm25_index_scales_queries_by_idf(http, client, name, monkeypatch):
    """An index declared with bm25=True ranks by the IDF-scaled query, counted over the
    collection as the read sees it (version and tail)."""
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    monkeypatch.setattr(ChromaBm25EmbeddingFunction, "validate_config", staticmethod(lambda config: None))
    bm25 = ChromaBm25EmbeddingFunction()
    schema = Schema().create_index(
        key="bm25", config=SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=bm25, bm25=True))
    col = client.create_collection(name, schema=schema, embedding_function=None)
    rng = np.random.default_rng(8)
    docs = [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 7)))) for _ in range(80)]
    ids = [f"b{i:03d}" for i in range(80)]
    col.add(ids=ids, embeddings=rng.normal(size=(80, DIM)).astype(np.float32), documents=docs)
    oracle = Oracle("l2")
    oracle.add(ids, np.zeros((80, DIM)), docs, [{"bm25": v} for v in bm25(docs)])
    q = "rust storage query"
    (qv,) = bm25.embed_query([q])

    def check_idf():
        res = col.search(Search().rank(Knn(query=q, key="bm25", limit=12)).select(K.SCORE))
        check(res, sparse_nearest(oracle, idf_scaled(oracle, qv, "bm25"), 12, key="bm25"))

    check_idf()
    wait_for_version(http, name, 1)
    check_idf()
    col.delete(ids=ids[:25])
    oracle.delete(ids[:25])
    check_idf()
