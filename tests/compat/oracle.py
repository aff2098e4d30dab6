"""An exact, independent model of a collection: brute-force distances with numpy and a direct
reading of Chroma's filter semantics. Tests compare Silt's answers with this, not constants."""

import re

import numpy as np


class Oracle:
    def __init__(self, space="l2"):
        self.space = space
        self.records = {}  # id -> dict(embedding, document, metadata, uri); insertion-ordered

    # --- writes, with Chroma's semantics -------------------------------------------------
    def add(self, ids, embeddings, documents=None, metadatas=None, uris=None):
        for i, id_ in enumerate(ids):
            if id_ in self.records:
                continue
            self.records[id_] = self._new(embeddings[i], documents, metadatas, uris, i)

    def upsert(self, ids, embeddings, documents=None, metadatas=None, uris=None):
        for i, id_ in enumerate(ids):
            if id_ in self.records:
                self._merge(id_, embeddings, documents, metadatas, uris, i)
            else:
                self.records[id_] = self._new(embeddings[i], documents, metadatas, uris, i)

    def update(self, ids, embeddings=None, documents=None, metadatas=None, uris=None):
        for i, id_ in enumerate(ids):
            if id_ in self.records:
                self._merge(id_, embeddings, documents, metadatas, uris, i)

    def delete(self, ids):
        for id_ in ids:
            self.records.pop(id_, None)

    def _new(self, emb, documents, metadatas, uris, i):
        meta = {k: v for k, v in (metadatas[i] or {}).items() if v is not None} if metadatas else {}
        return {
            "embedding": np.asarray(emb, dtype=np.float32),
            "document": documents[i] if documents else None,
            "metadata": meta,
            "uri": uris[i] if uris else None,
        }

    def _merge(self, id_, embeddings, documents, metadatas, uris, i):
        r = self.records[id_]
        if embeddings is not None:
            r["embedding"] = np.asarray(embeddings[i], dtype=np.float32)
        if documents is not None and documents[i] is not None:
            r["document"] = documents[i]
        if uris is not None and uris[i] is not None:
            r["uri"] = uris[i]
        if metadatas is not None and metadatas[i] is not None:
            for k, v in metadatas[i].items():
                if v is None:
                    r["metadata"].pop(k, None)
                else:
                    r["metadata"][k] = v

    # --- reads ----------------------------------------------------------------------------
    def matching(self, ids=None, where=None, where_document=None):
        out = []
        for id_, r in self.records.items():
            if ids is not None and id_ not in ids:
                continue
            if where and not match_where(where, r["metadata"]):
                continue
            if where_document and not match_document(where_document, r["document"]):
                continue
            out.append(id_)
        return out

    def distances(self, q, ids):
        q = np.asarray(q, dtype=np.float64)
        m = np.stack([self.records[i]["embedding"] for i in ids]).astype(np.float64)
        if self.space == "l2":
            return ((m - q) ** 2).sum(axis=1)
        if self.space == "ip":
            return 1.0 - m @ q
        norms = np.linalg.norm(m, axis=1) * np.linalg.norm(q)
        return 1.0 - (m @ q) / norms

    def knn(self, q, k, **filters):
        ids = self.matching(**filters)
        if not ids:
            return [], np.array([])
        d = self.distances(q, ids)
        order = np.argsort(d, kind="stable")[:k]
        return [ids[i] for i in order], d[order]


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _num(a) and _num(b):
        return float(a) == float(b)
    return a == b


def match_where(w, meta):
    (key, val), = w.items()
    if key == "$and":
        return all(match_where(c, meta) for c in val)
    if key == "$or":
        return any(match_where(c, meta) for c in val)
    op, operand = next(iter(val.items())) if isinstance(val, dict) else ("$eq", val)
    present = key in meta
    v = meta.get(key)
    if op == "$eq":
        return present and not isinstance(v, list) and _eq(v, operand)
    if op == "$ne":
        return not (present and not isinstance(v, list) and _eq(v, operand))
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not present or not _num(v):
            return False
        return {"$gt": v > operand, "$gte": v >= operand, "$lt": v < operand, "$lte": v <= operand}[op]
    if op == "$in":
        return present and not isinstance(v, list) and any(_eq(v, o) for o in operand)
    if op == "$nin":
        return not (present and not isinstance(v, list) and any(_eq(v, o) for o in operand))
    if op == "$contains":
        return present and isinstance(v, list) and any(_eq(x, operand) for x in v)
    if op == "$not_contains":
        return not (present and isinstance(v, list) and any(_eq(x, operand) for x in v))
    raise ValueError(op)


def match_document(w, doc):
    (op, val), = w.items()
    if op == "$and":
        return all(match_document(c, doc) for c in val)
    if op == "$or":
        return any(match_document(c, doc) for c in val)
    if op == "$contains":
        return doc is not None and val in doc
    if op == "$not_contains":
        return not (doc is not None and val in doc)
    if op == "$regex":
        return doc is not None and re.search(val, doc) is not None
    if op == "$not_regex":
        return not (doc is not None and re.search(val, doc) is not None)
    raise ValueError(op)
