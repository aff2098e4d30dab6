"""Bad input gets Chroma's {error, message} body with the right status, and writes nothing."""

import base64

import numpy as np
import pytest


@pytest.fixture
def collection(http, name):
    r = http.post("/tenants/default_tenant/databases/default_database/collections", json={"name": name})
    assert r.status_code == 200
    cid = r.json()["id"]
    base = f"/tenants/default_tenant/databases/default_database/collections/{cid}"
    r = http.post(base + "/add", json={"ids": ["a", "b"], "embeddings": [[1, 2, 3], [4, 5, 6]]})
    assert r.status_code == 201
    return base


def error(r, status, name=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"error", "message"} and body["message"]
    if name:
        assert body["error"] == name
    return body


def count(http, base):
    return http.get(base + "/count").json()


CASES = {
    "wrong dimension": ({"ids": ["c"], "embeddings": [[1, 2]]}, 400, "InvalidArgumentError"),
    "mixed dimensions": ({"ids": ["c", "d"], "embeddings": [[1, 2, 3], [1, 2]]}, 400, "InvalidArgumentError"),
    "duplicate ids": ({"ids": ["c", "c"], "embeddings": [[1, 2, 3], [1, 2, 3]]}, 400, "InvalidArgumentError"),
    "empty ids": ({"ids": [], "embeddings": []}, 400, "InvalidArgumentError"),
    "empty id string": ({"ids": [""], "embeddings": [[1, 2, 3]]}, 400, "InvalidArgumentError"),
    "length mismatch": ({"ids": ["c", "d"], "embeddings": [[1, 2, 3]]}, 400, "InvalidArgumentError"),
    "missing embeddings": ({"ids": ["c"], "documents": ["x"]}, 400, "InvalidArgumentError"),
    "nested metadata": ({"ids": ["c"], "embeddings": [[1, 2, 3]], "metadatas": [{"a": {"b": 1}}]}, 400, "InvalidArgumentError"),
    "mixed list metadata": ({"ids": ["c"], "embeddings": [[1, 2, 3]], "metadatas": [{"a": [1, "x"]}]}, 400, "InvalidArgumentError"),
    "bad base64": ({"ids": ["c"], "embeddings": ["***"]}, 400, "InvalidArgumentError"),
    "ids not a list": ({"ids": "c", "embeddings": [[1, 2, 3]]}, 422, None),
    "embedding of strings": ({"ids": ["c"], "embeddings": [["a", "b", "c"]]}, 422, None),
    "document not a string": ({"ids": ["c"], "embeddings": [[1, 2, 3]], "documents": [5]}, 422, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_writes_are_rejected_whole(http, collection, case):
    body, status, name = CASES[case]
    for op in ["add", "upsert"]:
        error(http.post(f"{collection}/{op}", json=body), status, name)
    assert count(http, collection) == 2


def test_partial_batches_are_never_written(http, collection):
    # The last record is bad; the first must not be written either.
    body = {"ids": ["ok", "bad"], "embeddings": [[1, 2, 3], [1, 2, 3]], "metadatas": [{"a": 1}, {"a": {"x": 1}}]}
    error(http.post(collection + "/add", json=body), 400)
    assert http.post(collection + "/get", json={"ids": ["ok"]}).json()["ids"] == []


def test_base64_embeddings_are_accepted(http, collection):
    vec = np.array([7, 8, 9], dtype="<f4")
    r = http.post(collection + "/add", json={"ids": ["b64"], "embeddings": [base64.b64encode(vec.tobytes()).decode()]})
    assert r.status_code == 201
    got = http.post(collection + "/get", json={"ids": ["b64"], "include": ["embeddings"]}).json()
    assert got["embeddings"] == [[7.0, 8.0, 9.0]]


def test_invalid_json_and_wrong_types(http, collection):
    error(http.post(collection + "/add", content=b"{not json", headers={"content-type": "application/json"}), 400, "InvalidArgumentError")
    error(http.post(collection + "/query", json={"query_embeddings": "nope"}), 422)
    error(http.post(collection + "/get", json={"limit": "ten"}), 422)


def test_huge_batch_is_413(http, collection):
    n = 10_001
    body = {"ids": [f"x{i}" for i in range(n)], "embeddings": [[0.0, 0.0, 0.0]] * n}
    error(http.post(collection + "/add", json=body), 413)
    assert count(http, collection) == 2


@pytest.mark.parametrize("where", [
    {"a": 1, "b": 2}, {"a": {"$gt": "x"}}, {"a": {"$in": []}}, {"$and": []}, {"$and": {"a": 1}},
    {"a": {"$bogus": 1}}, {"$nand": [{"a": 1}]}, [1, 2], "text", {"a": {"b": 1}},
])
def test_malformed_where_is_400(http, collection, where):
    error(http.post(collection + "/get", json={"where": where}), 400, "InvalidArgumentError")
    error(http.post(collection + "/query", json={"query_embeddings": [[1, 2, 3]], "where": where}), 400, "InvalidArgumentError")
    error(http.post(collection + "/delete", json={"where": where}), 400, "InvalidArgumentError")
    assert count(http, collection) == 2


@pytest.mark.parametrize("wd", [{"$contains": 3}, {"$regex": "("}, {"$near": "x"}, {"$contains": "a", "$regex": "b"}])
def test_malformed_where_document_is_400(http, collection, wd):
    error(http.post(collection + "/get", json={"where_document": wd}), 400, "InvalidArgumentError")


def test_query_with_wrong_dimension_is_400(http, collection):
    error(http.post(collection + "/query", json={"query_embeddings": [[1, 2]]}), 400, "InvalidArgumentError")


def test_unknown_collection_and_database_are_404(http, collection):
    base = "/tenants/default_tenant/databases/default_database/collections"
    ghost = "00000000-0000-4000-8000-000000000000"
    for path, method, body in [
        (f"{base}/{ghost}/add", "post", {"ids": ["a"], "embeddings": [[1, 2, 3]]}),
        (f"{base}/{ghost}/get", "post", {}),
        (f"{base}/{ghost}/query", "post", {"query_embeddings": [[1, 2, 3]]}),
        (f"{base}/{ghost}/count", "get", None),
        (f"{base}/not-a-uuid/count", "get", None),
        (f"{base}/no-such-name", "get", None),
        (f"{base}/no-such-name", "delete", None),
        ("/tenants/default_tenant/databases/nope/collections", "get", None),
        ("/tenants/nope", "get", None),
    ]:
        r = http.request(method, path, json=body)
        error(r, 404, "NotFoundError")


def test_duplicate_create_is_409(http, name):
    url = "/tenants/default_tenant/databases/default_database/collections"
    assert http.post(url, json={"name": name}).status_code == 200
    error(http.post(url, json={"name": name}), 409, "UniqueConstraintError")
    error(http.post(url, json={"name": name, "metadata": {"hnsw:space": "manhattan"}}), 400)


def test_nan_embeddings_are_rejected(http, collection):
    vec = np.array([np.nan, 1, 2], dtype="<f4")
    r = http.post(collection + "/add", json={"ids": ["nan"], "embeddings": [base64.b64encode(vec.tobytes()).decode()]})
    error(r, 400, "InvalidArgumentError")
