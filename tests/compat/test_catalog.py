"""System routes, tenants, databases and collections through Chroma's Python client."""

import chromadb
import httpx
import pytest
from chromadb.errors import NotFoundError, UniqueConstraintError, InvalidArgumentError

from conftest import SiltServer


def test_system_routes(client, http):
    assert client.heartbeat() > 0
    assert isinstance(client.get_version(), str)
    pre = http.get("/pre-flight-checks").json()
    assert pre["max_batch_size"] > 0 and pre["supports_base64_encoding"] is True
    ident = http.get("/auth/identity").json()
    assert ident["tenant"] == "default_tenant" and ident["databases"] == ["default_database"]


def test_tenants_and_databases(server, name):
    admin = chromadb.AdminClient(chromadb.config.Settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host="127.0.0.1",
        chroma_server_http_port=server.port))
    tenant = "t-" + name
    admin.create_tenant(tenant)
    assert admin.get_tenant(tenant)["name"] == tenant
    with pytest.raises(UniqueConstraintError):
        admin.create_tenant(tenant)
    with pytest.raises(NotFoundError):
        admin.get_tenant("no-such-tenant-" + name)
    for db in ["db-a", "db-b", "db-c"]:
        admin.create_database(db, tenant=tenant)
    assert admin.get_database("db-b", tenant=tenant)["name"] == "db-b"
    assert [d["name"] for d in admin.list_databases(tenant=tenant)] == ["db-a", "db-b", "db-c"]
    assert [d["name"] for d in admin.list_databases(tenant=tenant, limit=1, offset=1)] == ["db-b"]
    # Collections are scoped to their tenant and database.
    scoped = server.client(tenant=tenant, database="db-a")
    col = scoped.create_collection("scoped")
    col.add(ids=["a"], embeddings=[[1.0, 2.0]])
    assert server.client(tenant=tenant, database="db-b").list_collections() == []
    assert "scoped" not in [c.name for c in server.client().list_collections()]
    admin.delete_database("db-a", tenant=tenant)
    with pytest.raises(NotFoundError):
        admin.get_database("db-a", tenant=tenant)
    assert [d["name"] for d in admin.list_databases(tenant=tenant)] == ["db-b", "db-c"]


def test_collection_lifecycle(client, http, name):
    col = client.create_collection(name, metadata={"owner": "me", "hnsw:space": "ip"})
    assert col.name == name and col.metadata["owner"] == "me"
    with pytest.raises(UniqueConstraintError):
        client.create_collection(name)
    same = client.get_or_create_collection(name, metadata={"ignored": True})
    assert same.id == col.id and "ignored" not in (same.metadata or {})
    assert client.get_collection(name).id == col.id
    raw = http.get(f"/tenants/default_tenant/databases/default_database/collections/{name}").json()
    assert raw["configuration_json"]["hnsw"]["space"] == "ip"
    assert raw["id"] == str(col.id) and raw["version"] == 0
    by_id = http.get(f"/tenants/default_tenant/databases/default_database/collections/by-id/{col.id}")
    assert by_id.status_code == 200 and by_id.json()["name"] == name

    col.modify(name=name + "-renamed", metadata={"owner": "you"})
    assert client.get_collection(name + "-renamed").metadata == {"owner": "you"}
    with pytest.raises(NotFoundError):
        client.get_collection(name)
    client.delete_collection(name + "-renamed")
    with pytest.raises(NotFoundError):
        client.get_collection(name + "-renamed")
    with pytest.raises(NotFoundError):
        client.delete_collection(name + "-renamed")
    # The name is free again, for a new collection with a new id.
    again = client.create_collection(name + "-renamed")
    assert again.id != col.id


def test_list_and_count_collections(server, name):
    admin = chromadb.AdminClient(chromadb.config.Settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host="127.0.0.1",
        chroma_server_http_port=server.port))
    admin.create_database("list-" + name)
    c = server.client(database="list-" + name)
    names = [f"{name}-{i}" for i in range(5)]
    for n in names:
        c.create_collection(n)
    assert [x.name for x in c.list_collections()] == names
    assert [x.name for x in c.list_collections(limit=2, offset=2)] == names[2:4]
    assert c.count_collections() == 5


def test_bad_collection_names_are_rejected(client):
    for bad in ["ab", "-leading", "trailing-", "two..dots", "10.0.0.1", "has space", "x" * 600]:
        with pytest.raises((InvalidArgumentError, ValueError, Exception)) as e:
            client.create_collection(bad)
        assert "name" in str(e.value).lower() or "Expected" in str(e.value)


def test_reset_only_when_allowed(tmp_path, server):
    assert httpx.post(server.url + "/api/v2/reset").status_code == 200
    strict = SiltServer(str(tmp_path), allow_reset=False).start()
    try:
        r = httpx.post(strict.url + "/api/v2/reset")
        assert r.status_code == 400 and r.json()["error"] == "InvalidArgumentError"
    finally:
        strict.stop()
