"""Parity with Chroma's own server where a user found Silt answering differently. What the
reference answered is recorded beside each check: `chroma run` (chromadb 1.5.9, single node)
and, where they differ, Chroma's distributed frontend (its Rust source). The tests run against
Silt only (embedded, or a cluster with SILT_COMPAT_TARGET=cluster)."""

import uuid

import chromadb
import chromadb.errors as errors
import pytest

from conftest import TARGET, wait_for_version

COLLECTIONS = "/tenants/default_tenant/databases/default_database/collections"
EMB = [[1.0, 2.0], [3.0, 4.0]]


def error(r, status, name):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == name and body["message"], body
    return body


def create(http, name, **body):
    r = http.post(COLLECTIONS, json={"name": name, **body})
    assert r.status_code == 200, r.text
    return r.json()


# 1. PATCH /api/v2/tenants/{tenant}. Chroma's distributed catalog sets `resource_name` once
# (`... WHERE resource_name IS NULL`), reports it from GET, answers 404 for an unknown tenant
# and 409 once it is set; `chroma run` accepts the call and keeps nothing (200 {} every time,
# GET resource_name null). Silt has a catalog, so it keeps it as the distributed one does.
def test_a_tenant_resource_name_is_set_once_and_reported(http):
    tenant = "parity-" + uuid.uuid4().hex[:10]
    assert http.post("/tenants", json={"name": tenant}).status_code == 200
    assert http.get(f"/tenants/{tenant}").json() == {"name": tenant, "resource_name": None}

    resource = "rn-" + uuid.uuid4().hex[:10]
    r = http.patch(f"/tenants/{tenant}", json={"resource_name": resource})
    assert r.status_code == 200 and r.json() == {}, r.text
    assert http.get(f"/tenants/{tenant}").json() == {"name": tenant, "resource_name": resource}

    error(http.patch(f"/tenants/{tenant}", json={"resource_name": "rn-other"}), 409,
          "UniqueConstraintError")
    assert http.get(f"/tenants/{tenant}").json()["resource_name"] == resource

    other = "parity-" + uuid.uuid4().hex[:10]
    assert http.post("/tenants", json={"name": other}).status_code == 200
    error(http.patch(f"/tenants/{other}", json={"resource_name": resource}), 409,
          "UniqueConstraintError")
    assert http.get(f"/tenants/{other}").json()["resource_name"] is None

    error(http.patch("/tenants/no-such-tenant-" + uuid.uuid4().hex[:6],
                     json={"resource_name": "x-" + uuid.uuid4().hex[:6]}), 404, "NotFoundError")
    # Chroma: 422 "missing field `resource_name`".
    assert http.patch(f"/tenants/{other}", json={}).status_code == 422


# 2. Routes Silt lacks. `chroma run` answers 501 {"error": "ChromaError"} for what it does not
# implement (POST .../search: "Search operation is not implemented for local executor"); a
# 404 NotFoundError would read as "no such collection" to a client.
def test_unknown_routes_are_not_implemented_not_not_found(http, client, name):
    col = client.create_collection(name, embedding_function=None)
    # Attaching functions is one of Chroma's routes Silt does not serve.
    error(http.post(f"{COLLECTIONS}/{col.id}/functions/attach", json={"name": "f"}), 501,
          "ChromaError")
    error(http.get("/no/such/route"), 501, "ChromaError")
    # A missing collection is still NotFoundError.
    error(http.post(f"{COLLECTIONS}/{uuid.uuid4()}/get", json={}), 404, "NotFoundError")
    # Fork is served now (test_fork.py): the route that answered 501 here before answers the
    # new collection, and forking a missing collection is NotFoundError, as in Chroma.
    forked = col.fork(name + "-fork")
    assert forked.name == name + "-fork" and forked.id != col.id
    error(http.post(f"{COLLECTIONS}/{uuid.uuid4()}/fork", json={"new_name": name + "-f2"}), 404,
          "NotFoundError")


# 3. Empty collection metadata. Chroma: 400 InvalidArgumentError "Validation error: metadata:
# Metadata cannot be empty" on create, "Validation error: new_metadata: Metadata cannot be
# empty" on modify.
def test_empty_collection_metadata_is_refused_as_by_chroma(http, client, name):
    with pytest.raises(errors.InvalidArgumentError, match="metadata: Metadata cannot be empty"):
        client.create_collection(name, metadata={}, embedding_function=None)
    body = error(http.post(COLLECTIONS, json={"name": name, "metadata": {}}), 400,
                 "InvalidArgumentError")
    assert body["message"] == "Validation error: metadata: Metadata cannot be empty"
    assert http.get(f"{COLLECTIONS}/{name}").status_code == 404, "nothing was created"

    c = create(http, name, metadata={"k": "v"})
    body = error(http.put(f"{COLLECTIONS}/{c['id']}", json={"new_metadata": {}}), 400,
                 "InvalidArgumentError")
    assert body["message"] == "Validation error: new_metadata: Metadata cannot be empty"
    assert http.get(f"{COLLECTIONS}/{name}").json()["metadata"] == {"k": "v"}


# 4. What delete counts. Chroma: ids alone are logged and counted as given, found or not
# (ids [x, y, z] on a collection without them: {"deleted": 3}; [a, zz] with only a stored:
# {"deleted": 2}); with a where clause the matches are counted ({"deleted": 0} when none);
# {} deletes nothing ({"deleted": 0}); ids [] without where is 400 "Either ids or where must be
# specified"; a limit without where is 400 "limit can only be specified when a where clause
# is provided".
def test_delete_counts_as_chroma_does(http, client, name):
    col = client.create_collection(name, embedding_function=None)
    col.add(ids=["a", "b", "c"], embeddings=[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            metadatas=[{"k": 1}, {"k": 2}, {"k": 2}])
    path = f"{COLLECTIONS}/{col.id}/delete"
    assert col.delete(ids=["a", "zz"])["deleted"] == 2
    assert http.post(path, json={"ids": ["x", "y", "z"]}).json() == {"deleted": 3}
    assert http.post(path, json={"where": {"k": 7}}).json() == {"deleted": 0}
    assert http.post(path, json={}).json() == {"deleted": 0}
    body = error(http.post(path, json={"ids": []}), 400, "InvalidArgumentError")
    assert "Either ids or where must be specified" in body["message"]
    body = error(http.post(path, json={"ids": ["b"], "limit": 1}), 400, "InvalidArgumentError")
    assert "limit can only be specified when a where clause is provided" in body["message"]
    assert sorted(col.get()["ids"]) == ["b", "c"]
    assert http.post(path, json={"where": {"k": 2}, "limit": 1}).json() == {"deleted": 1}
    assert col.count() == 1


# 5. Quotas. `chroma run` returns the rows of get(limit=100000) and query(n_results=100000);
# they belong to tenants an operator configured and to a cluster, which keeps its defaults.
def test_a_large_limit_reads_the_rows_on_silt_run_and_is_a_quota_on_a_cluster(client, name):
    col = client.create_collection(name, embedding_function=None)
    col.add(ids=["a", "b"], embeddings=EMB)
    if TARGET == "cluster":
        with pytest.raises(errors.QuotaError):
            col.get(limit=100_000)
        return
    assert sorted(col.get(limit=100_000)["ids"]) == ["a", "b"]
    assert sorted(col.get(limit=4_000_000_000, offset=1)["ids"]) in (["a"], ["b"])
    got = col.query(query_embeddings=[[1.0, 2.0]], n_results=100_000, include=["distances"])
    assert got["ids"] == [["a", "b"]]


# 6. Deletes of ids that never existed still compact: Chroma's distributed deployment logs
# them and its compactor moves the version, so clients that wait for it do not hang.
def test_deletes_of_ids_that_never_existed_advance_the_version(http, client, name):
    col = client.create_collection(name, embedding_function=None)
    assert col.delete(ids=["ghost-1", "ghost-2"])["deleted"] == 2
    c = wait_for_version(http, name, 1)
    assert c["version"] >= 1, c
    assert c["log_position"] >= 1, c
    assert col.count() == 0
    # And on a collection with records, whose version then still answers reads.
    col.add(ids=["a"], embeddings=[[1.0, 2.0]])
    c = wait_for_version(http, name, c["version"] + 1)
    col.delete(ids=["never"])
    c = wait_for_version(http, name, c["version"] + 1)
    assert http.get(f"{COLLECTIONS}/{name}").json()["version"] == c["version"]
    assert col.get()["ids"] == ["a"]


# 7. Configuration. `chroma run` answered, for the client's create_collection(...,
# embedding_function=None, configuration={"hnsw": {"space": "cosine", "ef_search": 50}}) (the
# client sends embedding_function {"type": "legacy"} for None; a raw create without one reads
# back null):
CHROMA_CONFIGURATION = {
    "hnsw": {"space": "cosine", "ef_construction": 100, "ef_search": 50, "max_neighbors": 16,
             "resize_factor": 1.2, "sync_threshold": 1000},
    "spann": None,
    "embedding_function": {"type": "legacy"},
}


def test_configuration_is_complete_and_modify_applies_it(http, client, name):
    col = client.create_collection(name, embedding_function=None,
                                   configuration={"hnsw": {"space": "cosine", "ef_search": 50}})
    raw = http.get(f"{COLLECTIONS}/{name}").json()
    assert raw["configuration_json"] == CHROMA_CONFIGURATION
    vector = raw["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]
    assert vector["enabled"] is True and vector["config"]["space"] == "cosine"
    assert vector["config"]["hnsw"]["ef_search"] == 50
    # A collection without configuration gets every default too.
    plain = create(http, name + "-plain")
    assert plain["configuration_json"] == {
        "hnsw": dict(CHROMA_CONFIGURATION["hnsw"], space="l2", ef_search=100),
        "spann": None, "embedding_function": None}
    # Legacy metadata keys fill the configuration (chroma run: hnsw:search_ef 33 → ef_search 33).
    legacy = create(http, name + "-legacy", metadata={"hnsw:space": "ip", "hnsw:search_ef": 33})
    assert legacy["configuration_json"]["hnsw"]["space"] == "ip"
    assert legacy["configuration_json"]["hnsw"]["ef_search"] == 33

    # The client applies the change to its schema first (it raised "Schema is missing
    # defaults..." while Silt sent no schema), then the server keeps it.
    col.modify(configuration={"hnsw": {"ef_search": 77}})
    raw = http.get(f"{COLLECTIONS}/{name}").json()
    assert raw["configuration_json"] == dict(
        CHROMA_CONFIGURATION, hnsw=dict(CHROMA_CONFIGURATION["hnsw"], ef_search=77))
    vector = raw["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]
    assert vector["config"]["hnsw"]["ef_search"] == 77
    assert client.get_collection(name, embedding_function=None).configuration_json["hnsw"][
        "ef_search"] == 77
    # Queries still answer after the change (ef_search scales the clusters probed).
    col.add(ids=["a", "b"], embeddings=EMB)
    assert col.query(query_embeddings=[[1.0, 2.0]], n_results=1)["ids"] == [["a"]]

    # Refused as by chroma run: 422 for a setting that cannot change (unknown field `space`,
    # `ef_construction`) or a wrong type; 400 "Multiple vector index configurations provided".
    put = f"{COLLECTIONS}/{col.id}"
    for change in ({"hnsw": {"space": "l2"}}, {"hnsw": {"ef_construction": 10}},
                   {"hnsw": {"ef_search": "x"}}, {"hnsw": {"bogus": 1}}):
        assert http.put(put, json={"new_configuration": change}).status_code == 422, change
    body = error(http.post(COLLECTIONS, json={"name": name + "-both", "configuration": {
        "hnsw": {"space": "cosine"}, "spann": {"space": "cosine"}}}), 400, "InvalidArgumentError")
    assert body["message"] == "Multiple vector index configurations provided"
    # A spann change on a local (HNSW) collection is accepted and changes nothing (chroma run).
    assert http.put(put, json={"new_configuration": {"spann": {"search_nprobe": 10}}}).status_code == 200
    assert http.get(f"{COLLECTIONS}/{name}").json()["configuration_json"]["hnsw"]["ef_search"] == 77
