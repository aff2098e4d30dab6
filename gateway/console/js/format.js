// How numbers, sizes, vectors and metadata values read on screen.

const integer = new Intl.NumberFormat("en-US");

export function count(n) {
  return typeof n === "number" && Number.isFinite(n) ? integer.format(n) : "—";
}

export function bytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function percent(ratio) {
  return typeof ratio === "number" && Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)} %` : "—";
}

export function seconds(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "—";
  if (s === 0) return "0 s";
  if (s < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
  if (s < 120) return `${s.toFixed(2)} s`;
  return `${(s / 60).toFixed(1)} min`;
}

export function distance(d) {
  return typeof d === "number" ? d.toFixed(6) : "—";
}

/** The first few components and the dimension: enough to recognise a vector. */
export function vectorPreview(v, shown = 4) {
  if (!Array.isArray(v)) return "—";
  const head = v.slice(0, shown).map((x) => (typeof x === "number" ? x.toFixed(4) : String(x)));
  return `[${head.join(", ")}${v.length > shown ? ", …" : ""}] · ${v.length} dims`;
}

/** A metadata value as the user would type it: strings bare, everything else as JSON. */
export function metadataValue(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function clock(date = new Date()) {
  return date.toLocaleTimeString("en-GB", { hour12: false });
}
