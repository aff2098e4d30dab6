"""Processes the transfer tests run: `silt run`, Chroma's own server (`chroma run`, from the
venv scripts/chroma-venv.sh prepares) and moto's S3 server, each on a free port of 127.0.0.1,
plus the `silt` command under test and exact record comparison over the HTTP API."""

import json
import os
import signal
import struct
import subprocess
import sys
import time

import httpx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The compat suite's helpers: where the binary is, free ports.
sys.path.insert(0, os.path.join(REPO, "tests", "compat"))
from common import free_port, silt_binary  # noqa: E402
DB = "/api/v2/tenants/{t}/databases/{d}"


def s3_env():
    """Fixed test credentials; nothing may look for real ones or leave 127.0.0.1."""
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true")
    return env


class Process:
    def __init__(self, args, log_path, url, env=None):
        self.url = url
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)

    def wait_ready(self, path, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.proc.args[0]} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.proc.args[0]} did not start within {timeout} s; see {self.log.name}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_silt(dirpath, extra=()):
    port = free_port()
    os.makedirs(dirpath, exist_ok=True)
    args = [silt_binary(), "run", "--path", os.path.join(dirpath, "data"), "--port", str(port),
            "--compaction-interval-ms", "100", "--compaction-max-age-ms", "1000", *extra]
    return Process(args, os.path.join(dirpath, "silt.log"), f"http://127.0.0.1:{port}").wait_ready(
        "/api/v2/heartbeat", 30)


def chroma_venv():
    """The venv with Chroma's server, prepared (once) by scripts/chroma-venv.sh."""
    out = subprocess.run(["bash", os.path.join(REPO, "scripts", "chroma-venv.sh")], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def start_chroma(dirpath):
    port = free_port()
    os.makedirs(dirpath, exist_ok=True)
    chroma = os.path.join(chroma_venv(), "bin", "chroma")
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    args = [chroma, "run", "--path", os.path.join(dirpath, "data"), "--host", "127.0.0.1",
            "--port", str(port)]
    return Process(args, os.path.join(dirpath, "chroma.log"), f"http://127.0.0.1:{port}",
                   env=env).wait_ready("/api/v2/heartbeat", 90)


def start_moto(dirpath):
    """moto's S3 server with a bucket; the one scripts/test.sh started when it is set."""
    if os.environ.get("SILT_TEST_S3_ENDPOINT"):
        return None, os.environ["SILT_TEST_S3_ENDPOINT"], os.environ.get("SILT_TEST_S3_BUCKET", "silt-test")
    port = free_port()
    moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = Process([moto, "-H", "127.0.0.1", "-p", str(port)], os.path.join(dirpath, "moto.log"),
                   f"http://127.0.0.1:{port}", env=s3_env()).wait_ready("/", 30)
    httpx.put(f"{proc.url}/silt-test", timeout=10).raise_for_status()
    return proc, proc.url, "silt-test"


def silt(*args, env=None, timeout=600, check=True):
    """Runs the silt command; returns the finished process (stdout and stderr as text)."""
    done = subprocess.run([silt_binary(), *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"silt {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


class Api:
    """Raw HTTP calls to a server speaking Chroma's v2 API."""

    def __init__(self, url):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=120)

    def call(self, method, path, body=None):
        r = self.http.request(method, path, json=body)
        if r.status_code >= 300:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r

    def create_tenant(self, name):
        self.call("POST", "/api/v2/tenants", {"name": name})

    def create_database(self, tenant, name):
        self.call("POST", f"/api/v2/tenants/{tenant}/databases", {"name": name})

    def create_collection(self, name, metadata=None, configuration=None, t="default_tenant",
                          d="default_database"):
        body = {"name": name}
        if metadata is not None:
            body["metadata"] = metadata
        if configuration is not None:
            body["configuration"] = configuration
        return self.call("POST", DB.format(t=t, d=d) + "/collections", body).json()

    def collection(self, name, t="default_tenant", d="default_database"):
        return self.call("GET", DB.format(t=t, d=d) + f"/collections/{name}").json()

    def add(self, cid, records, t="default_tenant", d="default_database", batch=500):
        for i in range(0, len(records["ids"]), batch):
            body = {k: v[i:i + batch] for k, v in records.items()}
            self.call("POST", DB.format(t=t, d=d) + f"/collections/{cid}/add", body)

    def count(self, cid, t="default_tenant", d="default_database"):
        return self.call("GET", DB.format(t=t, d=d) + f"/collections/{cid}/count").json()

    def records(self, name, t="default_tenant", d="default_database"):
        """Every record of the collection, by id, in a form that compares exactly: floats by
        their bits (so 1 != 1.0 and -0.0 != 0.0), embeddings as float32 bits."""
        cid = self.collection(name, t, d)["id"]
        out, offset = {}, 0
        while True:
            r = self.call("POST", DB.format(t=t, d=d) + f"/collections/{cid}/get",
                          {"offset": offset, "limit": 1000,
                           "include": ["embeddings", "documents", "metadatas", "uris"]})
            page = exact_json(r.text)
            for i, rid in enumerate(page["ids"]):
                assert rid not in out, f"{rid} returned twice"
                out[rid] = {
                    "embedding": [f32_bits(x) for x in page["embeddings"][i]],
                    "document": page["documents"][i] if page.get("documents") else None,
                    "uri": page["uris"][i] if page.get("uris") else None,
                    "metadata": page["metadatas"][i] or None if page.get("metadatas") else None,
                }
            offset += len(page["ids"])
            if len(page["ids"]) < 1000:
                return out


def exact_json(text):
    """JSON with every number tagged by its type and, for floats, its exact bits."""
    return json.loads(text, parse_float=lambda s: ("float", float(s).hex()),
                      parse_int=lambda s: ("int", int(s)))


def f32_bits(tagged):
    kind, value = tagged
    x = float.fromhex(value) if kind == "float" else float(value)
    return struct.unpack("<I", struct.pack("<f", x))[0]
