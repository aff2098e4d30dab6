"""Regression tests for holes found under attack: cross-site writes (Content-Type), error bodies
that are not JSON, unusable tenant names, routes probed without a key, reset, the GC grace
flag, idle and slow connections, and a clean shutdown of the disk cache."""

import json
import os
import socket
import subprocess
import time

import httpx
import pytest

from common import silt_binary
from conftest import EmbeddedServer, SiltServer

COLLECTIONS = "/tenants/default_tenant/databases/default_database/collections"


def error(r, status, name=None):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) >= {"error", "message"} and body["message"], body
    if name:
        assert body["error"] == name, body
    return body


def listed(http):
    return {c["name"] for c in http.get(COLLECTIONS).json()}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_body_not_declared_as_json_is_refused_and_writes_nothing(server, http, name, content_type):
    headers = {"content-type": content_type} if content_type else {}
    body = '{"name": "%s"}' % name
    # httpx adds no Content-Type for raw content unless told.
    r = httpx.post(server.url + "/api/v2" + COLLECTIONS, content=body.encode(), headers=headers)
    error(r, 415, "ChromaError")
    assert name not in listed(http)
    created = http.post(COLLECTIONS, json={"name": name})
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    add = httpx.post(f"{server.url}/api/v2{COLLECTIONS}/{cid}/add", headers=headers,
                     content=b'{"ids": ["a"], "embeddings": [[1.0, 2.0]]}')
    error(add, 415, "ChromaError")
    assert http.get(f"{COLLECTIONS}/{cid}/count").json() == 0
    ok = http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ["a"], "embeddings": [[1.0, 2.0]]},
                   headers={"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 201, ok.text


def test_query_string_errors_are_chroma_json(http, name):
    cid = http.post(COLLECTIONS, json={"name": name}).json()["id"]
    error(http.get(f"{COLLECTIONS}/{cid}/count?read_level=a&read_level=b"), 400, "InvalidArgumentError")
    error(http.get(f"{COLLECTIONS}?limit=notanumber"), 400, "InvalidArgumentError")
    # A method the route does not serve: 405, still with Chroma's body.
    r = http.request("PUT", "/heartbeat")
    error(r, 405)


@pytest.mark.parametrize("bad", [".", "..", " ", "   ", " padded", "a/b"])
def test_unusable_tenant_names_are_refused(http, bad):
    error(http.post("/tenants", json={"name": bad}), 400, "InvalidArgumentError")


def test_reset_recreates_the_default_database_after_it_was_deleted(server, http, name):
    http.post(COLLECTIONS, json={"name": name})
    r = http.delete("/tenants/default_tenant/databases/default_database")
    assert r.status_code == 200, r.text
    assert http.get("/tenants/default_tenant/databases/default_database").status_code == 404
    assert http.post("/reset").status_code == 200
    r = http.get("/tenants/default_tenant/databases/default_database")
    assert r.status_code == 200, r.text
    assert http.get(COLLECTIONS).json() == []
    assert http.post(COLLECTIONS, json={"name": name}).status_code == 200


def test_unknown_routes_ask_for_a_key_first(tmp_path):
    s = SiltServer(str(tmp_path), allow_reset=False, extra=["--auth"]).start()
    try:
        error(httpx.get(s.url + "/api/v2/no/such/route"), 401, "AuthorizationError")
        error(httpx.get(s.url + "/api/v2/no/such/route", headers={"x-chroma-token": "made-up"}),
              401, "AuthorizationError")
        created = subprocess.run([silt_binary(), "admin", *s.admin_args(), "create-key",
                                  "--tenant", "default_tenant"],
                                 check=True, capture_output=True, text=True).stdout
        token = json.loads(created)["key"]
        error(httpx.get(s.url + "/api/v2/no/such/route", headers={"x-chroma-token": token}),
              501, "ChromaError")
    finally:
        s.stop()


def version_dirs(objects):
    """Directories of index versions: `{hash}/{collection}/v/{version}-{attempt}`."""
    return {os.path.join(root, d) for root, dirs, _ in os.walk(objects)
            if os.path.basename(root) == "v" for d in dirs}


def empty_dirs(objects):
    return [root for root, dirs, files in os.walk(objects) if not dirs and not files and root != objects]


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


def test_gc_grace_flag_applies_and_collected_dirs_are_removed(tmp_path):
    """`silt run --gc-grace-ms` governs the embedded compactor: superseded versions and the
    objects of reset collections go after it, leaving no empty directory behind."""
    s = EmbeddedServer(str(tmp_path), extra=["--gc-grace-ms", "300", "--compaction-max-age-ms", "50",
                                             "--compaction-min-records", "1"]).start()
    objects = os.path.join(str(tmp_path), "data", "objects")
    try:
        http = httpx.Client(base_url=s.url + "/api/v2", timeout=30)
        cid = http.post(COLLECTIONS, json={"name": "gc-grace"}).json()["id"]
        for i in range(3):
            r = http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": [f"r{i}"], "embeddings": [[float(i), 1.0]]})
            assert r.status_code == 201, r.text
            wait_until(lambda: http.get(f"{COLLECTIONS}/gc-grace").json()["version"] >= i + 1, 30,
                       f"version {i + 1} is registered")
        # Superseded versions go within grace + a GC round (every 20 compaction rounds).
        wait_until(lambda: len(version_dirs(objects)) == 1, 30, "only the current version is left")
        wait_until(lambda: not empty_dirs(objects), 30, "no empty directory is left")
        # Reset forgets the collection in the catalog; its objects go too, not leak.
        assert http.post("/reset").status_code == 200
        wait_until(lambda: not any(files for _, _, files in os.walk(objects)), 30,
                   "the reset collection's objects are collected")
        wait_until(lambda: not empty_dirs(objects), 30, "no empty directory is left")
    finally:
        s.stop()


def test_idle_connections_cannot_lock_clients_out(tmp_path):
    s = EmbeddedServer(str(tmp_path), extra=["--max-connections", "40", "--header-timeout-ms", "1000"]).start()
    sockets = []
    try:
        for _ in range(150):
            sockets.append(socket.create_connection(("127.0.0.1", s.port)))
        # Past the limit, new connections are closed at once, and idle ones after the header
        # timeout: a real client gets through within a few seconds.
        served = None
        deadline = time.time() + 15
        while time.time() < deadline and served is None:
            try:
                r = httpx.get(s.url + "/api/v2/heartbeat", timeout=2)
                served = r.status_code
            except httpx.HTTPError:
                time.sleep(0.2)
        assert served == 200
        assert s.proc.poll() is None, "the server is still running"
    finally:
        for sock in sockets:
            sock.close()
        s.stop()


def test_slow_headers_are_cut_off(tmp_path):
    s = EmbeddedServer(str(tmp_path), extra=["--header-timeout-ms", "800"]).start()
    try:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.settimeout(10)
        started = time.time()
        sock.sendall(b"GET /api/v2/heartbeat HTTP/1.1\r\nHost: x\r\n")
        closed = False
        # Trickle a header byte every 200 ms; the server closes the connection anyway.
        while time.time() - started < 8:
            try:
                sock.sendall(b"X")
                time.sleep(0.2)
                sock.setblocking(False)
                try:
                    data = sock.recv(4096)
                    if data == b"" or data:
                        closed = True
                        break
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
                    sock.settimeout(10)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed, "a client trickling its headers held the connection for 8 s"
        sock.close()
    finally:
        s.stop()


def test_sigterm_flushes_the_disk_cache_cleanly(tmp_path):
    """SIGTERM closes the query cache before the runtime stops (its flush used to be cut off:
    `block engine flusher ... sending on a disconnected channel`), and the process exits 0."""
    s = SiltServer(str(tmp_path)).start()
    try:
        http = httpx.Client(base_url=s.url + "/api/v2", timeout=30)
        cid = http.post(COLLECTIONS, json={"name": "flush"}).json()["id"]
        http.post(f"{COLLECTIONS}/{cid}/add", json={"ids": ["a"], "embeddings": [[1.0, 2.0]]})
        wait_until(lambda: http.get(f"{COLLECTIONS}/flush").json()["version"] >= 1, 30, "indexed")
        r = http.post(f"{COLLECTIONS}/{cid}/query", json={"query_embeddings": [[1.0, 2.0]], "n_results": 1})
        assert r.status_code == 200, r.text
        # The processes that hold a query cache: the server itself, or a cluster's query nodes.
        holders = [(n.proc, n.log_path) for n in s.role("query")] if hasattr(s, "role") else \
            [(s.proc, os.path.join(str(tmp_path), "server.log"))]
        for proc, _ in holders:
            proc.terminate()
        for proc, log_path in holders:
            assert proc.wait(timeout=20) == 0
            log = open(log_path, "rb").read().decode(errors="replace")
            assert "disconnected channel" not in log, log[-2000:]
    finally:
        s.stop()


def test_a_stalled_body_gets_a_chroma_408(tmp_path):
    s = EmbeddedServer(str(tmp_path), extra=["--body-timeout-ms", "500"]).start()
    try:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.settimeout(10)
        path = "/api/v2" + COLLECTIONS
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 100\r\n\r\n{{\"name\": ".encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        sock.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer
        assert json.loads(body)["error"] == "ChromaError", body
    finally:
        s.stop()
