// A tiny element builder (no innerHTML with data: names and messages are text, never markup).

/** h("a", {href: "#/"}, "text", child...) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Say something to screen readers (and tests) through the live region. */
export function announce(text) {
  const region = document.getElementById("announce");
  if (region) region.textContent = text;
}

/** A labelled field: <label for=id>Text</label><input id=id ...>. */
export function field(label, props) {
  const id = props.id || `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  const input = h(props.tag || "input", { ...props, tag: undefined, id });
  return { wrap: h("p", { class: "field" }, h("label", { for: id }, label), input), input };
}

/** Query string of a hash route, e.g. #/search?q=cat -> URLSearchParams. */
export function hashParams() {
  const at = location.hash.indexOf("?");
  return new URLSearchParams(at === -1 ? "" : location.hash.slice(at + 1));
}

export function formatBytes(mb) {
  return mb >= 1 ? `${mb.toFixed(1)} MB` : `${Math.round(mb * 1024)} KB`;
}
