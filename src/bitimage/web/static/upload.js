// Upload many files: MD5 in a worker, skip those already in the account (hash filter), URLs
// asked in chunks, PUTs in parallel with progress, confirmed in batches of 5 as PUTs finish.
import { api, session, ApiError } from "./api.js";
import { h, field, announce } from "./dom.js";
import { md5 } from "./hashing.js";

const PARALLEL = 6; // files in flight: Chromium's connections per host over HTTP/1.1
const URL_CHUNK = 10; // upload URLs asked per request
const BATCH = 5; // images per POST /images (the server's default BITIMAGE_NOTIFY_BATCH_MAX)

function put(url, file, onProgress) {
  // XMLHttpRequest: fetch() cannot report upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let body = null;
      try {
        body = JSON.parse(xhr.responseText); // this server's store: the API's error body
      } catch {
        // S3 answers XML: <Error><Code>EntityTooLarge</Code><Message>...</Message></Error>
        const said = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || "");
        body = { message: said ? `The store refused it: ${said[1]}` : `The store answered ${xhr.status}` };
      }
      reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { message: "The upload was interrupted" }));
    xhr.send(file);
  });
}

function tagList(text) {
  const names = text.split(",").map((t) => t.trim()).filter(Boolean);
  return [...new Set(names)].map((name) => ({ name }));
}

class Row {
  constructor(file, list) {
    this.file = file;
    this.sent = 0;
    this.bar = h("progress", { max: file.size || 1, value: 0, "aria-label": `${file.name} progress` });
    this.status = h("span", { class: "state" }, "Waiting");
    this.li = h("li", { "data-state": "waiting" }, h("span", { class: "name" }, file.name), this.bar, this.status);
    list.append(this.li);
  }

  set(state, text) {
    this.li.dataset.state = state;
    this.status.textContent = text;
  }
}

/** Upload `files`; `onDone` runs after each confirmed batch (the grid reloads). */
async function uploadAll(files, options, ui, onDone) {
  const rows = files.map((file) => new Row(file, ui.list));
  const total = files.reduce((n, f) => n + f.size, 0) || 1;
  const counts = { done: 0, skipped: 0, refused: 0 };
  const showTotal = () => {
    ui.total.value = rows.reduce((n, r) => n + r.sent, 0);
    ui.total.max = total;
    ui.summary.textContent =
      `${counts.done} uploaded, ${counts.skipped} already there, ${counts.refused} refused, ` +
      `${files.length - counts.done - counts.skipped - counts.refused} to go`;
  };
  const refuse = (row, message) => {
    counts.refused += 1;
    row.set("refused", `Refused: ${message}`);
    showTotal();
  };

  let urls = [];
  let asking = null;
  const uploadUrl = async () => {
    while (!urls.length) {
      if (!asking) {
        const left = rows.filter((r) => r.li.dataset.state === "waiting" || r.li.dataset.state === "hashing").length;
        asking = api("/api/v1/images/upload_urls", { query: { image_count: Math.max(1, Math.min(URL_CHUNK, left)) } })
          .then((answer) => urls.push(...answer.image_upload_urls))
          .finally(() => { asking = null; });
      }
      await asking;
    }
    return urls.shift();
  };

  let queue = [];
  const confirming = [];
  const confirm = async (batch) => {
    try {
      await api("/api/v1/images", {
        method: "POST",
        body: { images: batch.map((r) => r.notify) },
      });
      for (const row of batch) {
        counts.done += 1;
        row.set("done", "Uploaded");
      }
      showTotal();
      onDone();
    } catch (err) {
      // All or nothing per batch: drop the image the server names and confirm the others;
      // with no image named, confirm one by one so only the faulty one is refused.
      const named = batch.find((r) => err.imageId && r.notify.id === err.imageId);
      if (named) {
        refuse(named, err.message);
        const rest = batch.filter((r) => r !== named);
        if (rest.length) await confirm(rest);
      } else if (batch.length > 1 && err.status >= 400 && err.status < 500) {
        for (const row of batch) await confirm([row]);
      } else {
        for (const row of batch) refuse(row, err.message);
      }
    }
  };
  const flush = (all) => {
    while (queue.length >= BATCH || (all && queue.length)) {
      confirming.push(confirm(queue.splice(0, BATCH)));
    }
  };

  // An empty account holds no duplicate: no need to ask about each file's MD5.
  const me = await api("/api/v1/users/me");
  const mayHoldDuplicates = me.image_upload_count > 0;
  const seenHashes = new Set();
  const one = async (row) => {
    row.set("hashing", "Checking");
    const hash = await md5(row.file);
    if (seenHashes.has(hash)) {
      counts.skipped += 1;
      row.set("skipped", "Skipped: the same file is already in this upload");
      return;
    }
    seenHashes.add(hash);
    const found = mayHoldDuplicates
      ? await api("/api/v1/images/private/summary", { query: { hash, limit: 1 } })
      : { images: [] };
    if (found.images.length) {
      counts.skipped += 1;
      row.sent = row.file.size;
      row.bar.value = row.bar.max;
      row.set("skipped", "Skipped: already in your library");
      showTotal();
      return;
    }
    const target = await uploadUrl();
    row.set("uploading", "Uploading");
    await put(target.url, row.file, (loaded) => {
      row.sent = loaded;
      row.bar.value = loaded;
      showTotal();
    });
    row.sent = row.file.size;
    row.bar.value = row.bar.max;
    row.set("confirming", "Confirming");
    row.notify = {
      id: target.image_id,
      name: (row.file.name || "image").slice(0, 255),
      hash,
      is_private: !options.isPublic,
      tags: options.tags,
    };
    queue.push(row);
    flush(false);
  };

  let index = 0;
  const lane = async () => {
    while (index < rows.length) {
      const row = rows[index++];
      try {
        await one(row);
      } catch (err) {
        refuse(row, err.message);
      }
    }
  };
  showTotal();
  await Promise.all(Array.from({ length: Math.min(PARALLEL, rows.length) }, lane));
  flush(true);
  await Promise.all(confirming);
  showTotal();
  announce(ui.summary.textContent);
}

/** The upload form: drop zone, file picker, tags, "Public", the Upload button and progress. */
export function uploadPanel(onDone) {
  let chosen = [];
  const picker = field("Choose images", { type: "file", multiple: true });
  const tags = field("Tags", { type: "text", placeholder: "comma-separated, e.g. holiday, 2024" });
  const publicBox = h("input", { type: "checkbox", id: "upload-public" });
  const list = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const total = h("progress", { max: 1, value: 0, "aria-label": "Total upload progress", hidden: true });
  const summary = h("p", { class: "summary", role: "status" });
  const chosenText = h("p", { class: "hint" }, "Or drop images here.");
  const button = h("button", { type: "submit" }, "Upload");
  const choose = (files) => {
    chosen = [...files];
    chosenText.textContent = `${chosen.length} file${chosen.length === 1 ? "" : "s"} ready to upload.`;
  };
  picker.input.addEventListener("change", () => choose(picker.input.files));
  const drop = h("div", { class: "drop" }, picker.wrap, chosenText);
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    choose(e.dataTransfer.files);
  });
  const form = h(
    "form",
    {
      class: "card upload",
      "aria-label": "Upload images",
      onsubmit: async (e) => {
        e.preventDefault();
        if (!chosen.length || !session()) {
          summary.textContent = "Choose or drop some files first.";
          return;
        }
        const files = chosen;
        chosen = [];
        picker.input.value = "";
        chosenText.textContent = "Or drop images here.";
        list.replaceChildren();
        summary.textContent = "Starting…";
        total.hidden = false;
        button.disabled = true;
        try {
          await uploadAll(files, { tags: tagList(tags.input.value), isPublic: publicBox.checked },
            { list, total, summary }, onDone);
        } catch (err) {
          summary.textContent = err.message;
        } finally {
          button.disabled = false;
        }
      },
    },
    h("h2", {}, "Add images"),
    h(
      "div",
      { class: "upload-row" },
      drop,
      tags.wrap,
      h("p", { class: "field check" }, publicBox, h("label", { for: "upload-public" }, "Public")),
      h("p", { class: "actions" }, button),
    ),
    total,
    summary,
    list,
  );
  return form;
}
