"""Request ids across a real cluster (gateway, log, query and compactor processes on Postgres and
an S3 server), logging JSON lines at debug level: the id a client sends in `x-request-id` (or
the one the gateway makes when it sends none) comes back in the answer and is on the log lines
of every process the request went through; a compaction round's calls carry the round's own id
to the log node."""

import json
import re
import time
import uuid

import httpx
import pytest

from cluster import SiltCluster

COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"
GENERATED = re.compile(r"^[0-9a-f]{32}$")
# Below the compaction threshold: the small collections stay unindexed for the whole test, so
# every strong read asks the log node for the tail (the query reaches all three processes).
COMPACTION_MIN_RECORDS = 500


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SILT_LOG", "info,silt=debug")
        c = SiltCluster(str(tmp_path_factory.mktemp("request-id")),
                        extra=["--log-format", "json",
                               "--compaction-min-records", str(COMPACTION_MIN_RECORDS),
                               "--compaction-max-age-ms", "600000"],
                        shape={"log": 1, "query": 1, "compactor": 1}).start()
    yield c
    c.stop()


@pytest.fixture
def http(cluster):
    with httpx.Client(base_url=cluster.url, timeout=20) as client:
        yield client


def json_lines(node):
    """Every line the process logged, parsed: with --log-format json there is nothing else."""
    with open(node.log_path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def request_ids(line):
    """The request ids of the spans a log line was written in."""
    spans = list(line.get("spans", [])) + [line.get("span", {})]
    return {s["request_id"] for s in spans if "request_id" in s}


def lines_of(node, request_id, timeout=5):
    """The node's log lines written for `request_id`, waiting briefly for them to appear."""
    deadline = time.time() + timeout
    while True:
        found = [line for line in json_lines(node) if request_id in request_ids(line)]
        if found or time.time() > deadline:
            return found
        time.sleep(0.05)


def nodes(cluster):
    return cluster.gateway, cluster.role("log")[0], cluster.role("query")[0]


def create(http, name):
    r = http.post(COLLECTIONS, json={"name": name})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def add(http, cid, ids, headers=None):
    embeddings = [[float(i), 1.0, 0.5, 0.25] for i in range(len(ids))]
    return http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ids, "embeddings": embeddings},
                     headers=headers or {})


def query(http, cid, headers=None):
    return http.post(f"{COLLECTIONS}/{cid}/query",
                     json={"query_embeddings": [[0.0, 1.0, 0.5, 0.25]], "n_results": 1},
                     headers=headers or {})


def test_a_clients_id_is_echoed_and_logged_by_every_process_it_reaches(cluster, http):
    gateway, log, query_node = nodes(cluster)
    cid = create(http, "traced")
    add_id = f"client-add:{uuid.uuid4().hex}"
    query_id = f"client-query.{uuid.uuid4().hex}"

    r = add(http, cid, ["a", "b"], {"x-request-id": add_id})
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == add_id
    r = query(http, cid, {"x-request-id": query_id})
    assert r.status_code == 200, r.text
    assert r.json()["ids"] == [["a"]]
    assert r.headers["x-request-id"] == query_id

    # The write went gateway -> log node; the read gateway -> query node -> log node (the tail).
    for node, rid in [(gateway, add_id), (log, add_id),
                      (gateway, query_id), (query_node, query_id), (log, query_id)]:
        assert lines_of(node, rid), f"{node.name} logged nothing for {rid}"

    served = [l for l in lines_of(gateway, add_id) if l.get("message") == "request served"]
    assert len(served) == 1, served
    line = served[0]
    assert (line["method"], line["status"], line["level"]) == ("POST", 201, "DEBUG")
    assert line["span"]["route"].endswith("/collections/{id}/add"), line
    assert line["duration_ms"] >= 0 and line["timestamp"] and line["target"].startswith("silt_gateway")

    calls = [l for l in lines_of(log, query_id) if l.get("message") == "internal call served"]
    assert calls and all(l["status"] == 200 for l in calls), calls
    # The other request's lines are not mixed in.
    assert all(query_id not in request_ids(l) for l in lines_of(log, add_id))


def test_a_request_without_an_id_gets_a_generated_one_that_travels_downstream(cluster, http):
    _, log, query_node = nodes(cluster)
    cid = create(http, "untraced")
    r = add(http, cid, ["x"])
    assert r.status_code == 201, r.text
    generated = r.headers["x-request-id"]
    assert GENERATED.match(generated), generated
    assert lines_of(log, generated), "the log node did not log the gateway's generated id"

    r = query(http, cid)
    assert r.status_code == 200, r.text
    second = r.headers["x-request-id"]
    assert GENERATED.match(second) and second != generated
    assert lines_of(query_node, second) and lines_of(log, second)


def test_an_insane_id_is_replaced_and_errors_carry_the_id(cluster, http):
    gateway = cluster.gateway
    r = http.get(f"{COLLECTIONS}/no-such-collection", headers={"x-request-id": "has spaces"})
    assert r.status_code in (400, 404), r.text
    assert set(r.json()) == {"error", "message"}
    replaced = r.headers["x-request-id"]
    assert GENERATED.match(replaced), replaced
    assert lines_of(gateway, replaced)
    r = http.get("/api/v2/no/such/route", headers={"x-request-id": "lost-1"})
    assert r.status_code >= 400 and set(r.json()) == {"error", "message"}, r.text
    assert r.headers["x-request-id"] == "lost-1"


def test_a_compaction_round_has_its_own_id_on_the_compactor_and_the_log_node(cluster, http):
    log, compactor = cluster.role("log")[0], cluster.role("compactor")[0]
    cid = create(http, "compacted")
    r = add(http, cid, [f"r{i}" for i in range(COMPACTION_MIN_RECORDS)])
    assert r.status_code == 201, r.text
    deadline = time.time() + 30
    registered = []
    while not registered:
        assert time.time() < deadline, "the collection was not compacted"
        time.sleep(0.1)
        registered = [l for l in json_lines(compactor)
                      if l.get("message") == "registered version" and l.get("collection") == cid]
    (round_id,) = request_ids(registered[0])
    assert round_id.startswith("compaction-"), round_id
    assert lines_of(log, round_id), "the log node did not log the compaction round's calls"
