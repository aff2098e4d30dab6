"""Read modes: strong by default (every acknowledged write is visible), eventual on request
with the `X-Silt-Consistency: eventual` header (only what is indexed, no log tail)."""

import httpx
import pytest

from conftest import SiltServer


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    # Compaction effectively off: everything written stays in the log tail.
    s = SiltServer(str(tmp_path_factory.mktemp("frozen")), extra=["--compaction-interval-ms", "3600000"]).start()
    yield s
    s.stop()


def test_strong_reads_see_the_tail_and_eventual_reads_do_not(frozen):
    strong = frozen.client()
    eventual = frozen.client(headers={"X-Silt-Consistency": "eventual"})
    col = strong.create_collection("modes")
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["x", "y"])

    assert sorted(col.get()["ids"]) == ["a", "b"]
    assert col.query(query_embeddings=[[1.0, 0.0]], n_results=1)["ids"] == [["a"]]

    same = eventual.get_collection("modes")
    assert same.get()["ids"] == []
    assert same.query(query_embeddings=[[1.0, 0.0]], n_results=1)["ids"] == [[]]


def test_an_unknown_mode_is_a_clear_error(frozen):
    col = frozen.client().get_or_create_collection("modes-bad")
    with httpx.Client(base_url=frozen.url + "/api/v2", timeout=10) as http:
        r = http.post(f"/tenants/default_tenant/databases/default_database/collections/{col.id}/get",
                      json={}, headers={"X-Silt-Consistency": "sometimes"})
    assert r.status_code == 400
    assert r.json()["error"] == "InvalidArgumentError"
    assert "X-Silt-Consistency" in r.json()["message"]


def test_count_read_level_index_only_counts_what_is_indexed(frozen):
    col = frozen.client().create_collection("modes-count")
    col.add(ids=["a", "b", "c"], embeddings=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    path = f"/tenants/default_tenant/databases/default_database/collections/{col.id}/count"
    with httpx.Client(base_url=frozen.url + "/api/v2", timeout=10) as http:
        assert http.get(path, params={"read_level": "index_and_wal"}).json() == 3
        assert http.get(path).json() == 3
        assert http.get(path, params={"read_level": "index_only"}).json() == 0
        bad = http.get(path, params={"read_level": "sometimes"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "InvalidArgumentError"
