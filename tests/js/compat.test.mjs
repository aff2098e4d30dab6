// Chroma's JavaScript client against a real `silt run` started on a free port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ChromaClient } from "chromadb";

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
