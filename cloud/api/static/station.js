// Station detail: one trend chart per point over a chosen range, from /api/series (raw readings,
// or min/mean/max buckets drawn as a band when the range holds more than the server's cap), with
// the limit lines the alarms use (GB 5749, configured thresholds), alarm markers, zoom and pan,
// and a CSV of what is shown; for a totaliser, its volume per hour (ranges up to two days) or per
// day (longer ranges) from the hour rollups, against the permit's daily share.
import {barChart, exportCsv, shownRows, trendChart} from "./chart.js";
import {el, getJson, live, mountHeader, section, showError} from "./common.js";
import {fmtAge, fmtDateTime, pointName, t, unitName} from "./i18n.js";

const params = new URLSearchParams(window.location.search);
const stationId = params.get("id") || "";
const PRESETS = {"1h": 3600e3, "6h": 6 * 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3};
const SHANGHAI_MS = 8 * 3600e3;  // Asia/Shanghai has no daylight saving: always UTC+8
const TOTAL = "total";  // the totaliser point: its hour rollups carry volumes
const DAY_MS = 86400e3;
let station = null;
let lastDrawn = 0;
let custom = null;  // [from, to] of a custom range, Unix ms
let drawing = 0;  // the latest drawCharts call: an older one that finishes later draws nothing

const toInput = (ms) => new Date(ms + SHANGHAI_MS).toISOString().slice(0, 16);
const fromInput = (value) => Date.parse(`${value}:00+08:00`);

function chosenRange() {
  const preset = document.getElementById("range").value;
  if (preset !== "custom") {
    const to = Date.now();
    return [to - PRESETS[preset], to];
  }
  return custom || [fromInput(document.getElementById("from").value), fromInput(document.getElementById("to").value)];
}

function renderInfo() {
  document.getElementById("station-id").textContent = stationId;
  if (!station) return;
  document.getElementById("station-name").textContent = station.name;
  document.getElementById("station-status").replaceChildren(
    el("span", {className: `status status-${station.status}`}, t(`status.${station.status}`)),
    station.maintenance ? el("span", {className: "status status-maintenance"}, t("map.state.maintenance")) : "");
  document.getElementById("station-info").textContent = [t(`kind.${station.kind}`), station.region_path,
    `${t("col.last_seen")} ${fmtDateTime(station.last_seen_ms)}`].filter(Boolean).join(" · ");
}

function csvButton(name, drawn) {
  return el("button", {type: "button", className: "csv", onclick: () => exportCsv(name, drawn.header,
    shownRows(drawn.chart, drawn.rows).map(drawn.csv))}, t("chart.csv"));
}

function fileName(point, from, to, what = "") {
  const day = (ms) => new Date(ms + SHANGHAI_MS).toISOString().slice(0, 16).replace(/[-:T]/g, "");
  return `${stationId}-${point}${what}-${day(from)}-${day(to)}.csv`;
}

async function pointSection(point, from, to, markers) {
  const q = new URLSearchParams({station: stationId, point, from: String(Math.floor(from)), to: String(Math.ceil(to))});
  const s = await getJson(`/api/series?${q}`);
  const summary = s.mode === "raw" ? t("station.points", {n: s.points.length})
    : s.mode === "buckets" ? t("station.buckets", {n: s.points.length, w: fmtAge(s.bucket_ms)})
      : t(`station.rollups_${s.mode}`, {n: s.points.length});
  const box = el("div", {className: "chart"});
  const head = el("h3", {}, pointName(point), s.unit ? ` (${unitName(s.unit)})` : "", " ", el("small", {}, summary));
  const out = el("section", {className: "chart-box", "data-point": point}, head);
  if (!s.points.length) {
    out.append(el("p", {className: "empty"}, t("station.no_data")));
    return {out};
  }
  out.append(box);
  return {out, draw: () => {
    const drawn = trendChart(box, s, {point, range: [from, to], markers});
    head.append(" ", csvButton(fileName(point, from, to), drawn));
    if (drawn.far.length) {
      out.append(el("p", {className: "legend far-limits"}, drawn.far.map((l) => t(`chart.limit.${l.source}.${l.side}`,
        {v: `${l.value} ${unitName(s.unit)}`})).join(" · "), " ", t("chart.off_scale")));
    }
  }};
}

// A totaliser's volume per hour (up to two days) or per local day, from the hour rollups.
async function volumeSection(from, to) {
  const day = to - from > 2 * DAY_MS;
  const q = new URLSearchParams({station: stationId, point: TOTAL, step: day ? "day" : "hour",
    from: String(Math.floor(from)), to: String(Math.ceil(to)), max_points: "10000"});
  const s = await getJson(`/api/series?${q}`);
  const bars = s.points.filter((p) => p.volume !== null).map((p) => ({t_ms: p.t_ms, volume: p.volume}));
  const box = el("div", {className: "chart chart-bars"});
  const head = el("h3", {}, t(day ? "chart.day_volume" : "chart.hour_volume"), ` (${unitName(s.unit || "m3")})`, " ",
    el("small", {}, t("chart.from_totaliser")));
  const out = el("section", {className: "chart-box", "data-volume": day ? "day" : "hour"}, head);
  if (!bars.length) {
    out.append(el("p", {className: "empty"}, t("station.no_data")));
    return {out};
  }
  out.append(box);
  return {out, draw: () => {
    const drawn = barChart(box, bars, {unit: s.unit || "m3", day, limits: s.limits});
    head.append(" ", csvButton(fileName(TOTAL, from, to, day ? "-day-volume" : "-hour-volume"), drawn));
  }};
}

async function drawCharts() {
  if (!station) return;
  const [from, to] = chosenRange();
  if (!(from < to)) return;
  const mine = ++drawing;
  document.getElementById("from").value = toInput(from);
  document.getElementById("to").value = toInput(to);
  lastDrawn = Date.now();
  await section(document.getElementById("charts-box"), async () => {
    const alarms = (await getJson("/api/alarms?open_only=false")).filter((a) => a.station === stationId);
    const points = station.points.map((p) => p.point);
    const parts = await Promise.all([
      ...points.map((point) => pointSection(point, from, to, alarms
        .filter((a) => a.point === point || a.point === "*")  // "*": the whole station (burst, data stopped)
        .map((a) => ({t_ms: a.raised_ms, severity: a.severity, label: `${t(`sev.${a.severity}`)} ${a.type}`})))),
      ...(points.includes(TOTAL) ? [volumeSection(from, to)] : [])]);
    if (mine !== drawing) return;
    document.getElementById("charts").replaceChildren(...parts.map((p) => p.out));
    parts.forEach((p) => p.draw && p.draw());  // in the document first: ECharts measures its box
    showError(null);
  });
}

async function load() {
  try {
    const data = await getJson("/api/stations");
    station = data.stations.find((s) => s.station === stationId) || null;
    if (!station) { showError(new Error(t("station.unknown"))); renderInfo(); return; }
    renderInfo();
    await drawCharts();
  } catch (error) { showError(error); }
}

mountHeader("/stations");
const range = document.getElementById("range");
if (params.get("from") && params.get("to")) {
  range.value = "custom";
  custom = [Number(params.get("from")), Number(params.get("to"))];
} else {
  range.value = PRESETS[params.get("range")] ? params.get("range") : "24h";
}
range.addEventListener("change", () => { if (range.value !== "custom") { custom = null; drawCharts(); } });
document.getElementById("range-form").addEventListener("submit", (event) => {
  event.preventDefault();
  range.value = "custom";
  custom = [fromInput(document.getElementById("from").value), fromInput(document.getElementById("to").value)];
  drawCharts();
});
live({
  station: (event) => {
    if (!station || event.station !== stationId) return;
    Object.assign(station, {last_seen_ms: event.last_seen_ms, status: event.status});
    renderInfo();
    if (range.value !== "custom" && Date.now() - lastDrawn > 10_000) drawCharts();  // a moving window
  },
});
load();
window.addEventListener("langchange", () => { renderInfo(); drawCharts(); });
