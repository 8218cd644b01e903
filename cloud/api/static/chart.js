// The console's charts, drawn by Apache ECharts (vendored: /static/vendor/echarts-*.js, loaded by
// the page as a classic script before its modules, so `window.echarts` is there).
//
// Time in China whatever the browser's zone: ECharts formats axes in the browser's zone or in
// UTC (`useUTC`), so every instant is handed over shifted by +8 h (Asia/Shanghai has no daylight
// saving) and drawn in UTC; ticks then fall on China's hours and midnights. `toChart`/`fromChart`
// convert; tooltips and exports convert back and show the zone.
//
//   trendChart(box, series, options)  one point's readings: a line, or for min/mean/max buckets
//       and rollups the mean with a min–max band; limit lines; alarm markers; zoom and pan
//       (wheel/drag, and the slider); the x axis spans the data (a new station fills the chart).
//   barChart(box, bars, options)      volumes per hour or day, with limit lines.
//   lineChart(box, options)           a general time or category chart (quality trend, permits).
//   shownRows(chart)                  the rows inside the current zoom window, for exportCsv.
//   exportCsv(name, header, rows)     a UTF-8 (with BOM, for Excel) CSV download.
// Each chart's box gets data-n (points drawn) and data-limits / data-markers (what was drawn),
// which the tests read; resizing the window resizes every chart.
import {fmtDateTime, fmtNumber, lang, t, unitName} from "./i18n.js";

export const SHANGHAI_MS = 8 * 3600e3;
export const toChart = (ms) => (ms === null || ms === undefined ? ms : ms + SHANGHAI_MS);
export const fromChart = (ms) => ms - SHANGHAI_MS;
export const FONT = 'system-ui, "Noto Sans CJK SC", "Noto Sans SC", sans-serif';
export const COLORS = {line: "#0b4f6c", band: "rgba(11, 79, 108, 0.16)", bar: "#2e86c1", grid: "#e3e7ea",
  text: "#566573", red: "#c0392b", orange: "#e67e22", yellow: "#d4ac0d", blue: "#5dade2", green: "#1e8449",
  plan: "#1b4f72", projection: "#8e44ad"};
const LIMIT_COLORS = {gb5749: COLORS.red, alarm: COLORS.orange, permit: COLORS.red, plan: COLORS.plan};
const SEVERITY_COLORS = {red: COLORS.red, orange: COLORS.orange, yellow: COLORS.yellow, blue: COLORS.blue};
const charts = new Set();

// An ECharts instance in box (replacing one there). SVG by default: sharp on paper (the printed
// report), text a page can measure (no label drawn over another), and fast enough for the
// 2,000 points a series brings at most; canvas on request.
export function init(box, {svg = true} = {}) {
  const old = window.echarts.getInstanceByDom(box);
  if (old) { charts.delete(old); old.dispose(); }
  const chart = window.echarts.init(box, null, {renderer: svg ? "svg" : "canvas", locale: lang() === "en" ? "EN" : "ZH"});
  charts.add(chart);
  return chart;
}

window.addEventListener("resize", () => charts.forEach((c) => (c.isDisposed() ? charts.delete(c) : c.resize())));

// Tick labels: time in China (already shifted), numbers with as many decimals as the ticks need.
function timeLabel(value) {
  const d = new Date(value);
  const hm = `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
  const md = `${String(d.getUTCMonth() + 1).padStart(2, "0")}-${String(d.getUTCDate()).padStart(2, "0")}`;
  return hm === "00:00" ? md : hm;
}

export function numberLabel(value) {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${+(value / 1e6).toFixed(2)}M`;
  return value.toLocaleString(lang() === "en" ? "en-GB" : "zh-CN", {maximumFractionDigits: abs >= 100 ? 1 : abs >= 1 ? 3 : 4});
}

function base(options = {}) {
  return {
    animation: false, useUTC: true, textStyle: {fontFamily: FONT},
    grid: {left: 8, right: 16, top: 36, bottom: options.zoom ? 58 : 28, containLabel: true},
    tooltip: {trigger: "axis", confine: true},
  };
}

function zoom() {
  return [{type: "inside", xAxisIndex: 0, filterMode: "none"},
    {type: "slider", xAxisIndex: 0, filterMode: "none", height: 16, bottom: 10, labelFormatter: (v) => timeLabel(v)}];
}

// The zone is said by the page's hint, the tooltips, the CSV and the chart box's aria-label (an
// invisible axis name for it still took room over the first tick).
function timeAxis(min, max) {
  return {type: "time", min, max, axisLabel: {formatter: timeLabel, hideOverlap: true, color: COLORS.text},
    splitLine: {show: false}};
}

function timeChart(box) {
  const chart = init(box);
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", t("chart.china_time"));
  return chart;
}

function valueAxis(unit, extra = {}) {
  return {type: "value", scale: true, splitNumber: 4, name: unitName(unit), nameLocation: "end", nameGap: 14,
    nameTextStyle: {align: "left", color: COLORS.text, padding: [0, 0, 0, -8]},
    axisLabel: {formatter: numberLabel, color: COLORS.text}, splitLine: {lineStyle: {color: COLORS.grid}}, ...extra};
}

function limitLabel(limit, unit) {
  return t(`chart.limit.${limit.source}.${limit.side}`, {v: `${fmtNumber(limit.value, unit)} ${unitName(unit)}`.trim()});
}

// Limits near the data are drawn (the axis stretched to hold them); far ones only listed, so a
// flow ceiling of 800 m³/h does not flatten a trend at 20. Near: the axis holding the limit is at
// most 4 times the data's own (turbidity at 0.3–0.6 NTU shows its 1 NTU line).
function splitLimits(limits, values) {
  if (!values.length) return {drawn: limits, far: []};
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = Math.max(hi - lo, Math.abs(hi) * 0.2, 1e-9);
  const near = (v) => Math.max(hi, v) - Math.min(lo, v) <= 4 * span;
  return {drawn: limits.filter((l) => near(l.value)), far: limits.filter((l) => !near(l.value))};
}

function markLines(limits, unit) {
  return limits.map((l) => ({yAxis: l.value, name: limitLabel(l, unit),
    lineStyle: {color: LIMIT_COLORS[l.source], type: l.source === "plan" ? "dotted" : "dashed", width: 1.5},
    label: {formatter: limitLabel(l, unit), position: "insideEndTop", color: LIMIT_COLORS[l.source], fontSize: 11}}));
}

function finite(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (v !== null && v !== undefined && Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo === Infinity ? [] : [lo, hi];
}

// series: {mode: raw|buckets|hour|day, points, bucket_ms, unit, limits}; options: {point, range: [from, to],
// now, markers: [{t_ms, severity, label}]}. Returns {chart, rows, header, far} (rows: every point, real ms).
export function trendChart(box, series, {point = "", range, now = Date.now(), markers = []} = {}) {
  const raw = series.mode === "raw";
  const half = series.mode === "day" ? 0 : (series.bucket_ms || 0) / 2;
  const rows = series.points.map((p) => raw ? {t: p.t_ms, v: p.value, q: p.quality}
    : {t: p.t_ms + half, v: p.mean, lo: p.min, hi: p.max, n: p.n});
  const unit = series.unit;
  const limits = (series.limits || []).filter((l) => l.applies_to === "value");
  const values = rows.flatMap((r) => [r.v, r.lo, r.hi]);
  const {drawn, far} = splitLimits(limits, finite(values));
  const times = rows.map((r) => r.t);
  const first = times.length ? Math.min(...times) : range[0];
  const last = times.length ? Math.max(...times) : range[1];
  // the data fills the axis: from the first reading (not the range's start) to now or the range's end
  const x0 = Math.max(range[0], first - half), x1 = Math.max(Math.min(range[1], now), last + half);
  const chart = timeChart(box);
  const main = {name: pointLabel(point), type: "line", showSymbol: raw && rows.length <= 60, symbolSize: 4,
    sampling: raw && rows.length > 1500 ? "lttb" : undefined, connectNulls: false, z: 3,
    lineStyle: {width: 1.5, color: COLORS.line}, itemStyle: {color: COLORS.line},
    data: rows.map((r) => [toChart(r.t), r.v]),
    markLine: {symbol: "none", silent: false, animation: false, data: [
      ...markLines(drawn, unit),
      ...markers.filter((m) => m.t_ms >= x0 && m.t_ms <= x1).map((m) => ({xAxis: toChart(m.t_ms), name: m.label,
        lineStyle: {color: SEVERITY_COLORS[m.severity] || COLORS.orange, type: "solid", width: 1.5},
        label: {show: false}}))]}};
  const seriesList = [main];
  if (!raw) {  // the min–max band: min (invisible) stacked with max − min (filled)
    seriesList.unshift(
      {name: "min", type: "line", stack: "band", symbol: "none", lineStyle: {opacity: 0}, silent: true, tooltip: {show: false},
        data: rows.map((r) => [toChart(r.t), r.lo])},
      {name: "max", type: "line", stack: "band", symbol: "none", lineStyle: {opacity: 0}, silent: true, tooltip: {show: false},
        areaStyle: {color: COLORS.band}, data: rows.map((r) => [toChart(r.t), r.hi === null || r.lo === null ? null : r.hi - r.lo])});
  }
  const [lo, hi] = finite([...values, ...drawn.map((l) => l.value)]);  // the axis stretched to hold the limits drawn
  chart.setOption({
    ...base({zoom: true}),
    tooltip: {trigger: "axis", confine: true, formatter: (items) => tooltip(items, rows, unit, point, raw)},
    xAxis: timeAxis(toChart(x0), toChart(x1)),
    yAxis: valueAxis(unit, lo === undefined || !drawn.length ? {} : niceRange(lo, hi)),
    dataZoom: zoom(),
    series: seriesList,
  });
  Object.assign(box.dataset, {n: String(rows.length), mode: series.mode, limits: drawn.map((l) => l.source).join(" "),
    markers: markers.filter((m) => m.t_ms >= x0 && m.t_ms <= x1).map((m) => m.severity).join(" "),
    x0: String(x0), x1: String(x1)});
  const header = raw ? ["time", `value (${unit})`, "quality"] : ["time", `mean (${unit})`, `min (${unit})`, `max (${unit})`, "n"];
  return {chart, rows, header, far, csv: (r) => raw ? [csvTime(r.t), r.v, r.q] : [csvTime(r.t), r.v, r.lo, r.hi, r.n]};
}

// The axis holding the data and the limit lines drawn [lo, hi], with 5 % of the whole as air, on
// round ticks (1, 2, 2.5 or 5 × 10^k, about four): its edges are ticks like the others (an edge at
// 0.265 was labelled "0.3" a few pixels under the "0.4" tick).
function niceRange(lo, hi) {
  const span = hi - lo || Math.abs(hi) || 1;
  const air = span * 0.05;
  const mag = 10 ** Math.floor(Math.log10(span / 4));
  const interval = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((x) => x >= span / 4);
  const round = (v) => +v.toPrecision(12);  // 0.30000000000000004 → 0.3
  return {min: round(Math.floor((lo - air) / interval) * interval), max: round(Math.ceil((hi + air) / interval) * interval),
    interval: round(interval)};
}

function pointLabel(point) {
  const key = `point.${point}`;
  const text = t(key);
  return text === key ? point : text;
}

function tooltip(items, rows, unit, point, raw) {
  const main = items.find((i) => i.seriesName !== "min" && i.seriesName !== "max") || items[0];
  if (!main) return "";
  const r = rows[main.dataIndex];
  if (!r) return "";
  const value = `${fmtNumber(r.v, unit, point)} ${unitName(unit)}`.trim();
  const extra = raw ? (r.q && r.q !== "OK" ? ` · ${r.q}` : "")
    : ` (${t("chart.min")} ${fmtNumber(r.lo, unit, point)} · ${t("chart.max")} ${fmtNumber(r.hi, unit, point)} · n=${r.n})`;
  return `${fmtDateTime(r.t)}<br>${escapeHtml(pointLabel(point))}: <b>${escapeHtml(value)}</b>${escapeHtml(extra)}`;
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

// bars: [{t_ms, volume}], one a bucket of bucket_ms (hours) or a local day (day: true).
export function barChart(box, bars, {unit = "m3", day = false, limits = [], bucketMs = 3600e3} = {}) {
  const chart = timeChart(box);
  const drawn = day ? limits.filter((l) => l.applies_to === "day_volume") : [];
  const width = day ? 86400e3 : bucketMs;
  const lastDay = bars.length ? bars[bars.length - 1].t_ms + width : Date.now();
  chart.setOption({
    ...base({zoom: bars.length > 40}),
    tooltip: {trigger: "axis", confine: true, formatter: (items) => {
      const b = bars[items[0]?.dataIndex];
      if (!b) return "";
      const when = day ? fmtDateTime(b.t_ms).slice(0, 10) : fmtDateTime(b.t_ms);
      return `${escapeHtml(when)}<br><b>${escapeHtml(`${fmtNumber(b.volume, unit)} ${unitName(unit)}`)}</b>`;
    }},
    xAxis: timeAxis(toChart(bars.length ? bars[0].t_ms : lastDay - width), toChart(lastDay)),
    yAxis: valueAxis(unit, {scale: false, min: 0}),
    dataZoom: bars.length > 40 ? zoom() : [],
    series: [{type: "bar", name: t(day ? "chart.day_volume" : "chart.hour_volume"), barMaxWidth: 28,
      itemStyle: {color: COLORS.bar}, data: bars.map((b) => [toChart(b.t_ms + width / 2), b.volume]),
      markLine: {symbol: "none", data: markLines(drawn, unit)}}],
  });
  Object.assign(box.dataset, {n: String(bars.length), limits: drawn.map((l) => l.source).join(" ")});
  return {chart, rows: bars.map((b) => ({t: b.t_ms + width / 2, start: b.t_ms, v: b.volume})),
    header: [day ? "day" : "hour", `volume (${unit})`], csv: (r) => [day ? csvTime(r.start).slice(0, 10) : csvTime(r.start), r.v]};
}

// A general chart: ECharts option pieces merged over the console's defaults (fonts, UTC time).
export function lineChart(box, option, {svg = true} = {}) {
  const chart = init(box, {svg});
  chart.setOption({...base(), ...option});
  return chart;
}

// The rows whose time lies in the chart's current zoom window (all of them without a zoom).
export function shownRows(chart, rows) {
  const zoomOption = chart.getOption().dataZoom;
  const axis = chart.getModel().getComponent("xAxis", 0).axis.scale.getExtent();
  if (!zoomOption || !zoomOption.length) return rows;
  const [a, b] = axis;
  return rows.filter((r) => toChart(r.t) >= a && toChart(r.t) <= b);
}

// ISO 8601 in China time with its offset, as a spreadsheet and a person both read it.
export function csvTime(ms) {
  return `${new Date(ms + SHANGHAI_MS).toISOString().slice(0, 19)}+08:00`;
}

function csvCell(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvText(header, rows) {
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function exportCsv(filename, header, rows) {
  const blob = new Blob(["\ufeff", csvText(header, rows)], {type: "text/csv;charset=utf-8"});
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
