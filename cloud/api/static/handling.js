// What the alarm board, an alarm's page, the work-order list and the crew page share (alarm-crew
// part of issue 20): writes that may carry an idempotency key or a photo, refusals in the
// user's language, the names of lifecycle steps, and links that open a station in a map app.
import {ApiError, apiError, csrfToken, el} from "./common.js";
import {alarmMessage, errorText, fmtDateTime, has, ruleName, t} from "./i18n.js";

// A write: JSON (or a Blob with its own type) with the CSRF token and, when given, an
// Idempotency-Key. The answer's JSON; an ApiError with the server's code and params; a TypeError
// when no answer came (offline), which the crew's outbox keeps for later.
export async function send(method, path, body, {key = null, blob = null} = {}) {
  const headers = {"X-CSRF-Token": csrfToken()};
  if (key) headers["Idempotency-Key"] = key;
  if (blob) headers["Content-Type"] = blob.type || "application/octet-stream";
  else headers["Content-Type"] = "application/json";
  const response = await fetch(path, {method, headers, body: blob || (body === undefined ? undefined : JSON.stringify(body))});
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw apiError(response, answer);
  return answer;
}

// A client's name for one write: random, and not a secret (plain-HTTP intranets have no randomUUID).
export function newKey() {
  if (window.crypto && crypto.randomUUID && window.isSecureContext) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// A refusal in the user's language: the API's code through the catalogue (errorText: err.<code>
// with its parameters named in the user's language), network failures, HTTP statuses.
export function refusalText(error) {
  if (error instanceof ApiError && error.status === 401 && !error.code) return t("err.http.401");
  return errorText(error);
}

export function showRefusal(box, error) {
  if (!box) return;
  box.textContent = error ? t("error", {msg: refusalText(error)}) : "";
}

// A history row's step ("acknowledged", "work_order.accepted", …) in the user's language.
export function stepName(action) {
  return has(`act.${action}`) ? t(`act.${action}`) : action;
}

// What a history row says, in the user's language where the row's note is one the store writes
// itself (work order numbers, "to crew"); a person's comment or note is shown as written.
export function stepNote(h, alarm = null) {
  const note = h.note || "";
  if (h.action === "raised" && alarm && note === alarm.message) return alarmMessage(alarm);
  const order = /^work order (\d+)(?:: (.*))?$/s.exec(note);
  if (order && h.action.startsWith("work_order.") && h.action !== "work_order.photo") {
    const rest = order[2] || "";
    const to = /^to (\S+)$/.exec(rest);
    return t("al.wo_ref", {id: order[1]}) + (to ? ` → ${to[1]}` : rest ? `：${rest}` : "");
  }
  if (h.action === "work_order.created") {
    const made = /^work order (\d+)(?: for (\S+))?$/.exec(note);
    if (made) return t("al.wo_ref", {id: made[1]}) + (made[2] ? ` → ${made[2]}` : "");
  }
  if (h.action === "work_order.photo") {
    const photo = /^work order (\d+): photo (\d+) \(([^,]+), (\d+) bytes/.exec(note);
    if (photo) return t("al.photo_ref", {id: photo[1], n: photo[2], kb: Math.max(1, Math.round(photo[4] / 1024))});
  }
  if (h.action === "assigned") {
    const to = /^to (\S+)(?:: (.*))?$/s.exec(note);
    if (to) return `→ ${to[1]}` + (to[2] ? `：${to[2]}` : "");
  }
  if (h.action === "escalated") {
    const level = /contact level (\d+)/.exec(note);
    if (level) return t("alarms.level", {n: level[1]});
  }
  if (h.action === "work_order.overdue") {
    const late = /^work order (\d+) \((\S+)\) was due (\d+) min ago$/.exec(note);
    if (late) return t("al.overdue_note", {id: late[1], who: late[2] === "unassigned" ? t("wl.unassigned") : late[2],
      min: late[3]});
  }
  if (h.action === "raised" && note === "suppressed: maintenance window") return t("al.suppressed");
  if (h.action === "closed" && /^while (\w+)/.test(note)) {
    const m = /^while (\w+)(?:: (.*))?$/s.exec(note);
    return t("al.closed_while", {state: t(`state.${m[1]}`)}) + (m[2] ? `：${m[2]}` : "");
  }
  return note;
}

// Links that open a station's WGS-84 coordinates in a map app on a phone: the geo: URI (Android's
// chooser), 高德 and 百度's own web pages (which hand over to their apps), each told the
// coordinates are WGS-84 so they shift them to their own systems (GCJ-02, BD-09) themselves.
export function mapLinks(location, name) {
  if (!location) return [];
  const {lat, lon} = location;
  const label = encodeURIComponent(name || "");
  return [
    {app: "geo", href: `geo:${lat},${lon}?q=${lat},${lon}(${label})`},
    {app: "amap", href: `https://uri.amap.com/marker?position=${lon},${lat}&name=${label}&coordinate=wgs84&callnative=1&src=watertel`},
    {app: "baidu", href: `https://api.map.baidu.com/marker?location=${lat},${lon}&title=${label}&content=${label}`
      + `&coord_type=wgs84&output=html&src=webapp.watertel.console`},
  ];
}

export function mapLinkNodes(location, name) {
  const links = mapLinks(location, name);
  if (!links.length) return [el("span", {className: "muted"}, t("cr.no_location"))];
  return links.map(({app, href}) => el("a", {className: `map-link map-${app}`, href, target: app === "geo" ? null : "_blank",
    rel: "noopener"}, t(`cr.map.${app}`)));
}

// "截止 2026-12-07 20:31 (UTC+8)" with how far away it is (or how late).
export function dueText(dueMs, now = Date.now()) {
  const left = dueMs - now;
  const hours = Math.abs(left) / 3600e3;
  const span = hours >= 48 ? t("age.d", {n: Math.floor(hours / 24)}) : hours >= 1 ? t("age.h", {n: Math.floor(hours)})
    : t("age.m", {n: Math.max(1, Math.floor(hours * 60))});
  return t(left >= 0 ? "wl.due_in" : "wl.due_late", {time: fmtDateTime(dueMs), span});
}


// A work order's title as the user reads it: the one an operator typed, or, for the store's own
// ("data_stopped ST-XH: no data …", English), the rule's name and the station's.
export function orderTitle(order, stationName = "") {
  const made = /^([a-z_]+) (\S+): /.exec(order.title || "");
  if (!order.title || (made && made[2] === order.station)) {
    return `${ruleName(made ? made[1] : order.alarm_type || "")} · ${stationName || order.station_name || order.station}`;
  }
  return order.title;
}
