// The data-quality (三率) dashboard: the four rates (GET /api/rates) of a day, month, quarter or
// range, overall and by region (province → city → county, coloured against the targets), with
// drill-down from a region to its stations and from a station to its missing and late reports
// (GET /api/rates/slots); the last 12 months as a trend (GET /api/rates/trend); the problem
// lists; downloads (CSV, XLSX) and the stored reports (GET /api/reports); and a printable report
// (print CSS: the page as an A4 report, charts drawn in SVG).
import {lineChart} from "./chart.js";
import {ApiError, el, getJson, mountHeader, section, showError} from "./common.js";
import {fmtDateTime, fmtPercent, lang, pointName, t} from "./i18n.js";

const RATES = ["completeness", "upload_rate", "timeliness", "abnormal_rate"];
const RATE_COLORS = {completeness: "#0b4f6c", upload_rate: "#2e86c1", timeliness: "#16a085", abnormal_rate: "#c0392b"};
const SHANGHAI_MS = 8 * 3600e3;  // the calendar of Asia/Shanghai (UTC+8, no daylight saving)
const params = new URLSearchParams(window.location.search);
let report = null;
const SCOPED = "scoped";  // reports' state for a user with a region scope
let reports = null;  // the stored reports, SCOPED, or the ApiError that refused them
let trend = null;
let slots = null;
let regionNames = [];  // [id, name, level] of every region seen unfiltered

const shanghai = () => new Date(Date.now() + SHANGHAI_MS);

function lastMonth() {
  const now = shanghai();
  const y = now.getUTCFullYear(), m = now.getUTCMonth();  // m: this month, 0-based
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, "0")}`;
}

// --- the period: a kind (day, month, quarter, custom) and its control, written into #period ---
function kindOf(text) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return "day";
  if (/^\d{4}-\d{2}$/.test(text)) return "month";
  if (/^\d{4}-[Qq][1-4]$/.test(text)) return "quarter";
  return "custom";
}

function fillQuarters() {
  const now = shanghai();
  let y = now.getUTCFullYear(), q = Math.floor(now.getUTCMonth() / 3) + 1;
  const items = [];
  for (let i = 0; i < 8; i += 1) {
    items.push(`${y}-Q${q}`);
    [y, q] = q === 1 ? [y - 1, 4] : [y, q - 1];
  }
  document.getElementById("when-quarter").replaceChildren(...items.map((v) => el("option", {value: v}, v)));
}

function showKind(kind) {
  document.getElementById("kind").value = kind;
  for (const k of ["day", "month", "quarter"]) document.getElementById(`when-${k}`).hidden = k !== kind;
  document.getElementById("period").hidden = kind !== "custom";
}

function setPeriod(text) {
  const kind = kindOf(text);
  showKind(kind);
  document.getElementById("period").value = text;
  if (kind !== "custom") {
    const control = document.getElementById(`when-${kind}`);
    if (kind === "quarter" && ![...control.options].some((o) => o.value === text.toUpperCase())) {
      control.append(el("option", {value: text.toUpperCase()}, text.toUpperCase()));
    }
    control.value = kind === "quarter" ? text.toUpperCase() : text;
  }
}

function chosenPeriod() {
  const kind = document.getElementById("kind").value;
  return kind === "custom" ? document.getElementById("period").value.trim() : document.getElementById(`when-${kind}`).value;
}

// --- the report ----------------------------------------------------------------------------------
function target(rate) {
  const targets = report.settings.targets;
  return rate === "abnormal_rate" ? targets.abnormal_rate_max : targets[rate];
}

const fails = (row, rate) => (row.below_target || "").split(" ").includes(rate);

// A rate as a percentage with a small bar and the target drawn as a tick across it.
function rateCell(row, rate) {
  const value = row[rate];
  return el("td", {className: `rate ${value === null ? "none" : fails(row, rate) ? "below" : "met"}`, "data-rate": rate},
    el("span", {className: "num"}, fmtPercent(value)),
    el("span", {className: "bar"}, el("span", {className: "fill", style: `width:${(value ?? 0) * 100}%`}),
      el("span", {className: "target", style: `left:${target(rate) * 100}%`, title: t("quality.target", {v: fmtPercent(target(rate))})})));
}

function head(table, keys) {
  document.querySelector(`#${table} thead`).replaceChildren(el("tr", {}, ...keys.map((k) => el("th", {}, t(k)))));
}

function renderOverall() {
  const o = report.overall;
  document.getElementById("scope-name").textContent = report.region ? o.name : t("quality.all");
  document.getElementById("period-name").textContent = `${report.period.first_day} … ${report.period.last_day}`;
  document.getElementById("overall").replaceChildren(...RATES.map((rate) => el("div", {
    className: `card ${fails(o, rate) ? "below" : "ok"}`, "data-rate": rate},
  el("div", {className: "label"}, t(`rate.${rate}`)), el("div", {className: "value"}, fmtPercent(o[rate])),
  el("div", {className: "target-line"}, t("quality.target", {v: `${rate === "abnormal_rate" ? "≤" : "≥"} ${fmtPercent(target(rate))}`})),
  el("span", {className: `verdict ${fails(o, rate) ? "below" : "ok"}`}, t(fails(o, rate) ? "quality.below" : "quality.ok")))));
}

function renderRegions() {
  head("regions", ["col.level", "col.region", "col.stations", "col.normal", "col.abnormal", "col.expected",
    "col.received", "col.on_time", ...RATES.map((r) => `rate.${r}`)]);
  const rows = report.regions.filter((r) => r.region !== report.region);
  document.querySelector("#regions tbody").replaceChildren(...rows.map((r) => el("tr", {
    className: `drill level-${r.level}`, "data-region": r.region, onclick: () => show(r.region)},
  el("td", {}, t(`level.${r.level}`)), el("td", {className: "region-name"}, r.name), el("td", {}, String(r.stations)),
  el("td", {}, String(r.reporting_normally)), el("td", {}, String(r.abnormal_stations)), el("td", {}, String(r.expected)),
  el("td", {}, String(r.received)), el("td", {}, String(r.on_time)), ...RATES.map((rate) => rateCell(r, rate)))));
}

// A station's region as names ("浙江省 / 杭州市 / 西湖区"), from its path of ids ("zj/hz/xh").
function regionPath(path) {
  const names = new Map([...regionNames.map(([id, name]) => [id, name]), ...report.regions.map((r) => [r.region, r.name])]);
  return path.split("/").map((id) => names.get(id) || id).join(" / ");
}

function renderStations() {
  head("stations", ["col.station", "col.name", "col.region", "col.expected", "col.received", "col.on_time",
    "quality.col.late", "rate.upload_rate", "rate.timeliness", "col.normal", "col.abnormal", "quality.col.detail"]);
  const yes = (v) => t(v ? "yes" : "no");
  const targets = report.settings.targets;
  const pct = (value, goal) => el("td", {className: `rate-text ${value === null ? "" : value < goal - 1e-9 ? "below" : "met"}`},
    fmtPercent(value));
  document.querySelector("#stations tbody").replaceChildren(...report.stations.map((s) => el("tr", {"data-station": s.station},
    el("td", {}, el("a", {href: `/station?id=${encodeURIComponent(s.station)}`}, s.station)), el("td", {}, s.name),
    el("td", {}, regionPath(s.region)), el("td", {}, String(s.expected)), el("td", {}, String(s.received)), el("td", {}, String(s.on_time)),
    el("td", {}, String(s.late)), pct(s.upload_rate, targets.upload_rate), pct(s.timeliness, targets.timeliness),
    el("td", {className: s.reporting_normally ? "ok" : "bad"}, yes(s.reporting_normally)),
    el("td", {className: s.abnormal ? "bad" : "ok"}, yes(s.abnormal)),
    el("td", {}, s.expected - s.received > 0 || s.late > 0
      ? el("button", {type: "button", className: "slots", onclick: () => loadSlots(s.station)}, t("quality.details")) : ""))));
}

function reasons(list) {
  return list.map((r) => t(`quality.reason.${r}`)).join(t("list.sep"));
}

function problemText(kind, p) {
  if (kind === "under_target") return reasons(p.reasons);
  if (kind === "stopped") return t("quality.stopped_since", {since: p.since ? fmtDateTime(Date.parse(p.since)) : "—", h: p.hours});
  if (kind === "abnormal_days") return t("quality.abnormal_days_of", {n: p.abnormal_days, of: p.service_days});
  if (kind === "over_permit") return `${p.holder} · ${fmtPercent(p.share)}`;
  if (kind === "stale_rollups") return p.days.join(t("list.sep"));
  return "";
}

function renderProblems() {
  const items = Object.entries(report.problems).flatMap(([kind, list]) => list.map((p) => el("li", {"data-problem": kind},
    el("span", {className: "tag"}, t(`problem.${kind}`)), " ", el("b", {}, p.station ?? p.permit ?? ""), " ",
    p.name ?? "", " — ", problemText(kind, p))));
  document.getElementById("problems").replaceChildren(...(items.length ? items : [el("li", {}, t("quality.no_problems"))]));
}

function renderReports() {
  const note = document.getElementById("reports-note");
  head("reports", ["col.kind_report", "col.period", "col.formats"]);
  const rows = Array.isArray(reports) ? reports : [];
  note.textContent = reports === SCOPED || (reports instanceof ApiError && reports.status === 403) ? t("quality.reports_scoped")
    : rows.length ? "" : t("quality.no_reports");
  document.querySelector("#reports tbody").replaceChildren(...rows.map((r) => el("tr", {},
    el("td", {}, t(`report.${r.kind}`)), el("td", {}, r.period),
    el("td", {}, ...r.formats.map((f) => el("a", {href: `/api/reports/${r.kind}/${r.period}.${f}`, download: "", className: "download"}, f))))));
}

function renderPrintHead() {
  const kind = kindOf(report.period.label);
  const what = t(`quality.print_kind.${kind}`);
  document.getElementById("print-title").textContent = t("quality.print_title", {
    scope: report.region ? report.overall.name : t("quality.all_regions"), period: report.period.label, what});
  document.getElementById("print-meta").textContent = t("quality.print_meta", {
    first: report.period.first_day, last: report.period.last_day, at: fmtDateTime(report.generated_ms)});
}

function renderAll() {
  const select = document.getElementById("region");
  const chosen = report ? report.region || "" : select.value;
  select.replaceChildren(el("option", {value: ""}, t("quality.all")),
    ...regionNames.map(([id, name, level]) => el("option", {value: id}, `${{city: "\u00a0\u00a0", county: "\u00a0\u00a0\u00a0\u00a0"}[level] || ""}${name}`)));
  select.value = chosen;
  if (reports !== null) renderReports();
  if (!report) return;
  document.getElementById("up").hidden = !report.region;
  const q = new URLSearchParams({period: report.period.label, ...(report.region ? {region: report.region} : {})});
  document.getElementById("downloads").replaceChildren(t("quality.download"), " ",
    ...["csv", "xlsx"].map((f) => el("a", {href: `/api/rates?${q}&format=${f}`, className: "download", download: ""}, f.toUpperCase())));
  renderOverall();
  renderRegions();
  renderStations();
  renderProblems();
  renderPrintHead();
  renderTrend();
  renderSlots();
}

// --- the trend: the last 12 months up to the report's month -------------------------------------
function renderTrend() {
  const box = document.getElementById("trend");
  if (!trend || !report) return;
  const months = trend.months;
  const targets = trend.targets;
  const labels = months.map((m) => (m.partial ? `${m.period} ${t("quality.partial")}` : m.period));
  // the lines and the target lines over the abnormal rate's bars (z), so no bar hides a label
  const line = (rate) => ({name: t(`rate.${rate}`), type: rate === "abnormal_rate" ? "bar" : "line", barMaxWidth: 14,
    z: rate === "abnormal_rate" ? 2 : 3,
    symbolSize: 6, connectNulls: false, itemStyle: {color: RATE_COLORS[rate]}, lineStyle: {color: RATE_COLORS[rate]},
    data: months.map((m) => ({value: m[rate] === null ? null : +(m[rate] * 100).toFixed(2),
      itemStyle: m.below_target.split(" ").includes(rate) ? {color: "#c0392b", borderColor: "#c0392b"} : undefined}))});
  const goal = (value, color, label) => ({yAxis: value * 100, name: label, lineStyle: {color, type: "dashed"},
    label: {formatter: label, position: "insideEndTop", color, fontSize: 11, backgroundColor: "rgba(255, 255, 255, 0.85)",
      padding: [1, 3]}});
  const narrow = box.clientWidth < 480;  // the legend wraps onto a second row on a phone (a scrolled one cut its last item)
  const chart = lineChart(box, {
    grid: {left: 8, right: 16, top: narrow ? 76 : 56, bottom: 24, containLabel: true},
    legend: {top: 0, left: "center", itemGap: 8, textStyle: {fontSize: 12}},
    tooltip: {trigger: "axis", confine: true, valueFormatter: (v) => (v === null || v === undefined ? "—" : `${v.toFixed(1)}%`)},
    xAxis: {type: "category", data: labels, axisLabel: {hideOverlap: true}},
    yAxis: {type: "value", min: 0, max: 100, name: "%", nameGap: 12, axisLabel: {formatter: "{value}%"}},
    series: [{...line("completeness"), markLine: {symbol: "none", silent: true, data: [
      goal(targets.upload_rate, "#1e8449", t("quality.target_line", {v: fmtPercent(targets.upload_rate, 0)})),
      goal(targets.abnormal_rate_max, "#c0392b", t("quality.abnormal_line", {v: fmtPercent(targets.abnormal_rate_max, 0)}))]}},
    ...["upload_rate", "timeliness", "abnormal_rate"].map(line)],
  }, {svg: true});
  box.dataset.months = String(months.length);
  box.dataset.below = months.filter((m) => m.below_target).map((m) => m.period).join(" ");
  return chart;
}

async function loadTrend() {
  const to = report.period.last_day.slice(0, 7);
  await section(document.getElementById("trend-box"), async () => {
    const q = new URLSearchParams({to, ...(report.region ? {region: report.region} : {})});
    trend = await getJson(`/api/rates/trend?${q}`);
    renderTrend();
  });
}

// --- drill-down to one station's missing and late reports ---------------------------------------
function span(ms) {
  const minutes = Math.round(ms / 60_000);
  return minutes < 120 ? t("age.m", {n: minutes}) : minutes < 2880 ? t("age.h", {n: (minutes / 60).toFixed(1).replace(/\.0$/, "")})
    : t("age.d", {n: (minutes / 1440).toFixed(1).replace(/\.0$/, "")});
}

function renderSlots() {
  const box = document.getElementById("slots-box");
  if (!slots) { box.hidden = true; return; }
  box.hidden = false;
  document.getElementById("slots-station").textContent = `${slots.station} ${slots.name} · ${slots.period}`;
  document.getElementById("slots-summary").textContent = t("quality.slots_summary", {expected: slots.expected,
    received: slots.received, missing: slots.missing, runs: slots.gaps_total, late: slots.late, future: slots.future})
    + (slots.raw_gone_days.length ? ` ${t("quality.raw_gone", {days: slots.raw_gone_days.join(t("list.sep"))})}` : "");
  const point = (p) => (p ? pointName(p) : t("quality.any_point"));
  head("gaps", ["col.point", "quality.col.from", "quality.col.to", "quality.col.slots", "quality.col.span"]);
  document.querySelector("#gaps tbody").replaceChildren(...(slots.gaps.length ? slots.gaps.map((g) => el("tr", {"data-from": g.from_ms},
    el("td", {}, point(g.point)), el("td", {}, fmtDateTime(g.from_ms)), el("td", {}, fmtDateTime(g.to_ms)),
    el("td", {}, String(g.slots)), el("td", {}, span(g.to_ms - g.from_ms))))
    : [el("tr", {}, el("td", {colspan: "5"}, t("quality.none")))]));
  head("late", ["col.point", "quality.col.slot", "col.sampled", "quality.col.received", "quality.col.delay"]);
  document.querySelector("#late tbody").replaceChildren(...(slots.late_reports.length ? slots.late_reports.map((x) => el("tr", {},
    el("td", {}, point(x.point)), el("td", {}, fmtDateTime(x.slot_ms)), el("td", {}, fmtDateTime(x.sample_ms, {seconds: true})),
    el("td", {}, fmtDateTime(x.received_ms, {seconds: true})), el("td", {}, span(x.delay_s * 1000))))
    : [el("tr", {}, el("td", {colspan: "5"}, t("quality.none")))]));
}

async function loadSlots(station) {
  const box = document.getElementById("slots-box");
  box.hidden = false;
  await section(box, async () => {
    slots = await getJson(`/api/rates/slots?${new URLSearchParams({station, period: report.period.label})}`);
    renderSlots();
    box.scrollIntoView({block: "start"});
  });
}

async function show(region) {
  const period = chosenPeriod();
  const q = new URLSearchParams({period, ...(region ? {region} : {})});
  try {
    report = await getJson(`/api/rates?${q}`);
    slots = null;
    if (!region) regionNames = report.regions.map((r) => [r.region, r.name, r.level]);
    history.replaceState(null, "", `/quality?${q}`);
    showError(null);
  } catch (error) { report = null; showError(error); }
  renderAll();
  if (report) loadTrend();
}

// Print: the charts take the paper's width, then the screen's again.
function printWidth(on) {
  const box = document.getElementById("trend");
  box.style.width = on ? "17cm" : "";
  const chart = window.echarts.getInstanceByDom(box);
  if (chart) chart.resize();
}

mountHeader("/quality");
fillQuarters();
document.getElementById("when-day").value = new Date(Date.now() + SHANGHAI_MS - 86400e3).toISOString().slice(0, 10);
document.getElementById("when-month").value = lastMonth();
setPeriod(params.get("period") || lastMonth());
document.getElementById("kind").addEventListener("change", (event) => showKind(event.target.value));
document.getElementById("period-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show(document.getElementById("region").value);
});
document.getElementById("up").addEventListener("click", () => {
  const ids = report.overall.path.split("/");  // province/city/county ids
  show(ids.length > 1 ? ids[ids.length - 2] : "");
});
document.getElementById("slots-close").addEventListener("click", () => { slots = null; renderSlots(); });
document.getElementById("print").addEventListener("click", () => window.print());
window.addEventListener("beforeprint", () => printWidth(true));
window.addEventListener("afterprint", () => printWidth(false));
// stored reports cover every region: a region-scoped user is not sent to ask for them (403)
getJson("/api/me").then((me) => (me.regions.length ? SCOPED : getJson("/api/reports")))
  .then((rows) => { reports = rows; }, (error) => { reports = error; }).then(renderAll);
show(params.get("region") || "");
window.addEventListener("langchange", () => { renderAll(); document.documentElement.lang = lang() === "en" ? "en" : "zh-CN"; });
