"""Collection schemas (`create_collection(schema=Schema()...)`) through Chroma's Python client and
raw HTTP: the schema Silt completes and returns, filters refused on disabled indexes, invalid
schemas refused, a sparse (BM25) index declaration round-tripped, modify applied to the schema.

The reference is `chroma run` (chromadb 1.5.9): DEFAULT_SCHEMA below is what it answered, and
when Chroma's server venv exists (scripts/chroma-venv.sh) the side-by-side tests start it and
compare every answer with Silt's. Sparse vector indexes are the exception: `chroma run` refuses
them ("Sparse vector indexing is not enabled in local") and Silt serves them, as Chroma's
distributed deployment does."""

import copy
import os
import re
import sys

import httpx
import pytest
from chromadb import K, Schema
from chromadb.api.types import (
    FtsIndexConfig,
    HnswIndexConfig,
    IntInvertedIndexConfig,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
)
from chromadb.errors import InvalidArgumentError

from common import REPO

COLLECTIONS = "/tenants/default_tenant/databases/default_database/collections"

# Recorded from `chroma run` 1.5.9 (chromadb's server, `chroma run --path DIR`) for
# `POST .../collections {"name": ...}`: the `schema` of a collection created with neither schema
# nor configuration. num_threads is the machine's thread count (NUM_THREADS marks it).
NUM_THREADS = "<threads>"
HNSW = {"batch_size": 100, "ef_construction": 100, "ef_search": 100, "max_neighbors": 16,
        "num_threads": NUM_THREADS, "resize_factor": 1.2, "sync_threshold": 1000}
DEFAULT_SCHEMA = {
    "defaults": {
        "bool": {"bool_inverted_index": {"config": {}, "enabled": True}},
        "float": {"float_inverted_index": {"config": {}, "enabled": True}},
        "float_list": {"vector_index": {"config": {"hnsw": HNSW, "space": "l2"}, "enabled": False}},
        "int": {"int_inverted_index": {"config": {}, "enabled": True}},
        "sparse_vector": {"sparse_vector_index": {
            "config": {"bm25": False, "embedding_function": {"type": "unknown"}}, "enabled": False}},
        "string": {"fts_index": {"config": {}, "enabled": False},
                   "string_inverted_index": {"config": {}, "enabled": True}},
    },
    "keys": {
        "#document": {"string": {"fts_index": {"config": {}, "enabled": True},
                                 "string_inverted_index": {"config": {}, "enabled": False}}},
        "#embedding": {"float_list": {"vector_index": {
            "config": {"hnsw": HNSW, "source_key": "#document", "space": "l2"}, "enabled": True}}},
    },
}


def without_threads(schema):
    """The schema with every num_threads replaced by NUM_THREADS (each must be a positive int)."""
    schema = copy.deepcopy(schema)
    for part in [schema["defaults"], *schema["keys"].values()]:
        hnsw = part.get("float_list", {}).get("vector_index", {}).get("config", {}).get("hnsw")
        if hnsw and "num_threads" in hnsw:
            assert isinstance(hnsw["num_threads"], int) and hnsw["num_threads"] > 0, hnsw
            hnsw["num_threads"] = NUM_THREADS
    return schema


def create(http, name, **body):
    r = http.post(COLLECTIONS, json={"name": name, **body})
    assert r.status_code == 200, r.text
    return r.json()


def error(r, status, message):
    assert r.status_code == status, r.text
    assert r.json() == {"error": "InvalidArgumentError", "message": message}, r.text


def custom_schema():
    """Inverted indexes off for one key and for every int, full-text search off, cosine."""
    return (Schema()
            .delete_index(StringInvertedIndexConfig(), key="secret")
            .delete_index(IntInvertedIndexConfig())
            .delete_index(FtsIndexConfig(), key="#document")
            .create_index(VectorIndexConfig(space="cosine", hnsw=HnswIndexConfig(ef_search=55))))


def test_the_default_schema_is_chromas(http, client, name):
    raw = create(http, name)
    assert without_threads(raw["schema"]) == DEFAULT_SCHEMA
    # The same through the client, for a collection created by it, and from get and list.
    client.create_collection(name + "-c", embedding_function=None)
    assert without_threads(http.get(f"{COLLECTIONS}/{name}-c").json()["schema"]) == DEFAULT_SCHEMA
    assert http.get(f"{COLLECTIONS}/{name}").json()["schema"] == raw["schema"]
    listed = [c for c in http.get(COLLECTIONS).json() if c["name"] == name]
    assert listed[0]["schema"] == raw["schema"]
    # The embedding's index and the configuration describe one index.
    vector = raw["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
    hnsw = raw["configuration_json"]["hnsw"]
    assert vector["space"] == hnsw["space"] == "l2"
    assert {k: vector["hnsw"][k] for k in hnsw if k != "space"} == {k: v for k, v in hnsw.items() if k != "space"}


def test_a_custom_schema_round_trips_completed(http, client, name):
    sent = custom_schema()
    col = client.create_collection(name, schema=sent, embedding_function=None)
    got = client.get_collection(name, embedding_function=None).schema.serialize_to_json()
    assert got == col.schema.serialize_to_json()
    raw = http.get(f"{COLLECTIONS}/{name}").json()
    s = raw["schema"]
    assert s["keys"]["secret"] == {"string": {"string_inverted_index": {"config": {}, "enabled": False}}}
    assert s["defaults"]["int"]["int_inverted_index"]["enabled"] is False
    assert s["keys"]["#document"]["string"]["fts_index"]["enabled"] is False
    emb = s["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
    assert emb["space"] == "cosine" and emb["source_key"] == "#document"
    # Completed with the defaults: what was not sent is Chroma's default.
    assert emb["hnsw"]["ef_search"] == 55 and emb["hnsw"]["ef_construction"] == 100
    assert s["defaults"]["bool"] == DEFAULT_SCHEMA["defaults"]["bool"]
    # The configuration agrees, and the collection ranks by cosine distance.
    assert raw["configuration_json"]["hnsw"]["space"] == "cosine"
    assert raw["configuration_json"]["hnsw"]["ef_search"] == 55
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [10.0, 1.0]])
    got = col.query(query_embeddings=[[0.0, 1.0]], n_results=2, include=["distances"])
    assert got["ids"] == [["b", "a"]]
    assert got["distances"][0][1] == pytest.approx(1.0, abs=1e-6)


def test_filters_on_disabled_indexes_are_refused_as_by_chroma(http, client, name):
    col = client.create_collection(name, schema=custom_schema(), embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [2.0, 1.0]], documents=["hello world", "bye"],
            metadatas=[{"secret": "x", "n": 1, "f": 2.5}, {"secret": "y", "n": 2, "f": 1.0}])

    def refused(key, kind):
        return f"Cannot filter using metadata key '{key}' with type '{kind}' because indexing is disabled"

    fts = "Cannot filter using full-text search because FTS indexing is disabled"
    base = f"{COLLECTIONS}/{col.id}"
    for where, message in [({"secret": "x"}, refused("secret", "Str")),
                           ({"secret": {"$in": ["x"]}}, refused("secret", "Str")),
                           ({"n": {"$gt": 0}}, refused("n", "Int")),
                           ({"$and": [{"f": 1.0}, {"n": 1}]}, refused("n", "Int")),
                           ({"#document": {"$contains": "hello"}}, fts)]:
        error(http.post(f"{base}/get", json={"where": where}), 400, message)
        error(http.post(f"{base}/query", json={"where": where, "query_embeddings": [[1.0, 2.0]],
                                               "n_results": 1}), 400, message)
        error(http.post(f"{base}/delete", json={"where": where}), 400, message)
    for document in [{"$contains": "hello"}, {"$regex": "h.*"}]:
        error(http.post(f"{base}/get", json={"where_document": document}), 400, fts)
    with pytest.raises(InvalidArgumentError, match="because indexing is disabled"):
        col.get(where={"secret": "x"})
    with pytest.raises(InvalidArgumentError, match="FTS indexing is disabled"):
        col.query(query_embeddings=[[1.0, 2.0]], where_document={"$contains": "hello"})
    # Indexes still on answer: floats, an int compared as a float, keys nobody configured.
    assert sorted(col.get(where={"f": {"$gt": 0.5}})["ids"]) == ["a", "b"]
    assert col.get(where={"n": 1.0})["ids"] == ["a"]
    assert col.get(where={"unknown": "z"})["ids"] == []
    assert col.count() == 2, "nothing was deleted"


def test_writes_add_their_metadata_keys_to_the_schema(http, client, name):
    # chroma run records each new key with the defaults' settings for its value type.
    col = client.create_collection(name, schema=custom_schema(), embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0, 2.0], [2.0, 1.0]],
            metadatas=[{"secret": "x", "n": 1, "tags": ["p", "q"]}, {"f": 2.5, "ok": True}])
    s = http.get(f"{COLLECTIONS}/{name}").json()["schema"]
    d = s["defaults"]
    assert s["keys"]["n"] == {"int": d["int"]}, "ints are not indexed in this collection"
    assert s["keys"]["n"]["int"]["int_inverted_index"]["enabled"] is False
    assert s["keys"]["tags"] == {"string": d["string"]}
    assert s["keys"]["f"] == {"float": d["float"]} and s["keys"]["ok"] == {"bool": d["bool"]}
    # A key the schema configured keeps its settings.
    assert s["keys"]["secret"] == {"string": {"string_inverted_index": {"config": {}, "enabled": False}}}
    # A known key with a new type gains that type; an update's removals add nothing.
    col.update(ids=["a"], metadatas=[{"n": "text", "gone": None}])
    s = http.get(f"{COLLECTIONS}/{name}").json()["schema"]
    assert set(s["keys"]["n"]) == {"int", "string"} and "gone" not in s["keys"]


def raw_schema():
    return Schema().serialize_to_json()


def with_key(schema, key, types):
    schema = copy.deepcopy(schema)
    schema["keys"][key] = types
    return schema


def sparse(config=None, enabled=True):
    return {"sparse_vector": {"sparse_vector_index": {"enabled": enabled, "config": config or {}}}}


# Each refused schema with Chroma's message (400 InvalidArgumentError, "Validation error:
# schema: ..."), as chroma run 1.5.9 answered a raw create with it.
INVALID = [
    (lambda s: with_key(with_key(s, "a", sparse()), "b", sparse()),
     "At most one sparse vector index is allowed for the collection: "),
    (lambda s: with_key(s, "#document", {**s["keys"]["#document"], **sparse()}),
     "Document field cannot have any value types other than string: #document"),
    (lambda s: with_key(s, "v", {"float_list": {"vector_index": {"enabled": True, "config": {}}}}),
     "Vector index can only be enabled on #embedding field: v"),
    (lambda s: with_key(s, "t", {"string": {"fts_index": {"enabled": True, "config": {}}}}),
     "Full text search / regular expression index can only be enabled on #document field: t"),
    (lambda s: with_key(s, "#foo", {}),
     "key cannot begin with '#'. Keys starting with '#' are reserved for system use: #foo"),
    (lambda s: with_key(s, "sp", sparse({"source_key": "#document"})),
     "If source_key is provided then embedding_function must also be provided since there is no "
     "default embedding function."),
    (lambda s: with_key(s, "sp", sparse({"source_key": "#other"}, enabled=False)),
     "source_key cannot begin with '#'. The only valid key starting with '#' is Key.DOCUMENT or "
     "'#document'."),
    (lambda s: with_key(s, "#embedding", {**s["keys"]["#embedding"], "string": {}}),
     "Embedding field cannot have any value types other than float_list: #embedding"),
    (lambda s: {**s, "cmek": {"gcp": "bad"}}, "CMEK does not match expected pattern: Gcp(\"bad\")"),
    (lambda s: {**s, "source_attached_function_id": "f"},
     "Cannot set source_attached_function_id. This field is reserved for system use."),
]


def set_in(schema, path, value):
    schema = copy.deepcopy(schema)
    node = schema
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return schema


INVALID_SET = [
    (["defaults", "float_list", "vector_index", "enabled"], True,
     "Vector index cannot be enabled by default. It can only be enabled on #embedding field."),
    (["defaults", "string", "fts_index", "enabled"], True,
     "Full text search / regular expression index cannot be enabled by default. It can only be "
     "enabled on #document field."),
    (["defaults", "sparse_vector", "sparse_vector_index", "enabled"], True,
     "Sparse vector index cannot be enabled by default. Please enable sparse vector index on "
     "specific keys. At most one sparse vector index is allowed for the collection."),
    (["keys", "#document", "string", "string_inverted_index", "enabled"], True,
     "String inverted index can not be enabled on #document key: #document"),
    (["keys", "#embedding", "float_list", "vector_index", "config", "source_key"], "x",
     "Vector index can only source from #document"),
]


def invalid_bodies():
    for make, message in INVALID:
        yield make(raw_schema()), message
    for path, value, message in INVALID_SET:
        yield set_in(raw_schema(), path, value), message


def test_invalid_schemas_are_refused_with_chromas_errors(http, name):
    for schema, message in invalid_bodies():
        r = http.post(COLLECTIONS, json={"name": name, "schema": schema})
        assert r.status_code == 400, (message, r.text)
        body = r.json()
        assert body["error"] == "InvalidArgumentError"
        assert body["message"].startswith("Validation error: schema: " + message), (message, body)
    hnsw = ["keys", "#embedding", "float_list", "vector_index", "config", "hnsw"]
    error(http.post(COLLECTIONS, json={"name": name, "schema": set_in(raw_schema(), hnsw, {"batch_size": 1})}),
          400, "Failed to reconcile schema: Invalid HNSW configuration: batch_size: Validation error: "
               "range [{\"value\": Number(1), \"min\": Number(2)}]")
    custom = set_in(raw_schema(), ["defaults", "int", "int_inverted_index", "enabled"], False)
    error(http.post(COLLECTIONS, json={"name": name, "schema": custom,
                                       "configuration": {"hnsw": {"space": "cosine"}}}),
          400, "Failed to reconcile schema: Cannot set both collection config and schema simultaneously")
    # Malformed shapes are 422, as Chroma's body parser answers them.
    for bad in [set_in(raw_schema(), ["defaults", "int", "int_inverted_index", "config"], {"bogus": 1}),
                set_in(raw_schema(), ["defaults", "int", "int_inverted_index", "enabled"], "yes"),
                set_in(raw_schema(), hnsw[:-1] + ["space"], "manhattan"),
                {"keys": {}}, 5]:
        assert http.post(COLLECTIONS, json={"name": name, "schema": bad}).status_code == 422, bad
    assert http.get(f"{COLLECTIONS}/{name}").status_code == 404, "nothing was created"
    # The client's own builder refuses what it can see locally, before sending.
    with pytest.raises(ValueError):
        Schema().create_index(VectorIndexConfig(), key="v")


@pytest.fixture
def bm25(monkeypatch):
    """chromadb's BM25 sparse embedding function. chromadb-client 1.5.9 does not ship the JSON
    files its config validation reads (the full chromadb does), so validation is skipped."""
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction
    monkeypatch.setattr(ChromaBm25EmbeddingFunction, "validate_config", staticmethod(lambda config: None))
    return ChromaBm25EmbeddingFunction


def test_a_bm25_sparse_index_round_trips_with_its_embedding_function(http, client, name, bm25):
    ef = bm25(k=1.1, b=0.7)
    schema = Schema().create_index(
        SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=ef, bm25=True), key="sparse")
    sent = schema.serialize_to_json()["keys"]["sparse"]
    client.create_collection(name, schema=schema, embedding_function=None)
    raw = http.get(f"{COLLECTIONS}/{name}").json()
    assert raw["schema"]["keys"]["sparse"] == sent
    config = sent["sparse_vector"]["sparse_vector_index"]["config"]
    assert config["embedding_function"] == {"type": "known", "name": "chroma_bm25", "config": ef.get_config()}
    assert config["source_key"] == "#document" and config["bm25"] is True
    # The client rebuilds the same function from what Silt returns: it embeds texts with it.
    back = client.get_collection(name, embedding_function=None).schema
    index = back.keys["sparse"].sparse_vector.sparse_vector_index
    assert index.enabled is True and index.config.bm25 is True and index.config.source_key == "#document"
    rebuilt = index.config.embedding_function
    assert isinstance(rebuilt, bm25) and rebuilt.get_config() == ef.get_config()
    assert rebuilt(["the quick brown fox"]) == ef(["the quick brown fox"])
    # A second sparse index is refused; the declared one is the only one.
    with pytest.raises(ValueError):
        schema.create_index(SparseVectorIndexConfig(), key="other")


def test_modify_changes_the_schemas_vector_index(http, client, name):
    col = client.create_collection(name, schema=custom_schema(), embedding_function=None)
    col.modify(configuration={"hnsw": {"ef_search": 77, "num_threads": 3}})
    raw = http.get(f"{COLLECTIONS}/{name}").json()
    for part in [raw["schema"]["defaults"], raw["schema"]["keys"]["#embedding"]]:
        hnsw = part["float_list"]["vector_index"]["config"]["hnsw"]
        assert (hnsw["ef_search"], hnsw["num_threads"]) == (77, 3), part
    assert raw["configuration_json"]["hnsw"]["ef_search"] == 77
    # The rest of the schema is untouched.
    assert raw["schema"]["keys"]["secret"]["string"]["string_inverted_index"]["enabled"] is False
    assert client.get_collection(name, embedding_function=None).configuration_json["hnsw"]["ef_search"] == 77


# ---- side by side with `chroma run`, when its venv exists ------------------------------------

def chroma_binary():
    venv = os.environ.get("SILT_CHROMA_VENV", os.path.expanduser("~/.cache/silt-chroma-venv"))
    path = os.path.join(venv, "bin", "chroma")
    return path if os.access(path, os.X_OK) else None


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    if not chroma_binary():
        pytest.skip("Chroma's server venv is not there (scripts/chroma-venv.sh makes it)")
    sys.path.insert(0, os.path.join(REPO, "tests", "migrate"))
    from servers import start_chroma
    server = start_chroma(str(tmp_path_factory.mktemp("chroma")))
    with httpx.Client(base_url=server.url + "/api/v2", timeout=60) as c:
        yield c
    server.stop()


def side_by_side_creates():
    s = raw_schema()
    ip = {"enabled": False, "config": {"space": "ip", "hnsw": {"ef_search": 7}}}
    yield {}
    yield {"schema": s}
    yield {"schema": custom_schema().serialize_to_json()}
    yield {"schema": {"defaults": {"int": {"int_inverted_index": {"enabled": False, "config": {}}}},
                      "keys": {"x": {"string": {"fts_index": {"enabled": False, "config": {}}}}}}}
    yield {"schema": {"defaults": {}, "keys": {"#embedding": {"float_list": {"vector_index": ip}}}}}
    yield {"schema": with_key(s, "k", {"int": None})}
    yield {"schema": set_in(s, ["keys", "#embedding", "float_list", "vector_index", "config", "spann"],
                            {"search_nprobe": 10})}
    yield {"schema": {"defaults": {}, "key_overrides": {"k": {}}}}
    yield {"schema": with_key(s, "sp", sparse({"bm25": True}, enabled=False))}
    yield {"schema": s, "configuration": {"hnsw": {"space": "cosine", "ef_search": 20}}}
    yield {"schema": {"defaults": {}, "keys": {}}, "configuration": {"embedding_function": {
        "type": "known", "name": "default", "config": {}}}}
    yield {"configuration": {"hnsw": {"space": "ip"}}, "metadata": {"hnsw:M": 8}}
    for schema, _ in invalid_bodies():
        yield {"schema": schema}
    yield {"schema": set_in(s, ["keys", "#embedding", "float_list", "vector_index", "config", "hnsw"],
                            {"batch_size": 1})}
    yield {"schema": set_in(s, ["defaults", "int", "int_inverted_index", "enabled"], False),
           "configuration": {"hnsw": {"space": "cosine"}}}


def same_error(ours, theirs):
    """Chroma prints some parts of its messages from hash maps, in no fixed order (the keys of
    its "at most one sparse vector index" error, a range check's bounds): those parts are
    compared as sets, the rest exactly."""
    if ours["error"] != theirs["error"]:
        return False
    a, b = ours["message"], theirs["message"]
    if "[" in b and ("At most one sparse vector index" in b or "Validation error: range" in b):
        parts = lambda m: sorted(re.findall(r'"[^"]*"(?:: Number\([^)]*\))?', m.split("[", 1)[1]))
        return a.split("[", 1)[0] == b.split("[", 1)[0] and parts(a) == parts(b)
    return a == b


def test_creates_answer_as_chroma_run_does(http, chroma, name):
    for i, body in enumerate(side_by_side_creates()):
        n = f"{name}-{i}"
        ours = http.post(COLLECTIONS, json={"name": n, **body})
        theirs = chroma.post(COLLECTIONS, json={"name": n, **body})
        assert ours.status_code == theirs.status_code, (body, ours.text, theirs.text)
        if theirs.status_code != 200:
            assert same_error(ours.json(), theirs.json()), (body, ours.text, theirs.text)
            continue
        for field in ["schema", "configuration_json", "metadata"]:
            assert ours.json()[field] == theirs.json()[field], (field, body)
        # And read back by name.
        assert http.get(f"{COLLECTIONS}/{n}").json()["schema"] == chroma.get(f"{COLLECTIONS}/{n}").json()["schema"]


def test_filters_answer_as_chroma_run_does(http, chroma, name):
    body = {"name": name, "schema": custom_schema().serialize_to_json()}
    records = {"ids": ["a", "b"], "embeddings": [[1.0, 2.0], [2.0, 1.0]], "documents": ["hello world", "bye"],
               "metadatas": [{"secret": "x", "n": 1, "f": 2.5}, {"secret": "y", "n": 2, "f": 1.0}]}
    ids = {}
    for server in (http, chroma):
        c = server.post(COLLECTIONS, json=body).json()
        assert server.post(f"{COLLECTIONS}/{c['id']}/add", json=records).status_code in (200, 201)
        ids[server] = c["id"]
    for where in [{"secret": "x"}, {"secret": {"$nin": ["x"]}}, {"n": {"$gt": 0}}, {"f": {"$gt": 0.5}},
                  {"$or": [{"f": 1.0}, {"n": 1}]}, {"n": 1.0}, {"unknown": "z"}, {"secret": 3},
                  {"#document": {"$contains": "hello"}}, {"f": {"$in": [1.0, 2.5]}}]:
        for op in ["get", "delete"]:
            req = {"where": where} if op == "get" else {"where": where, "ids": ["none"]}
            ours = http.post(f"{COLLECTIONS}/{ids[http]}/{op}", json=req)
            theirs = chroma.post(f"{COLLECTIONS}/{ids[chroma]}/{op}", json=req)
            assert ours.status_code == theirs.status_code, (op, where, ours.text, theirs.text)
            if theirs.status_code == 200 and op == "get":
                assert sorted(ours.json()["ids"]) == sorted(theirs.json()["ids"]), where
            elif theirs.status_code != 200:
                assert ours.json() == theirs.json(), (op, where)
    # After the writes both list the same keys.
    assert http.get(f"{COLLECTIONS}/{name}").json()["schema"] == chroma.get(f"{COLLECTIONS}/{name}").json()["schema"]
    for document in [{"$contains": "hello"}, {"$not_regex": "x"}]:
        ours = http.post(f"{COLLECTIONS}/{ids[http]}/get", json={"where_document": document})
        theirs = chroma.post(f"{COLLECTIONS}/{ids[chroma]}/get", json={"where_document": document})
        assert (ours.status_code, ours.status_code == 200 or ours.json()) == \
            (theirs.status_code, theirs.status_code == 200 or theirs.json()), document


def test_modify_answers_as_chroma_run_does(http, chroma, name):
    body = {"name": name, "schema": custom_schema().serialize_to_json()}
    ef = {"type": "known", "name": "openai", "config": {"model_name": "m"}}
    for change in [{"hnsw": {"ef_search": 77, "num_threads": 3, "resize_factor": 1.5}},
                   {"embedding_function": ef}, {"spann": {"search_nprobe": 9}}]:
        answers = []
        for server in (http, chroma):
            c = server.post(COLLECTIONS, json={**body, "get_or_create": True}).json()
            r = server.put(f"{COLLECTIONS}/{c['id']}", json={"new_configuration": change})
            assert r.status_code == 200, r.text
            got = server.get(f"{COLLECTIONS}/{name}").json()
            answers.append((got["schema"], got["configuration_json"]))
        assert answers[0] == answers[1], change
