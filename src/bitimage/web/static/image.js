// One image: preview, facts, analysis; the owner edits name/tags/privacy, downloads, deletes.
import { api, session } from "./api.js";
import { h, field, announce, formatBytes } from "./dom.js";
import { lastShown } from "./gallery.js";

function facts(image, owner) {
  const rows = [
    ["Format", `${image.file_format}, ${image.width} × ${image.height}, ${formatBytes(image.size_mb)}`],
    ["Added", new Date(image.created_at).toLocaleString()],
    ["Analysis", image.analysis_status + (image.analysis_error ? ` (${image.analysis_error})` : "")],
    ["Visibility", image.is_private ? "Private" : "Public"],
  ];
  if (image.text) rows.push(["Text found", image.text]);
  const dl = h("dl", { class: "facts" });
  for (const [k, v] of rows) dl.append(h("dt", {}, k), h("dd", {}, v));
  if (image.colours.length) {
    dl.append(
      h("dt", {}, "Colours"),
      h("dd", {}, h("ul", { class: "swatches" }, image.colours.map((c) => {
        const sw = h("span", { class: "swatch", "aria-hidden": "true" });
        sw.style.backgroundColor = c; // CSSOM: allowed by the CSP
        return h("li", {}, sw, c);
      }))),
    );
  }
  if (image.tags.length) {
    dl.append(h("dt", {}, "Tags"), h("dd", {}, image.tags.map((t) => t.name).join(", ")));
  }
  const parts = [dl];
  if (image.labels.length) {
    parts.push(
      h("h2", {}, "Content labels"),
      h("ul", { class: "labels" }, image.labels.map((l) =>
        h("li", {}, `${l.name} `, h("span", { class: "confidence" }, `${Math.round(l.confidence * 100)}%`)))),
    );
  }
  if (owner && image.exif && Object.keys(image.exif).length) {
    const exif = h("dl", { class: "facts" });
    for (const [k, v] of Object.entries(image.exif)) {
      exif.append(h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v)));
    }
    parts.push(h("h2", {}, "EXIF (only you see it)"), exif);
  }
  return parts;
}

function editor(image, onSaved) {
  const name = field("Name", { type: "text", value: image.name, required: true, maxLength: 255 });
  const tags = field("Tags", { type: "text", value: image.tags.map((t) => t.name).join(", ") });
  const pub = h("input", { type: "checkbox", id: "image-public", checked: !image.is_private });
  const message = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "card",
      "aria-label": "Edit image",
      onsubmit: async (e) => {
        e.preventDefault();
        message.textContent = "";
        const names = [...new Set(tags.input.value.split(",").map((t) => t.trim()).filter(Boolean))];
        try {
          const saved = await api(`/api/v1/images/${image.id}`, {
            method: "PATCH",
            body: { name: name.input.value.trim(), tags: names.map((n) => ({ name: n })), is_private: !pub.checked },
          });
          announce("Saved");
          onSaved(saved);
        } catch (err) {
          message.textContent = err.message;
        }
      },
    },
    h("h2", {}, "Edit"),
    name.wrap,
    tags.wrap,
    h("p", { class: "field check" }, pub, h("label", { for: "image-public" }, "Public")),
    message,
    h("p", { class: "actions" }, h("button", { type: "submit" }, "Save")),
  );
  return form;
}

export function renderImage(main, id) {
  const controller = new AbortController();
  const ids = lastShown.ids;
  const at = ids.indexOf(id);
  const prev = at > 0 ? ids[at - 1] : null;
  const next = at >= 0 && at < ids.length - 1 ? ids[at + 1] : null;
  const onKey = (e) => {
    if (e.target.closest("input, textarea, select") || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowLeft" && prev) location.hash = `#/image/${prev}`;
    if (e.key === "ArrowRight" && next) location.hash = `#/image/${next}`;
  };
  document.addEventListener("keydown", onKey);
  const back = lastShown.scope === "public" || !session() ? "#/public" : "#/";
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Images" },
    h("a", { href: back }, "Back"),
    prev ? h("a", { href: `#/image/${prev}`, rel: "prev" }, "← Previous") : null,
    next ? h("a", { href: `#/image/${next}`, rel: "next" }, "Next →") : null,
  );
  const message = h("p", { class: "error", role: "alert" });
  main.replaceChildren(pager, message);

  const show = (image) => {
    const owner = image.moderation !== null && image.moderation !== undefined;
    const preview = h("img", {
      class: "preview",
      alt: image.name,
      width: image.width,
      height: image.height,
      src: image.preview_url || image.view_url,
    });
    const actions = h(
      "p",
      { class: "actions" },
      h("a", { class: "button secondary", href: image.view_url, download: image.name }, "Download original"),
    );
    if (owner) {
      actions.append(
        h("button", {
          type: "button",
          class: "danger",
          onclick: async () => {
            if (!window.confirm(`Delete “${image.name}”? This cannot be undone.`)) return;
            try {
              await api("/api/v1/images", { method: "DELETE", query: { id: image.id } });
              announce(`Deleted ${image.name}`);
              location.hash = "#/";
            } catch (err) {
              message.textContent = err.message;
            }
          },
        }, "Delete"),
      );
    }
    main.replaceChildren(
      pager,
      message,
      h("h1", {}, image.name),
      h("div", { class: "image-page" },
        h("figure", {}, preview),
        h("div", {}, actions, owner ? editor(image, show) : null, ...facts(image, owner))),
    );
  };

  api(`/api/v1/images/${encodeURIComponent(id)}/expanded`, { signal: controller.signal })
    .then(show)
    .catch((err) => {
      if (err.name !== "AbortError") message.textContent = err.message;
    });

  return () => {
    controller.abort();
    document.removeEventListener("keydown", onKey);
  };
}
