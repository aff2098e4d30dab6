// Calls to Silt's public Chroma v2 API with the key the user gave, kept in sessionStorage (it
// lasts as long as the tab; nothing is stored on disk by the console itself).

const KEY_ITEM = "silt.console.key";

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_ITEM) ?? "",
  set: (key) => sessionStorage.setItem(KEY_ITEM, key.trim()),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

/** A refused or failed call: `name` and `message` come from Chroma's `{error, message}` body. */
export class ApiError extends Error {
  constructor(status, name, message) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

function headers(extra) {
  const h = { ...extra };
  const key = apiKey.get();
  if (key) h["x-chroma-token"] = key;
  return h;
}

async function send(path, { method = "GET", body, accept = "application/json" } = {}) {
  const init = { method, headers: headers({ Accept: accept }), credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "NetworkError", `Could not reach Silt (${e.message})`);
  }
  const text = await response.text();
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not Chroma's error body: the text itself is the best message there is.
    }
    throw new ApiError(
      response.status,
      parsed?.error ?? `HTTP ${response.status}`,
      parsed?.message ?? (text.trim() || response.statusText),
    );
  }
  return text;
}

async function json(path, options) {
  const text = await send(path, options);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(200, "BadResponse", `${path} did not answer JSON`);
  }
}

const enc = encodeURIComponent;
const db = (t, d) => `/api/v2/tenants/${enc(t)}/databases/${enc(d)}`;
const col = (t, d, id) => `${db(t, d)}/collections/${enc(id)}`;

export const api = {
  identity: () => json("/api/v2/auth/identity"),
  databases: (t) => json(`/api/v2/tenants/${enc(t)}/databases`),
  collections: (t, d, limit, offset) =>
    json(`${db(t, d)}/collections?limit=${limit}&offset=${offset}`),
  collectionCount: (t, d) => json(`${db(t, d)}/collections_count`),
  collection: (t, d, id) => json(`${db(t, d)}/collections/by-id/${enc(id)}`),
  count: (t, d, id) => json(`${col(t, d, id)}/count`),
  indexingStatus: (t, d, id) => json(`${col(t, d, id)}/indexing_status`),
  stats: (t, d, id) => json(`${col(t, d, id)}/stats`),
  get: (t, d, id, body) => json(`${col(t, d, id)}/get`, { method: "POST", body }),
  query: (t, d, id, body) => json(`${col(t, d, id)}/query`, { method: "POST", body }),
  metricsText: () => send("/metrics", { accept: "text/plain" }),
};
