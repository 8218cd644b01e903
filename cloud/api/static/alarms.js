// The live alarm board: open alarms from /api/alarms, then kept current by /api/events.
// Sorted by severity (red first), then newest first; red rows pulse and the title counts them.
import {el, getJson, live, mountHeader, showError} from "./common.js";
import {fmtAge, fmtTime, t} from "./i18n.js";

const RANK = {red: 0, orange: 1, yellow: 2, blue: 3};
const alarms = new Map();  // id -> alarm row
const fresh = new Set();  // ids that arrived live (highlighted once)
const baseTitle = document.title;

export function sortAlarms(rows) {
  return rows.sort((a, b) => (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9) || b.raised_ms - a.raised_ms || b.id - a.id);
}

function render() {
  const rows = sortAlarms([...alarms.values()]);
  const now = Date.now();
  document.querySelector("#board tbody").replaceChildren(...rows.map((a) => el("tr", {
    className: [`row-${a.severity}`, fresh.has(a.id) ? "fresh" : ""].join(" ").trim(), "data-id": a.id},
    el("td", {className: `sev-${a.severity}`}, t(`sev.${a.severity}`)), el("td", {}, a.type),
    el("td", {}, el("a", {href: `/station?id=${encodeURIComponent(a.station)}`}, a.station)),
    el("td", {}, a.point), el("td", {}, a.message), el("td", {}, fmtTime(a.raised_ms)),
    el("td", {}, fmtAge(now - a.raised_ms)))));
  fresh.clear();
  const reds = rows.filter((a) => a.severity === "red").length;
  document.getElementById("alarm-count").textContent = rows.length;
  document.getElementById("empty").hidden = rows.length > 0;
  const banner = document.getElementById("red-banner");
  banner.hidden = reds === 0;
  banner.textContent = t("alarms.red", {n: reds});
  document.title = reds ? `(${reds}) ${baseTitle}` : baseTitle;
}

async function reload() {
  try {
    const rows = await getJson("/api/alarms");
    alarms.clear();
    rows.forEach((a) => alarms.set(a.id, a));
    showError(null);
    render();
  } catch (error) { showError(error); }
}

mountHeader("/alarms");
live({
  alarm: ({change, alarm}) => {
    if (change === "cleared" || alarm.state !== "raised") alarms.delete(alarm.id);
    else { if (!alarms.has(alarm.id)) fresh.add(alarm.id); alarms.set(alarm.id, alarm); }
    render();
  },
}, reload);
reload();
window.addEventListener("langchange", render);
setInterval(render, 30_000);  // ages move on
