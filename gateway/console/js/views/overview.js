// A tenant at a glance: who the key is, the tenant's databases, and each database's
// collections with their record count, index version, size and indexing progress.

import { api } from "../api.js";
import { errorBox, fill, h, loading } from "../dom.js";
import { bytes, count, percent } from "../format.js";
import { collectionLink, go, tenantLink } from "../router.js";

const PAGE = 50;
// Per-row detail calls share the tenant's rate limit with real clients: a few at a time.
const PARALLEL = 4;

async function inTurn(tasks) {
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const task = tasks[next++];
      await task();
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

function identityCard(identity) {
  return h(
    "section",
    { class: "card identity" },
    h("h2", null, "This key"),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Key id"),
      h("dd", { class: "mono" }, identity.user_id || "— (auth off)"),
      h("dt", null, "Tenant"),
      h("dd", null, h("a", { href: tenantLink(identity.tenant) }, identity.tenant)),
      h("dt", null, "Databases"),
      h("dd", null, (identity.databases ?? []).join(", ") || "—"),
    ),
  );
}

function openTenantForm(current) {
  const input = h("input", { id: "open-tenant", type: "text", value: current, spellcheck: "false" });
  return h(
    "form",
    {
      class: "row open-tenant",
      onsubmit: (e) => {
        e.preventDefault();
        const name = input.value.trim();
        if (name) go(tenantLink(name));
      },
    },
    h("label", { for: "open-tenant" }, "Open tenant"),
    input,
    h("button", { type: "submit" }, "Open"),
  );
}

function pending() {
  return h("span", { class: "muted" }, "…");
}

function unavailable(e) {
  return h("span", { class: "muted", title: e.message }, "n/a");
}

function collectionRow(tenant, database, c, tasks) {
  const records = h("td", { class: "num records" }, pending());
  const size = h("td", { class: "num size" }, pending());
  const indexing = h("td", { class: "indexing" }, pending());
  tasks.push(async () => {
    try {
      fill(records, count(await api.count(tenant, database, c.id)));
    } catch (e) {
      fill(records, unavailable(e));
    }
  });
  tasks.push(async () => {
    try {
      const stats = await api.stats(tenant, database, c.id);
      fill(size, bytes(stats.index_bytes));
    } catch (e) {
      fill(size, unavailable(e));
    }
  });
  tasks.push(async () => {
    try {
      const s = await api.indexingStatus(tenant, database, c.id);
      fill(
        indexing,
        h("progress", { max: 1, value: s.op_indexing_progress }),
        " ",
        s.num_unindexed_ops ? `${count(s.num_unindexed_ops)} waiting` : percent(s.op_indexing_progress),
      );
    } catch (e) {
      fill(indexing, unavailable(e));
    }
  });
  return h(
    "tr",
    { dataset: { collection: c.name } },
    h("td", null, h("a", { href: collectionLink(tenant, database, c.id, "records") }, c.name)),
    h("td", { class: "mono muted", title: c.id }, c.id.slice(0, 8)),
    records,
    h("td", { class: "num" }, count(c.version)),
    h("td", { class: "num" }, c.dimension ?? "—"),
    h("td", { class: "num" }, count(c.log_position)),
    size,
    indexing,
  );
}

function databaseSection(tenant, database) {
  const body = h("tbody");
  const status = h("div", { class: "table-foot" });
  const table = h(
    "table",
    { class: "grid collections" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", null, "Collection"),
        h("th", null, "ID"),
        h("th", { class: "num" }, "Records"),
        h("th", { class: "num" }, "Version"),
        h("th", { class: "num" }, "Dim"),
        h("th", { class: "num" }, "Log position"),
        h("th", { class: "num" }, "Index size"),
        h("th", null, "Indexing"),
      ),
    ),
    body,
  );
  const section = h(
    "section",
    { class: "card database", dataset: { database } },
    h("h2", null, h("span", { class: "muted" }, "database "), database),
    table,
    status,
  );
  let offset = 0;
  async function more() {
    fill(status, loading("Loading collections"));
    let page;
    try {
      page = await api.collections(tenant, database, PAGE, offset);
    } catch (e) {
      fill(status, errorBox(e));
      return;
    }
    const tasks = [];
    for (const c of page) body.append(collectionRow(tenant, database, c, tasks));
    offset += page.length;
    if (offset === 0) {
      fill(status, h("p", { class: "muted" }, "No collections yet."));
    } else if (page.length === PAGE) {
      fill(status, h("button", { type: "button", class: "secondary", onclick: more }, "More collections"));
    } else {
      fill(status, h("p", { class: "muted" }, `${count(offset)} collection${offset === 1 ? "" : "s"}`));
    }
    await inTurn(tasks);
  }
  more();
  return section;
}

export function render({ params, identity }) {
  const tenant = params.tenant ?? identity.tenant;
  const databases = h("div", { class: "databases" }, loading("Loading databases"));
  const node = h(
    "div",
    { class: "overview" },
    h("div", { class: "page-head" }, h("h1", null, h("span", { class: "muted" }, "tenant "), tenant), openTenantForm(tenant)),
    identityCard(identity),
    databases,
  );
  (async () => {
    let names;
    try {
      names = (await api.databases(tenant)).map((d) => d.name);
    } catch (e) {
      // A key scoped to some databases may not list the tenant's; it still knows its own.
      if (tenant === identity.tenant && identity.databases?.length) names = identity.databases;
      else {
        fill(databases, errorBox(e, `Cannot list the databases of ${tenant}:`));
        return;
      }
    }
    if (!names.length) fill(databases, h("p", { class: "muted" }, "This tenant has no databases."));
    else fill(databases, ...names.map((d) => databaseSection(tenant, d)));
  })();
  return { node };
}
