// The account: email, image count and limit, log out, delete (typed confirmation).
import { api, session, forget } from "./api.js";
import { h, field } from "./dom.js";

const CONFIRM_WORD = "DELETE";

export function renderAccount(main) {
  const controller = new AbortController();
  const message = h("p", { class: "error", role: "alert" });
  const details = h("dl", { class: "facts" });
  main.replaceChildren(h("h1", {}, "Your account"), details, message);
  api("/api/v1/users/me", { signal: controller.signal })
    .then((me) => {
      const limit = me.image_upload_limit === null ? "no limit" : String(me.image_upload_limit);
      details.append(
        h("dt", {}, "Email"), h("dd", {}, me.email || session().email || "(not in the token)"),
        h("dt", {}, "Images"), h("dd", {}, `${me.image_upload_count} (limit: ${limit})`),
      );
      const typed = field(`Type ${CONFIRM_WORD} to delete your account and every image`, {
        type: "text", autocomplete: "off", id: "confirm-delete",
      });
      const remove = h("button", { type: "submit", class: "danger", disabled: true }, "Delete account");
      typed.input.addEventListener("input", () => {
        remove.disabled = typed.input.value.trim() !== CONFIRM_WORD;
      });
      main.append(
        h("p", { class: "actions" }, h("button", {
          type: "button",
          onclick: () => {
            forget();
            location.hash = "#/login";
          },
        }, "Log out")),
        h("form", {
          class: "card danger-zone",
          "aria-label": "Delete account",
          onsubmit: async (e) => {
            e.preventDefault();
            if (typed.input.value.trim() !== CONFIRM_WORD) return;
            try {
              await api(`/api/v1/users/${me.id}`, { method: "DELETE" });
              forget();
              location.hash = "#/login";
            } catch (err) {
              message.textContent = err.message;
            }
          },
        }, h("h2", {}, "Delete the account"), typed.wrap, h("p", { class: "actions" }, remove)),
      );
    })
    .catch((err) => {
      if (err.name !== "AbortError") message.textContent = err.message;
    });
  return () => controller.abort();
}
