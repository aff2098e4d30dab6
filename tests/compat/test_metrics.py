"""`/metrics` of the real binary: every series the Grafana dashboard (ops/grafana/silt.json)
plots is exported after a small workload, and the counts equal what the test did. Runs
unchanged against `silt run` and a cluster (SILT_COMPAT_TARGET=cluster), where the figures of
every role's `/metrics` are added up."""

import json
import os
import re
import subprocess
import tempfile
import time
import uuid

import httpx
import pytest

from common import REPO, silt_binary
from conftest import TARGET, SiltServer

DASHBOARD = os.path.join(REPO, "ops", "grafana", "silt.json")
# Internal calls and membership exist only between separate roles.
CLUSTER_ONLY = {
    "silt_rpc_client_duration_seconds",
    "silt_rpc_client_calls_total",
    "silt_membership_live_nodes",
    "silt_membership_changes_total",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
DB = "/api/v2/tenants/{tenant}/databases/{database}"
ADD_ROUTE = DB + "/collections/{id}/add"
QUERY_ROUTE = DB + "/collections/{id}/query"
EMB = [[1.0, 0.0, 0.5]]


@pytest.fixture(scope="module")
def silt():
    with tempfile.TemporaryDirectory() as d:
        s = SiltServer(d).start()
        yield s
        s.stop()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Scrape:
    """The series of one or more `/metrics` texts: families' types, and sample values summed
    over processes by (name, labels)."""

    def __init__(self):
        self.types, self.values = {}, {}

    def add(self, text):
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
                continue
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
            key = (name, frozenset(LABEL.findall(labels)))
            self.values[key] = self.values.get(key, 0.0) + value
        return self

    def names(self):
        return {name for name, _ in self.values}

    def get(self, name, **labels):
        want = set(labels.items())
        return sum(v for (n, l), v in self.values.items() if n == name and want <= set(l))


def endpoints(server):
    if TARGET == "cluster":
        return [node.url for node in server.all_nodes()]
    return [server.url]


def scrape(server):
    s = Scrape()
    for url in endpoints(server):
        r = httpx.get(url + "/metrics", timeout=10)
        assert r.status_code == 200, (url, r.text)
        s.add(r.text)
    return s


def admin(server, *args):
    out = subprocess.run([silt_binary(), "admin", *server.admin_args(), *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def tenant_with_quotas(server, quotas):
    name = "m-" + uuid.uuid4().hex[:10]
    admin(server, "create-tenant", name)
    admin(server, "set-quotas", name, json.dumps(quotas))
    return name


def collections(tenant="default_tenant"):
    return f"/api/v2/tenants/{tenant}/databases/default_database/collections"


def new_collection(http, tenant="default_tenant"):
    name = "c-" + uuid.uuid4().hex[:10]
    r = http.post(collections(tenant), json={"name": name})
    assert r.status_code == 200, r.text
    return f"{collections(tenant)}/{r.json()['id']}"


def wait_for_a_version(http, collection, timeout=20):
    """Polls until the compactor has registered a version of `collection` (a path)."""
    tenant_db, cid = collection.rsplit("/", 1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        listed = http.get(tenant_db).json()
        if any(c["id"] == cid and c["version"] >= 1 for c in listed):
            return
        time.sleep(0.05)
    raise AssertionError("no version was registered")


def add(http, collection, ids):
    r = http.post(collection + "/add", json={
        "ids": ids, "embeddings": [[float(i), 1.0, 0.5] for i in range(len(ids))],
        "documents": [f"doc {i}" for i in ids]})
    assert r.status_code == 201, r.text


def query(http, collection):
    r = http.post(collection + "/query", json={"query_embeddings": EMB, "n_results": 2})
    assert r.status_code == 200, r.text


def dashboard_series():
    """Every series name the dashboard's PromQL expressions read, with the family it belongs to
    (a histogram's _bucket/_count/_sum samples belong to the histogram)."""
    with open(DASHBOARD) as f:
        board = json.load(f)
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20, "the dashboard lost its panels"
    names = set()
    for expr in exprs:
        # Label values and matchers are quoted; only bare identifiers can be series.
        bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        names |= set(re.findall(r'\bsilt_[a-z0-9_]+\b', bare))
    assert names, "no series found in the dashboard"
    return names


def family(name):
    """The family a sample name belongs to: a histogram's for _bucket/_count/_sum."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_every_dashboard_series_is_exported_after_a_small_workload(silt):
    with httpx.Client(base_url=silt.url, timeout=30) as http:
        # Rate limits and quotas, on tenants of their own.
        limited = tenant_with_quotas(silt, {"tenant_requests_per_second": 1, "tenant_request_burst": 1})
        statuses = [http.get(collections(limited)).status_code for _ in range(5)]
        assert 429 in statuses, statuses
        capped = tenant_with_quotas(silt, {"max_records_per_collection": 2})
        c = new_collection(http, capped)
        r = http.post(c + "/add", json={"ids": ["a", "b", "c"], "embeddings": EMB * 3})
        assert r.status_code == 400 and r.json()["error"] == "QuotaError", r.text
        # Writes, reads, a compaction, reads of the version it made.
        c = new_collection(http)
        add(http, c, [f"r{i}" for i in range(10)])
        query(http, c)
        wait_for_a_version(http, c)
        query(http, c)
        assert http.post(c + "/get", json={"limit": 3}).status_code == 200
        time.sleep(1.5)  # the log service samples its tails each second
    s = scrape(silt)
    exported = s.names()
    missing = []
    for name in sorted(dashboard_series()):
        if TARGET != "cluster" and family(name) in CLUSTER_ONLY:
            continue
        if name not in exported:
            missing.append(name)
        elif family(name) != name:
            # Read through a suffix: the family must really be a histogram.
            assert s.types.get(family(name)) == "histogram", name
    assert not missing, f"dashboard series not exported: {missing}"
    # Histograms really are histograms (buckets, count and sum), not summaries.
    for name in ("silt_http_request_duration_seconds", "silt_object_store_request_duration_seconds",
                 "silt_compaction_duration_seconds"):
        assert s.types.get(name) == "histogram", (name, s.types.get(name))


def test_counts_equal_what_was_done(silt):
    n_adds, n_queries = 5, 4
    with httpx.Client(base_url=silt.url, timeout=30) as http:
        c = new_collection(http)
        add(http, c, ["warm"])  # the log's first append of a collection also reads its state
        before = scrape(silt)
        for i in range(n_adds):
            add(http, c, [f"a{i}", f"b{i}"])
        for _ in range(n_queries):
            query(http, c)
        after = scrape(silt)

    def grew(name, **labels):
        return after.get(name, **labels) - before.get(name, **labels)

    adds = dict(route=ADD_ROUTE, method="POST", status="201")
    queries = dict(route=QUERY_ROUTE, method="POST", status="200")
    assert grew("silt_http_requests_total", **adds) == n_adds
    assert grew("silt_http_request_duration_seconds_count", **adds) == n_adds
    assert grew("silt_http_requests_total", **queries) == n_queries
    assert grew("silt_http_request_duration_seconds_count", **queries) == n_queries
    # Every observation falls in the +Inf bucket, and the sum is a positive time.
    assert grew("silt_http_request_duration_seconds_bucket", le="+Inf", **adds) == n_adds
    assert grew("silt_http_request_duration_seconds_sum", **adds) > 0

    # One log PUT per acknowledged write when writes do not overlap (group commit has nothing
    # to merge); the latency histogram saw exactly the requests the counter counted.
    log_puts = dict(component="log", op="put")
    assert grew("silt_object_store_requests_total", **log_puts) == n_adds
    assert grew("silt_object_store_request_duration_seconds_count", **log_puts) == n_adds
    assert grew("silt_object_store_bytes_total", **log_puts) > 0
    # (The compactor works in the background: a request of its may be under way at a scrape.)
    for component in ("log", "query"):
        for op in ("get", "put", "list"):
            labels = dict(component=component, op=op)
            assert (after.get("silt_object_store_requests_total", **labels)
                    == after.get("silt_object_store_request_duration_seconds_count", **labels)), labels


def test_with_recording_off_only_the_metering_series_remain():
    with tempfile.TemporaryDirectory() as d:
        s = SiltServer(d, extra=["--metrics", "false"]).start()
        try:
            with httpx.Client(base_url=s.url, timeout=30) as http:
                c = new_collection(http)
                add(http, c, ["x"])
                query(http, c)
            got = scrape(s)
        finally:
            s.stop()
    assert not any(n.startswith(("silt_http_", "silt_object_store_", "silt_query_cache_"))
                   for n in got.names()), sorted(got.names())
    assert got.get("silt_tenant_writes_total", tenant="default_tenant") == 1
