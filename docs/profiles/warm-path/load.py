"""Creates a collection on a Chroma-API server from a silt bench dataset dir, waits until indexed,
and writes query bodies (one JSON per line) for wrk. Usage: load.py URL DATADIR NAME NQUERIES"""
import json, os, sys, time, numpy as np, httpx
url, data, name, nq = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
DB = "/api/v2/tenants/default_tenant/databases/default_database"
meta = json.load(open(f"{data}/meta.json"))
base = np.load(f"{data}/base.npy"); queries = np.load(f"{data}/queries.npy")
docs = [json.loads(l) for l in open(f"{data}/docs.jsonl")]
c = httpx.Client(base_url=url, timeout=300)
c.delete(f"{DB}/collections/{name}")
r = c.post(f"{DB}/collections", json={"name": name, "metadata": {"hnsw:space": meta["metric"]}})
r.raise_for_status(); cid = r.json()["id"]
t = time.time()
for s in range(0, len(docs), 1000):
    rows = range(s, min(s + 1000, len(docs)))
    body = {"ids": [docs[i]["id"] for i in rows],
            "embeddings": [base[i].tolist() for i in rows],
            "documents": [docs[i]["text"] for i in rows],
            "metadatas": [{k: v for k, v in docs[i].items() if k not in ("id", "text") and not isinstance(v, list)} for i in rows]}
    c.post(f"{DB}/collections/{cid}/add", json=body).raise_for_status()
print(f"ingested {len(docs)} in {time.time()-t:.1f}s", file=sys.stderr)
while True:
    n = c.get(f"{DB}/collections/{cid}/count", params={"read_level": "index_only"}).json()
    if n >= len(docs): break
    time.sleep(1)
print(f"indexed after {time.time()-t:.1f}s", file=sys.stderr)
with open(f"{os.environ.get('WORK', '/tmp/warmprof')}/{name}.bodies", "w") as f:
    for q in queries[:nq]:
        f.write(json.dumps({"query_embeddings": [q.tolist()], "n_results": 10,
                            "include": ["metadatas", "documents", "distances"]}) + "\n")
print(cid)
