#!/usr/bin/env python3
"""API fuzzing: schemathesis against Silt's own `/openapi.json`, on a fresh `silt run`.

Starts `silt run` on a free port with a temporary data directory (without --allow-reset, so
nothing wipes the seeded data mid-run), seeds one collection, and runs schemathesis's phases
(examples, coverage, fuzzing, stateful) for a bounded number of cases per operation. Fails on
any 5xx, any error answer that is not Chroma's JSON `{error, message}`, any answer that does
not match the document (status, content type, schema), a panic in the server's log, or a
server that stops answering. With --auth the server requires API keys: the fuzzer sends one,
and schemathesis also checks that requests without it are refused.

    python tests/fuzz/fuzz.py [--silt target/debug/silt] [--auth] [--max-examples 40] [--seed 1]

Prints one summary line per run: requests sent, 5xx answers, failures.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# Checks on every answer. `chroma_error_body` is ours (hooks.py). Not used: positive data
# acceptance (valid-looking names still 404 and dimensions conflict with the seeded
# collection), and the resource-lifecycle checks (several routes name the same collection by
# name or by id, which they cannot tell apart).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "chroma_error_body",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, key=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("x-chroma-token", key)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def alive(base):
    try:
        call("GET", f"{base}/api/v2/heartbeat", timeout=5)
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def seed(base, key):
    """One collection with a few records, so that reads and writes have something to act on."""
    db = f"{base}/api/v2/tenants/default_tenant/databases/default_database"
    col = call(
        "POST",
        f"{db}/collections",
        {"name": "fuzz_seed", "metadata": {"kind": "fuzz"}, "get_or_create": True},
        key,
    )
    records = {
        "ids": [f"r{i}" for i in range(20)],
        "embeddings": [[float(i), float(i % 3), 1.0] for i in range(20)],
        "documents": [f"document number {i}" for i in range(20)],
        "metadatas": [{"i": i, "even": i % 2 == 0, "tag": f"t{i % 4}"} for i in range(20)],
    }
    call("POST", f"{db}/collections/{col['id']}/add", records, key)
    return col


def run(silt, auth, max_examples, seed_value, workdir, extra=()):
    data = os.path.join(workdir, "data-auth" if auth else "data")
    os.makedirs(data)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = os.path.join(workdir, f"silt-{'auth' if auth else 'open'}.log")
    log = open(log_path, "w")
    args = [silt, "run", "--path", data, "--port", str(port)]
    if auth:
        args.append("--auth")
    server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while not alive(base):
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"silt did not start; log:\n{open(log_path).read()[-3000:]}")
            time.sleep(0.2)
        key = None
        if auth:
            out = subprocess.run(
                [silt, "admin", "--path", data, "create-key", "--tenant", "default_tenant"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            key = json.loads(out)["key"]
        col = seed(base, key)

        counts_path = os.path.join(workdir, f"counts-{'auth' if auth else 'open'}.json")
        env = dict(os.environ)
        env.update(
            {
                "SCHEMATHESIS_HOOKS": "hooks",
                "PYTHONPATH": HERE + os.pathsep + env.get("PYTHONPATH", ""),
                "SILT_FUZZ_COLLECTION_NAME": col["name"],
                "SILT_FUZZ_COLLECTION_ID": col["id"],
                "SILT_FUZZ_COUNTS": counts_path,
            }
        )
        checks = CHECKS + (["ignored_auth"] if auth else [])
        cmd = [
            os.path.join(os.path.dirname(sys.executable), "schemathesis"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            ",".join(checks),
            "--max-examples",
            str(max_examples),
            "--seed",
            str(seed_value),
            # One worker: Python 3.11's parser is not thread-safe under Hypothesis's lambda
            # introspection ("AST constructor recursion depth mismatch" with two), and the
            # server answers faster than one worker generates anyway.
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
            "--no-color",
            "--max-failures",
            "50",
        ]
        if key:
            cmd += ["-H", f"x-chroma-token: {key}"]
        cmd += list(extra)
        started = time.time()
        fuzz = subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, text=True)
        elapsed = time.time() - started
        up = server.poll() is None and alive(base)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    counts = {"requests": 0, "server_errors": 0, "by_status": {}, "server_error_samples": []}
    if os.path.exists(counts_path):
        with open(counts_path) as f:
            counts = json.load(f)
    server_log = open(log_path, errors="replace").read()
    panics = [line for line in server_log.splitlines() if "panicked" in line]
    name = "auth on" if auth else "auth off"
    problems = []
    if fuzz.returncode != 0:
        problems.append(f"schemathesis exited {fuzz.returncode}")
    if counts["server_errors"]:
        problems.append(f"{counts['server_errors']} server errors")
    if panics:
        problems.append(f"{len(panics)} panics in the server log")
    if not up:
        problems.append("the server stopped answering")
    if problems or os.environ.get("SILT_FUZZ_VERBOSE"):
        print(fuzz.stdout[-20000:])
        print(fuzz.stderr[-5000:], file=sys.stderr)
        for s in counts["server_error_samples"]:
            print("5xx:", json.dumps(s))
        for p in panics[:10]:
            print("panic:", p)
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(counts["by_status"].items()))
    print(
        f"API fuzzing ({name}): {counts['requests']} requests in {elapsed:.0f} s, "
        f"{counts['server_errors']} server errors ({statuses})"
        + (f" -- FAILED: {'; '.join(problems)}" if problems else "")
    )
    return not problems, counts


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "..", "target"))
    p.add_argument(
        "--silt",
        default=os.environ.get("SILT_BIN") or os.path.join(target, "debug", "silt"),
        help="the silt binary (default: $SILT_BIN, else $CARGO_TARGET_DIR/debug/silt)",
    )
    p.add_argument("--auth", action="store_true", help="also fuzz a server started with --auth")
    p.add_argument("--max-examples", type=int, default=40, help="cases per operation and phase")
    p.add_argument("--auth-max-examples", type=int, default=10)
    p.add_argument("--seed", type=int, default=None, help="default: a new one each run (printed)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, reports)")
    p.add_argument(
        "extra",
        nargs="*",
        help="more schemathesis options after --, e.g. -- --mode negative --phases fuzzing",
    )
    a = p.parse_args()
    seed_value = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"fuzz seed: {seed_value} (replay with --seed {seed_value})")
    workdir = tempfile.mkdtemp(prefix="silt-fuzz-")
    ok = True
    try:
        ok &= run(a.silt, False, a.max_examples, seed_value, workdir, a.extra)[0]
        if a.auth:
            ok &= run(a.silt, True, a.auth_max_examples, seed_value, workdir, a.extra)[0]
    finally:
        if a.keep or not ok:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
