"""Throughput of `silt migrate` (from `chroma run`), `silt export` and `silt import`, and the
Parquet file's size next to the raw data. Not a test: run by hand with a dataset directory
holding base.npy (float32 vectors) and docs.jsonl (id, text and scalar fields per line):

    python tests/migrate/bench_transfer.py --data DIR [--records 20000]

Servers are started on free ports of 127.0.0.1 in a temporary directory."""

import argparse
import json
import os
import re
import tempfile
import time

import numpy as np

from servers import Api, silt, start_chroma, start_silt


def load(data, n):
    vectors = np.load(os.path.join(data, "base.npy"), mmap_mode="r")[:n].astype(np.float32)
    docs = []
    with open(os.path.join(data, "docs.jsonl")) as f:
        for line in f:
            docs.append(json.loads(line))
            if len(docs) == n:
                break
    ids = [d["id"] for d in docs]
    texts = [d.get("text") for d in docs]
    metas = [{k: v for k, v in d.items() if k not in ("id", "text") and isinstance(v, (str, int, float, bool))}
             for d in docs]
    return ids, vectors, texts, metas


def rate(stdout):
    return float(re.search(r"\(([0-9.]+) records/s\)", stdout).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    ids, vectors, texts, metas = load(args.data, args.records)
    with tempfile.TemporaryDirectory() as work:
        chroma = start_chroma(os.path.join(work, "chroma"))
        target = start_silt(os.path.join(work, "silt"))
        try:
            api = Api(chroma.url)
            c = api.create_collection("bench", configuration={"hnsw": {"space": "cosine"}})
            t0 = time.time()
            api.add(c["id"], {"ids": ids, "embeddings": vectors.tolist(), "documents": texts,
                              "metadatas": metas}, batch=1000)
            print(f"loaded {len(ids)} records into chroma in {time.time() - t0:.1f} s")
            done = silt("migrate", "--from", chroma.url, "--to", target.url, "--quiet")
            print(done.stdout.strip())
            out = os.path.join(work, "bench.parquet")
            exported = silt("export", "--url", target.url, "--collection", "bench", "--out", out, "--quiet")
            print(exported.stdout.strip())
            imported = silt("import", "--url", target.url, "--from", out, "--as", "bench-copy", "--quiet")
            print(imported.stdout.strip())
            raw = vectors.nbytes + sum(len(i.encode()) for i in ids) + sum(
                len((t or "").encode()) for t in texts) + sum(len(json.dumps(m).encode()) for m in metas)
            size = os.path.getsize(out)
            print(json.dumps({
                "records": len(ids), "dimension": int(vectors.shape[1]),
                "migrate_records_per_s": rate(done.stdout),
                "export_records_per_s": rate(exported.stdout),
                "import_records_per_s": rate(imported.stdout),
                "parquet_bytes": size, "raw_bytes": raw, "parquet_over_raw": round(size / raw, 3),
                "embedding_bytes": int(vectors.nbytes),
            }, indent=1))
        finally:
            target.stop()
            chroma.stop()


if __name__ == "__main__":
    main()
