// What every console page shares: the header (navigation, language toggle, log out), fetching
// JSON, small DOM helpers and the live event stream.
import {applyI18n, lang, setLang, t} from "./i18n.js";

const PAGES = [["/", "nav.overview"], ["/alarms", "nav.alarms"], ["/stations", "nav.stations"], ["/quality", "nav.quality"], ["/permits", "nav.permits"], ["/fleet", "nav.fleet"], ["/crew", "nav.crew"]];

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
  constructor(status, detail) { super(detail); this.status = status; }
}

export async function getJson(path) {
  const response = await fetch(path);
  if (response.status === 401) { window.location = "/login"; throw new ApiError(401, "logged out"); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText);
  return body;
}

async function logOut() {
  await fetch("/api/logout", {method: "POST", headers: {"X-CSRF-Token": csrfToken()}});
  window.location = "/login";
}

// Fill <nav id="nav"> with the page links, the language toggle and (unless the page has its own) log out.
export function mountHeader(active) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...PAGES.map(([href, key]) =>
    el("a", {href, "data-i18n": key, className: href === active ? "active" : null})));
  const langButton = el("button", {id: "lang", type: "button", "data-i18n": "lang.switch",
    onclick: () => setLang(lang() === "en" ? "zh" : "en")});
  nav.append(langButton);
  getJson("/api/me").then((me) => {  // the admin page's link: for admins only
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
  if (box) box.textContent = error ? t("error", {msg: error.message}) : "";
}
