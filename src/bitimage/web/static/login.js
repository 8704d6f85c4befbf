// Sign up (CAS account, then the Bit-image account) and log in; or paste a token from elsewhere.
import { api, remember, forget, ApiError } from "./api.js";
import { h, field, announce } from "./dom.js";

async function ensureAccount() {
  try {
    await api("/api/v1/users/me");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
    await api("/api/v1/users", { method: "POST" }); // first login after signup
  }
}

async function logIn(email, password) {
  const answer = await api("/cas/loginSubmit", {
    method: "POST",
    body: { email, password },
    auth: false,
  });
  remember(answer.token);
  try {
    await ensureAccount();
  } catch (err) {
    forget();
    throw err;
  }
}

export function renderLogin(main, done) {
  const email = field("Email", { type: "email", autocomplete: "username", required: true });
  const password = field("Password", {
    type: "password",
    autocomplete: "current-password",
    required: true,
    minLength: 8,
  });
  const message = h("p", { class: "error", role: "alert" });
  const busy = (on) => {
    for (const b of form.querySelectorAll("button")) b.disabled = on;
  };
  const attempt = async (signUp) => {
    message.textContent = "";
    if (!form.reportValidity()) return;
    busy(true);
    try {
      const credentials = { email: email.input.value.trim(), password: password.input.value };
      if (signUp) {
        await api("/cas/signup", { method: "POST", body: credentials, auth: false });
      }
      await logIn(credentials.email, credentials.password);
      announce(signUp ? "Account created; you are logged in" : "Logged in");
      done();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        message.textContent =
          "This server trusts an external sign-in service: get a token there and paste it below.";
      } else {
        message.textContent = err.message;
      }
    } finally {
      busy(false);
    }
  };
  const form = h(
    "form",
    { class: "card", onsubmit: (e) => (e.preventDefault(), attempt(false)) },
    h("h1", {}, "Log in to Bit-image"),
    email.wrap,
    password.wrap,
    message,
    h(
      "p",
      { class: "actions" },
      h("button", { type: "submit" }, "Log in"),
      h("button", { type: "button", class: "secondary", onclick: () => attempt(true) }, "Sign up"),
    ),
    h("p", { class: "hint" }, "Sign up creates an account with this email and password (8 characters or more)."),
  );
  const token = field("Token", { type: "password", autocomplete: "off" });
  const tokenForm = h(
    "form",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        remember(token.input.value.trim());
        try {
          await ensureAccount();
          done();
        } catch (err) {
          forget();
          message.textContent = err.message;
        }
      },
    },
    token.wrap,
    h("button", { type: "submit", class: "secondary" }, "Use this token"),
  );
  main.replaceChildren(
    form,
    h(
      "details",
      { class: "card" },
      h("summary", {}, "Signed in elsewhere? Use a token"),
      h("p", {}, "With an external issuer, paste the JWT it gave you."),
      tokenForm,
    ),
    h("p", {}, h("a", { href: "#/public" }, "Browse the public gallery without logging in")),
  );
  email.input.focus();
}
