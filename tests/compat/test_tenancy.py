"""Multi-tenancy through the real binary and Chroma's own client: API keys made by `silt admin`,
Chroma's token auth provider, per-tenant quotas, rate limits that keep tenants apart, and the
audit log. The route-by-route isolation matrix is in gateway/tests/isolation.rs."""

import json
import os
import subprocess
import tempfile
import threading
import time
import uuid

import chromadb
import httpx
import pytest
from chromadb.config import Settings

from conftest import SiltServer, silt_binary

EMB = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


@pytest.fixture(scope="module")
def auth_server():
    with tempfile.TemporaryDirectory() as d:
        s = SiltServer(d, allow_reset=False, extra=["--auth", "--catalog-cache-ms", "0"]).start()
        yield s
        s.stop()


def admin(server, *args):
    out = subprocess.run(
        [silt_binary(), "admin", *server.admin_args(), *args],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def new_tenant(server):
    name = "t-" + uuid.uuid4().hex[:10]
    admin(server, "create-tenant", name)
    return name


def token_client(server, key, header=None, tenant=None):
    """Chroma's client with its token auth provider. Without a tenant, it takes the key's
    tenant and database from /auth/identity (Chroma's singleton-access setting)."""
    settings = dict(
        chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
        chroma_client_auth_credentials=key,
        chroma_overwrite_singleton_tenant_database_access_from_auth=tenant is None,
    )
    if header:
        settings["chroma_auth_token_transport_header"] = header
    extra = {"tenant": tenant} if tenant else {}
    return chromadb.HttpClient(host="127.0.0.1", port=server.port, settings=Settings(**settings), **extra)


def api(server, key):
    return httpx.Client(base_url=server.url + "/api/v2", timeout=30,
                        headers={"x-chroma-token": key} if key else {})


@pytest.mark.parametrize("header,from_identity", [
    (None, True), ("Authorization", True), (None, False), ("Authorization", False)])
def test_chroma_client_with_token_auth_works_unchanged(auth_server, header, from_identity):
    tenant = new_tenant(auth_server)
    key = admin(auth_server, "create-key", "--tenant", tenant, "--label", "ci")["key"]
    client = token_client(auth_server, key, header, tenant=None if from_identity else tenant)
    assert client.get_user_identity().tenant == tenant
    col = client.create_collection("docs")
    col.add(ids=["a", "b", "c"], embeddings=EMB, documents=["x", "y", "z"])
    got = col.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=1)
    assert got["ids"] == [["a"]]
    assert col.count() == 3
    with api(auth_server, key) as h:
        ident = h.get("/auth/identity").json()
        assert ident["tenant"] == tenant and ident["databases"] == ["default_database"]
        names = [c["name"] for c in h.get(f"/tenants/{tenant}/databases/default_database/collections").json()]
        assert names == ["docs"]


def test_missing_wrong_and_revoked_keys_are_refused(auth_server):
    tenant = new_tenant(auth_server)
    created = admin(auth_server, "create-key", "--tenant", tenant)
    with api(auth_server, None) as h:
        assert h.get("/heartbeat").status_code == 200, "liveness needs no key"
        r = h.get(f"/tenants/{tenant}")
        assert r.status_code == 401 and r.json()["error"] == "AuthorizationError"
    with api(auth_server, "silt_wrong") as h:
        assert h.get(f"/tenants/{tenant}").status_code == 401
    with pytest.raises(Exception):
        token_client(auth_server, "silt_wrong").list_collections()
    with api(auth_server, created["key"]) as h:
        assert h.get(f"/tenants/{tenant}").status_code == 200
        admin(auth_server, "revoke-key", created["id"])
        assert h.get(f"/tenants/{tenant}").status_code == 401
    listed = admin(auth_server, "list-keys", "--tenant", tenant)
    assert [k["id"] for k in listed] == [created["id"]] and listed[0]["revoked_at_ms"]
    assert "key" not in listed[0], "keys are shown once, at creation"


def test_read_only_and_database_scoped_keys(auth_server):
    tenant = new_tenant(auth_server)
    rw = admin(auth_server, "create-key", "--tenant", tenant)["key"]
    with api(auth_server, rw) as h:
        assert h.post(f"/tenants/{tenant}/databases", json={"name": "other"}).status_code == 200
        r = h.post(f"/tenants/{tenant}/databases/other/collections", json={"name": "coll"})
        assert r.status_code == 200, r.text
        cid = r.json()["id"]
    ro = admin(auth_server, "create-key", "--tenant", tenant, "--read-only")["key"]
    scoped = admin(auth_server, "create-key", "--tenant", tenant, "--databases", "default_database")["key"]
    with api(auth_server, ro) as h:
        base = f"/tenants/{tenant}/databases/other/collections"
        assert h.get(base).status_code == 200
        r = h.post(f"{base}/{cid}/add", json={"ids": ["a"], "embeddings": [[1, 2, 3]]})
        assert r.status_code == 403 and r.json()["error"] == "AuthError"
        assert h.post(base, json={"name": "nope"}).status_code == 403
    with api(auth_server, scoped) as h:
        assert h.get(f"/tenants/{tenant}/databases/other/collections").status_code == 403
        assert h.get(f"/tenants/{tenant}/databases/default_database/collections").status_code == 200
        assert [d["name"] for d in h.get(f"/tenants/{tenant}/databases").json()] == ["default_database"]
        assert h.get("/auth/identity").json()["databases"] == ["default_database"]


def test_quotas_per_tenant_are_enforced_and_reported(auth_server):
    tenant = new_tenant(auth_server)
    other = new_tenant(auth_server)
    key = admin(auth_server, "create-key", "--tenant", tenant)["key"]
    other_key = admin(auth_server, "create-key", "--tenant", other)["key"]
    limits = admin(auth_server, "set-quotas", tenant, json.dumps({
        "max_batch_size": 3, "max_dimension": 4, "max_document_bytes": 10, "max_metadata_keys": 2,
        "max_metadata_bytes": 40, "max_n_results": 3, "max_collections_per_tenant": 2,
        "max_records_per_collection": 5,
    }))
    assert limits["max_batch_size"] == 3
    with pytest.raises(subprocess.CalledProcessError):
        admin(auth_server, "set-quotas", tenant, '{"max_batch_sise": 1}')

    base = f"/tenants/{tenant}/databases/default_database/collections"
    with api(auth_server, key) as h:
        pre = h.get("/pre-flight-checks").json()
        assert pre["max_batch_size"] == 3 and pre["max_n_results"] == 3
        assert pre["supports_base64_encoding"] is True
        cid = h.post(base, json={"name": "quota-1"}).json()["id"]

        def quota(r):
            assert r.status_code == 400, r.text
            assert r.json()["error"] == "QuotaError", r.text

        assert h.post(f"{base}/{cid}/add", json={"ids": list("abcd"), "embeddings": [[1]] * 4}).status_code == 413
        quota(h.post(f"{base}/{cid}/add", json={"ids": ["a"], "embeddings": [[1, 2, 3, 4, 5]]}))
        quota(h.post(f"{base}/{cid}/add", json={"ids": ["a"], "embeddings": [[1]], "documents": ["x" * 11]}))
        quota(h.post(f"{base}/{cid}/add", json={"ids": ["a"], "embeddings": [[1]], "metadatas": [{"a": 1, "b": 2, "c": 3}]}))
        quota(h.post(f"{base}/{cid}/add", json={"ids": ["a"], "embeddings": [[1]], "metadatas": [{"a": "y" * 40}]}))
        for batch in (["a", "b", "c"], ["d", "e"]):
            assert h.post(f"{base}/{cid}/add", json={"ids": batch, "embeddings": [[1]] * len(batch)}).status_code == 201
        quota(h.post(f"{base}/{cid}/add", json={"ids": ["f"], "embeddings": [[1]]}))
        assert h.get(f"{base}/{cid}/count").json() == 5, "a refused write changes nothing"
        quota(h.post(f"{base}/{cid}/query", json={"query_embeddings": [[1]], "n_results": 4}))
        quota(h.post(f"{base}/{cid}/get", json={"limit": 4}))
        assert h.post(base, json={"name": "quota-2"}).status_code == 200
        quota(h.post(base, json={"name": "quota-3"}))
        assert h.post(base, json={"name": "quota-2", "get_or_create": True}).status_code == 200
    # Another tenant keeps the server's defaults.
    with api(auth_server, other_key) as h:
        assert h.get("/pre-flight-checks").json()["max_batch_size"] > 3


def test_a_noisy_tenant_is_limited_and_does_not_starve_another(auth_server):
    noisy, quiet = new_tenant(auth_server), new_tenant(auth_server)
    admin(auth_server, "set-quotas", noisy, json.dumps({
        "tenant_requests_per_second": 20, "tenant_request_burst": 20, "max_concurrent_requests": 4}))
    noisy_key = admin(auth_server, "create-key", "--tenant", noisy)["key"]
    quiet_key = admin(auth_server, "create-key", "--tenant", quiet)["key"]
    cols = {}
    for tenant, key in ((noisy, noisy_key), (quiet, quiet_key)):
        with api(auth_server, key) as h:
            base = f"/tenants/{tenant}/databases/default_database/collections"
            cid = h.post(base, json={"name": "coll"}).json()["id"]
            assert h.post(f"{base}/{cid}/add", json={"ids": ["a", "b", "c"], "embeddings": EMB}).status_code == 201
            cols[tenant] = f"{base}/{cid}"

    stop = time.time() + 3
    noisy_statuses, retry_after = [], []

    def hammer():
        with api(auth_server, noisy_key) as h:
            while time.time() < stop:
                r = h.post(cols[noisy] + "/query", json={"query_embeddings": [[1, 0, 0]], "n_results": 2})
                noisy_statuses.append(r.status_code)
                if r.status_code == 429:
                    retry_after.append(r.headers.get("retry-after"))
                    assert r.json()["error"] == "RateLimitError"

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for t in threads:
        t.start()
    quiet_statuses, quiet_latencies = [], []
    with api(auth_server, quiet_key) as h:
        while time.time() < stop:
            t0 = time.time()
            r = h.post(cols[quiet] + "/query", json={"query_embeddings": [[1, 0, 0]], "n_results": 2})
            quiet_latencies.append(time.time() - t0)
            quiet_statuses.append(r.status_code)
    for t in threads:
        t.join()

    limited = noisy_statuses.count(429)
    served = noisy_statuses.count(200)
    assert limited > 0, "the noisy tenant was never limited"
    assert served <= 20 + 20 * 3 + 5, f"the bucket let through {served} requests in 3 s"
    assert all(ra and int(ra) >= 1 for ra in retry_after)
    assert set(noisy_statuses) <= {200, 429}
    assert quiet_statuses and set(quiet_statuses) == {200}, "the quiet tenant was refused"
    # Bounded, not timed: a starved tenant would wait for the noisy one's queue (seconds).
    assert max(quiet_latencies) < 2.0, max(quiet_latencies)


def test_denials_are_audited_without_the_key(auth_server):
    tenant = new_tenant(auth_server)
    created = admin(auth_server, "create-key", "--tenant", tenant, "--read-only")
    with api(auth_server, created["key"]) as h:
        assert h.post(f"/tenants/{tenant}/databases/default_database/collections", json={"name": "x"}).status_code == 403
        assert h.get("/tenants/someone-else").status_code == 403
    time.sleep(0.2)
    with open(os.path.join(auth_server.path, "server.log"), encoding="utf-8", errors="replace") as f:
        log = f.read()
    denied = [l for l in log.splitlines() if "denied" in l and created["id"] in l]
    assert len(denied) >= 2, log[-2000:]
    assert all(f"tenant={tenant}" in l for l in denied)
    assert created["key"] not in log, "the key itself must never be logged"


def test_forks_stay_in_their_tenant_and_count_against_its_quota(auth_server):
    """A key of tenant A can neither fork nor count the forks of B's collection, through B's
    path (403) or its own (404, as for a missing collection); A's forks land in A and count
    against A's collections quota like a create."""
    a, b = new_tenant(auth_server), new_tenant(auth_server)
    a_key = admin(auth_server, "create-key", "--tenant", a)["key"]
    b_key = admin(auth_server, "create-key", "--tenant", b)["key"]
    admin(auth_server, "set-quotas", a, json.dumps({"max_collections_per_tenant": 2}))
    a_base = f"/tenants/{a}/databases/default_database/collections"
    b_base = f"/tenants/{b}/databases/default_database/collections"
    with api(auth_server, b_key) as h:
        b_id = h.post(b_base, json={"name": "b-secret"}).json()["id"]
        assert h.post(f"{b_base}/{b_id}/add", json={"ids": ["s"], "embeddings": [[1, 2, 3]]}).status_code == 201
    with api(auth_server, a_key) as h:
        for base in (b_base, a_base):
            want = 403 if base == b_base else 404
            r = h.post(f"{base}/{b_id}/fork", json={"new_name": "stolen"})
            assert r.status_code == want, r.text
            assert "b-secret" not in r.text
            r = h.get(f"{base}/{b_id}/fork_count")
            assert r.status_code == want, r.text
        assert h.get(a_base).json() == []
        # A's own fork is A's, and counts: 1 collection + 1 fork reaches the quota of 2.
        a_id = h.post(a_base, json={"name": "mine"}).json()["id"]
        r = h.post(f"{a_base}/{a_id}/fork", json={"new_name": "mine-fork"})
        assert r.status_code == 200, r.text
        assert r.json()["tenant"] == a
        r = h.post(f"{a_base}/{a_id}/fork", json={"new_name": "mine-fork-2"})
        assert r.status_code == 400 and r.json()["error"] == "QuotaError", r.text
        assert sorted(c["name"] for c in h.get(a_base).json()) == ["mine", "mine-fork"]
        assert h.get(f"{a_base}/{a_id}/fork_count").json() == {"count": 1}
    with api(auth_server, b_key) as h:
        assert [c["name"] for c in h.get(b_base).json()] == ["b-secret"]
        assert h.get(f"{b_base}/{b_id}/fork_count").json() == {"count": 0}
