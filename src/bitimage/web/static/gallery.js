// The library (your images) and the public gallery: search, a grid that grows as you scroll.
import { api, session } from "./api.js";
import { h, field, announce, hashParams } from "./dom.js";
import { Feed, searchFrom } from "./feed.js";
import { tile, fillTile } from "./tiles.js";
import { uploadPanel } from "./upload.js";

const DEBOUNCE_MS = 250;
const REFRESH_MS = 3000;
const MAX_POLLS = 40; // two minutes: a thumbnail that never comes is not asked for forever

/** The ids of the last gallery shown, in order: the image page's previous and next. */
export const lastShown = { ids: [], scope: "private" };

function searchForm(search, onChange) {
  const q = field("Search", { type: "search", value: search.q, autocomplete: "off" });
  const tag = field("Tag", { type: "text", value: search.tag });
  const label = field("Content label", { type: "text", value: search.label });
  const conf = field("Minimum confidence", {
    type: "number", min: "0", max: "1", step: "0.01", value: search.conf, inputmode: "decimal",
  });
  const text = field("Text in the image", { type: "text", value: search.text });
  let timer = 0;
  const read = () => ({
    q: q.input.value.trim(),
    tag: tag.input.value.trim(),
    label: label.input.value.trim(),
    conf: conf.input.checkValidity() ? conf.input.value : "",
    text: text.input.value.trim(),
  });
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange(read()), DEBOUNCE_MS);
  };
  const filtersOpen = Boolean(search.tag || search.label || search.conf || search.text);
  const form = h(
    "form",
    { role: "search", class: "search", oninput: changed, onsubmit: (e) => (e.preventDefault(), onChange(read())) },
    q.wrap,
    h(
      "details",
      { open: filtersOpen },
      h("summary", {}, "Filters"),
      h("div", { class: "filters" }, tag.wrap, label.wrap, conf.wrap, text.wrap),
    ),
  );
  return { form, stop: () => clearTimeout(timer) };
}

export function renderGallery(main, scope) {
  const owner = scope === "private";
  let search = searchFrom(hashParams());
  let feed = null;
  let generation = 0;
  let loading = false;
  const controller = new AbortController();
  const grid = h("ul", { class: "grid", "aria-label": owner ? "Your images" : "Public images" });
  const note = h("p", { class: "note", role: "status" });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const href = (id) => `#/image/${id}`;

  const loadMore = async () => {
    if (loading || !feed || feed.done) return;
    loading = true;
    const mine = generation;
    try {
      const images = await feed.next(controller.signal);
      if (mine !== generation) return;
      grid.append(...images.map((image) => tile(image, href(image.id))));
      lastShown.ids = feed.ids.slice();
      lastShown.scope = scope;
      if (feed.done) {
        note.textContent = grid.children.length
          ? `${grid.children.length} image${grid.children.length === 1 ? "" : "s"}`
          : search.q || search.tag || search.label || search.text
            ? "No image matches this search."
            : owner ? "Your library is empty: upload some images." : "No public image yet.";
      } else {
        note.textContent = "";
      }
    } catch (err) {
      if (err.name !== "AbortError" && mine === generation) note.textContent = err.message;
    } finally {
      if (mine === generation) loading = false;
    }
    // The first page may not fill the screen: keep going while the sentinel is visible.
    if (mine === generation && !feed.done && isVisible(sentinel)) loadMore();
  };

  const reload = () => {
    generation += 1;
    feed = new Feed(scope, search);
    grid.replaceChildren();
    note.textContent = "Loading…";
    loading = false;
    loadMore();
  };

  const onSearch = (next) => {
    search = next;
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(search)) if (v) params.set(k, v);
    const base = owner ? "#/" : "#/public";
    const query = params.toString();
    // Bookmarkable: the URL carries the search (replaceState: no hashchange, no re-render).
    history.replaceState(null, "", query ? `${base}?${query}` : base);
    reload();
    announce("Searching");
  };

  // Tiles whose analysis or thumbnail is not ready yet are asked again every few seconds.
  const refresh = setInterval(async () => {
    const waiting = [...grid.querySelectorAll('li[data-status="pending"], li[data-ready="no"]')]
      .filter((item) => Number(item.dataset.polls || 0) < MAX_POLLS && item.dataset.status !== "failed")
      .slice(0, 20);
    for (const item of waiting) {
      item.dataset.polls = String(Number(item.dataset.polls || 0) + 1);
      try {
        const image = await api(`/api/v1/images/${item.dataset.id}/expanded`, {
          signal: controller.signal,
        });
        if (image.analysis_status !== item.dataset.status || (image.thumbnail_url && item.dataset.ready === "no")) {
          fillTile(item, image, href(image.id));
        }
      } catch {
        return;
      }
    }
  }, REFRESH_MS);

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "600px" });
  observer.observe(sentinel);

  const { form, stop } = searchForm(search, onSearch);
  const heading = h("h1", {}, owner ? "Your library" : "Public gallery");
  const parts = [heading];
  // New images show as batches are confirmed, but the grid reloads at most every 2 s: a
  // reload per batch of 5 would compete with the uploads themselves.
  let pendingReload = 0;
  const reloadSoon = () => {
    if (!pendingReload) pendingReload = setTimeout(() => ((pendingReload = 0), reload()), 2000);
  };
  if (owner && session()) parts.push(uploadPanel(reloadSoon));
  parts.push(form, note, grid, sentinel);
  main.replaceChildren(...parts);
  reload();

  return () => {
    controller.abort();
    observer.disconnect();
    clearInterval(refresh);
    clearTimeout(pendingReload);
    stop();
    generation += 1;
  };
}

function isVisible(el) {
  const box = el.getBoundingClientRect();
  return box.top < window.innerHeight + 600;
}
