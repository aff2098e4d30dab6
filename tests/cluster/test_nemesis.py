"""A Jepsen-style nemesis test of a real cluster: 2 gateways, 2 log, 3 query and 2 compactor
processes on the throwaway Postgres and the S3 test server, every process reaching S3 through a
fault-injecting proxy (s3_faults.py).

For SILT_NEMESIS_SECONDS (default 30) 8 client threads add, upsert, delete, get and query over
HTTP, through either gateway, while a nemesis injects one fault at a time, at random: kill -9 of
any process (restarted after), SIGSTOP/SIGCONT longer than the membership timeout, S3 errors
(500/503, before or after the write reached the store), slow S3 answers, S3 connection resets,
and a Postgres restart (when scripts/test.sh says how: SILT_TEST_PG_CTL, SILT_TEST_PG_DATA).

A checker then verifies, per key, from the history of invocations and completions:
- every acknowledged write is present exactly once, with its value or a later one (an
  indeterminate write, one that failed or timed out, may or may not have applied: its value is
  allowed, never twice; a write refused before it was sent is never visible);
- no acknowledged delete is undone;
- every read saw every write acknowledged before it began (the last one, or one concurrent
  with the read or indeterminate);
- reads never go back: once a read saw a write, later reads and the final state do not show
  a write acknowledged before it (a write seen and then lost);
- no answer is a 5xx but a 503, and 503s and connection errors happen only while a fault is on
  (or within the settling time after it);
- no request runs past its deadline (the client timeout).
It prints operations by kind, faults by kind, the writes and reads checked and the violations,
which must be none. Run with -s to see the figures."""

import os
import random
import shlex
import subprocess
import threading
import time
import zlib
from collections import Counter, defaultdict

import httpx
import pytest

from cluster import MEMBERSHIP_TIMEOUT_MS, SiltCluster
from s3_faults import FaultProxy

SECONDS = float(os.environ.get("SILT_NEMESIS_SECONDS", "30"))
SEED = int(os.environ.get("SILT_NEMESIS_SEED", str(int(time.time()))))
# Garbage-collection grace period of the cluster under test. Longer than any pause by default,
# as in production; lower it (below 4 s) to also pause readers and writers past it.
GC_GRACE_MS = int(os.environ.get("SILT_NEMESIS_GC_GRACE_MS", "8000"))
CLIENTS = 8
COLLECTIONS_N = 3
KEYS_PER_CLIENT = 8  # per collection, to start with; adds create more
DIM = 8
# Every request must end within this. The gateway's internal calls give up after 3 x the RPC
# timeout (5 s in the cluster harness), well before.
CLIENT_TIMEOUT_S = 25
# After a fault is healed, the cluster gets this long before errors count as violations: the
# membership timeout, a restart, and the routing's suspicion of a failed node (5 s).
SETTLE_S = MEMBERSHIP_TIMEOUT_MS / 1000 + 6
COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"
ABSENT = None


def vector(key, value):
    rng = random.Random(zlib.crc32(f"{key}/{value}".encode()))
    return [rng.uniform(-1, 1) for _ in range(DIM)]


# --- history -------------------------------------------------------------------------------

class Op:
    """One client request: what it asked, when it started and ended, how it ended."""

    __slots__ = ("kind", "cid", "keys", "value", "start", "end", "status", "outcome", "seen", "gateway")

    def __init__(self, kind, cid, keys, value, gateway):
        self.kind, self.cid, self.keys, self.value, self.gateway = kind, cid, keys, value, gateway
        self.start = self.end = None
        self.status = None  # HTTP status or the exception's name
        self.outcome = None  # ok | indeterminate | failed
        self.seen = None  # reads: key -> value or ABSENT

    @property
    def write(self):
        return self.kind in ("add", "upsert", "delete")

    def written(self):
        """The value this write leaves at its keys."""
        return ABSENT if self.kind == "delete" else self.value


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.keys = defaultdict(list)  # cid -> every key any client wrote

    def record(self, op):
        with self.lock:
            self.ops.append(op)

    def add_keys(self, cid, keys):
        with self.lock:
            self.keys[cid].extend(keys)

    def some_keys(self, rng, cid, n):
        with self.lock:
            pool = self.keys[cid]
            return rng.sample(pool, min(n, len(pool))) if pool else []


# --- clients -------------------------------------------------------------------------------

def run_op(http, op, body, path):
    op.start = time.time()
    try:
        # The gateway's URL is read per request: a restarted gateway may have moved.
        r = http.post(f"{op.gateway.url}{COLLECTIONS}/{op.cid}/{path}", json=body)
        op.status = r.status_code
        if 200 <= r.status_code < 300:
            op.outcome = "ok"
            return r.json()
        # 4xx: refused before anything was written. 5xx: unknown whether the log took it.
        op.outcome = "failed" if r.status_code < 500 else "indeterminate"
    except httpx.ConnectError as e:
        # No connection was made: the request cannot have arrived.
        op.status, op.outcome = type(e).__name__, "failed"
    except httpx.HTTPError as e:
        op.status, op.outcome = type(e).__name__, "indeterminate"
    finally:
        op.end = time.time()
    return None


def client(n, cluster, cids, history, stop, seed):
    rng = random.Random(seed * 1000 + n)
    owned = {cid: [f"c{n}-k{i}" for i in range(KEYS_PER_CLIENT)] for cid in cids}
    for cid in cids:
        history.add_keys(cid, owned[cid])
    https = [httpx.Client(timeout=CLIENT_TIMEOUT_S) for _ in cluster.gateways]
    seq = 0
    try:
        while not stop.is_set():
            seq += 1
            cid = rng.choice(cids)
            i = rng.randrange(len(https))
            http, g = https[i], cluster.gateways[i]
            roll = rng.random()
            if roll < 0.30:
                keys = rng.sample(owned[cid], rng.randint(1, 3))
                op = Op("upsert", cid, keys, f"c{n}-{seq}", g)
                run_op(http, op, {"ids": keys, "embeddings": [vector(k, op.value) for k in keys],
                                  "metadatas": [{"v": op.value, "key": k} for k in keys],
                                  "documents": [f"value {op.value}" for _ in keys]}, "upsert")
            elif roll < 0.42:
                keys = [f"c{n}-a{seq}-{i}" for i in range(rng.randint(1, 2))]
                owned[cid].extend(keys)
                history.add_keys(cid, keys)
                op = Op("add", cid, keys, f"c{n}-{seq}", g)
                run_op(http, op, {"ids": keys, "embeddings": [vector(k, op.value) for k in keys],
                                  "metadatas": [{"v": op.value, "key": k} for k in keys]}, "add")
            elif roll < 0.55:
                keys = rng.sample(owned[cid], rng.randint(1, 2))
                op = Op("delete", cid, keys, None, g)
                run_op(http, op, {"ids": keys}, "delete")
            elif roll < 0.78:
                keys = history.some_keys(rng, cid, rng.randint(1, 4))
                op = Op("get", cid, keys, None, g)
                got = run_op(http, op, {"ids": keys, "include": ["metadatas"]}, "get")
                if got is not None:
                    op.seen = {k: ABSENT for k in keys}
                    for i, m in zip(got["ids"], got["metadatas"]):
                        op.seen[i] = (m or {}).get("v", "<no value>")
                    if len(got["ids"]) != len(set(got["ids"])):
                        op.seen["<duplicate>"] = got["ids"]
            else:
                keys = history.some_keys(rng, cid, 1)
                op = Op("query", cid, keys, None, g)
                got = run_op(http, op, {"query_embeddings": [vector(keys[0], "q")], "n_results": 3,
                                        "where": {"key": keys[0]}, "include": ["metadatas"]}, "query")
                if got is not None:
                    ids, metas = got["ids"][0], got["metadatas"][0]
                    op.seen = {keys[0]: ABSENT}
                    for i, m in zip(ids, metas):
                        op.seen[i] = (m or {}).get("v", "<no value>")
                    if len(ids) > 1:
                        op.seen["<duplicate>"] = ids
            history.record(op)
    finally:
        for h in https:
            h.close()


# --- nemesis -------------------------------------------------------------------------------

def postgres_restart_command():
    pg_ctl, data = os.environ.get("SILT_TEST_PG_CTL"), os.environ.get("SILT_TEST_PG_DATA")
    if not pg_ctl or not data:
        return None
    log = os.environ.get("SILT_TEST_PG_LOG", os.path.join(os.path.dirname(data), "log"))
    # -l: the restarted server must not log into this test's pipes.
    cmd = [pg_ctl, "-D", data, "-l", log, "-m", "immediate", "-w", "-t", "60", "restart"]
    user = os.environ.get("SILT_TEST_PG_USER")
    if user and os.geteuid() == 0:
        return ["su", user, "-c", shlex.join(cmd)]
    return cmd


class Nemesis:
    def __init__(self, cluster, proxy, seed):
        self.cluster, self.proxy = cluster, proxy
        self.rng = random.Random(seed)
        self.windows = []  # (kind, start, end)
        self.counts = Counter()
        self.errors = []
        self.pg_restart = postgres_restart_command()
        self.kinds = ["kill", "pause", "s3_error", "s3_slow", "s3_reset"]
        if self.pg_restart:
            self.kinds.append("postgres_restart")
        else:
            print("\nnemesis: SILT_TEST_PG_CTL / SILT_TEST_PG_DATA not set, so no Postgres restarts "
                  "(scripts/test.sh sets them)")

    def run(self, stop):
        # Kinds come in shuffled rounds, so a short run still injects each of them.
        queue = []
        while not stop.wait(self.rng.uniform(1.0, 2.5)):
            if not queue:
                queue = self.rng.sample(self.kinds, len(self.kinds))
            kind = queue.pop()
            start = time.time()
            try:
                detail = getattr(self, kind)(stop)
            except Exception as e:  # a fault that could not be injected or healed is a failure
                self.errors.append(f"{kind}: {e!r}")
                detail = "failed"
            self.windows.append((kind, start, time.time()))
            self.counts[kind] += 1
            print(f"  nemesis {time.time() - self.t0:6.1f}s {kind}: {detail}", flush=True)

    def _victim(self, roles=None):
        return self.rng.choice([n for n in self.cluster.all_nodes() if roles is None or n.role in roles])

    def kill(self, stop):
        node = self._victim()
        self.cluster.kill_node(node)
        time.sleep(self.rng.uniform(0.3, 2.0))
        self._restart(node)
        return node.name

    def _restart(self, node):
        """Starts `node` again on its port, or on a new one if another process took it meanwhile
        (this machine is shared: the port was free when the cluster was set up, not now)."""
        for attempt in range(3):
            try:
                self.cluster.start_node(node)
                time.sleep(0.2)  # a bind failure may come after a foreign /healthz answered
                if node.proc.poll() is None:
                    return
            except RuntimeError:
                if node.proc.poll() is None or attempt == 2:
                    raise
            print(f"  nemesis: {node.name} could not listen on {node.port}; moving it to a new port", flush=True)
            node.port = self.cluster.fresh_port()
        raise RuntimeError(f"{node.name} did not restart; see {node.log_path}")

    def pause(self, stop):
        node = self._victim()
        self.cluster.pause_node(node)
        # Longer than the membership timeout, so the others route around it.
        secs = self.rng.uniform(MEMBERSHIP_TIMEOUT_MS / 1000 + 0.5, MEMBERSHIP_TIMEOUT_MS / 1000 + 3.0)
        time.sleep(secs)
        self.cluster.resume_node(node)
        return f"{node.name} for {secs:.1f}s"

    def _s3(self, kinds, p, **kw):
        secs = self.rng.uniform(1.5, 4.0)
        # Half the time every process's S3 traffic, otherwise one process's (of a role that
        # uses S3: gateways do not).
        target = None if self.rng.random() < 0.5 else self._victim(("log", "query", "compactor"))
        ports = None if target is None else [self.proxy.port(target.name)]
        self.proxy.state.set(kinds, p, ports=ports, **kw)
        time.sleep(secs)
        self.proxy.state.clear()
        return f"p={p} for {secs:.1f}s on {'every process' if target is None else target.name}"

    def s3_error(self, stop):
        return self._s3(("error_before", "error_after"), 0.3)

    def s3_slow(self, stop):
        return self._s3(("slow",), 0.5, slow_range=(0.2, 2.0))

    def s3_reset(self, stop):
        return self._s3(("reset_before", "reset_after"), 0.25)

    def postgres_restart(self, stop):
        t = time.time()
        out = subprocess.run(self.pg_restart, capture_output=True, text=True, timeout=90)
        if out.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {out.stdout} {out.stderr}")
        return f"took {time.time() - t:.1f}s"


# --- checker -------------------------------------------------------------------------------

def check(history, windows, final, final_compacted):
    """Returns (violations, figures)."""
    violations = []
    by_key = defaultdict(list)  # (cid, key) -> writes in invocation order
    for op in history.ops:
        if op.write:
            for k in op.keys:
                by_key[(op.cid, k)].append(op)

    def during_fault(op):
        return any(op.start <= end + SETTLE_S and op.end >= start for _, start, end in windows)

    # Statuses and deadlines.
    for op in history.ops:
        if op.end - op.start > CLIENT_TIMEOUT_S - 0.5 or op.status in ("ReadTimeout", "WriteTimeout", "PoolTimeout",
                                                                       "ConnectTimeout"):
            violations.append(f"past the deadline: {op.kind} took {op.end - op.start:.1f}s ({op.status})")
        if isinstance(op.status, int):
            if op.status >= 500 and op.status != 503:
                violations.append(f"{op.status} on {op.kind} {op.cid}")
            elif 400 <= op.status < 500:
                violations.append(f"unexpected {op.status} on {op.kind}")
        if op.outcome != "ok" and not during_fault(op):
            violations.append(f"{op.kind} failed with {op.status} outside any fault "
                              f"(at {op.start - history.t0:.1f}s)")

    def allowed_at(cid, key, start, end):
        """Values a read of `key` over [start, end] may return."""
        writes = by_key.get((cid, key), [])
        acked_before = [w for w in writes if w.outcome == "ok" and w.end < start]
        allowed = {acked_before[-1].written() if acked_before else ABSENT}
        for w in writes:
            if w.start < end and w.outcome != "failed" and not (w.outcome == "ok" and w.end < start):
                allowed.add(w.written())  # concurrent with the read, or indeterminate
        return allowed

    reads_checked = 0
    for op in history.ops:
        if op.write or op.outcome != "ok":
            continue
        if "<duplicate>" in op.seen:
            violations.append(f"{op.kind} returned a record twice or a record not asked for: {op.seen['<duplicate>']}")
        for key, value in op.seen.items():
            if key == "<duplicate>":
                continue
            if key not in op.keys:
                violations.append(f"{op.kind} returned {key}, which it did not ask for")
                continue
            reads_checked += 1
            allowed = allowed_at(op.cid, key, op.start, op.end)
            if value not in allowed:
                violations.append(f"stale or phantom read of {key} at {op.start - history.t0:.2f}s: got {value!r}, "
                                  f"allowed {sorted(map(str, allowed))}")

    # Reads never go back. Writes to a key come from one client, one at a time, so invocation
    # order is their order, and a write acknowledged before the next was invoked took effect
    # first. Once a read has seen a write, a read that starts after it ended (and the final
    # state) may show that write, a later one, or an indeterminate earlier one applied late,
    # never an earlier acknowledged one: that would be a write that was seen and then vanished.
    reads_by_key = defaultdict(list)
    for op in history.ops:
        if not op.write and op.outcome == "ok":
            for key, value in op.seen.items():
                if key in op.keys:
                    reads_by_key[(op.cid, key)].append((op.start, op.end, value))

    def explanations(writes, value):
        """Indices of the writes that may have left `value` (-1: nothing written yet)."""
        if value is ABSENT:
            return [-1] + [j for j, w in enumerate(writes) if w.kind == "delete" and w.outcome != "failed"]
        return [j for j, w in enumerate(writes) if w.written() == value and w.outcome != "failed"]

    def floor_before(cid, key, t):
        """The latest write that reads ended before `t` certainly saw (the earliest index that
        explains each, so the floor is never too high)."""
        floor = -1
        for _, end, value in reads_by_key.get((cid, key), []):
            ex = explanations(by_key.get((cid, key), []), value)
            if end < t and ex:
                floor = max(floor, min(ex))
        return floor

    def goes_back(cid, key, value, floor):
        writes = by_key.get((cid, key), [])
        ex = explanations(writes, value)
        if not ex:
            return False  # reported above as a phantom
        return not any(j >= floor or (j >= 0 and writes[j].outcome == "indeterminate") for j in ex)

    for (cid, key), reads in reads_by_key.items():
        for start, _, value in reads:
            floor = floor_before(cid, key, start)
            if goes_back(cid, key, value, floor):
                violations.append(f"read went back: {key} at {start - history.t0:.2f}s is {value!r}, after a "
                                  f"read had seen {by_key[(cid, key)][floor].written()!r}")

    # Final state, read after every fault was healed: before and after compaction caught up.
    acked_checked = 0
    for label, state in (("final", final), ("final after compaction", final_compacted)):
        for cid, (ids, values) in state.items():
            if len(ids) != len(set(ids)):
                dup = [i for i, c in Counter(ids).items() if c > 1]
                violations.append(f"{label}: {len(dup)} records present twice in {cid}: {dup[:5]}")
            present = dict(zip(ids, values))
            keys = {k for (c, k) in by_key if c == cid} | set(present)
            for key in keys:
                writes = by_key.get((cid, key), [])
                if not writes:
                    violations.append(f"{label}: {key} present but never written")
                    continue
                acked = [w for w in writes if w.outcome == "ok"]
                allowed = {acked[-1].written() if acked else ABSENT}
                allowed |= {w.written() for w in writes if w.outcome == "indeterminate"}
                got = present.get(key, ABSENT)
                if acked and label == "final":
                    acked_checked += 1
                floor = floor_before(cid, key, float("inf"))
                if got in allowed and goes_back(cid, key, got, floor):
                    violations.append(f"{label}: {key} is {got!r}, but a read had seen {writes[floor].written()!r}")
                if got not in allowed:
                    last = acked[-1] if acked else None
                    what = ("an acknowledged delete was undone" if last and last.kind == "delete" and got is not ABSENT
                            else "an acknowledged write was lost" if last and got is ABSENT
                            else "wrong value")
                    violations.append(f"{label}: {what}: {key} is {got!r}, allowed {sorted(map(str, allowed))}")
    return violations, {"reads_checked": reads_checked, "acked_keys_checked": acked_checked}


def read_all(http, cids):
    out = {}
    for cid in cids:
        r = http.post(f"{COLLECTIONS}/{cid}/get", json={"include": ["metadatas"]})
        assert r.status_code == 200, r.text
        body = r.json()
        out[cid] = (body["ids"], [(m or {}).get("v", "<no value>") for m in body["metadatas"]])
        count = http.get(f"{COLLECTIONS}/{cid}/count")
        assert count.status_code == 200 and count.json() == len(body["ids"]), (count.text, len(body["ids"]))
    return out


def catalog_rows(cluster, sql):
    out = subprocess.run(["psql", "-tA", cluster.catalog, "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


def wait_compacted(cluster, cids, timeout=60):
    deadline = time.time() + timeout
    ids = ",".join(f"'{c}'" for c in cids)
    while True:
        rows = catalog_rows(cluster, f"select compacted_offset, log_position from collections where id in ({ids})")
        if all(a == b for a, b in rows):
            return
        assert time.time() < deadline, f"compaction did not catch up: {rows}"
        time.sleep(0.2)


@pytest.fixture
def proxy():
    endpoint = os.environ.get("SILT_TEST_S3_ENDPOINT")
    if not endpoint:
        raise RuntimeError("SILT_TEST_S3_ENDPOINT is not set: run the tests with scripts/test.sh")
    p = FaultProxy(endpoint, seed=SEED)
    yield p
    p.close()


def test_nemesis(tmp_path, proxy):
    print(f"\nnemesis: seed {SEED}, {SECONDS:.0f} s, GC grace {GC_GRACE_MS} ms "
          "(SILT_NEMESIS_SEED / SILT_NEMESIS_SECONDS / SILT_NEMESIS_GC_GRACE_MS)")
    cluster = SiltCluster(str(tmp_path), shape={"log": 2, "query": 3, "compactor": 2}, gateways=2,
                          s3_endpoint=proxy.endpoint,
                          # Short grace periods, so garbage collection runs during the test;
                          # still longer than any pause, as in production.
                          extra=["--gc-grace-ms", str(GC_GRACE_MS), "--compaction-max-age-ms", "1000"])
    cluster.start()
    try:
        http = httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S)
        cids = []
        for k in range(COLLECTIONS_N):
            r = http.post(COLLECTIONS, json={"name": f"nemesis-{k}", "metadata": {"hnsw:space": "l2"}})
            assert r.status_code == 200, r.text
            cids.append(r.json()["id"])

        history, stop, nemesis_stop = History(), threading.Event(), threading.Event()
        nemesis = Nemesis(cluster, proxy, SEED)
        history.t0 = nemesis.t0 = time.time()
        threads = [threading.Thread(target=client, args=(n, cluster, cids, history, stop, SEED)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        nem = threading.Thread(target=nemesis.run, args=(nemesis_stop,))
        nem.start()
        time.sleep(SECONDS)
        nemesis_stop.set()
        nem.join(timeout=120)
        assert not nem.is_alive(), "the nemesis did not heal its last fault"
        # The clients run on through a quiet period: the cluster must serve them all.
        time.sleep(SETTLE_S + 2)
        stop.set()
        for t in threads:
            t.join(timeout=CLIENT_TIMEOUT_S + 5)
            assert not t.is_alive(), "a client hung past its timeout"

        # Every process is running and a member again.
        for node in cluster.all_nodes():
            assert node.proc.poll() is None, f"{node.name} exited: see {node.log_path}"
        cluster.wait_members(len(cluster.all_nodes()))
        http = httpx.Client(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S)  # the gateway may have moved
        final = read_all(http, cids)
        wait_compacted(cluster, cids)
        final_compacted = read_all(http, cids)

        violations, figures = check(history, nemesis.windows, final, final_compacted)
        violations += [f"nemesis could not inject: {e}" for e in nemesis.errors]
        ops = Counter((op.kind, op.outcome) for op in history.ops)
        kinds = sorted({k for k, _ in ops})
        print(f"\nnemesis figures ({SECONDS:.0f} s, seed {SEED}):")
        print("  operations: " + ", ".join(
            f"{k} {sum(v for (kk, _), v in ops.items() if kk == k)} "
            f"(ok {ops[(k, 'ok')]}, indeterminate {ops[(k, 'indeterminate')]}, failed {ops[(k, 'failed')]})"
            for k in kinds))
        print(f"  statuses of failures: {dict(Counter(str(op.status) for op in history.ops if op.outcome != 'ok'))}")
        print(f"  faults injected: {dict(nemesis.counts)}; S3 requests {proxy.state.requests}, "
              f"faulted S3 requests by kind {dict(proxy.state.counts)}")
        print(f"  acknowledged writes: {sum(1 for op in history.ops if op.write and op.outcome == 'ok')} "
              f"(keys whose last acknowledged write was checked in the final state: {figures['acked_keys_checked']}); "
              f"reads checked (key by key): {figures['reads_checked']}")
        print(f"  violations: {len(violations)}")
        for v in violations[:30]:
            print(f"    {v}")
        assert sum(ops.values()) > 100, "the clients hardly ran"
        assert len(nemesis.windows) >= 2, "the nemesis hardly ran"
        assert not violations, f"{len(violations)} violations; first: {violations[:5]}"
    finally:
        cluster.stop()


def test_checker_finds_what_it_must():
    """The checker itself, on hand-made histories: it must flag each anomaly and nothing else."""

    def op(kind, key, value, start, end, outcome="ok", status=200, seen=None, cid="c"):
        o = Op(kind, cid, [key], value, None)
        o.start, o.end, o.outcome, o.status, o.seen = start, end, outcome, status, seen
        return o

    def run(ops, final, windows=()):
        h = History()
        h.t0 = 0
        h.ops = ops
        state = {"c": ([k for k, _ in final], [v for _, v in final])}
        return check(h, list(windows), state, state)[0]

    base = [op("upsert", "a", "a1", 0, 1), op("upsert", "a", "a2", 2, 3),
            op("upsert", "b", "b1", 0, 1), op("delete", "b", None, 2, 3)]
    assert run(base, [("a", "a2")]) == []
    # A read after an acknowledged write must see it; one overlapping it may see either.
    assert run(base + [op("get", "a", None, 2.5, 3.5, seen={"a": "a1"})], [("a", "a2")]) == []
    assert "stale" in run(base + [op("get", "a", None, 4, 5, seen={"a": "a1"})], [("a", "a2")])[0]
    assert "stale" in run(base + [op("query", "b", None, 4, 5, seen={"b": "b1"})], [("a", "a2")])[0]
    # Final state: a lost write, an undone delete, a record twice, a record never written.
    assert "lost" in " ".join(run(base, []))
    assert "undone" in " ".join(run(base, [("a", "a2"), ("b", "b1")]))
    assert "twice" in " ".join(run(base, [("a", "a2"), ("a", "a2")]))
    assert "never written" in " ".join(run(base, [("a", "a2"), ("z", "z1")]))
    # An indeterminate write may or may not have applied; a refused one never.
    maybe = base + [op("upsert", "a", "a3", 4, 5, outcome="indeterminate", status=503)]
    windows = [("kill", 3.5, 5)]
    assert run(maybe, [("a", "a2")], windows) == []
    assert run(maybe, [("a", "a3")], windows) == []
    assert "lost" in " ".join(run(maybe, [], windows))
    refused = base + [op("add", "c", "c1", 4, 5, outcome="failed", status="ConnectError")]
    assert run(refused, [("a", "a2")], windows) == []
    assert "never" not in " ".join(run(refused, [("a", "a2"), ("c", "c1")], windows))
    assert "wrong value" in " ".join(run(refused, [("a", "a2"), ("c", "c1")], windows))
    # A read that saw an indeterminate write: later reads and the final state may not go back
    # to the acknowledged write before it; an earlier indeterminate write may still land late.
    seen3 = maybe + [op("get", "a", None, 5.5, 6, seen={"a": "a3"})]
    assert run(seen3 + [op("get", "a", None, 7, 8, seen={"a": "a3"})], [("a", "a3")], windows) == []
    assert "went back" in run(seen3 + [op("get", "a", None, 7, 8, seen={"a": "a2"})], [("a", "a3")], windows)[0]
    assert "but a read had seen" in run(seen3, [("a", "a2")], windows)[0]
    late = [op("upsert", "a", "a1", 0, 1, outcome="indeterminate", status=503), op("upsert", "a", "a2", 2, 3),
            op("get", "a", None, 4, 5, seen={"a": "a2"}), op("get", "a", None, 6, 7, seen={"a": "a1"})]
    assert run(late, [("a", "a1")], [("kill", 0, 1)]) == []
    # Statuses: a 500 is never allowed; a 503 only during a fault; nothing past the deadline.
    assert "500" in run(base + [op("get", "a", None, 4, 5, outcome="indeterminate", status=500)],
                        [("a", "a2")], windows)[0]
    assert "outside any fault" in run(maybe, [("a", "a2")])[0]
    assert "deadline" in run(base + [op("get", "a", None, 4, 4 + CLIENT_TIMEOUT_S, seen={"a": "a2"})],
                             [("a", "a2")])[0]
