"""Schemathesis hooks for fuzzing Silt (loaded through SCHEMATHESIS_HOOKS by fuzz.py).

- `chroma_error_body`: every error answer is JSON in Chroma's `{error, message}` shape.
- Path parameters are often the seeded tenant, database and collection (from the environment),
  so generated bodies reach the write and read paths instead of stopping at a 404.
- Requests that would delete the seeded database or collection are pointed elsewhere, so the
  rest of the run keeps something to work on (reset is off: the server runs without
  --allow-reset).
- Every request and every 5xx is counted; fuzz.py reads the counts from SILT_FUZZ_COUNTS.
"""

import atexit
import json
import os
import threading

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
