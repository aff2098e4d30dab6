// Chroma's JavaScript client against a real `silt run` started on a free port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ChromaClient, K, Knn, Rrf, Search } from "chromadb";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = process.env.SILT_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repo, "target"), "debug", "silt");

function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

let server;
let client;

before(async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "silt-js-"));
  server = spawn(bin, ["run", "--path", dir, "--port", String(port)], { stdio: "ignore" });
  client = new ChromaClient({ host: "127.0.0.1", port, ssl: false });
  for (let i = 0; i < 300; i++) {
    try {
      await client.heartbeat();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("silt did not start");
});

after(() => server?.kill("SIGKILL"));

const l2 = (a, b) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);

test("create, add, query with where, get, delete", async () => {
  const collection = await client.createCollection({ name: "js-compat", embeddingFunction: null });
  const ids = [];
  const embeddings = [];
  const metadatas = [];
  for (let i = 0; i < 40; i++) {
    ids.push(`r${i}`);
    embeddings.push([Math.sin(i), Math.cos(i), i / 40]);
    metadatas.push({ i, parity: i % 2 === 0 ? "even" : "odd" });
  }
  await collection.add({ ids, embeddings, metadatas, documents: ids.map((id) => `document ${id}`) });
  assert.equal(await collection.count(), 40);

  const q = [0.5, 0.5, 0.5];
  const res = await collection.query({ queryEmbeddings: [q], nResults: 5, where: { parity: "odd" } });
  const expected = ids
    .map((id, k) => ({ id, d: l2(embeddings[k], q), odd: k % 2 === 1 }))
    .filter((r) => r.odd)
    .sort((a, b) => a.d - b.d)
    .slice(0, 5);
  assert.deepEqual(res.ids[0], expected.map((r) => r.id));
  res.distances[0].forEach((d, k) => assert.ok(Math.abs(d - expected[k].d) < 1e-4));

  const got = await collection.get({ ids: ["r3", "r4"], include: ["metadatas", "documents"] });
  assert.deepEqual([...got.ids].sort(), ["r3", "r4"]);
  assert.equal(got.metadatas[got.ids.indexOf("r3")].parity, "odd");
  assert.equal(got.documents[got.ids.indexOf("r4")], "document r4");

  await collection.delete({ where: { i: { $gte: 30 } } });
  assert.equal(await collection.count(), 30);
  await collection.delete({ ids: ["r0"] });
  const rest = await collection.get({ include: [] });
  assert.equal(rest.ids.length, 29);
  assert.ok(!rest.ids.includes("r0"));
});

// The Search API as the JavaScript client sends it, against oracles computed here: a filtered
// dense $knn, an Rrf of two $knn terms (-Σ wᵢ/(k + rankᵢ)), paging and selection.
test("search: filtered knn, Rrf of two knn terms, limit/offset, select", async () => {
  const collection = await client.createCollection({ name: "js-search", embeddingFunction: null });
  const ids = [];
  const embeddings = [];
  const metadatas = [];
  for (let i = 0; i < 60; i++) {
    ids.push(`s${i}`);
    embeddings.push([Math.sin(i * 0.7), Math.cos(i * 1.3), (i % 7) / 7]);
    metadatas.push({ i, kind: i % 3 === 0 ? "a" : "b" });
  }
  await collection.add({ ids, embeddings, metadatas, documents: ids.map((id) => `doc ${id}`) });

  const nearest = (q, keep) =>
    ids
      .map((id, k) => ({ id, d: l2(embeddings[k], q), k }))
      .filter((r) => keep(r.k))
      .sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : 1));

  const q1 = [0.2, 0.9, 0.1];
  const knn = await collection.search(
    new Search().where(K("kind").eq("a")).rank(Knn({ query: q1, limit: 8 })).limit(5).select(K.DOCUMENT, K.SCORE, "i"),
  );
  const expected = nearest(q1, (k) => k % 3 === 0).slice(0, 5);
  const rows = knn.rows()[0];
  assert.deepEqual(rows.map((r) => r.id), expected.map((r) => r.id));
  rows.forEach((r, n) => {
    assert.ok(Math.abs(r.score - expected[n].d) < 1e-4, `score ${r.score} vs ${expected[n].d}`);
    assert.equal(r.document, `doc ${r.id}`);
    assert.deepEqual(r.metadata, { i: Number(r.id.slice(1)) });
  });

  const q2 = [-0.5, 0.1, 0.8];
  const [limit, k, weights] = [10, 60, [2, 1]];
  const rrf = await collection.search(
    new Search()
      .rank(
        Rrf({
          ranks: [Knn({ query: q1, limit, returnRank: true }), Knn({ query: q2, limit, returnRank: true })],
          k,
          weights,
        }),
      )
      .limit(4, 2)
      .select(K.SCORE),
  );
  const rank1 = new Map(nearest(q1, () => true).slice(0, limit).map((r, n) => [r.id, n]));
  const rank2 = new Map(nearest(q2, () => true).slice(0, limit).map((r, n) => [r.id, n]));
  const fused = [...new Set([...rank1.keys(), ...rank2.keys()])]
    .filter((id) => rank1.has(id) && rank2.has(id))
    .map((id) => ({ id, s: -(weights[0] / (k + rank1.get(id)) + weights[1] / (k + rank2.get(id))) }))
    .sort((a, b) => a.s - b.s || (a.id < b.id ? -1 : 1))
    .slice(2, 6);
  const got = rrf.rows()[0];
  assert.deepEqual(got.map((r) => r.id), fused.map((r) => r.id));
  got.forEach((r, n) => assert.ok(Math.abs(r.score - fused[n].s) < 1e-6));
});
