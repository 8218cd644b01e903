// The overview: totals of what was verified and refused, the open alarms and the latest value of
// every point, each section loaded on its own (a failing call shows its error in its own box),
// polled every two seconds. Everything a user reads goes through the catalogue: rule and point
// names, alarm messages (message_code), quality flags, units, numbers by unit, China time.
import {el, getJson, labelCells, mountHeader, section} from "./common.js";
import {alarmMessage, flagName, fmtDateTime, fmtNumber, pointName, ruleName, t, unitName} from "./i18n.js";

const POLL_MS = 2000;
let summary = null;
let alarms = [];
let latest = [];

const stationLink = (id) => el("a", {href: `/station?id=${encodeURIComponent(id)}`}, id);

function renderTotals() {
  if (!summary) return;
  const refused = Object.values(summary.refused || {}).reduce((a, b) => a + b, 0);
  const figure = (key, n, className) => el("div", {className: `figure ${className || ""}`.trim(), "data-figure": key},
    el("span", {className: "label"}, t(`console.${key}`)), el("span", {className: "value"}, String(n)));
  document.getElementById("totals").replaceChildren(figure("envelopes", summary.envelopes),
    figure("readings", summary.readings), figure("refused", refused, refused ? "bad" : ""));
}

function renderAlarms() {
  document.getElementById("alarm-count").textContent = String(alarms.length);
  document.getElementById("alarms-empty").hidden = alarms.length > 0;
  document.querySelector("#alarms tbody").replaceChildren(...alarms.map((a) => el("tr", {"data-id": a.id},
    el("td", {className: `sev-${a.severity}`}, t(`sev.${a.severity}`)), el("td", {}, ruleName(a.type)),
    el("td", {}, stationLink(a.station)), el("td", {}, pointName(a.point)), el("td", {className: "message"}, alarmMessage(a)),
    el("td", {className: "time"}, fmtDateTime(a.raised_ms)))));
  labelCells(document.getElementById("alarms"));
}

function renderLatest() {
  document.getElementById("latest-empty").hidden = latest.length > 0;
  document.querySelector("#latest tbody").replaceChildren(...latest.map((r) => el("tr", {"data-station": r.station, "data-point": r.point},
    el("td", {}, stationLink(r.station)), el("td", {}, pointName(r.point)),
    el("td", {className: "num"}, fmtNumber(r.value, r.unit, r.point)), el("td", {}, unitName(r.unit)),
    el("td", {className: r.quality === "OK" ? "ok" : "bad"}, flagName(r.quality)), el("td", {className: "time"}, fmtDateTime(r.t_ms)))));
  labelCells(document.getElementById("latest"));
}

function render() { renderTotals(); renderAlarms(); renderLatest(); }

const box = (id) => document.getElementById(id);

function refresh() {
  return Promise.all([
    section(box("totals-box"), async () => { summary = await getJson("/api/summary"); renderTotals(); }),
    section(box("alarms-box"), async () => { alarms = await getJson("/api/alarms"); renderAlarms(); }),
    section(box("latest-box"), async () => { latest = await getJson("/api/latest"); renderLatest(); }),
  ]);
}

mountHeader("/");
window.addEventListener("langchange", render);
refresh();
setInterval(refresh, POLL_MS);
