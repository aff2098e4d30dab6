"""Schemathesis hooks for fuzzing Silt (loaded through SCHEMATHESIS_HOOKS by fuzz.py).

- `chroma_error_body`: every error answer is JSON in Chroma's `{error, message}` shape.
- Path parameters are often the seeded tenant, database and collection (from the environment),
  and writes and queries to it mostly get embeddings of its dimension, so generated bodies
  reach the log, the compactor and the query path instead of stopping at a 404 or a 400.
- Requests that would delete the seeded database or collection are pointed elsewhere, so the
  rest of the run keeps something to work on (reset is off: the server runs without
  --allow-reset).
- Every request and every 5xx is counted; fuzz.py reads the counts from SILT_FUZZ_COUNTS.
"""

import atexit
import json
import os
import threading
import zlib

import hypothesis.strategies as st
import schemathesis

SEED = {
    "tenant": os.environ.get("SILT_FUZZ_TENANT", "default_tenant"),
    "database": os.environ.get("SILT_FUZZ_DATABASE", "default_database"),
    "collection": os.environ.get("SILT_FUZZ_COLLECTION_NAME", ""),
    "id": os.environ.get("SILT_FUZZ_COLLECTION_ID", ""),
}
COUNTS_PATH = os.environ.get("SILT_FUZZ_COUNTS")

_lock = threading.Lock()
_counts = {"requests": 0, "server_errors": 0, "by_status": {}, "server_error_samples": []}


@atexit.register
def _write_counts():
    if COUNTS_PATH:
        with open(COUNTS_PATH, "w") as f:
            json.dump(_counts, f, indent=1)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Each parameter is either as generated or the seeded name, as Hypothesis chooses."""
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            n: st.sampled_from([v, SEED[n]]) if SEED.get(n) else st.just(v)
            for n, v in path_parameters.items()
        }
    )


SEED_DIMENSION = int(os.environ.get("SILT_FUZZ_DIMENSION", "3"))


def _vector(v):
    """A generated embedding bent to the seeded collection's dimension, keeping its numbers."""
    nums = [float(x) for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)] if isinstance(v, list) else []
    nums = [x if abs(x) < 1e30 else 1.0 for x in nums]
    return (nums + [0.5] * SEED_DIMENSION)[:SEED_DIMENSION]


@schemathesis.hook
def map_case(context, case):
    """Two thirds of the writes and queries to the seeded collection get embeddings of its
    dimension (the rest of the body as generated), so they pass validation and reach the log,
    the compactor and the query path with random ids, documents, metadata and filters."""
    params = case.path_parameters or {}
    body = case.body
    if params.get("id") != SEED["id"] or not SEED["id"] or not isinstance(body, dict):
        return case
    if zlib.crc32(repr(sorted(body.items(), key=lambda kv: str(kv[0]))).encode()) % 3 == 0:
        return case
    op = case.operation.path.rsplit("/", 1)[-1]
    if op in ("add", "upsert", "update") and isinstance(body.get("ids"), list):
        # One entry per distinct id in every column, as validation requires.
        body["ids"] = list(dict.fromkeys(i for i in body["ids"] if isinstance(i, str) and i)) or ["x"]
        for column in ("documents", "metadatas", "uris"):
            if isinstance(body.get(column), list):
                body[column] = (body[column] + [None] * len(body["ids"]))[: len(body["ids"])]
        given = body.get("embeddings")
        given = given if isinstance(given, list) else []
        body["embeddings"] = [_vector(given[i] if i < len(given) else None) for i in range(len(body["ids"]))]
    elif op == "query" and isinstance(body.get("query_embeddings"), list):
        body["query_embeddings"] = [_vector(v) for v in body["query_embeddings"]] or [_vector(None)]
    return case


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters or {}
    if case.method.upper() == "DELETE" and (
        params.get("database") == SEED["database"] or params.get("collection") == SEED["collection"]
    ):
        if "collection" in params:
            params["collection"] = "fuzz-not-the-seed"
        else:
            params["database"] = "fuzz-not-the-seed"


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        _counts["requests"] += 1
        key = str(response.status_code)
        _counts["by_status"][key] = _counts["by_status"].get(key, 0) + 1
        per_op = _counts.setdefault("by_operation", {}).setdefault(f"{case.method} {case.operation.path}", {})
        per_op[key] = per_op.get(key, 0) + 1
        if os.environ.get("SILT_FUZZ_SAMPLES") and response.status_code >= 400:
            samples = _counts.setdefault("error_samples", {}).setdefault(f"{case.method} {case.operation.path}", [])
            if len(samples) < 30:
                samples.append(response.text[:200])
        if response.status_code >= 500:
            _counts["server_errors"] += 1
            if len(_counts["server_error_samples"]) < 20:
                _counts["server_error_samples"].append(
                    {
                        "method": case.method,
                        "path": case.formatted_path,
                        "status": response.status_code,
                        "body": response.text[:500],
                    }
                )


@schemathesis.check
def chroma_error_body(ctx, response, case):
    """An error answer is a JSON object with string `error` and `message`, as Chroma sends."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.text)
    except ValueError:
        raise AssertionError(f"{response.status_code} answer is not JSON: {response.text[:200]!r}")
    if not (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and isinstance(body.get("message"), str)
    ):
        raise AssertionError(f"{response.status_code} answer is not {{error, message}}: {body!r:.200}")
    return None
