// Nearest neighbours of a vector (pasted, or a record's own: `?record=<id>`), with an optional
// filter: `POST .../query` with distances, documents and metadatas.

import { api } from "../api.js";
import { errorBox, fill, h, loading } from "../dom.js";
import { distance } from "../format.js";
import { collectionFrame, jsonField } from "./collection.js";
import { documentCell, metadataList } from "./records.js";

const DEFAULT_RESULTS = 10;

/** The vector typed in the box, or an error saying what is wrong with it. */
function parseVector(text) {
  const value = jsonField("Query vector", text);
  if (value === undefined) throw new Error("Paste a vector (a JSON array of numbers) or use a record's");
  if (!Array.isArray(value) || !value.length || !value.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new Error("The query vector must be a non-empty JSON array of numbers");
  }
  return value;
}

function resultsTable(result) {
  const ids = result.ids?.[0] ?? [];
  if (!ids.length) return h("p", { class: "muted empty" }, "No results.");
  return h(
    "table",
    { class: "grid query-results" },
    h(
      "thead",
      null,
      h("tr", null, h("th", { class: "num" }, "#"), h("th", null, "ID"), h("th", { class: "num" }, "Distance"), h("th", null, "Document"), h("th", null, "Metadata")),
    ),
    h(
      "tbody",
      null,
      ids.map((id, i) =>
        h(
          "tr",
          { class: "result", dataset: { id } },
          h("td", { class: "num muted" }, i + 1),
          h("td", { class: "mono id" }, id),
          h("td", { class: "num mono distance" }, distance(result.distances?.[0]?.[i])),
          documentCell(result.documents?.[0]?.[i]),
          h("td", { class: "metadata" }, metadataList(result.metadatas?.[0]?.[i])),
        ),
      ),
    ),
  );
}

export function render({ params, query }) {
  const frame = collectionFrame(params, "query");
  const vector = h("textarea", { id: "query-vector", rows: 4, spellcheck: "false", placeholder: "[0.12, -0.03, 0.57, …]" });
  const nResults = h("input", { id: "n-results", type: "number", min: 1, max: 1000, value: String(DEFAULT_RESULTS) });
  const where = h("textarea", { id: "query-where", rows: 2, spellcheck: "false", placeholder: '{"kind": "x"} (optional)' });
  const source = h("p", { class: "muted source" });
  const results = h("div", { class: "results" });

  async function run() {
    let body;
    try {
      body = {
        query_embeddings: [parseVector(vector.value)],
        n_results: Math.max(1, Number.parseInt(nResults.value, 10) || DEFAULT_RESULTS),
        include: ["distances", "documents", "metadatas"],
      };
      const filter = jsonField("where", where.value);
      if (filter !== undefined) body.where = filter;
    } catch (e) {
      fill(results, errorBox(e));
      return;
    }
    fill(results, loading("Querying"));
    const started = performance.now();
    try {
      const answer = await api.query(params.tenant, params.database, params.id, body);
      const ms = performance.now() - started;
      fill(results, h("p", { class: "muted timing" }, `${answer.ids?.[0]?.length ?? 0} results in ${ms.toFixed(0)} ms (browser round trip)`), resultsTable(answer));
    } catch (e) {
      fill(results, errorBox(e, "Silt refused the query:"));
    }
  }

  fill(
    frame.body,
    h(
      "form",
      {
        class: "query-form",
        id: "query-form",
        onsubmit: (e) => {
          e.preventDefault();
          run();
        },
      },
      h("div", { class: "field wide" }, h("label", { for: "query-vector" }, "Query vector (JSON array)"), vector, source),
      h("div", { class: "field" }, h("label", { for: "query-where" }, "where"), where),
      h("div", { class: "field narrow-field" }, h("label", { for: "n-results" }, "n_results"), nResults, h("div", { class: "buttons" }, h("button", { type: "submit", id: "run-query" }, "Query"))),
    ),
    results,
  );

  const record = query.get("record");
  if (record) {
    fill(source, `Loading the vector of record ${record}…`);
    (async () => {
      try {
        const got = await api.get(params.tenant, params.database, params.id, { ids: [record], include: ["embeddings"] });
        const embedding = got.embeddings?.[0];
        if (!embedding) throw new Error(`Record ${record} has no embedding`);
        vector.value = JSON.stringify(embedding);
        fill(source, "Vector of record ", h("code", null, record), ".");
        await run();
      } catch (e) {
        fill(source, errorBox(e, "Cannot use that record:"));
      }
    })();
  }
  return { node: frame.node };
}
