"""Starts the real `silt run` binary on a free port with a temporary data directory, or, with
SILT_COMPAT_TARGET=cluster, a real cluster of separate processes on Postgres and S3: the same
tests then run unchanged against it."""

import os
import signal
import subprocess
import tempfile
import time
import uuid

import chromadb
import httpx
import pytest

from common import free_port, silt_binary

TARGET = os.environ.get("SILT_COMPAT_TARGET", "embedded")


def SiltServer(path, allow_reset=True, extra=()):
    """The server under test: embedded by default, a cluster when SILT_COMPAT_TARGET=cluster."""
    if TARGET == "cluster":
        from cluster import SiltCluster
        return SiltCluster(path, allow_reset=allow_reset, extra=extra)
    return EmbeddedServer(path, allow_reset=allow_reset, extra=extra)


class EmbeddedServer:
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
        interval = [] if "--compaction-interval-ms" in self.extra else ["--compaction-interval-ms", "100"]
        # Tests wait for versions: index small tails after 1 s rather than the production bound.
        if "--compaction-max-age-ms" not in self.extra:
            interval += ["--compaction-max-age-ms", "1000"]
        args = [silt_binary(), "run", "--path", os.path.join(self.path, "data"),
                "--port", str(self.port)] + interval + self.extra
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

    def admin_args(self):
        return ["--path", os.path.join(self.path, "data")]

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
