"""GET /openapi.json on the server under test (embedded, or the cluster's gateway): public,
OpenAPI 3.1, Chroma's operation ids, and answers that carry what the document requires.
The fuller checks are in gateway/tests/openapi.rs and the fuzzer (tests/fuzz)."""

import httpx


def test_openapi_document_describes_the_routes_served(server):
    r = httpx.get(server.url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    ops = {
        op["operationId"]: (method, path)
        for path, methods in doc["paths"].items()
        for method, op in methods.items()
    }
    db = "/api/v2/tenants/{tenant}/databases/{database}"
    assert ops["collection_query"] == ("post", db + "/collections/{id}/query")
    assert ops["collection_add"] == ("post", db + "/collections/{id}/add")
    assert ops["create_collection"] == ("post", db + "/collections")
    assert ops["heartbeat"] == ("get", "/api/v2/heartbeat")
    schemas = doc["components"]["schemas"]

    # Routes without path parameters: what they answer has every field the document requires.
    for path, methods in doc["paths"].items():
        op = methods.get("get")
        if op is None or "{" in path:
            continue
        answer = httpx.get(server.url + path, timeout=30)
        assert str(answer.status_code) in op["responses"], (path, answer.status_code)
        content = op["responses"][str(answer.status_code)].get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "")
        if ref:
            body = answer.json()
            required = schemas[ref.rsplit("/", 1)[1]].get("required", [])
            missing = [k for k in required if k not in body]
            assert not missing, (path, missing)
