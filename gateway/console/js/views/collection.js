// The frame every collection page shares: where the collection is, its tabs, and the
// collection itself (fetched once per page).

import { api } from "../api.js";
import { errorBox, fill, h } from "../dom.js";
import { collectionLink, tenantLink } from "../router.js";

const TABS = [
  ["records", "Records"],
  ["query", "Query"],
  ["status", "Indexing & stats"],
];

/** `{node, body, collection}`: `collection` resolves to the collection or null (error shown). */
export function collectionFrame({ tenant, database, id }, active) {
  const title = h("span", { class: "collection-name" }, id);
  const body = h("div", { class: "collection-body" });
  const problem = h("div");
  const node = h(
    "div",
    { class: "collection" },
    h(
      "nav",
      { class: "crumbs", "aria-label": "Location" },
      h("a", { href: tenantLink(tenant) }, tenant),
      h("span", { class: "sep" }, "/"),
      h("span", null, database),
      h("span", { class: "sep" }, "/"),
      title,
    ),
    h(
      "div",
      { class: "tabs", role: "tablist" },
      TABS.map(([tab, label]) =>
        h(
          "a",
          {
            href: collectionLink(tenant, database, id, tab),
            class: tab === active ? "tab active" : "tab",
            role: "tab",
            "aria-selected": tab === active ? "true" : "false",
          },
          label,
        ),
      ),
    ),
    problem,
    body,
  );
  const collection = api.collection(tenant, database, id).then(
    (c) => {
      fill(title, c.name);
      document.title = `${c.name} · Silt console`;
      return c;
    },
    (e) => {
      fill(problem, errorBox(e, "Cannot open the collection:"));
      return null;
    },
  );
  return { node, body, collection };
}

/** Parses a JSON text field; empty means "not given". Throws a message naming the field. */
export function jsonField(label, text) {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch (e) {
    throw new Error(`${label} is not valid JSON: ${e.message}`);
  }
}
