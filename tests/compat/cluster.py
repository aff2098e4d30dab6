"""Starts Silt as a real cluster: separate `silt gateway | log | query | compactor` processes
on 127.0.0.1, sharing a fresh Postgres database and a fresh prefix of an S3-compatible bucket.
Needs SILT_TEST_POSTGRES_URL and SILT_TEST_S3_ENDPOINT (scripts/test.sh starts both)."""

import json
import os
import signal
import subprocess
import time
import uuid

import chromadb
import httpx

from common import free_port, silt_binary

# Fast membership so failover tests finish quickly; production defaults are 1 s / 5 s.
HEARTBEAT_MS = 200
MEMBERSHIP_TIMEOUT_MS = 1000
DEFAULT_SHAPE = {"log": 2, "query": 3, "compactor": 1}


def s3_env():
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true")
    return env


def fresh_database():
    base = os.environ.get("SILT_TEST_POSTGRES_URL")
    if not base:
        raise RuntimeError("SILT_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh")
    name = "silt_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", "-q", base, "-c", f"create database {name}"], check=True, capture_output=True)
    return base.rsplit("/", 1)[0] + "/" + name


class Node:
    def __init__(self, role, port, log_path, extra, name=None):
        self.role, self.port, self.log_path, self.extra = role, port, log_path, list(extra)
        self.name = name or role
        self.s3_endpoint = None  # set by SiltCluster
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


class SiltCluster:
    """Same interface as the embedded SiltServer: start, stop, kill9, url, port, client.

    `gateways` gateway processes are started (`gateway`, `url` and `port` are the first one's).
    `s3_endpoint(node_name)` may give each process its own S3 endpoint (the nemesis test puts a
    fault-injecting proxy there); by default every process talks to SILT_TEST_S3_ENDPOINT."""

    def __init__(self, path, allow_reset=True, extra=(), shape=None, role_extra=None, gateways=1,
                 s3_endpoint=None, rpc_timeout_ms=5000):
        endpoint = os.environ.get("SILT_TEST_S3_ENDPOINT")
        if not endpoint:
            raise RuntimeError("SILT_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh")
        self.path = path
        self.catalog = fresh_database()
        self.bucket = os.environ.get("SILT_TEST_S3_BUCKET", "silt-test")
        self.prefix = "cluster-" + uuid.uuid4().hex[:12]
        self.store = f"s3://{self.bucket}/{self.prefix}"
        self.endpoint = endpoint
        extra = list(extra)
        if "--auth" in extra:
            extra.remove("--auth")  # a cluster's gateway requires keys by default
        else:
            extra.append("--insecure-no-auth")
        if allow_reset:
            extra.append("--allow-reset")
        self.s3_endpoint_for = s3_endpoint or (lambda name: endpoint)
        self.common = ["--catalog", self.catalog, "--store", self.store,
                       "--s3-region", "us-east-1", "--heartbeat-ms", str(HEARTBEAT_MS),
                       "--membership-timeout-ms", str(MEMBERSHIP_TIMEOUT_MS),
                       "--rpc-timeout-ms", str(rpc_timeout_ms)] + extra
        if "--compaction-interval-ms" not in extra:
            self.common += ["--compaction-interval-ms", "100"]
        if "--compaction-max-age-ms" not in extra:
            # Tests wait for versions: small tails are indexed after 1 s, not the production bound.
            self.common += ["--compaction-max-age-ms", "1000"]
        role_extra = role_extra or {}
        self.nodes = []
        for role, n in (shape or DEFAULT_SHAPE).items():
            for i in range(n):
                self.nodes.append(self._node(role, i, os.path.join(path, f"{role}-{i}.log"),
                                             role_extra.get(role, [])))
        # The (first) gateway logs to server.log, where the embedded server's tests look for it.
        self.gateways = [self._node("gateway", i, os.path.join(path, "server.log" if i == 0 else f"gateway-{i}.log"),
                                    role_extra.get("gateway", []))
                         for i in range(gateways)]
        self.gateway = self.gateways[0]
        self.port = self.gateway.port

    def _node(self, role, i, log_path, extra):
        node = Node(role, self.fresh_port(), log_path, extra, name=f"{role}-{i}")
        node.s3_endpoint = self.s3_endpoint_for(node.name)
        return node

    def fresh_port(self):
        """A free port no node of this cluster was given: free_port() closes its probe socket, so
        two calls in a row can return the same port."""
        given = self.__dict__.setdefault("_ports_given", set())
        while True:
            port = free_port()
            if port not in given:
                given.add(port)
                return port

    @property
    def url(self):
        return self.gateway.url

    def admin_args(self):
        return ["--catalog", self.catalog]

    def role(self, role):
        return [n for n in self.nodes if n.role == role]

    def start_node(self, node, extra=None):
        args = ([silt_binary(), node.role, "--port", str(node.port), "--s3-endpoint", node.s3_endpoint]
                + self.common + node.extra + list(extra or []))
        if node.role == "query":
            # Each query node's disk cache in the test's directory, small; kept across restarts.
            args += ["--cache-dir", os.path.join(self.path, f"cache-{node.port}"), "--cache-disk-mb", "64"]
        log = open(node.log_path, "ab")
        node.proc = subprocess.Popen(args, stdout=log, stderr=log, env=s3_env())
        self.wait_healthy(node)
        return node

    def wait_healthy(self, node, timeout=30):
        path = "/healthz"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if node.proc.poll() is not None:
                raise RuntimeError(f"silt {node.role} exited with {node.proc.returncode}; see {node.log_path}")
            try:
                if httpx.get(node.url + path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"silt {node.role} did not start within {timeout} s")

    def add_node(self, role, extra=()):
        i = len(self.role(role))
        node = self._node(role, i, os.path.join(self.path, f"{role}-{i}.log"), extra)
        self.nodes.append(node)
        return self.start_node(node)

    def all_nodes(self):
        return self.nodes + self.gateways

    def start(self):
        try:
            for node in self.nodes:
                self.start_node(node)
            for gateway in self.gateways:
                self.start_node(gateway)
            self.wait_members(len(self.all_nodes()))
        except BaseException:
            self.stop()  # a fixture that fails here never reaches its own stop()
            raise
        return self

    def members(self):
        out = subprocess.run([silt_binary(), "admin", "--catalog", self.catalog, "nodes"],
                             check=True, capture_output=True, text=True)
        return [n for n in json.loads(out.stdout) if n["heartbeat_age_ms"] < MEMBERSHIP_TIMEOUT_MS]

    def wait_members(self, n, timeout=30):
        deadline = time.time() + timeout
        while len(self.members()) < n:
            if time.time() > deadline:
                raise RuntimeError(f"only {len(self.members())} of {n} nodes registered")
            time.sleep(0.1)

    @staticmethod
    def kill_node(node):
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait()

    @staticmethod
    def pause_node(node):
        """SIGSTOP: the process keeps its sockets but answers nothing, heartbeats nothing."""
        node.proc.send_signal(signal.SIGSTOP)

    @staticmethod
    def resume_node(node):
        node.proc.send_signal(signal.SIGCONT)

    def kill9(self):
        """Kills every process at once, like a power cut; `start` brings the cluster back."""
        for node in self.all_nodes():
            if node.proc and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGKILL)
        for node in self.all_nodes():
            if node.proc:
                node.proc.wait()

    def stop(self):
        for node in self.gateways + self.nodes:
            if node.proc and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGCONT)  # SIGTERM waits for a stopped process
                node.proc.terminate()
        for node in self.gateways + self.nodes:
            if node.proc:
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()

    def client(self, **kw):
        return chromadb.HttpClient(host="127.0.0.1", port=self.port, **kw)
