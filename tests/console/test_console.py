"""The web console at /console, in a real browser against a real `silt run`: the key flow,
the tenant overview, the record browser (paging, filters, refused filters), the query box,
indexing status and stats, the live metrics, and user data that is markup rendered as text."""

import json
import os
import re
import time
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from conftest import DATABASE, RECORDS, TENANT, XSS_DOCUMENT, XSS_METADATA

# Playwright waits this long for the page to show what a test expects.
TIMEOUT_MS = 15_000


def console_url(server, route=""):
    return f"{server.url}/console/#/{route}"


def collection_route(server, tab, query=""):
    """The hash route (after `#/`) of one of the test collection's pages."""
    d = server.data
    route = f"tenants/{d.tenant}/databases/{DATABASE}/collections/{d.id}/{tab}"
    return route + (f"?{query}" if query else "")


def sign_in(tab, server, route=""):
    """Opens `route`; the console asks for the key first and then shows that page."""
    tab.page.goto(console_url(server, route))
    tab.page.fill("#api-key", server.key)
    tab.page.click("#key-form button[type=submit]")


def shown_ids(page, selector="table.records tbody tr"):
    return [row.get_attribute("data-id") for row in page.locator(selector).all()]


def wait_rows(page, count, selector="table.records tbody tr"):
    expect(page.locator(selector)).to_have_count(count, timeout=TIMEOUT_MS)


def snap(page, screenshots, name):
    path = os.path.join(screenshots, f"console-{name}.png")
    page.screenshot(path=path)
    return path


def assert_clean(tab):
    assert tab.errors == [], tab.errors
    assert tab.dialogs == [], f"the page opened dialogs: {tab.dialogs}"


def wait_indexed(server, timeout=30):
    d = server.data
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = d.http.get(f"/collections/{d.id}/indexing_status").json()
        if s["num_unindexed_ops"] == 0:
            return s
        time.sleep(0.2)
    raise AssertionError(f"not indexed after {timeout} s: {s}")


# --- Serving -------------------------------------------------------------------------------

def test_console_files_are_public_typed_and_locked_down(auth_server):
    for path, kind in [("/console", "text/html"), ("/console/", "text/html"),
                       ("/console/js/main.js", "text/javascript"), ("/console/console.css", "text/css"),
                       ("/console/favicon.svg", "image/svg+xml")]:
        r = httpx.get(auth_server.url + path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["content-type"].startswith(kind), (path, r.headers["content-type"])
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    missing = httpx.get(auth_server.url + "/console/js/nope.js")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"
    # The data stays behind the key.
    d = auth_server.data
    refused = httpx.post(f"{auth_server.url}/api/v2/tenants/{TENANT}/databases/{DATABASE}/collections/{d.id}/get", json={})
    assert refused.status_code == 401


# --- With API keys -------------------------------------------------------------------------

def test_key_is_asked_for_checked_and_kept_for_the_tab(browser, auth_server, tab, screenshots):
    page = tab.page
    page.goto(console_url(auth_server))
    expect(page.locator("#api-key")).to_be_visible(timeout=TIMEOUT_MS)
    snap(page, screenshots, "key")
    page.fill("#api-key", "silt_not_a_real_key")
    page.click("#key-form button[type=submit]")
    expect(page.locator(".error")).to_contain_text("Key refused", timeout=TIMEOUT_MS)
    assert page.evaluate("sessionStorage.getItem('silt.console.key')") is None

    page.fill("#api-key", auth_server.key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text(f"tenant {TENANT}", timeout=TIMEOUT_MS)
    assert page.evaluate("sessionStorage.getItem('silt.console.key')") == auth_server.key
    # A reload keeps the key; "Forget key" drops it and asks again.
    page.reload()
    expect(page.locator("section.database")).to_be_visible(timeout=TIMEOUT_MS)
    page.click("#who button")
    expect(page.locator("#api-key")).to_be_visible(timeout=TIMEOUT_MS)
    assert page.evaluate("sessionStorage.getItem('silt.console.key')") is None
    assert_clean(tab)


def test_overview_lists_databases_and_collections_with_counts(browser, auth_server, tab, screenshots):
    indexed = wait_indexed(auth_server)
    page = tab.page
    sign_in(tab, auth_server)
    row = page.locator("table.collections tr[data-collection='console-demo']")
    expect(row.locator("td.records")).to_have_text(str(RECORDS + 1), timeout=TIMEOUT_MS)
    expect(row.locator("td.indexing")).to_contain_text("100.0 %", timeout=TIMEOUT_MS)
    stats = auth_server.data.http.get(f"/collections/{auth_server.data.id}/stats").json()
    assert stats["index_bytes"] > 0
    expect(row.locator("td.size")).not_to_have_text(re.compile(r"^(…|n/a|—)$"), timeout=TIMEOUT_MS)
    assert indexed["total_ops"] == RECORDS + 1
    expect(page.locator(".identity")).to_contain_text(TENANT)
    expect(page.locator("section.database h2")).to_contain_text(DATABASE)
    snap(page, screenshots, "collections")

    # Another tenant: this key may not read it, and the page says so with Silt's message.
    refused = httpx.get(f"{auth_server.url}/api/v2/tenants/default_tenant/databases",
                        headers={"x-chroma-token": auth_server.key})
    assert refused.status_code == 403
    page.fill("#open-tenant", "default_tenant")
    page.click("form.open-tenant button")
    expect(page.locator(".databases .error")).to_contain_text(refused.json()["message"], timeout=TIMEOUT_MS)
    assert page.url.endswith("#/tenants/default_tenant")
    assert_clean(tab)


def test_record_browser_pages_through_the_collection(browser, auth_server, tab, screenshots):
    d = auth_server.data
    page = tab.page
    sign_in(tab, auth_server, collection_route(auth_server, "records"))
    wait_rows(page, 20)
    assert shown_ids(page) == d.get(limit=20, offset=0)["ids"]
    expect(page.locator(".page-range").first).to_have_text(f"Records 1–20 of {RECORDS + 1}")
    expect(page.locator(".prev-page").first).to_be_disabled()
    first = page.locator("table.records tbody tr").first
    expected = d.get(limit=1, offset=0, include=["documents", "metadatas", "embeddings"])
    expect(first.locator("td.doc")).to_have_text(expected["documents"][0])
    expect(first.locator("td.embedding")).to_contain_text(f"{len(expected['embeddings'][0])} dims")
    snap(page, screenshots, "records")

    page.locator(".next-page").first.click()
    expect(page.locator(".page-range").first).to_have_text(f"Records 21–40 of {RECORDS + 1}", timeout=TIMEOUT_MS)
    assert shown_ids(page) == d.get(limit=20, offset=20)["ids"]
    page.locator(".next-page").first.click()
    wait_rows(page, RECORDS + 1 - 40)
    assert shown_ids(page) == d.get(limit=20, offset=40)["ids"]
    expect(page.locator(".next-page").first).to_be_disabled()
    page.locator(".prev-page").first.click()
    expect(page.locator(".page-range").first).to_have_text(f"Records 21–40 of {RECORDS + 1}", timeout=TIMEOUT_MS)
    assert_clean(tab)


@pytest.mark.parametrize("where,predicate", [
    ({"group": 1}, lambda m: m["group"] == 1),
    ({"$and": [{"kind": "even"}, {"n": {"$gte": 30}}]}, lambda m: m["kind"] == "even" and m["n"] >= 30),
])
def test_where_filter_shows_exactly_the_matching_records(browser, auth_server, tab, where, predicate):
    d = auth_server.data
    page = tab.page
    sign_in(tab, auth_server, collection_route(auth_server, "records"))
    wait_rows(page, 20)
    page.fill("#where", json.dumps(where))
    page.fill("#limit", "100")
    page.click("#apply-filter")
    expected = d.matching(predicate)
    wait_rows(page, len(expected))
    assert set(shown_ids(page)) == expected
    # The filter is part of the address: a reload shows the same rows.
    page.reload()
    wait_rows(page, len(expected))
    assert set(shown_ids(page)) == expected
    assert_clean(tab)


def test_bad_filters_show_the_reason(browser, auth_server, tab, screenshots):
    d = auth_server.data
    page = tab.page
    sign_in(tab, auth_server, collection_route(auth_server, "records"))
    wait_rows(page, 20)
    bad = {"n": {"$near": 3}}
    answer = d.http.post(f"/collections/{d.id}/get", json={"where": bad, "limit": 20, "offset": 0})
    assert answer.status_code == 400
    page.fill("#where", json.dumps(bad))
    page.click("#apply-filter")
    error = page.locator(".results .error")
    expect(error).to_contain_text(answer.json()["message"], timeout=TIMEOUT_MS)
    expect(error).to_contain_text(answer.json()["error"])
    snap(page, screenshots, "bad-filter")
    # Not JSON at all: said before anything is sent.
    page.fill("#where", "{group: 1")
    page.click("#apply-filter")
    expect(page.locator("#filter-form .error")).to_contain_text("where is not valid JSON", timeout=TIMEOUT_MS)
    assert_clean(tab)


def test_query_from_a_records_vector_finds_that_record_first(browser, auth_server, tab, screenshots):
    d = auth_server.data
    page = tab.page
    sign_in(tab, auth_server, collection_route(auth_server, "records", "limit=50"))
    wait_rows(page, RECORDS + 1)
    page.locator("tr[data-id='r-07'] .use-as-query").click()
    results = page.locator("table.query-results tbody tr")
    expect(results).to_have_count(10, timeout=TIMEOUT_MS)
    assert results.first.get_attribute("data-id") == "r-07"
    assert float(results.first.locator("td.distance").inner_text()) == pytest.approx(0.0, abs=1e-4)
    distances = [float(t) for t in page.locator("table.query-results td.distance").all_inner_texts()]
    assert distances == sorted(distances)
    # The same answer as the API gives.
    answer = d.http.post(f"/collections/{d.id}/query", json={
        "query_embeddings": [d.embeddings[7]], "n_results": 10, "include": ["distances"]}).json()
    assert [r.get_attribute("data-id") for r in results.all()] == answer["ids"][0]
    snap(page, screenshots, "query")

    # A pasted vector with a filter.
    page.fill("#query-vector", json.dumps(d.embeddings[8]))
    page.fill("#query-where", json.dumps({"kind": "odd"}))
    page.fill("#n-results", "5")
    page.click("#run-query")
    expect(results.first).to_have_attribute("data-id", re.compile(r"r-\d\d"), timeout=TIMEOUT_MS)
    expect(results).to_have_count(5, timeout=TIMEOUT_MS)
    odd = d.matching(lambda m: m["kind"] == "odd")
    assert {r.get_attribute("data-id") for r in results.all()} <= odd
    assert results.first.get_attribute("data-id") != "r-08"  # r-08 is even: filtered out
    # A vector of the wrong dimension: Silt's message.
    page.fill("#query-vector", "[1, 2]")
    page.fill("#query-where", "")
    page.click("#run-query")
    expect(page.locator(".results .error")).to_contain_text("dimension", timeout=TIMEOUT_MS)
    assert_clean(tab)


def test_indexing_status_and_stats_show_the_servers_numbers(browser, auth_server, tab, screenshots):
    d = auth_server.data
    status = wait_indexed(auth_server)
    stats = d.http.get(f"/collections/{d.id}/stats").json()
    page = tab.page
    sign_in(tab, auth_server, collection_route(auth_server, "status"))
    card = page.locator("#indexing-card")
    expect(card.locator("[data-field=total_ops]")).to_have_text(str(status["total_ops"]), timeout=TIMEOUT_MS)
    expect(card.locator("[data-field=num_unindexed_ops]")).to_have_text("0")
    expect(card.locator(".progress-figure")).to_have_text("100.0 %")
    stats_card = page.locator("#stats-card")
    expect(stats_card.locator("[data-field=version]")).to_have_text(str(stats["version"]), timeout=TIMEOUT_MS)
    expect(stats_card.locator("[data-field=index_bytes]")).to_contain_text(f"{stats['index_bytes']:,} bytes")
    expect(stats_card.locator("[data-field=dimension]")).to_have_text(str(stats["dimension"]))
    expect(page.locator("#config-card")).to_contain_text("console test")
    snap(page, screenshots, "status")

    # It refreshes: new writes show up as logged operations without reloading.
    d.http.post(f"/collections/{d.id}/upsert", json={"ids": ["late"], "embeddings": [[0.5] * len(d.embeddings[0])]}).raise_for_status()
    expect(card.locator("[data-field=total_ops]")).to_have_text(str(status["total_ops"] + 1), timeout=TIMEOUT_MS)
    d.http.post(f"/collections/{d.id}/delete", json={"ids": ["late"]}).raise_for_status()
    assert_clean(tab)


def test_metrics_view_shows_live_numbers(browser, auth_server, tab, screenshots):
    d = auth_server.data
    page = tab.page
    sign_in(tab, auth_server, "metrics")
    # Some traffic so every rate has something to show.
    for i in range(20):
        d.http.post(f"/collections/{d.id}/query", json={"query_embeddings": [d.embeddings[i]], "n_results": 3})
    store = page.locator("#metric-store .figure")
    expect(store).to_have_text(re.compile(r"^[\d,.]+(/s)?$"), timeout=TIMEOUT_MS)
    text = httpx.get(auth_server.url + "/metrics", headers={"x-chroma-token": auth_server.key}).text
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    cache = page.locator("#metric-cache .figure")
    if "silt_query_cache_hits_total" in names:
        expect(cache).to_have_text(re.compile(r"^\d+\.\d %$|^—$"), timeout=TIMEOUT_MS)
    else:
        expect(cache).to_have_text("not available")
    # Two scrapes make a rate: the store figure turns into requests per second.
    expect(store).to_have_text(re.compile(r"^[\d.]+/s$"), timeout=TIMEOUT_MS)
    duration = re.compile(r"^[\d.]+ (µs|ms|s|min)$")
    for panel, series in [("#metric-latency", "silt_http_request_duration_seconds_count"),
                          ("#metric-lag", "silt_compaction_lag_seconds")]:
        figure = page.locator(f"{panel} .figure")
        if series in names:
            expect(figure).to_have_text(duration, timeout=TIMEOUT_MS)
        else:
            expect(figure).to_have_text("not available")
    assert "silt_http_request_duration_seconds_count" in names, "the embedded server exports request latency"
    page.click("details.raw-card summary")
    page.fill("#series-filter", "silt_object_store_requests_total")
    rows = page.locator("table.raw tbody tr")
    expect(rows.first).to_contain_text("silt_object_store_requests_total", timeout=TIMEOUT_MS)
    page.locator("details.raw-card").evaluate("d => d.open = false")
    snap(page, screenshots, "metrics")
    assert_clean(tab)


def test_markup_in_documents_and_metadata_is_shown_as_text(browser, auth_server, tab):
    d = auth_server.data
    page = tab.page
    sign_in(tab, auth_server, collection_route(auth_server, "records", "where=" + quote(json.dumps({"group": 9}))))
    wait_rows(page, 1)
    row = page.locator("tr[data-id='xss']")
    expect(row.locator("td.doc")).to_have_text(XSS_DOCUMENT)
    expect(row.locator("td.metadata")).to_contain_text(XSS_METADATA)
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    # And in query results.
    page.locator("tr[data-id='xss'] .use-as-query").click()
    first = page.locator("table.query-results tbody tr").first
    expect(first).to_have_attribute("data-id", "xss", timeout=TIMEOUT_MS)
    expect(first.locator("td.doc")).to_have_text(XSS_DOCUMENT)
    assert page.locator("main img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert_clean(tab)


# --- Without API keys ----------------------------------------------------------------------

def test_without_auth_the_console_opens_directly(browser, open_server, tab, screenshots):
    page = tab.page
    page.goto(console_url(open_server))
    expect(page.locator("#who .badge")).to_have_text("auth off", timeout=TIMEOUT_MS)
    assert page.locator("#api-key").count() == 0
    row = page.locator("table.collections tr[data-collection='console-demo']")
    expect(row.locator("td.records")).to_have_text(str(RECORDS + 1), timeout=TIMEOUT_MS)
    row.locator("a").click()
    wait_rows(page, 20)
    assert shown_ids(page) == open_server.data.get(limit=20, offset=0)["ids"]
    assert_clean(tab)
