// How far the collection's index has caught up with its log (Chroma's indexing_status) and
// what it occupies (Silt's stats), refreshed every few seconds while the page is open.

import { api } from "../api.js";
import { errorBox, fill, h } from "../dom.js";
import { bytes, clock, count, percent } from "../format.js";
import { collectionFrame } from "./collection.js";

const REFRESH_MS = 2000;

// Known fields of the stats answer, in reading order, with how to show them; fields a newer
// server adds are shown as they come.
const STATS_FIELDS = [
  ["version", "Index version", count],
  ["log_position", "Log position", count],
  ["compacted_offset", "Compacted offset", count],
  ["indexed_records", "Indexed records", count],
  ["index_bytes", "Index size", (n) => `${bytes(n)} (${count(n)} bytes)`],
  ["log_bytes", "Unindexed log size", bytes],
  ["indexed_at_ms", "Indexed at", (ms) => (typeof ms === "number" ? new Date(ms).toLocaleString("en-GB") : "—")],
  ["dimension", "Dimension", (d) => d ?? "—"],
];

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.map(([key, label, value]) => [h("dt", null, label), h("dd", { dataset: { field: key } }, value)]),
  );
}

function indexingCard(s) {
  return [
    h("div", { class: "progress-line" }, h("progress", { max: 1, value: s.op_indexing_progress }), h("strong", { class: "progress-figure" }, percent(s.op_indexing_progress))),
    facts([
      ["num_indexed_ops", "Indexed operations", count(s.num_indexed_ops)],
      ["num_unindexed_ops", "Waiting operations", count(s.num_unindexed_ops)],
      ["total_ops", "Logged operations", count(s.total_ops)],
    ]),
  ];
}

function statsCard(stats) {
  const known = new Set(STATS_FIELDS.map(([k]) => k));
  const rows = STATS_FIELDS.filter(([k]) => k in stats).map(([k, label, show]) => [k, label, show(stats[k])]);
  for (const [k, v] of Object.entries(stats)) if (!known.has(k)) rows.push([k, k, JSON.stringify(v)]);
  return facts(rows);
}

function configCard(c) {
  return [
    facts([
      ["name", "Name", c.name],
      ["id", "ID", h("span", { class: "mono" }, c.id)],
    ]),
    h("h3", null, "Metadata"),
    h("pre", { class: "json" }, JSON.stringify(c.metadata ?? null, null, 2)),
    h("h3", null, "Configuration"),
    h("pre", { class: "json" }, JSON.stringify(c.configuration_json ?? null, null, 2)),
  ];
}

export function render({ params, onDispose, alive }) {
  const frame = collectionFrame(params, "status");
  const indexing = h("div", { class: "indexing-status" }, h("p", { class: "muted" }, "…"));
  const stats = h("div", { class: "stats" }, h("p", { class: "muted" }, "…"));
  const config = h("div", { class: "config" }, h("p", { class: "muted" }, "…"));
  const updated = h("span", { class: "muted updated" });
  fill(
    frame.body,
    h("div", { class: "cards" },
      h("section", { class: "card", id: "indexing-card" }, h("h2", null, "Indexing status ", updated), indexing),
      h("section", { class: "card", id: "stats-card" }, h("h2", null, "Stats"), stats),
      h("section", { class: "card", id: "config-card" }, h("h2", null, "Collection"), config),
    ),
  );
  frame.collection.then((c) => c && fill(config, configCard(c)));

  async function refresh() {
    const [s, st] = await Promise.allSettled([
      api.indexingStatus(params.tenant, params.database, params.id),
      api.stats(params.tenant, params.database, params.id),
    ]);
    if (!alive()) return;
    fill(indexing, s.status === "fulfilled" ? indexingCard(s.value) : errorBox(s.reason, "Not available:"));
    fill(stats, st.status === "fulfilled" ? statsCard(st.value) : errorBox(st.reason, "Not available:"));
    fill(updated, `updated ${clock()}`);
  }
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  onDispose(() => clearInterval(timer));
  return { node: frame.node };
}
