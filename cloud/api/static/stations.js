// The stations: a map with status colours (online, offline, alarm, maintenance; map.js) and the
// list grouped by region (county under its city and province), both from /api/stations, kept
// current by the `station` and `alarm` events, and filtered together by a search text, a region
// (any level) and a kind.
import {el, getJson, live, mountHeader, section, showError} from "./common.js";
import {fmtDateTime, t} from "./i18n.js";
import {STATES, STATE_COLORS, stateOf, stationMap} from "./map.js";

let data = {regions: [], stations: []};
const byId = new Map();
const params = new URLSearchParams(window.location.search);
let map = null;

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

function shown() {
  const text = document.getElementById("search").value.trim().toLowerCase();
  const region = document.getElementById("region").value;
  const kind = document.getElementById("kind").value;
  return data.stations.filter((s) => (!text || `${s.station} ${s.name} ${s.region_path}`.toLowerCase().includes(text))
    && (!region || s.regions.includes(region)) && (!kind || s.kind === kind));
}

// Each cell labelled with its column (data-label): on a phone the table (class "stack") reads as
// a card per station; the region is the group's heading there, so its cell stays off.
function stationRow(s) {
  const state = stateOf(s);
  const label = (key) => ({"data-label": t(key)});
  return el("tr", {"data-station": s.station, "data-state": state},
    el("td", label("col.station"), el("span", {}, el("span", {className: "dot", style: `background:${STATE_COLORS[state]}`,
      title: t(`map.state.${state}`)}), el("a", {href: `/station?id=${encodeURIComponent(s.station)}`}, s.station))),
    el("td", label("col.name"), s.name), el("td", label("col.kind"), t(`kind.${s.kind}`)),
    el("td", {className: "region-path", ...label("col.region")}, s.region_path),
    el("td", label("col.status"), el("span", {}, el("span", {className: `status status-${s.status}`}, t(`status.${s.status}`)),
      s.maintenance ? el("span", {className: "status status-maintenance"}, t("map.state.maintenance")) : "")),
    el("td", label("col.last_seen"), fmtDateTime(s.last_seen_ms)),
    el("td", label("col.open_alarms"), s.open_alarms ? el("span", {className: "badge"}, String(s.open_alarms)) : ""));
}

// One <tbody> per region (its path), in the order the registry lists them; unknown stations last.
// A long list (a province's 4,000 stations) shows its regions folded, each opened on a click: a
// table of thousands of rows is no one's reading and its layout held the map's first draw for
// seconds; a search or a region filter narrows it to a list shown whole.
const LONG = 300;
const opened = new Set();  // the regions (paths) opened in a folded list

function renderList(list) {
  const folded = list.length > LONG;
  const groups = new Map();
  for (const s of list) {
    const key = s.region_path || "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  const bodies = Array.from(groups, ([path, members]) => {
    const online = members.filter((s) => s.status === "online").length;
    const open = !folded || opened.has(path);
    const toggle = folded ? el("button", {type: "button", className: "group-toggle", "aria-expanded": String(open),
      onclick: () => { if (open) opened.delete(path); else opened.add(path); renderList(shown()); }},
    t(open ? "map.fold" : "map.unfold", {n: members.length})) : "";
    return el("tbody", {className: "region-group", "data-region": members[0].region || ""},
      el("tr", {className: "group-head"}, el("th", {colspan: "7"}, path || t("map.no_region"), " ",
        el("small", {}, t("map.group_counts", {n: members.length, online})), toggle)),
      ...(open ? members.map(stationRow) : []));
  });
  document.getElementById("folded").hidden = !folded;
  const table = document.getElementById("stations");
  table.querySelectorAll("tbody").forEach((b) => b.remove());
  table.append(...(bodies.length ? bodies : [el("tbody", {}, el("tr", {}, el("td", {colspan: "7"}, t("map.none_found"))))]));
  document.getElementById("count").textContent = t("stations.count", {n: list.length});
}

function renderLegend(list) {
  const counts = Object.fromEntries(STATES.map((state) => [state, 0]));
  list.forEach((s) => { counts[stateOf(s)] += 1; });
  const unplaced = list.filter((s) => !s.location).length;
  document.getElementById("legend").replaceChildren(...STATES.map((state) => el("span", {className: "legend-item", "data-state": state},
    el("span", {className: "dot", style: `background:${STATE_COLORS[state]}`}), `${t(`map.state.${state}`)} ${counts[state]}`)),
  unplaced ? el("span", {className: "legend-item unplaced"}, t("map.unplaced", {n: unplaced})) : "");
}

let typing = null;  // the map follows the search after a pause in typing: 4,000 markers need not follow every key

function render({later = false} = {}) {
  const list = shown();
  renderList(list);
  renderLegend(list);
  clearTimeout(typing);
  if (map && later) typing = setTimeout(() => map.show(shown()), 150);
  else if (map) map.show(list);
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

async function loadMap() {
  await section(document.getElementById("map-box"), async () => {
    const settings = await getJson("/api/map");
    const regions = settings.regions ? await getJson("/api/map/regions") : null;
    document.getElementById("map-note").textContent = settings.tiles ? "" : t(regions ? "map.plain" : "map.plain_no_regions");
    map = stationMap(document.getElementById("map"), settings, regions);
    if (data.stations.length) map.show(shown());
  });
}

mountHeader("/stations");
document.getElementById("search").addEventListener("input", () => render({later: true}));  // the list at once
for (const id of ["region", "kind"]) document.getElementById(id).addEventListener("input", () => render());
document.getElementById("search").value = params.get("q") || "";
loadMap();
live({
  station: (event) => {
    const s = byId.get(event.station);
    if (!s) { reload(); return; }  // a station seen for the first time
    Object.assign(s, {last_seen_ms: event.last_seen_ms, status: event.status});
    renderList(shown());
    renderLegend(shown());
    if (map) map.update(s);
  },
  alarm: ({change, alarm}) => {
    const s = byId.get(alarm.station);
    if (!s || change === "changed") return;
    s.open_alarms = Math.max(0, s.open_alarms + (change === "new" && alarm.state === "raised" ? 1 : -1));
    renderList(shown());
    renderLegend(shown());
    if (map) map.update(s);
  },
}, reload);
window.addEventListener("langchange", () => { fillFilters(); render(); });
