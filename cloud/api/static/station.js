// Station detail: one trend chart per point over a chosen range, from /api/series (raw readings,
// or min/mean/max buckets when the range holds more than the server's cap), with alarm markers.
import {lineChart} from "./chart.js";
import {el, getJson, live, mountHeader, showError} from "./common.js";
import {fmtAge, fmtTime, t} from "./i18n.js";

const params = new URLSearchParams(window.location.search);
const stationId = params.get("id") || "";
const PRESETS = {"1h": 3600e3, "6h": 6 * 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3};
const SHANGHAI_MS = 8 * 3600e3;  // Asia/Shanghai has no daylight saving: always UTC+8
let station = null;
let lastDrawn = 0;
let custom = null;  // [from, to] of a custom range, Unix ms

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
    el("span", {className: `status status-${station.status}`}, t(`status.${station.status}`)));
  document.getElementById("station-info").textContent = [t(`kind.${station.kind}`), station.region_path,
    `${t("col.last_seen")} ${fmtTime(station.last_seen_ms)}`].filter(Boolean).join(" · ");
}

async function drawCharts() {
  if (!station) return;
  const [from, to] = chosenRange();
  if (!(from < to)) return;
  document.getElementById("from").value = toInput(from);
  document.getElementById("to").value = toInput(to);
  lastDrawn = Date.now();
  try {
    const alarms = (await getJson("/api/alarms?open_only=false")).filter((a) => a.station === stationId);
    const sections = await Promise.all(station.points.map(async ({point}) => {
      const q = new URLSearchParams({station: stationId, point, from: String(Math.floor(from)), to: String(Math.ceil(to))});
      const s = await getJson(`/api/series?${q}`);
      const points = s.mode === "raw"
        ? s.points.map((p) => ({t: p.t_ms, v: p.value}))
        : s.points.map((p) => ({t: p.t_ms + s.bucket_ms / 2, v: p.mean, lo: p.min, hi: p.max}));
      const markers = alarms.filter((a) => a.point === point || a.point === "*")  // "*": the whole station (burst, data stopped)
        .map((a) => ({t: a.raised_ms, label: `${t(`sev.${a.severity}`)} ${a.type}: ${a.message}`, className: `sev-${a.severity}`}));
      const summary = s.mode === "raw" ? t("station.points", {n: s.points.length})
        : t("station.buckets", {n: s.points.length, w: fmtAge(s.bucket_ms)});
      return el("section", {className: "chart-box", "data-point": point},
        el("h3", {}, `${point}${s.unit ? ` (${s.unit})` : ""} `, el("small", {}, summary)),
        s.points.length ? lineChart(points, {range: [from, to], unit: s.unit, markers,
          fmtT: (ms) => fmtTime(ms).slice(0, -3)}) : el("p", {className: "empty"}, t("station.no_data")));
    }));
    document.getElementById("charts").replaceChildren(...sections);
    showError(null);
  } catch (error) { showError(error); }
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
