// The API, the session (a JWT in localStorage until it expires) and the error body's message.
const KEY = "bitimage.session";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}`);
    this.status = status;
    this.body = body || {};
    this.imageId = this.body.image_id || null;
  }
}

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

/** The stored session, or null when there is none or its token has expired. */
export function session() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.token) return null;
  if (saved.exp && saved.exp * 1000 <= Date.now()) {
    forget();
    return null;
  }
  return saved;
}

/** Keep a token (and what it says: user id, email, expiry) across reloads. */
export function remember(token) {
  const c = claims(token);
  const saved = { token, userId: c.sub || null, email: c.email || null, exp: c.exp || null };
  localStorage.setItem(KEY, JSON.stringify(saved));
  return saved;
}

/** Log out: the token is forgotten. */
export function forget() {
  localStorage.removeItem(KEY);
}

/** Call the API; JSON in and out; a non-2xx answer throws ApiError with the server's reason. */
export async function api(path, { method = "GET", body, query, auth = true, signal } = {}) {
  const url = new URL(path, location.origin);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
  }
  const headers = {};
  const current = auth ? session() : null;
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let answer;
  try {
    answer = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { message: "The server cannot be reached" });
  }
  if (answer.status === 204) return null;
  const data = await answer.json().catch(() => null);
  if (!answer.ok) {
    if (answer.status === 401 && current) {
      forget();
      window.dispatchEvent(new Event("bitimage:logged-out"));
    }
    throw new ApiError(answer.status, data);
  }
  return data;
}
