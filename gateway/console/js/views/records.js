// The record browser: a page of `POST .../get` with the user's where / where_document filters.
// Filters and paging live in the address, so every page of a result can be linked to.

import { api } from "../api.js";
import { errorBox, fill, h, loading } from "../dom.js";
import { count, metadataValue, vectorPreview } from "../format.js";
import { collectionLink, go } from "../router.js";
import { collectionFrame, jsonField } from "./collection.js";

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 1000;

function pageSize(query) {
  const n = Number.parseInt(query.get("limit") ?? "", 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(n, MAX_LIMIT) : DEFAULT_LIMIT;
}

function pageStart(query) {
  const n = Number.parseInt(query.get("offset") ?? "", 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

export function metadataList(metadata) {
  const entries = Object.entries(metadata ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return h(
    "dl",
    { class: "meta" },
    entries.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, metadataValue(v)))),
  );
}

export function documentCell(text) {
  if (text === null || text === undefined) return h("td", { class: "doc muted" }, "—");
  const doc = h("div", { class: "doc-text", title: "Click to show all" }, text);
  doc.addEventListener("click", () => doc.classList.toggle("expanded"));
  return h("td", { class: "doc" }, doc);
}

function filterForm(params, query) {
  const where = h("textarea", { id: "where", rows: 3, spellcheck: "false", placeholder: '{"kind": "x"}' }, query.get("where") ?? "");
  const whereDocument = h(
    "textarea",
    { id: "where-document", rows: 3, spellcheck: "false", placeholder: '{"$contains": "word"}' },
    query.get("where_document") ?? "",
  );
  const limit = h("input", { id: "limit", type: "number", min: 1, max: MAX_LIMIT, value: String(pageSize(query)) });
  const problem = h("div", { class: "form-message" });
  function submit(e) {
    e.preventDefault();
    // Checked here so a typo is reported before anything is sent; the server judges the rest.
    try {
      jsonField("where", where.value);
      jsonField("where_document", whereDocument.value);
    } catch (err) {
      fill(problem, errorBox(err));
      return;
    }
    go(
      collectionLink(params.tenant, params.database, params.id, "records", {
        where: where.value.trim(),
        where_document: whereDocument.value.trim(),
        limit: limit.value,
      }),
    );
  }
  return h(
    "form",
    { class: "filters", id: "filter-form", onsubmit: submit },
    h("div", { class: "field" }, h("label", { for: "where" }, "where"), where),
    h("div", { class: "field" }, h("label", { for: "where-document" }, "where_document"), whereDocument),
    h(
      "div",
      { class: "field narrow-field" },
      h("label", { for: "limit" }, "Page size"),
      limit,
      h("div", { class: "buttons" },
        h("button", { type: "submit", id: "apply-filter" }, "Apply"),
        h("a", { class: "button secondary", href: collectionLink(params.tenant, params.database, params.id, "records") }, "Clear"),
      ),
    ),
    problem,
  );
}

function recordsTable(params, result) {
  const rows = result.ids.map((id, i) =>
    h(
      "tr",
      { class: "record", dataset: { id } },
      h("td", { class: "mono id" }, id),
      documentCell(result.documents?.[i]),
      h("td", { class: "metadata" }, metadataList(result.metadatas?.[i])),
      h("td", { class: "mono embedding" }, vectorPreview(result.embeddings?.[i])),
      h(
        "td",
        { class: "actions" },
        result.embeddings?.[i]
          ? h(
              "button",
              {
                type: "button",
                class: "secondary small use-as-query",
                onclick: () => go(collectionLink(params.tenant, params.database, params.id, "query", { record: id })),
              },
              "Use as query",
            )
          : null,
      ),
    ),
  );
  return h(
    "table",
    { class: "grid records" },
    h(
      "thead",
      null,
      h("tr", null, h("th", null, "ID"), h("th", null, "Document"), h("th", null, "Metadata"), h("th", null, "Embedding"), h("th", null, "")),
    ),
    h("tbody", null, rows),
  );
}

function pager(params, query, shown, total) {
  const offset = pageStart(query);
  const limit = pageSize(query);
  const to = (o) =>
    collectionLink(params.tenant, params.database, params.id, "records", {
      where: query.get("where"),
      where_document: query.get("where_document"),
      limit: query.get("limit"),
      offset: o || undefined,
    });
  const filtered = query.get("where") || query.get("where_document");
  const range = shown ? `Records ${count(offset + 1)}–${count(offset + shown)}` : "No records on this page";
  const of = total === null ? "" : filtered ? ` (filtered; ${count(total)} in the collection)` : ` of ${count(total)}`;
  return h(
    "div",
    { class: "pager" },
    h("button", { type: "button", class: "secondary prev-page", disabled: offset === 0, onclick: () => go(to(Math.max(0, offset - limit))) }, "← Previous"),
    h("span", { class: "range page-range" }, range + of),
    h("button", { type: "button", class: "secondary next-page", disabled: shown < limit, onclick: () => go(to(offset + limit)) }, "Next →"),
  );
}

export function render({ params, query }) {
  const frame = collectionFrame(params, "records");
  const results = h("div", { class: "results" }, loading("Loading records"));
  fill(frame.body, filterForm(params, query), results);

  (async () => {
    let where;
    let whereDocument;
    try {
      where = jsonField("where", query.get("where") ?? "");
      whereDocument = jsonField("where_document", query.get("where_document") ?? "");
    } catch (e) {
      fill(results, errorBox(e));
      return;
    }
    const body = {
      limit: pageSize(query),
      offset: pageStart(query),
      include: ["documents", "metadatas", "embeddings"],
    };
    if (where !== undefined) body.where = where;
    if (whereDocument !== undefined) body.where_document = whereDocument;
    const [got, total] = await Promise.allSettled([
      api.get(params.tenant, params.database, params.id, body),
      api.count(params.tenant, params.database, params.id),
    ]);
    if (got.status === "rejected") {
      fill(results, errorBox(got.reason, "Silt refused the request:"));
      return;
    }
    const shown = got.value.ids.length;
    const pagerNode = () => pager(params, query, shown, total.status === "fulfilled" ? total.value : null);
    fill(
      results,
      pagerNode(),
      shown ? recordsTable(params, got.value) : h("p", { class: "muted empty" }, "No records match."),
      shown > 8 ? pagerNode() : null,
    );
  })();
  return { node: frame.node };
}
