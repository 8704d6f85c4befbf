// Entry point: the hash router (#/, #/public, #/image/ID, #/account, #/login) and the header.
import { session, forget } from "./api.js";
import { h } from "./dom.js";
import { renderLogin } from "./login.js";
import { renderGallery } from "./gallery.js";
import { renderImage } from "./image.js";
import { renderAccount } from "./account.js";

const main = document.getElementById("main");
let stopCurrent = () => {};

function renderNav() {
  const nav = document.getElementById("nav");
  const links = session()
    ? [
        h("a", { href: "#/" }, "Library"),
        h("a", { href: "#/public" }, "Public gallery"),
        h("a", { href: "#/account" }, "Account"),
        h("button", { type: "button", class: "link", onclick: logOut }, "Log out"),
      ]
    : [h("a", { href: "#/public" }, "Public gallery"), h("a", { href: "#/login" }, "Log in")];
  nav.replaceChildren(...links);
}

function go(hash) {
  if (location.hash === hash) route(null);
  else location.hash = hash; // hashchange routes
}

function logOut() {
  forget();
  go("#/login");
}

function route(event) {
  stopCurrent();
  stopCurrent = () => {};
  renderNav();
  if (event) {
    // A new view: screen readers start at its content, and the page at its top.
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  const path = location.hash.replace(/^#/, "").split("?")[0] || "/";
  const loggedIn = Boolean(session());
  let stop;
  if (path.startsWith("/image/")) {
    stop = renderImage(main, decodeURIComponent(path.slice(7)));
  } else if (path === "/public") {
    stop = renderGallery(main, "public");
  } else if (path === "/account" && loggedIn) {
    stop = renderAccount(main);
  } else if (path === "/" && loggedIn) {
    stop = renderGallery(main, "private");
  } else {
    stop = renderLogin(main, () => go("#/"));
  }
  if (typeof stop === "function") stopCurrent = stop;
}

window.addEventListener("hashchange", route);
window.addEventListener("bitimage:logged-out", () => go("#/login"));
route(null);
