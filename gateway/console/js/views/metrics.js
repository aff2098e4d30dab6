// A live view of this node's /metrics: request latency, query-cache hit ratio, compaction lag
// and object-store traffic, sampled every few seconds. Series are found by name; a series this
// node does not export (a cluster gateway has no query cache) shows "not available".

import { api } from "../api.js";
import { errorBox, fill, h, svg } from "../dom.js";
import { bytes, clock, count, percent, seconds } from "../format.js";
import * as prom from "../prometheus.js";

const REFRESH_MS = 3000;
const HISTORY = 60;

// Names tried in order, so the page keeps working across renames of a series.
const LATENCY = [
  "silt_http_request_duration_seconds",
  "silt_gateway_request_duration_seconds",
  "silt_api_request_duration_seconds",
  "silt_request_duration_seconds",
  "http_request_duration_seconds",
];
const CACHE_HITS = ["silt_query_cache_hits_total", "silt_cache_hits_total"];
const CACHE_MISSES = ["silt_query_cache_misses_total", "silt_cache_misses_total"];
const COMPACTION_LAG = ["silt_compaction_lag_seconds", "silt_compactor_lag_seconds"];
const COMPACTION_LAG_RECORDS = ["silt_compaction_lag_records", "silt_compactor_lag_records"];
// The console's own files and the scrapes of this page are requests too; they would make the
// API look faster than it is.
const API_ROUTES = (labels) => {
  const route = labels.route ?? "";
  return !route.startsWith("/console") && route !== "/metrics";
};
const STORE_REQUESTS = "silt_object_store_requests_total";

/** A figure in the unit its name ends with. */
function byUnit(name, value) {
  if (name.endsWith("_seconds")) return seconds(value);
  if (name.endsWith("_bytes")) return bytes(value);
  return count(Math.round(value));
}

/** A histogram's (or summary's) quantiles and mean between two scrapes, or since start. */
function latency(now, before) {
  const name = prom.firstPresent(now, LATENCY);
  if (!name) return null;
  const countNow = prom.total(now, `${name}_count`, API_ROUTES) ?? 0;
  const sumNow = prom.total(now, `${name}_sum`, API_ROUTES) ?? 0;
  const countBefore = before ? prom.total(before, `${name}_count`, API_ROUTES) ?? 0 : 0;
  const sumBefore = before ? prom.total(before, `${name}_sum`, API_ROUTES) ?? 0 : 0;
  // The last interval when it saw requests; otherwise everything since the node started.
  const windowed = Boolean(before) && countNow > countBefore;
  const n = windowed ? countNow - countBefore : countNow;
  const sum = windowed ? sumNow - sumBefore : sumNow;
  const summary = prom.select(now, name, API_ROUTES).filter((s) => "quantile" in s.labels);
  let p50 = null;
  let p99 = null;
  if (summary.length) {
    // A summary's quantiles are the exporter's own (recent window); the worst label is shown.
    const worst = (q) => Math.max(...summary.filter((s) => Number(s.labels.quantile) === q).map((s) => s.value).filter(Number.isFinite));
    p50 = worst(0.5);
    p99 = worst(0.99);
  } else {
    const later = prom.buckets(now, name, API_ROUTES);
    const window = windowed ? prom.bucketDelta(later, prom.buckets(before, name, API_ROUTES)) : later;
    p50 = prom.quantile(0.5, window);
    p99 = prom.quantile(0.99, window);
  }
  return {
    name,
    n,
    windowed,
    rate: before && countNow >= countBefore ? countNow - countBefore : null,
    mean: n > 0 ? sum / n : null,
    p50: Number.isFinite(p50) ? p50 : null,
    p99: Number.isFinite(p99) ? p99 : null,
  };
}

function cacheRatio(now, before) {
  const hitsName = prom.firstPresent(now, CACHE_HITS);
  const missesName = prom.firstPresent(now, CACHE_MISSES);
  if (!hitsName || !missesName) return null;
  const hits = prom.total(now, hitsName) ?? 0;
  const misses = prom.total(now, missesName) ?? 0;
  const overall = hits + misses > 0 ? hits / (hits + misses) : null;
  let recent = null;
  if (before) {
    const dh = hits - (prom.total(before, hitsName) ?? 0);
    const dm = misses - (prom.total(before, missesName) ?? 0);
    if (dh >= 0 && dm >= 0 && dh + dm > 0) recent = dh / (dh + dm);
  }
  return { hits, misses, overall, recent };
}

function compactionLag(now) {
  const name = prom.firstPresent(now, COMPACTION_LAG);
  if (!name) return null;
  // With several compactors (or labels) the worst one is the lag that matters.
  const worst = (n) => (n ? Math.max(...prom.select(now, n).map((s) => s.value)) : null);
  return { name, value: worst(name), records: worst(prom.firstPresent(now, COMPACTION_LAG_RECORDS)) };
}

function storeRates(now, before, dt) {
  if (!prom.select(now, STORE_REQUESTS).length) return null;
  const ops = {};
  for (const s of prom.select(now, STORE_REQUESTS)) {
    const op = s.labels.op ?? "all";
    ops[op] = ops[op] ?? { now: 0, before: 0 };
    ops[op].now += s.value;
  }
  if (before) for (const s of prom.select(before, STORE_REQUESTS)) {
    const op = s.labels.op ?? "all";
    if (ops[op]) ops[op].before += s.value;
  }
  const rates = Object.entries(ops).map(([op, v]) => [op, before && dt > 0 ? Math.max(0, v.now - v.before) / dt : null, v.now]);
  const totalRate = rates.every(([, r]) => r !== null) ? rates.reduce((a, [, r]) => a + r, 0) : null;
  return { rates, totalRate };
}

function sparkline(values) {
  const points = values.filter((v) => v !== null);
  const width = 220;
  const height = 36;
  if (points.length < 2) return svg("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true" });
  const max = Math.max(...points) || 1;
  const min = Math.min(0, ...points);
  const step = width / (values.length - 1);
  const coords = values
    .map((v, i) => (v === null ? null : `${(i * step).toFixed(1)},${(height - 2 - ((v - min) / (max - min || 1)) * (height - 4)).toFixed(1)}`))
    .filter(Boolean);
  return svg("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true" }, svg("polyline", { points: coords.join(" ") }));
}

function panel(id, title, value, detail, history) {
  return h(
    "section",
    { class: "card metric", id },
    h("h2", null, title),
    value === null
      ? h("p", { class: "figure unavailable" }, "not available")
      : h("p", { class: "figure" }, value),
    h("p", { class: "muted detail" }, detail),
    sparkline(history),
  );
}

function rawTable(samples, filterText) {
  const needle = filterText.trim().toLowerCase();
  const rows = samples
    .map((s) => [`${s.name}${Object.keys(s.labels).length ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${v}"`).join(",")}}` : ""}`, s.value])
    .filter(([series]) => !needle || series.toLowerCase().includes(needle));
  return h(
    "table",
    { class: "grid raw" },
    h("thead", null, h("tr", null, h("th", null, `Series (${rows.length})`), h("th", { class: "num" }, "Value"))),
    h("tbody", null, rows.slice(0, 500).map(([series, value]) => h("tr", null, h("td", { class: "mono" }, series), h("td", { class: "num mono" }, String(value))))),
  );
}

export function render({ onDispose, alive }) {
  const panels = h("div", { class: "cards metrics-cards" }, h("p", { class: "muted" }, "Reading /metrics…"));
  const problem = h("div");
  const updated = h("span", { class: "muted updated" });
  const filter = h("input", { id: "series-filter", type: "search", placeholder: "Filter series by name or label", spellcheck: "false" });
  const raw = h("div", { class: "raw-series" });
  const history = { latency: [], rate: [], cache: [], lag: [], store: [] };
  let previous = null;
  let previousAt = 0;
  let latest = [];

  const push = (list, v) => {
    list.push(v);
    if (list.length > HISTORY) list.shift();
  };

  async function refresh() {
    let text;
    try {
      text = await api.metricsText();
    } catch (e) {
      if (alive()) fill(problem, errorBox(e, "Cannot read /metrics:"));
      return;
    }
    if (!alive()) return;
    fill(problem);
    const now = prom.parse(text);
    const at = performance.now();
    const dt = previous ? (at - previousAt) / 1000 : 0;
    const lat = latency(now, previous);
    const cache = cacheRatio(now, previous);
    const lag = compactionLag(now);
    const store = storeRates(now, previous, dt);
    const requestRate = lat && lat.rate !== null && dt > 0 ? lat.rate / dt : null;
    push(history.latency, lat?.p50 ?? null);
    push(history.rate, requestRate);
    push(history.cache, cache?.recent ?? cache?.overall ?? null);
    push(history.lag, lag?.value ?? null);
    push(history.store, store?.totalRate ?? null);

    fill(
      panels,
      panel(
        "metric-latency",
        "Request latency (p50)",
        lat && lat.p50 !== null ? seconds(lat.p50) : lat ? "no requests yet" : null,
        lat
          ? `p99 ${seconds(lat.p99)} · mean ${seconds(lat.mean)} · ${lat.windowed ? "last interval" : `${count(lat.n)} requests since start`}${requestRate === null ? "" : ` · ${requestRate.toFixed(1)} req/s`}`
          : "no API request series on this node",
        history.latency,
      ),
      panel(
        "metric-cache",
        "Query cache hit ratio",
        cache ? percent(cache.recent ?? cache.overall) : null,
        cache ? `${count(cache.hits)} hits · ${count(cache.misses)} misses since start${cache.recent === null ? "" : ` · ${percent(cache.overall)} overall`}` : "no query cache on this node",
        history.cache,
      ),
      panel(
        "metric-lag",
        "Compaction lag",
        lag ? byUnit(lag.name, lag.value) : null,
        lag ? `oldest write waiting for an index · ${lag.records === null ? "records not available" : `${count(lag.records)} records due`}` : "no compactor on this node",
        history.lag,
      ),
      panel(
        "metric-store",
        "Object-store requests",
        store ? (store.totalRate === null ? count(store.rates.reduce((a, [, , n]) => a + n, 0)) : `${store.totalRate.toFixed(1)}/s`) : null,
        store ? store.rates.map(([op, rate, n]) => `${op} ${rate === null ? count(n) : rate.toFixed(1)}`).join(" · ") : "no object-store series on this node",
        history.store,
      ),
    );
    latest = now;
    fill(raw, rawTable(latest, filter.value));
    fill(updated, `updated ${clock()} · every ${REFRESH_MS / 1000} s`);
    previous = now;
    previousAt = at;
  }

  filter.addEventListener("input", () => fill(raw, rawTable(latest, filter.value)));
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  onDispose(() => clearInterval(timer));

  const node = h(
    "div",
    { class: "metrics" },
    h("div", { class: "page-head" }, h("h1", null, "Node metrics ", updated)),
    h("p", { class: "muted" }, "From this node's ", h("code", null, "/metrics"), " (Prometheus text format). Rates and latency are over the last interval."),
    problem,
    panels,
    h("details", { class: "card raw-card" }, h("summary", null, "All series"), filter, raw),
  );
  return { node };
}
