// The only way the console builds DOM: elements from tags and properties, text as text nodes.
// Nothing here parses HTML, so a document or metadata value can never become markup.

const SVG_NS = "http://www.w3.org/2000/svg";

// Attributes that would let a value run script or restyle the page; the CSP blocks them too,
// this makes a mistake fail loudly instead of silently.
const FORBIDDEN = new Set(["style", "srcdoc", "innerhtml", "outerhtml"]);

function setProps(el, props) {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    const lower = name.toLowerCase();
    if (name === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (lower.startsWith("on")) {
      if (typeof value !== "function") throw new Error(`${name} must be a function`);
      el.addEventListener(lower.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "disabled") {
      el[name] = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (FORBIDDEN.has(lower)) {
      throw new Error(`the console never sets ${name}`);
    } else if (lower === "href" && !/^[#/]/.test(String(value))) {
      throw new Error(`links stay inside the console: ${value}`);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: `h("td", {class: "id"}, record.id)`. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

/** An SVG element, for the metric sparklines. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

/** Replaces everything inside `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

/** An error box; `ApiError`s show Chroma's error name and message as the server sent them. */
export function errorBox(err, prefix) {
  const name = err?.name && err.name !== "Error" ? `${err.name}: ` : "";
  return h(
    "div",
    { class: "error", role: "alert" },
    prefix ? h("strong", null, prefix, " ") : null,
    name,
    err?.message ?? String(err),
  );
}

export function loading(what = "Loading") {
  return h("p", { class: "muted loading" }, `${what}…`);
}
