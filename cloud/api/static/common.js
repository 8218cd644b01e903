// What every console page shares: the header (navigation, language toggle, log out), fetching
// JSON, small DOM helpers and the live event stream.
//
// Robust pages (issue 20): each part of a page loads on its own, so one failing call never
// blanks the rest:
//   section(box, async (box) => {...})  runs the loader; if it throws, the box (a <section>)
//       shows the error in its own language in its own .section-status line, with a retry
//       button, and keeps whatever it showed before; the rest of the page is untouched.
//       An API error whose code is feature.read_only / feature.off (a 409: the configuration
//       does not enable it) is shown as notEnabled(...) instead. Returns the loader's value,
//       or undefined when it failed. Messages follow the language toggle.
//   notEnabled(box, code, feature, setting)  says the feature is not enabled and how to
//       enable it ("用户由 cloud.yaml 管理：设置 api.users_file 以在此管理"), and disables the
//       forms inside the box (every input, select, textarea and button of its <form>s).
//   labelCells(table)  labels each cell with its column header, so a table of class "stack"
//       reads as one card per row on a phone (style.css) instead of overflowing the screen.
//   ApiError: status, message (the server's detail, for logs), code and params (for errorText
//       in i18n.js); apiError(response, body) builds one from an error answer; sendJson(method,
//       path, body) is the write with the CSRF header. showError(error) shows errorText(error).
import {applyI18n, errorText, lang, notEnabledText, setLang, t} from "./i18n.js";

const PAGES = [["/", "nav.overview"], ["/alarms", "nav.alarms"], ["/stations", "nav.stations"], ["/quality", "nav.quality"], ["/permits", "nav.permits"], ["/fleet", "nav.fleet"], ["/crew", "nav.crew"]];
// pages whose API refuses some roles (GET /api/fleet: operators and admins); the rest are for everyone
const PAGE_ROLES = {"/fleet": ["operator", "admin"]};

// An element with attributes (class, href, data-*, …) and children (strings or nodes).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// Unsafe requests carry the session's CSRF token (the readable watertel_csrf cookie set at login).
export function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("watertel_csrf="));
  return cookie ? decodeURIComponent(cookie.slice("watertel_csrf=".length)) : (sessionStorage.getItem("watertel_csrf") || "");
}

export class ApiError extends Error {
  constructor(status, detail, code = null, params = {}) {
    super(detail);
    this.status = status;
    this.code = code;  // machine-readable (err.* / feature.* in i18n.js); null from older servers
    this.params = params || {};
  }
}

// An ApiError from an error answer's JSON body: {detail, code, params} (detail may be a list).
export function apiError(response, body = {}) {
  const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg || d).join("\n") : body.detail;
  return new ApiError(response.status, detail || response.statusText, body.code || null, body.params || {});
}

export async function getJson(path) {
  const response = await fetch(path);
  if (response.status === 401) { window.location = "/login"; throw new ApiError(401, "logged out", "auth.required"); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw apiError(response, body);
  return body;
}

// A write (POST, PUT, PATCH, DELETE) with the session's CSRF token; the answer's JSON, or an ApiError.
export async function sendJson(method, path, body) {
  const response = await fetch(path, {method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()}});
  if (response.status === 401) { window.location = "/login"; throw new ApiError(401, "logged out", "auth.required"); }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw apiError(response, answer);
  return answer;
}

async function logOut() {
  // offline too: the phone forgets the user's orders even when the server is not reached
  await fetch("/api/logout", {method: "POST", headers: {"X-CSRF-Token": csrfToken()}}).catch(() => {});
  await forgetCrewOrders().catch((error) => console.warn("log out", error));
  window.location = "/login";
}

// A crew phone may pass from hand to hand: at log out the orders kept for offline reading
// (crew-outbox.js, IndexedDB "watertel-crew") and the remembered user name go, so the next holder
// sees nothing offline. Steps not yet sent stay in the outbox: they go when their user logs in again.
async function forgetCrewOrders() {
  localStorage.removeItem("watertel.crew.user");
  const known = indexedDB.databases ? await indexedDB.databases() : [];
  if (!known.some((d) => d.name === "watertel-crew")) return;  // open() would create an empty one
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("watertel-crew");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    await new Promise((resolve, reject) => {
      const tx = db.transaction("orders", "readwrite");
      tx.objectStore("orders").clear();
      tx.oncomplete = resolve;
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// Fill <nav id="nav"> with the page links, the language toggle and (unless the page has its own) log out.
export function mountHeader(active) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...PAGES.map(([href, key]) =>
    el("a", {href, "data-i18n": key, className: href === active ? "active" : null})));
  const langButton = el("button", {id: "lang", type: "button", "data-i18n": "lang.switch",
    onclick: () => setLang(lang() === "en" ? "zh" : "en")});
  nav.append(langButton);
  getJson("/api/me").then((me) => {  // links to pages the role may not use go; the admin page's: for admins only
    for (const [href, roles] of Object.entries(PAGE_ROLES)) {
      if (!roles.includes(me.role)) nav.querySelector(`a[href='${href}']`)?.remove();
    }
    if (me.role !== "admin" || nav.querySelector("a[href='/admin']")) return;
    langButton.before(el("a", {href: "/admin", "data-i18n": "nav.admin", className: active === "/admin" ? "active" : null},
      t("nav.admin")));
  }).catch(() => {});
  if (!document.getElementById("logout")) {
    nav.append(el("button", {id: "logout", type: "button", "data-i18n": "nav.logout", onclick: logOut}));
  }
  document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
  applyI18n();
}

// Subscribe to /api/events: handlers by event name; onOpen runs on every (re)connect so the page
// reloads the state it may have missed. The #live element shows the connection state.
export function live(handlers, onOpen) {
  const badge = document.getElementById("live");
  const show = (state) => {
    if (!badge) return;
    badge.dataset.state = state;
    badge.dataset.i18n = `live.${state}`;
    badge.textContent = t(`live.${state}`);
  };
  show("connecting");
  const source = new EventSource("/api/events");
  source.addEventListener("ready", () => { show("open"); if (onOpen) onOpen(); });
  source.addEventListener("error", () => {
    show(source.readyState === EventSource.CLOSED ? "lost" : "connecting");
    if (source.readyState === EventSource.CLOSED) getJson("/api/me").catch(() => {});  // 401: to the login page
  });
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
  return source;
}

export function showError(error) {
  const box = document.getElementById("error");
  if (box) box.textContent = error ? t("error", {msg: errorText(error)}) : "";
}

// --- i18n part (issue 20): sections that load on their own, features the configuration leaves off ---
function statusLine(box) {
  let line = box.querySelector(":scope > .section-status");
  if (!line) {
    line = el("div", {className: "section-status", role: "status"});
    const heading = box.querySelector(":scope > h2, :scope > h3");
    if (heading) heading.after(line); else box.prepend(line);
  }
  return line;
}

function showStatus(box) {
  const line = statusLine(box);
  const state = box.dataset.sectionState;
  if (state === "failed") {
    line.className = "section-status failed";
    line.setAttribute("role", "alert");
    const retry = el("button", {type: "button", className: "section-retry", onclick: () => box._sectionRetry?.()},
      t("section.retry"));
    line.replaceChildren(el("span", {}, t("section.failed", {msg: errorText(box._sectionError)})), " ", retry);
  } else if (state === "off") {
    line.className = "section-status off";
    line.setAttribute("role", "status");
    const {code, feature, setting} = box._sectionOff;
    line.replaceChildren(el("span", {}, notEnabledText(code, feature, setting)));
  } else {
    line.className = "section-status";
    line.replaceChildren();
  }
}

// Phones: a table of class "stack" shows each row as a card (style.css); each cell is labelled
// with its column's header (data-label), set again after every render.
export function labelCells(table) {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.tBodies[0]?.rows || []) {
    [...row.cells].forEach((cell, i) => { if (heads[i]) cell.dataset.label = heads[i]; });
  }
}

export function notEnabled(box, code, feature, setting) {
  box.dataset.sectionState = "off";
  box._sectionOff = {code, feature, setting};
  for (const control of box.querySelectorAll("form input, form select, form textarea, form button")) control.disabled = true;
  showStatus(box);
}

export async function section(box, load) {
  box._sectionRetry = () => section(box, load);
  box.setAttribute("aria-busy", "true");
  try {
    const value = await load(box);
    if (box.dataset.sectionState === "failed") { box.dataset.sectionState = "ok"; showStatus(box); }
    return value;
  } catch (error) {
    if (error && typeof error.code === "string" && error.code.startsWith("feature.")) {
      notEnabled(box, error.code, error.params?.feature, error.params?.setting);
    } else {
      box.dataset.sectionState = "failed";
      box._sectionError = error;
      showStatus(box);
      if (!(error instanceof ApiError)) console.warn("section failed", error);  // a bug in the page, not an answer
    }
    return undefined;
  } finally {
    box.removeAttribute("aria-busy");
  }
}

window.addEventListener("langchange", () => {
  document.querySelectorAll("[data-section-state=failed], [data-section-state=off]").forEach(showStatus);
});
