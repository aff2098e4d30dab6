// Starts the console: finds out who the key belongs to, then renders the view the address
// names. Views build their own DOM (js/dom.js) and register what to stop when they are left.

import { api, apiKey } from "./api.js";
import { errorBox, fill, h, loading } from "./dom.js";
import { go, match, tenantLink } from "./router.js";
import * as keyView from "./views/key.js";
import * as metricsView from "./views/metrics.js";
import * as overviewView from "./views/overview.js";
import * as queryView from "./views/query.js";
import * as recordsView from "./views/records.js";
import * as statusView from "./views/status.js";

const VIEWS = {
  overview: overviewView,
  records: recordsView,
  query: queryView,
  status: statusView,
  metrics: metricsView,
  key: keyView,
};

const main = document.getElementById("view");
const who = document.getElementById("who");
const nav = document.getElementById("nav");

let identity = null;
let disposers = [];
let renderCount = 0;

/** Called by the key view once a new key is stored (or forgotten). */
function keyChanged(next = "#/") {
  identity = null;
  go(next);
}

function showWho() {
  if (!identity) {
    fill(who, h("span", { class: "muted" }, "not signed in"));
    return;
  }
  const key = apiKey.get();
  const parts = [
    h("span", { class: "who-tenant" }, "tenant ", h("a", { href: tenantLink(identity.tenant) }, identity.tenant)),
  ];
  if (key) {
    parts.push(h("span", { class: "muted" }, `key ${key.slice(0, 9)}…`));
    parts.push(
      h(
        "button",
        {
          class: "link",
          type: "button",
          onclick: () => {
            apiKey.clear();
            keyChanged("#/key");
          },
        },
        "Forget key",
      ),
    );
  } else {
    parts.push(h("span", { class: "badge" }, "auth off"));
  }
  fill(who, ...parts);
}

function markNav(view) {
  for (const a of nav.querySelectorAll("a")) {
    const active =
      a.dataset.view === view ||
      (a.dataset.view === "overview" && ["records", "query", "status"].includes(view));
    a.classList.toggle("active", active);
  }
}

async function render() {
  for (const dispose of disposers) dispose();
  disposers = [];
  const current = ++renderCount;
  const alive = () => current === renderCount;
  const route = match(location.hash);
  markNav(route.view);

  if (route.view === "key") {
    fill(main, keyView.render({ query: route.query, keyChanged }).node);
    showWho();
    return;
  }
  if (!identity) {
    fill(main, loading("Checking the key"));
    try {
      identity = await api.identity();
    } catch (e) {
      if (!alive()) return;
      if (e.status === 401 || e.status === 403) {
        const next = location.hash && location.hash !== "#/key" ? location.hash : "#/";
        fill(main, keyView.render({ query: new URLSearchParams({ next }), keyChanged, refused: e }).node);
      } else {
        fill(main, errorBox(e, "Silt did not answer:"));
      }
      showWho();
      return;
    }
    if (!alive()) return;
  }
  showWho();
  const view = VIEWS[route.view];
  if (!view) {
    fill(main, h("section", { class: "card" }, h("h1", null, "Not found"), h("p", null, "No console page here. ", h("a", { href: "#/" }, "Back to collections"))));
    return;
  }
  const ctx = {
    params: route.params,
    query: route.query,
    identity,
    alive,
    onDispose: (fn) => disposers.push(fn),
  };
  try {
    fill(main, view.render(ctx).node);
  } catch (e) {
    fill(main, errorBox(e, "The page failed:"));
  }
}

window.addEventListener("hashchange", render);
render();
