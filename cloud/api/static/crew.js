// The crew's phone page (/crew, 360–414 px first): my work orders, most urgent first; per order
// where it is (links that open the station in a map app), accept, photos, report back.
//
// Made for a weak mobile signal: every step goes through the outbox (crew-outbox.js), kept on the
// phone until the server has it, sent once (an Idempotency-Key made when the step was taken). The
// cards show the steps still waiting as done-but-not-sent, so the crew sees what they did. The
// last list of orders and the user's name are kept too, and a service worker (/crew-sw.js) keeps
// the page's files: the page opens, and takes steps, without a network.
import {el, getJson, live, mountHeader} from "./common.js";
import {fmtDateTime, t} from "./i18n.js";
import {dueText, mapLinkNodes, newKey, orderTitle, refusalText} from "./handling.js";
import {Outbox, discard, keepOrders, keptOrders, steps} from "./crew-outbox.js";

const $ = (name) => document.getElementById(name);
const USER_KEY = "watertel.crew.user";
const MAX_SIDE = 1600;  // px: a phone's photo shrunk to this is a few hundred kB
let user = localStorage.getItem(USER_KEY);
let orders = [];
let keptAt = null;  // when the list shown was fetched, if it came from the phone's copy
let waiting = [];  // the outbox's steps
let outbox = null;
const drafts = new Map();  // order id -> notes being typed (kept across redraws)
const picked = new Map();  // order id -> photos chosen, not yet sent

// A photo as sent: shrunk to MAX_SIDE as a JPEG when the browser can read it, else as chosen
// (the server checks the bytes and says why it refuses).
async function shrink(file) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.size < 600 * 1024 && /^image\/(jpeg|png)$/.test(file.type)) return file;
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve) => canvas.toBlob((blob) => resolve(blob || file), "image/jpeg", 0.85));
  } catch (error) {
    return file;
  }
}

// --- the steps ---------------------------------------------------------------------------------------
async function accept(o) {
  await outbox.add("accept", o.id, {key: newKey()});
}

async function report(o) {
  const notes = ($(`notes-${o.id}`).value || "").trim();
  const photos = picked.get(o.id) || [];
  if (!notes) { $(`notes-${o.id}`).focus(); setCardNote(o.id, t("cr.notes_needed")); return; }
  for (const file of photos) await outbox.add("photo", o.id, {key: newKey(), blob: await shrink(file)});
  await outbox.add("report", o.id, {key: newKey(), notes});
  drafts.delete(o.id);
  picked.delete(o.id);
}

function setCardNote(id, text) {
  const line = document.querySelector(`article[data-id="${id}"] .cr-card-note`);
  if (line) line.textContent = text;
}

// --- drawing ------------------------------------------------------------------------------------------
function pendingOf(id) {
  const mine = waiting.filter((s) => s.order_id === id);
  return {accept: mine.find((s) => s.kind === "accept"), report: mine.find((s) => s.kind === "report"),
    photos: mine.filter((s) => s.kind === "photo"), failed: mine.filter((s) => s.state === "failed")};
}

function failedLine(s) {
  return el("li", {className: "cr-failed"}, `${t(`cr.kind.${s.kind}`)}：${refusalText(s.error)} `,
    el("button", {type: "button", className: "cr-retry", onclick: () => outbox.retry(s.seq)}, t("cr.retry")),
    el("button", {type: "button", className: "cr-discard", onclick: async () => { await discard(s.seq); redraw(); }},
      t("cr.discard")));
}

function photoPicker(o) {
  const chosen = picked.get(o.id) || [];
  const input = el("input", {type: "file", id: `photo-${o.id}`, className: "cr-photo-input", accept: "image/jpeg,image/png",
    capture: "environment", multiple: "", onchange: (e) => {
      picked.set(o.id, [...chosen, ...e.target.files]);
      redraw();
    }});
  return el("div", {className: "cr-photos"},
    el("label", {className: "cr-photo-button", htmlFor: `photo-${o.id}`}, t("cr.add_photo")), input,
    chosen.length ? el("span", {className: "cr-chosen"}, t("cr.chosen", {n: chosen.length}), " ",
      el("button", {type: "button", className: "link", onclick: () => { picked.delete(o.id); redraw(); }}, t("cr.clear")))
      : null);
}

function card(o) {
  const p = pendingOf(o.id);
  const state = p.report ? "reported" : p.accept && o.state === "assigned" ? "accepted" : o.state;
  const unsent = Boolean(p.report || (p.accept && o.state === "assigned"));
  const notes = el("textarea", {id: `notes-${o.id}`, className: "notes", "aria-label": t("crew.notes"),
    placeholder: t("cr.notes_ph"), maxlength: 4000, rows: 4, oninput: (e) => drafts.set(o.id, e.target.value)});
  notes.value = drafts.get(o.id) || "";
  const body = [];
  if (state === "assigned") {
    body.push(el("button", {type: "button", className: "accept primary", onclick: () => accept(o)}, t("crew.accept")));
  } else if (state === "accepted") {
    body.push(notes, photoPicker(o),
      el("button", {type: "button", className: "report primary", onclick: () => report(o)}, t("crew.report")));
  } else if (state === "reported") {
    body.push(el("p", {className: "cr-report"}, t("crew.reported", {notes: p.report ? p.report.notes : o.report})));
  }
  if (o.photos || p.photos.length) {
    body.push(el("p", {className: "meta cr-photo-count"}, t("cr.photos", {n: o.photos}),
      p.photos.length ? ` · ${t("cr.photos_waiting", {n: p.photos.length})}` : ""));
  }
  return el("article", {className: `order cr-card${o.overdue ? " overdue" : ""}${unsent ? " unsent" : ""}`, "data-id": o.id,
    "data-state": state},
    el("h3", {}, orderTitle(o)),
    el("p", {className: "meta"}, `${o.station_name || o.station} · ${o.region_path || o.station}`),
    el("p", {className: "meta"}, el("span", {className: `wo-state wo-${state}`}, t(`wo.${state}`)),
      unsent ? el("span", {className: "badge cr-unsent"}, t("cr.unsent")) : null, " · ",
      el("span", {className: o.overdue ? "late" : ""}, state === "reported" ? fmtDateTime(o.due_ms) : dueText(o.due_ms))),
    el("div", {className: "cr-map"}, ...mapLinkNodes(o.location, o.station_name || o.station)),
    ...body,
    p.failed.length ? el("ul", {className: "cr-failed-list"}, ...p.failed.map(failedLine)) : null,
    el("p", {className: "cr-card-note", role: "status"}));
}

function render() {
  const open = orders.filter((o) => o.state !== "closed");
  $("orders").replaceChildren(...open.map(card));
  $("order-count").textContent = open.length;
  $("empty").hidden = open.length > 0;
  const count = waiting.filter((s) => s.state === "waiting").length;
  const box = $("outbox");
  box.dataset.n = String(count);
  box.hidden = count === 0;
  box.textContent = count ? t("cr.outbox", {n: count}) : "";
  const offline = !navigator.onLine || (outbox && outbox.offline) || keptAt !== null;
  const net = $("net");
  net.hidden = !offline && !(outbox && outbox.needsLogin);
  net.textContent = outbox && outbox.needsLogin ? t("cr.login_again")
    : keptAt !== null ? t("cr.offline_kept", {time: fmtDateTime(keptAt)}) : offline ? t("cr.offline") : "";
}

async function redraw() {
  waiting = user ? await steps(user) : [];
  render();
}

// --- loading ------------------------------------------------------------------------------------------
async function reload() {
  try {
    orders = await getJson("/api/workorders?mine=true");
    keptAt = null;
    $("error").textContent = "";
    if (user) await keepOrders(user, orders);
  } catch (error) {
    const kept = user && !(error && error.status) ? await keptOrders(user) : null;
    if (kept) { orders = kept.orders; keptAt = kept.t_ms; } else $("error").textContent = t("error", {msg: refusalText(error)});
  }
  await redraw();
}

async function whoAmI() {
  try {
    const me = await getJson("/api/me");
    if (me.user !== user) localStorage.setItem(USER_KEY, me.user);
    user = me.user;
  } catch (error) {
    if (!user) throw error;  // never logged in on this phone, and no network: nothing to show
  }
}

async function start() {
  mountHeader("/crew");
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/crew-sw.js", {scope: "/crew"}).catch(() => {});
  await whoAmI();
  outbox = new Outbox(user, (sent) => (sent ? reload() : redraw()));
  await reload();
  outbox.flush();
  live({workorder: () => reload()}, () => { reload(); outbox.flush(); });
  window.addEventListener("online", reload);
  window.addEventListener("offline", render);
}

window.addEventListener("langchange", render);
setInterval(() => { if (!document.activeElement || document.activeElement.tagName !== "TEXTAREA") reload(); }, 60_000);
start().catch((error) => { $("error").textContent = t("error", {msg: refusalText(error)}); });
