// The station list: status, last seen and open alarms from /api/stations, kept current by the
// `station` events; filtered by a search text, a region (any level) and a kind.
import {el, getJson, live, mountHeader, showError} from "./common.js";
import {fmtTime, t} from "./i18n.js";

let data = {regions: [], stations: []};
const byId = new Map();
const params = new URLSearchParams(window.location.search);

function options(select, first, items) {
  const chosen = select.value || params.get(select.id) || "";
  select.replaceChildren(el("option", {value: ""}, first), ...items.map(([value, label]) => el("option", {value}, label)));
  select.value = items.some(([value]) => value === chosen) ? chosen : "";
}

function fillFilters() {
  const indent = {province: "", city: "\u00a0\u00a0", county: "\u00a0\u00a0\u00a0\u00a0"};
  options(document.getElementById("region"), t("stations.all_regions"),
    data.regions.map((r) => [r.id, `${indent[r.level] ?? ""}${r.name}`]));
  const kinds = [...new Set(data.stations.map((s) => s.kind))].sort();
  options(document.getElementById("kind"), t("stations.all_kinds"), kinds.map((k) => [k, t(`kind.${k}`)]));
}

function render() {
  const text = document.getElementById("search").value.trim().toLowerCase();
  const region = document.getElementById("region").value;
  const kind = document.getElementById("kind").value;
  const shown = data.stations.filter((s) => (!text || `${s.station} ${s.name}`.toLowerCase().includes(text))
    && (!region || s.regions.includes(region)) && (!kind || s.kind === kind));
  document.querySelector("#stations tbody").replaceChildren(...shown.map((s) => el("tr", {"data-station": s.station},
    el("td", {}, el("a", {href: `/station?id=${encodeURIComponent(s.station)}`}, s.station)),
    el("td", {}, s.name), el("td", {}, t(`kind.${s.kind}`)), el("td", {}, s.region_path),
    el("td", {}, el("span", {className: `status status-${s.status}`}, t(`status.${s.status}`))),
    el("td", {}, fmtTime(s.last_seen_ms)),
    el("td", {}, s.open_alarms ? el("span", {className: "badge"}, String(s.open_alarms)) : ""))));
  document.getElementById("count").textContent = t("stations.count", {n: shown.length});
}

async function reload() {
  try {
    data = await getJson("/api/stations");
    byId.clear();
    data.stations.forEach((s) => byId.set(s.station, s));
    fillFilters();
    showError(null);
    render();
  } catch (error) { showError(error); }
}

mountHeader("/stations");
for (const id of ["search", "region", "kind"]) document.getElementById(id).addEventListener("input", render);
document.getElementById("search").value = params.get("q") || "";
live({
  station: (event) => {
    const s = byId.get(event.station);
    if (!s) { reload(); return; }  // a station seen for the first time
    Object.assign(s, {last_seen_ms: event.last_seen_ms, status: event.status});
    render();
  },
  alarm: ({change, alarm}) => {
    const s = byId.get(alarm.station);
    if (!s || change === "changed") return;
    s.open_alarms = Math.max(0, s.open_alarms + (change === "new" && alarm.state === "raised" ? 1 : -1));
    render();
  },
}, reload);
window.addEventListener("langchange", () => { fillFilters(); render(); });
