// One thumbnail tile: the ThumbHash placeholder painted at once, the thumbnail over it.
import { thumbHashToDataURL } from "./vendor/thumbhash/thumbhash.js";
import { h } from "./dom.js";

function placeholderUrl(base64) {
  if (!base64) return null;
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return thumbHashToDataURL(bytes);
  } catch {
    return null;
  }
}

const STATUS = { pending: "Analysing…", failed: "Analysis failed", processing: "Analysing…" };

/** The <li> of one image in a grid; `href` opens its page. */
export function tile(image, href) {
  const item = h("li", { class: "tile", "data-id": image.id });
  fillTile(item, image, href);
  return item;
}

/** Paint (or repaint, when analysis or renditions finished) a tile from a summary. */
export function fillTile(item, image, href) {
  const placeholder = placeholderUrl(image.placeholder);
  const img = h("img", {
    alt: image.name,
    width: image.width,
    height: image.height,
    decoding: "async",
    loading: "lazy",
    src: image.thumbnail_url || placeholder || image.view_url,
  });
  if (placeholder) {
    // CSSOM, not a style attribute: allowed by style-src 'self'.
    img.style.backgroundImage = `url("${placeholder}")`;
    img.dataset.placeholder = "painted";
  }
  const status = STATUS[image.analysis_status];
  item.dataset.status = image.analysis_status;
  item.dataset.ready = image.thumbnail_url ? "yes" : "no";
  item.replaceChildren(
    h("a", { href }, img, status ? h("span", { class: `badge ${image.analysis_status}` }, status) : null),
  );
}
