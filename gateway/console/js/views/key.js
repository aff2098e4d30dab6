// Asks for an API key once; it is kept in sessionStorage until the tab closes or "Forget key".

import { api, apiKey } from "../api.js";
import { errorBox, fill, h } from "../dom.js";

export function render({ query, keyChanged, refused }) {
  const next = query.get("next") || "#/";
  const input = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "silt_…",
    required: true,
  });
  const message = h("div", { class: "form-message" });
  if (refused && apiKey.get()) message.append(errorBox(refused, "The stored key was refused:"));

  async function submit(event) {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    const previous = apiKey.get();
    apiKey.set(key);
    fill(message, h("p", { class: "muted" }, "Checking…"));
    try {
      await api.identity();
    } catch (e) {
      if (previous) apiKey.set(previous);
      else apiKey.clear();
      fill(message, errorBox(e, "Key refused:"));
      return;
    }
    keyChanged(next.startsWith("#") ? next : "#/");
  }

  const node = h(
    "section",
    { class: "card narrow" },
    h("h1", null, "API key"),
    h(
      "p",
      null,
      "This Silt requires an API key (",
      h("code", null, "silt admin create-key --tenant …"),
      "). It is sent as ",
      h("code", null, "x-chroma-token"),
      " with each call and kept only for this browser tab.",
    ),
    h(
      "form",
      { id: "key-form", onsubmit: submit },
      h("label", { for: "api-key" }, "Key"),
      h("div", { class: "row" }, input, h("button", { type: "submit" }, "Use key")),
    ),
    message,
  );
  queueMicrotask(() => input.focus());
  return { node };
}
