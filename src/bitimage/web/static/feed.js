// Pages of summaries for one search, with cursor paging. The one search field asks the name,
// tag, content label and text filters in turn (the API ANDs filters) and merges their pages.
import { api } from "./api.js";

const PAGE = 40;
const FIELDS = ["name", "tag", "content_label", "text"];

/** The search a gallery shows, read from (and written to) the URL: q, tag, label, conf, text. */
export function searchFrom(params) {
  return {
    q: params.get("q") || "",
    tag: params.get("tag") || "",
    label: params.get("label") || "",
    conf: params.get("conf") || "",
    text: params.get("text") || "",
  };
}

export class Feed {
  constructor(scope, search) {
    this.path = `/api/v1/images/${scope}/summary`;
    const base = {};
    if (search.tag) base.tag = search.tag;
    if (search.label) base.content_label = search.label;
    if (search.text) base.text = search.text;
    const queries = search.q
      ? FIELDS.filter((f) => !(f in base)).map((f) => ({ ...base, [f]: search.q }))
      : [base];
    // min_confidence needs a content_label filter (else the API answers 400).
    this.sources = queries.map((query) => ({
      query: "content_label" in query && search.conf ? { ...query, min_confidence: search.conf } : query,
      cursor: undefined,
    }));
    this.seen = new Set();
    this.ids = [];
  }

  get done() {
    return this.sources.every((s) => s.cursor === null);
  }

  /** The next images not shown yet (an empty list once every source is exhausted). */
  async next(signal) {
    const live = this.sources.filter((s) => s.cursor !== null);
    const pages = await Promise.all(
      live.map((s) =>
        api(this.path, { query: { ...s.query, limit: PAGE, cursor: s.cursor }, signal }),
      ),
    );
    const fresh = [];
    pages.forEach((page, i) => {
      live[i].cursor = page.next_cursor;
      for (const image of page.images) {
        if (!this.seen.has(image.id)) {
          this.seen.add(image.id);
          this.ids.push(image.id);
          fresh.push(image);
        }
      }
    });
    return fresh;
  }
}
