"""Starts the real `silt run` binary on a free port with a temporary data directory."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import chromadb
import httpx
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def silt_binary():
    explicit = os.environ.get("SILT_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "debug", "silt")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SiltServer:
    """One `silt run` process; can be killed with SIGKILL and restarted on the same data."""

    def __init__(self, path, allow_reset=True, extra=()):
        self.path = path
        self.port = free_port()
        self.allow_reset = allow_reset
        self.extra = list(extra)
        self.proc = None
        self.log = open(os.path.join(path, "server.log"), "ab")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        args = [silt_binary(), "run", "--path", os.path.join(self.path, "data"),
                "--port", str(self.port), "--compaction-interval-ms", "100"] + self.extra
        if self.allow_reset:
            args.append("--allow-reset")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"silt exited with {self.proc.returncode}; see {self.path}/server.log")
            try:
                if httpx.get(self.url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("silt did not start within 30 s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def client(self, **kw):
        return chromadb.HttpClient(host="127.0.0.1", port=self.port, **kw)


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory() as d:
        s = SiltServer(d).start()
        yield s
        s.stop()


@pytest.fixture
def client(server):
    return server.client()


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url + "/api/v2", timeout=30) as c:
        yield c


@pytest.fixture
def name():
    return "c-" + uuid.uuid4().hex[:12]


def wait_for_version(http, collection_name, at_least, timeout=20):
    """Polls until the compactor has registered `at_least` versions; returns the collection."""
    deadline = time.time() + timeout
    while True:
        c = http.get(f"/tenants/default_tenant/databases/default_database/collections/{collection_name}").json()
        if c["version"] >= at_least or time.time() > deadline:
            return c
        time.sleep(0.05)
