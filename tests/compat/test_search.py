"""Chroma's Search API (`collection.search`) through Chroma's Python client, each answer checked
against a brute-force numpy model (oracle.py): dense distances per space, RRF and arithmetic
computed by hand, filters, paging, selection, batches and reads right after writes."""

import httpx
import numpy as np
import pytest
from chromadb import K, Knn, Rrf, Search
from chromadb.api.types import ReadLevel
from chromadb.execution.expression import GroupBy, MinK, Val

from conftest import wait_for_version
from oracle import Oracle, match_document, match_where

DIM = 12
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def dataset(rng, n, start=0):
    ids = [f"r{i:04d}" for i in range(start, start + n)]
    emb = rng.normal(size=(n, DIM)).astype(np.float32)
    docs = [f"{WORDS[i % 5]} {WORDS[(i * 2) % 5]} item {i}" if i % 6 else None for i in range(start, start + n)]
    metas = [{"i": i, "word": WORDS[i % 5], "even": i % 2 == 0, "tags": [WORDS[i % 3], "any"]}
             for i in range(start, start + n)]
    return ids, emb, docs, metas


def populate(client, name, space="l2", n=150, seed=1):
    rng = np.random.default_rng(seed)
    col = client.create_collection(name, metadata={"hnsw:space": space})
    ids, emb, docs, metas = dataset(rng, n)
    col.add(ids=ids, embeddings=emb, documents=docs, metadatas=metas)
    oracle = Oracle(space)
    oracle.add(ids, emb, docs, metas)
    return col, oracle, rng


def nearest(oracle, q, limit, keep=lambda id_, r: True):
    """A Knn term's candidates: the `limit` nearest records that pass the filter, nearest first."""
    ids = [i for i, r in oracle.records.items() if keep(i, r)]
    if not ids:
        return []
    d = oracle.distances(q, ids)
    order = np.argsort(d, kind="stable")[:limit]
    return [(ids[j], float(d[j])) for j in order]


def ranked(scores):
    return sorted(scores.items(), key=lambda kv: (kv[1], kv[0]))


def check_ranked(row_ids, row_scores, expected, rtol=1e-4):
    assert row_ids == [i for i, _ in expected]
    np.testing.assert_allclose(row_scores, [s for _, s in expected], rtol=rtol, atol=1e-5)


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_knn_rank_matches_brute_force_before_and_after_compaction(http, client, name, space):
    col, oracle, rng = populate(client, name, space)
    q = rng.normal(size=DIM)
    search = Search().rank(Knn(query=q, limit=20)).limit(7).select(K.SCORE, K.DOCUMENT, K.METADATA, K.EMBEDDING)
    for _ in range(2):
        res = col.search(search)
        want = nearest(oracle, q, 20)[:7]
        check_ranked(res["ids"][0], res["scores"][0], want)
        rows = res.rows()[0]
        for row, (id_, _) in zip(rows, want):
            r = oracle.records[id_]
            assert row.get("document") == r["document"]
            assert row["metadata"] == r["metadata"]
            np.testing.assert_allclose(row["embedding"], r["embedding"], rtol=1e-6)
        assert res["select"][0] == ["#document", "#embedding", "#metadata", "#score"]
        wait_for_version(http, name, 1)


def test_knn_limit_bounds_the_candidates_and_the_page_pages_them(client, name):
    col, oracle, rng = populate(client, name)
    q = rng.normal(size=DIM)
    want = nearest(oracle, q, 12)
    pages = []
    for offset in (0, 5, 10):
        res = col.search(Search().rank(Knn(query=q, limit=12)).limit(5, offset=offset).select(K.SCORE))
        pages += res["ids"][0]
    # 12 candidates in all: the third page holds only the last two.
    assert pages == [i for i, _ in want]


FILTERS = [
    (K("word") == "beta", lambda i, r: r["metadata"]["word"] == "beta"),
    ((K("i") > 40) & (K("even") == False), lambda i, r: r["metadata"]["i"] > 40 and not r["metadata"]["even"]),  # noqa: E712
    (K("tags").contains("gamma"), lambda i, r: "gamma" in r["metadata"]["tags"]),
    (K("word").not_in(["alpha", "beta"]), lambda i, r: r["metadata"]["word"] not in ("alpha", "beta")),
    (K.ID.is_in([f"r{i:04d}" for i in range(0, 150, 3)]), lambda i, r: int(i[1:]) % 3 == 0),
    (K.ID.not_in([f"r{i:04d}" for i in range(0, 150, 2)]), lambda i, r: int(i[1:]) % 2 == 1),
    (K.DOCUMENT.contains("gamma"), lambda i, r: match_document({"$contains": "gamma"}, r["document"])),
    (K.DOCUMENT.not_contains("alpha"), lambda i, r: match_document({"$not_contains": "alpha"}, r["document"])),
    (K.DOCUMENT.regex("item 1[0-9]$"), lambda i, r: match_document({"$regex": "item 1[0-9]$"}, r["document"])),
    (K.DOCUMENT.not_regex("^(alpha|beta)"), lambda i, r: match_document({"$not_regex": "^(alpha|beta)"}, r["document"])),
    # Across metadata and documents: checked per record after the index read.
    ((K("word") == "delta") | K.DOCUMENT.contains("item 7"),
     lambda i, r: r["metadata"]["word"] == "delta" or match_document({"$contains": "item 7"}, r["document"])),
    (K.ID.not_in(["r0001", "r0002"]) & (K("i") < 30) & K.DOCUMENT.contains("e"),
     lambda i, r: i not in ("r0001", "r0002") and r["metadata"]["i"] < 30 and match_document({"$contains": "e"}, r["document"])),
]


@pytest.mark.parametrize("case", range(len(FILTERS)))
def test_filtered_knn_ranks_only_matching_records(client, name, case):
    where, keep = FILTERS[case]
    col, oracle, rng = populate(client, name, "cosine")
    q = rng.normal(size=DIM)
    res = col.search(Search(where=where, rank=Knn(query=q, limit=10), select=["#score"]))
    check_ranked(res["ids"][0], res["scores"][0], nearest(oracle, q, 10, keep))


def test_rrf_fuses_ranks_as_computed_by_hand(client, name):
    col, oracle, rng = populate(client, name)
    q1, q2 = rng.normal(size=DIM), rng.normal(size=DIM)
    rrf = Rrf([Knn(query=q1, limit=30, return_rank=True, default=1000.0),
               Knn(query=q2, limit=30, return_rank=True, default=1000.0)], k=60, weights=[2.0, 1.0])
    res = col.search(Search().rank(rrf).limit(15).select(K.SCORE))
    ranks1 = {id_: pos for pos, (id_, _) in enumerate(nearest(oracle, q1, 30))}
    ranks2 = {id_: pos for pos, (id_, _) in enumerate(nearest(oracle, q2, 30))}
    scores = {id_: -(2.0 / (60 + ranks1.get(id_, 1000.0)) + 1.0 / (60 + ranks2.get(id_, 1000.0)))
              for id_ in set(ranks1) | set(ranks2)}
    check_ranked(res["ids"][0], res["scores"][0], ranked(scores)[:15])


def test_terms_without_default_keep_only_records_every_term_found(client, name):
    col, oracle, rng = populate(client, name)
    q1, q2 = rng.normal(size=DIM), rng.normal(size=DIM)
    res = col.search(Search().rank(Knn(query=q1, limit=60) + Knn(query=q2, limit=60)).select(K.SCORE))
    d1, d2 = dict(nearest(oracle, q1, 60)), dict(nearest(oracle, q2, 60))
    scores = {i: d1[i] + d2[i] for i in set(d1) & set(d2)}
    assert scores, "the two candidate lists should overlap"
    check_ranked(res["ids"][0], res["scores"][0], ranked(scores))


def test_arithmetic_combinations(client, name):
    col, oracle, rng = populate(client, name, "cosine")
    q1, q2 = rng.normal(size=DIM), rng.normal(size=DIM)
    a, b = Knn(query=q1, limit=25), Knn(query=q2, limit=25, default=2.0)
    d1, d2 = dict(nearest(oracle, q1, 25)), dict(nearest(oracle, q2, 25))
    cases = [
        (a * 0.7 + b * 0.3, lambda x, y: 0.7 * x + 0.3 * y),
        (a - b, lambda x, y: x - y),
        (a / (b + 1.0), lambda x, y: x / (y + 1.0)),
        (abs(a - 0.5), lambda x, y: abs(x - 0.5)),
        ((a * -1.0).exp() + (b + 1.0).log(), lambda x, y: np.exp(-x) + np.log(y + 1.0)),
        (a.max(b), lambda x, y: max(x, y)),
        (a.min(b * 0.5), lambda x, y: min(x, 0.5 * y)),
        (-a + Val(3.0), lambda x, y: 3.0 - x),
    ]
    for expr, f in cases:
        res = col.search(Search().rank(expr).limit(10).select(K.SCORE))
        scores = {i: f(d1[i], d2.get(i, 2.0)) for i in d1}
        check_ranked(res["ids"][0], res["scores"][0], ranked(scores)[:10], rtol=1e-3)


def test_without_rank_the_filter_pages_like_get(client, name):
    col, oracle, _ = populate(client, name)
    where = {"even": True}
    got = col.get(where=where, limit=8, offset=4, include=["documents", "metadatas"])
    res = col.search(Search(where=K("even") == True, limit={"limit": 8, "offset": 4},  # noqa: E712
                            select=["#document", "word", "#score"]))
    assert res["ids"][0] == got["ids"]
    assert res["documents"][0] == got["documents"]
    assert res["metadatas"][0] == [{"word": m["word"]} for m in got["metadatas"]]
    assert res["scores"][0] == list(range(8))
    # A filter the index cannot express (ids excluded) still pages over the matches.
    excluded = got["ids"][:2]
    res = col.search(Search(where=(K("even") == True) & K.ID.not_in(excluded), limit=5))  # noqa: E712
    every = [i for i in oracle.matching(where=where) if i not in excluded]
    all_get = col.get(where=where)["ids"]
    assert res["ids"][0] == [i for i in all_get if i not in excluded][:5]
    assert set(res["ids"][0]) <= set(every)


def test_unselected_columns_are_null_and_rows_work(client, name):
    col, _, rng = populate(client, name)
    res = col.search(Search().rank(Knn(query=rng.normal(size=DIM), limit=3)))
    assert len(res["ids"][0]) == 3
    assert res["documents"] == [None] and res["embeddings"] == [None]
    assert res["metadatas"] == [None] and res["scores"] == [None]
    assert res["select"] == [[]]
    assert [r["id"] for r in res.rows()[0]] == res["ids"][0]


def test_a_batch_answers_each_search_in_order(client, name):
    col, oracle, rng = populate(client, name, "ip")
    qs = [rng.normal(size=DIM) for _ in range(3)]
    searches = [
        Search().rank(Knn(query=qs[0], limit=5)).select(K.SCORE),
        Search(where=K("word") == "gamma").rank(Knn(query=qs[1], limit=4)).select(K.SCORE, "i"),
        Search(where=K("i") < 10, limit=3),
        Search().rank(Knn(query=qs[2], limit=6)).limit(2, offset=1).select(K.SCORE),
    ]
    res = col.search(searches)
    assert len(res["ids"]) == 4
    check_ranked(res["ids"][0], res["scores"][0], nearest(oracle, qs[0], 5))
    want = nearest(oracle, qs[1], 4, lambda i, r: r["metadata"]["word"] == "gamma")
    check_ranked(res["ids"][1], res["scores"][1], want)
    assert res["metadatas"][1] == [{"i": oracle.records[i]["metadata"]["i"]} for i, _ in want]
    assert res["ids"][2] == col.get(where={"i": {"$lt": 10}}, limit=3)["ids"]
    check_ranked(res["ids"][3], res["scores"][3], nearest(oracle, qs[2], 6)[1:3])


def test_a_search_right_after_a_write_sees_it(http, client, name):
    col, oracle, rng = populate(client, name)
    wait_for_version(http, name, 1)
    q = rng.normal(size=DIM)
    # New records right at the query and a delete, all still in the log when the search runs.
    new_ids = ["fresh-a", "fresh-b"]
    new_emb = np.stack([q + 0.001, q - 0.002]).astype(np.float32)
    col.add(ids=new_ids, embeddings=new_emb, documents=["new one", "new two"],
            metadatas=[{"i": 1000, "word": "alpha", "even": True, "tags": ["any"]},
                       {"i": 1001, "word": "beta", "even": False, "tags": ["any"]}])
    oracle.add(new_ids, new_emb, ["new one", "new two"],
               [{"i": 1000, "word": "alpha", "even": True, "tags": ["any"]},
                {"i": 1001, "word": "beta", "even": False, "tags": ["any"]}])
    victim = nearest(oracle, q, 3)[2][0]
    col.delete(ids=[victim])
    oracle.delete([victim])
    res = col.search(Search().rank(Knn(query=q, limit=10)).select(K.SCORE, K.DOCUMENT))
    check_ranked(res["ids"][0], res["scores"][0], nearest(oracle, q, 10))
    assert res["ids"][0][:2] == new_ids
    assert victim not in res["ids"][0]


def test_group_by_keeps_the_best_per_group(client, name):
    col, oracle, rng = populate(client, name)
    q = rng.normal(size=DIM)
    res = col.search(Search().rank(Knn(query=q, limit=40))
                     .group_by(GroupBy(keys=K("word"), aggregate=MinK(keys=K.SCORE, k=2)))
                     .select(K.SCORE, "word"))
    cands = nearest(oracle, q, 40)
    seen, want = {}, []
    for id_, d in cands:
        w = oracle.records[id_]["metadata"]["word"]
        if seen.get(w, 0) < 2:
            seen[w] = seen.get(w, 0) + 1
            want.append((id_, d))
    check_ranked(res["ids"][0], res["scores"][0], want)


def test_read_level_index_only_skips_the_unindexed_tail(client, name):
    col = client.create_collection(name)
    rng = np.random.default_rng(3)
    col.add(ids=["a", "b"], embeddings=rng.normal(size=(2, DIM)).astype(np.float32))
    q = rng.normal(size=DIM)
    strong = col.search(Search().rank(Knn(query=q, limit=5)))
    assert sorted(strong["ids"][0]) == ["a", "b"]
    # The collection has no index version until the first compaction (≥ 1 s in these tests).
    fresh = client.create_collection(name + "-x")
    fresh.add(ids=["c"], embeddings=rng.normal(size=(1, DIM)).astype(np.float32))
    only = fresh.search(Search().rank(Knn(query=q, limit=5)), read_level=ReadLevel.INDEX_ONLY)
    assert only["ids"] == [[]]


def search_raw(http, col, body):
    return http.post(f"/tenants/default_tenant/databases/default_database/collections/{col.id}/search",
                     json=body)


@pytest.mark.parametrize("body,needle", [
    ({"searches": [{"rank": {"$knn": {"query": {"indices": [2, 1], "values": [0.5, 1], "#type": "sparse_vector"},
                                      "key": "sparse"}}}]}, "Invalid sparse vector"),
    ({"searches": [{"rank": {"$knn": {"query": [0.1] * DIM, "key": "sparse"}}}]}, "sparse vector"),
    ({"searches": [{"rank": {"$knn": {"query": [0.1] * 3}}}]}, "dimension"),
    ({"searches": [{"rank": {"$pow": [{"$val": 1}]}}]}, "Unknown rank operator"),
    ({"searches": [{"rank": {"$knn": {"query": [0.1] * DIM, "limit": 0}}}]}, "limit"),
    ({"searches": [{"filter": {"word": {"$regex": "a"}}}]}, "$regex"),
    ({"searches": [{"filter": {"#id": {"$eq": "a"}}}]}, "#id"),
    ({"searches": [{"limit": {"offset": -1}}]}, "offset"),
    ({"searches": [{"select": {"keys": ["#nope"]}}]}, "select key"),
    ({"searches": [{"group_by": {"keys": ["word"]}}]}, "group_by"),
    ({"searches": [{}], "read_level": "sometimes"}, "read_level"),
    ({"searches": [{"bogus": 1}]}, "bogus"),
])
def test_malformed_searches_are_400_chroma_errors(http, client, name, body, needle):
    col, _, _ = populate(client, name, n=10)
    r = search_raw(http, col, body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["error"] == "InvalidArgumentError"
    assert needle in err["message"]


def test_unknown_collection_is_404(http):
    r = http.post("/tenants/default_tenant/databases/default_database/collections/"
                  "00000000-0000-4000-8000-000000000000/search", json={"searches": [{}]})
    assert r.status_code == 404
    assert r.json()["error"] == "NotFoundError"


def test_search_is_in_the_openapi_document(server):
    doc = httpx.get(server.url + "/openapi.json").json()
    op = doc["paths"]["/api/v2/tenants/{tenant}/databases/{database}/collections/{id}/search"]["post"]
    assert op["operationId"] == "collection_search"


def test_filter_only_search_matches_the_oracle_for_metadata_operators(client, name):
    col, oracle, _ = populate(client, name)
    for where in [{"i": {"$gte": 140}}, {"$or": [{"word": "beta"}, {"i": {"$lt": 3}}]},
                  {"tags": {"$not_contains": "alpha"}}, {"word": {"$in": ["gamma"]}}]:
        res = col.search(Search(where=where))
        assert sorted(res["ids"][0]) == sorted(i for i, r in oracle.records.items() if match_where(where, r["metadata"]))
