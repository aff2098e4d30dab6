// Hash routes (`#/tenants/t/databases/d/collections/id/records?offset=20`): each view's state
// lives in the address, so reload, back and bookmarks work and no server route is needed.

const ROUTES = [
  { view: "overview", pattern: [] },
  { view: "overview", pattern: ["tenants", ":tenant"] },
  {
    view: "records",
    pattern: ["tenants", ":tenant", "databases", ":database", "collections", ":id", "records"],
  },
  {
    view: "query",
    pattern: ["tenants", ":tenant", "databases", ":database", "collections", ":id", "query"],
  },
  {
    view: "status",
    pattern: ["tenants", ":tenant", "databases", ":database", "collections", ":id", "status"],
  },
  { view: "metrics", pattern: ["metrics"] },
  { view: "key", pattern: ["key"] },
];

function decode(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** `{view, params, query}` for a hash, or `{view: "missing"}`. */
export function match(hash) {
  const body = hash.replace(/^#/, "");
  const [path, search = ""] = body.split("?", 2);
  const segments = path.split("/").filter(Boolean).map(decode);
  const query = new URLSearchParams(search);
  if (segments.includes(null)) return { view: "missing", params: {}, query };
  for (const route of ROUTES) {
    if (route.pattern.length !== segments.length) continue;
    const params = {};
    const ok = route.pattern.every((part, i) => {
      if (part.startsWith(":")) {
        params[part.slice(1)] = segments[i];
        return true;
      }
      return part === segments[i];
    });
    if (ok) return { view: route.view, params, query };
  }
  return { view: "missing", params: {}, query };
}

/** A hash link from path segments (each escaped) and optional query parameters. */
export function link(segments, query) {
  const path = segments.map((s) => encodeURIComponent(s)).join("/");
  const entries = Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== null && v !== "");
  const search = entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : "";
  return `#/${path}${search}`;
}

export function tenantLink(tenant) {
  return link(["tenants", tenant]);
}

export function collectionLink(tenant, database, id, tab, query) {
  return link(["tenants", tenant, "databases", database, "collections", id, tab], query);
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
