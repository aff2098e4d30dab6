// A generic reader of Prometheus' text format (`name{label="v",...} value`): the console picks
// series by name and never depends on how a particular version of Silt lays out /metrics.

function parseLabels(text) {
  const labels = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) break;
    const name = text.slice(i, eq).replace(/^[\s,]+/, "").trim();
    let j = eq + 1;
    if (text[j] !== '"') break;
    j += 1;
    let value = "";
    while (j < text.length && text[j] !== '"') {
      if (text[j] === "\\" && j + 1 < text.length) {
        const next = text[j + 1];
        value += next === "n" ? "\n" : next;
        j += 2;
      } else {
        value += text[j];
        j += 1;
      }
    }
    labels[name] = value;
    i = j + 1;
  }
  return labels;
}

function parseValue(text) {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** Every sample of an exposition: `[{name, labels, value}]`; lines it cannot read are skipped. */
export function parse(text) {
  const samples = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    let name;
    let labels = {};
    let rest;
    const brace = line.indexOf("{");
    const space = line.search(/\s/);
    if (brace >= 0 && (space < 0 || brace < space)) {
      const close = line.lastIndexOf("}");
      if (close < brace) continue;
      name = line.slice(0, brace);
      labels = parseLabels(line.slice(brace + 1, close));
      rest = line.slice(close + 1).trim();
    } else {
      if (space < 0) continue;
      name = line.slice(0, space);
      rest = line.slice(space).trim();
    }
    const value = parseValue(rest.split(/\s+/)[0]);
    if (Number.isNaN(value) && rest.split(/\s+/)[0] !== "NaN") continue;
    samples.push({ name, labels, value });
  }
  return samples;
}

function matches(labels, filter) {
  if (typeof filter === "function") return filter(labels);
  return Object.entries(filter ?? {}).every(([k, v]) => labels[k] === v);
}

/** The samples called `name` whose labels include `filter` (or pass it, if a function). */
export function select(samples, name, filter) {
  return samples.filter((s) => s.name === name && matches(s.labels, filter));
}

/** The sum of the matching samples, or null when there are none (the series is absent). */
export function total(samples, name, filter) {
  const found = select(samples, name, filter);
  return found.length ? found.reduce((acc, s) => acc + s.value, 0) : null;
}

/** The first of `names` that the exposition has, so renamed series are still found. */
export function firstPresent(samples, names) {
  return names.find((n) => samples.some((s) => s.name === n || s.name === `${n}_count`)) ?? null;
}

/** A histogram's cumulative bucket counts by upper bound, summed over its other labels. */
export function buckets(samples, name, filter) {
  const byBound = new Map();
  for (const s of select(samples, `${name}_bucket`, filter)) {
    const le = parseValue(s.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + s.value);
  }
  return [...byBound.entries()].sort((a, b) => a[0] - b[0]);
}

/** `later - earlier` bucket by bucket (a counter reset restarts from `later`). */
export function bucketDelta(later, earlier) {
  if (!earlier?.length) return later;
  const before = new Map(earlier);
  const delta = later.map(([le, n]) => [le, n - (before.get(le) ?? 0)]);
  return delta.some(([, n]) => n < 0) ? later : delta;
}

/** The q-quantile of cumulative buckets, interpolated inside the bucket as Prometheus does. */
export function quantile(q, cumulative) {
  if (!cumulative.length) return null;
  const count = cumulative[cumulative.length - 1][1];
  if (!(count > 0)) return null;
  const rank = q * count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, n] of cumulative) {
    if (n >= rank) {
      if (le === Infinity) return lowerBound;
      const inBucket = n - lowerCount;
      return inBucket > 0 ? lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket : le;
    }
    lowerBound = le;
    lowerCount = n;
  }
  return lowerBound;
}
