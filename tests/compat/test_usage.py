"""Metering (issue 16) through the real binary: what `silt admin usage` and `/metrics` report per
tenant must equal what the test did. Runs unchanged against `silt run` and a cluster
(SILT_COMPAT_TARGET=cluster).

What is counted (README, "Metering"): writes are successful add/upsert/update/delete requests;
records written are the records those requests logged (a delete counts the records it removed);
queries are successful get/query/count requests, and bytes returned are the bytes of their
response bodies, exactly as received. Refused requests count nothing."""

import json
import os
import sqlite3
import subprocess
import tempfile
import time
import uuid

import httpx
import pytest

from common import free_port, silt_binary
from conftest import TARGET, SiltServer

FLUSH_MS = 200
FAST_USAGE = ["--usage-flush-ms", str(FLUSH_MS), "--usage-storage-refresh-ms", str(FLUSH_MS)]


@pytest.fixture(scope="module")
def metered():
    with tempfile.TemporaryDirectory() as d:
        s = SiltServer(d, extra=FAST_USAGE).start()
        yield s
        s.stop()


def admin(server, *args):
    out = subprocess.run([silt_binary(), "admin", *server.admin_args(), *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def new_tenant(server):
    name = "meter-" + uuid.uuid4().hex[:10]
    admin(server, "create-tenant", name)
    return name


class Tenant:
    """One tenant's requests, with the counts the server should report for them."""

    def __init__(self, http, name):
        self.http, self.name = http, name
        self.writes = self.records_written = self.queries = self.bytes_returned = 0

    def path(self, rest=""):
        return f"/tenants/{self.name}/databases/default_database/collections{rest}"

    def create(self):
        r = self.http.post(self.path(), json={"name": "c-" + uuid.uuid4().hex[:8]})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def write(self, collection, op, body, records):
        r = self.http.post(self.path(f"/{collection}/{op}"), json=body)
        assert r.status_code in (200, 201), r.text
        self.writes += 1
        self.records_written += records
        return r

    def add(self, collection, ids, op="add"):
        body = {"ids": ids, "embeddings": [[float(i), 1.0, 0.5] for i in range(len(ids))],
                "documents": [f"doc {i}" for i in ids], "metadatas": [{"i": i} for i in ids]}
        return self.write(collection, op, body, len(ids))

    def read(self, method, collection, op, body=None):
        r = self.http.request(method, self.path(f"/{collection}/{op}"), json=body)
        assert r.status_code == 200, r.text
        self.queries += 1
        self.bytes_returned += len(r.content)
        return r


def usage(server, tenant):
    return admin(server, "usage", "--tenant", tenant)


def wait_until(check, timeout=40):
    deadline = time.time() + timeout
    while True:
        last = check()
        if last[0] or time.time() > deadline:
            return last[1]
        time.sleep(0.1)


def stored_version_bytes(server, tenant):
    """Bytes of the objects of the tenant's current versions, read from the store itself."""
    if TARGET == "cluster":
        out = subprocess.run(["psql", "-At", server.catalog, "-c",
                              f"select manifest from collections where tenant = '{tenant}' "
                              "and deleted_at_ms is null and manifest is not null"],
                             check=True, capture_output=True, text=True)
        manifests = out.stdout.split()
    else:
        with sqlite3.connect(os.path.join(server.path, "data", "catalog.db")) as db:
            manifests = [m for (m,) in db.execute(
                "select manifest from collections where tenant = ? and deleted_at_ms is null "
                "and manifest is not null", (tenant,))]
    total = 0
    for manifest in manifests:
        directory = manifest.rsplit("/", 1)[0]
        if TARGET == "cluster":
            import boto3
            s3 = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
            listed = s3.list_objects_v2(Bucket=server.bucket, Prefix=f"{server.prefix}/{directory}/")
            total += sum(o["Size"] for o in listed.get("Contents", []))
        else:
            root = os.path.join(server.path, "data", "objects", directory)
            total += sum(os.path.getsize(os.path.join(root, f)) for f in os.listdir(root))
    return total


def metrics(server):
    return httpx.get(server.url + "/metrics", timeout=10).text


def series(text, name, tenant, extra=""):
    line = f'{name}{{tenant="{tenant}"{extra}}} '
    values = [int(l[len(line):]) for l in text.splitlines() if l.startswith(line)]
    assert len(values) <= 1, values
    return values[0] if values else None


def test_usage_equals_what_two_tenants_did(metered):
    with httpx.Client(base_url=metered.url + "/api/v2", timeout=30) as http:
        a, b = Tenant(http, new_tenant(metered)), Tenant(http, new_tenant(metered))

        a1, a2 = a.create(), a.create()
        a.add(a1, [f"a{i}" for i in range(5)])
        a.add(a2, [f"b{i}" for i in range(3)])
        a.add(a2, [f"b{i}" for i in range(3, 7)])
        a.add(a1, ["a4", "a5"], op="upsert")  # one replaced, one new: a1 holds 6
        a.write(a2, "update", {"ids": ["b0"], "documents": ["changed"]}, 1)
        # Chroma counts the ids of an ids-only delete as given, found or not: a2 holds 6.
        deleted = a.write(a2, "delete", {"ids": ["b1", "no-such-id"]}, 2)
        assert deleted.json() == {"deleted": 2}
        a.read("POST", a1, "get", {"include": ["documents", "metadatas"]})
        a.read("POST", a2, "query", {"query_embeddings": [[1.0, 1.0, 0.5]], "n_results": 3})
        assert a.read("GET", a1, "count").json() == 6

        b1 = b.create()
        b.add(b1, ["x", "y", "z", "w"])
        assert len(b.read("POST", b1, "get", {}).json()["ids"]) == 4

        # Refused requests count nothing: a wrong dimension, an unknown collection.
        wrong = http.post(a.path(f"/{a1}/add"), json={"ids": ["q"], "embeddings": [[1.0]]})
        assert wrong.status_code == 400
        missing = http.post(a.path(f"/{uuid.uuid4()}/get"), json={})
        assert missing.status_code == 404

    expected = {
        a.name: {"collections": 2, "records": 12, "writes": 6, "queries": 3,
                 "records_written": 5 + 3 + 4 + 2 + 1 + 2},
        b.name: {"collections": 1, "records": 4, "writes": 1, "queries": 1, "records_written": 4},
    }
    for t in (a, b):
        want = dict(expected[t.name], tenant=t.name, records_pending=0,
                    bytes_returned=t.bytes_returned)
        assert (want["writes"], want["queries"], want["records_written"]) == \
               (t.writes, t.queries, t.records_written)

        def settled():
            u = usage(metered, t.name)
            got = {k: u[k] for k in want}
            return got == want, u
        u = wait_until(settled)
        assert {k: u[k] for k in want} == want
        # Fully compacted: no log bytes left; the versions' bytes are what the store holds.
        assert u["stored_bytes"]["log"] == 0
        assert u["stored_bytes"]["versions"] == stored_version_bytes(metered, t.name) > 0
        assert u["stored_bytes"]["total"] == u["stored_bytes"]["versions"]

    # Several flushes later nothing has been counted twice.
    time.sleep(5 * FLUSH_MS / 1000)
    for t in (a, b):
        u = usage(metered, t.name)
        assert (u["writes"], u["queries"], u["records_written"], u["bytes_returned"]) == \
               (t.writes, t.queries, t.records_written, t.bytes_returned)

    # The listing of every tenant holds the same rows.
    everyone = {u["tenant"]: u for u in admin(metered, "usage")}
    assert everyone[a.name] == usage(metered, a.name)

    # /metrics (one gateway): this process's counters, and the catalog's stored figures.
    def refreshed():
        text = metrics(metered)
        return series(text, "silt_tenant_records", a.name) == 12, text
    text = wait_until(refreshed)
    for t in (a, b):
        assert series(text, "silt_tenant_writes_total", t.name) == t.writes
        assert series(text, "silt_tenant_queries_total", t.name) == t.queries
        assert series(text, "silt_tenant_records_written_total", t.name) == t.records_written
        assert series(text, "silt_tenant_bytes_returned_total", t.name) == t.bytes_returned
        assert series(text, "silt_tenant_collections", t.name) == expected[t.name]["collections"]
        assert series(text, "silt_tenant_records", t.name) == expected[t.name]["records"]
        assert series(text, "silt_tenant_stored_bytes", t.name, ',kind="log"') == 0
        assert series(text, "silt_tenant_stored_bytes", t.name, ',kind="versions"') == \
            usage(metered, t.name)["stored_bytes"]["versions"]

    table = subprocess.run([silt_binary(), "admin", *metered.admin_args(), "usage", "--table"],
                           check=True, capture_output=True, text=True).stdout.splitlines()
    assert table[0].split()[:3] == ["tenant", "collections", "records"]
    row = next(l.split() for l in table if l.startswith(a.name + " "))
    assert row[1:3] == ["2", "12"]


def test_counts_are_flushed_at_shutdown():
    """With a flush interval far longer than the test, only the shutdown flush can record them."""
    with tempfile.TemporaryDirectory() as d:
        server = SiltServer(d, extra=["--usage-flush-ms", "600000"]).start()
        try:
            with httpx.Client(base_url=server.url + "/api/v2", timeout=30) as http:
                t = Tenant(http, new_tenant(server))
                c = t.create()
                t.add(c, ["one", "two"])
                t.read("GET", c, "count")
            time.sleep(0.5)
            assert usage(server, t.name)["writes"] == 0
        finally:
            server.stop()
        u = usage(server, t.name)
        assert (u["writes"], u["records_written"], u["queries"], u["bytes_returned"]) == \
               (1, 2, 1, t.bytes_returned)


def test_with_auth_tenant_series_are_for_operators_only():
    """Under auth, the public /metrics must not tell a caller other tenants' names and usage;
    --tenant-metrics-addr serves them to operators."""
    operators = free_port()
    with tempfile.TemporaryDirectory() as d:
        server = SiltServer(d, extra=["--auth", "--tenant-metrics-addr", f"127.0.0.1:{operators}"]
                            + FAST_USAGE).start()
        try:
            tenant = new_tenant(server)
            key = admin(server, "create-key", "--tenant", tenant)["key"]
            with httpx.Client(base_url=server.url + "/api/v2", timeout=30,
                              headers={"x-chroma-token": key}) as http:
                t = Tenant(http, tenant)
                t.add(t.create(), ["k1", "k2", "k3"])
            public = metrics(server)
            # The public endpoint keeps the operational series (a cluster's gateway has no
            # object store of its own, so its request series is the one every target has).
            assert "silt_http_requests_total" in public
            assert "tenant=" not in public
            text = httpx.get(f"http://127.0.0.1:{operators}/metrics", timeout=10).text
            assert series(text, "silt_tenant_writes_total", tenant) == 1
            assert series(text, "silt_tenant_records_written_total", tenant) == 3
        finally:
            server.stop()
