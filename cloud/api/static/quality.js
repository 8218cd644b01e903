// The data-quality dashboard: the four rates (GET /api/rates) overall and by region, with target
// lines and badges, drill-down from a region to its stations, the problem lists, and the stored
// reports (GET /api/reports) for download.
import {ApiError, el, getJson, mountHeader, showError} from "./common.js";
import {fmtPercent, t} from "./i18n.js";

const RATES = ["completeness", "upload_rate", "timeliness", "abnormal_rate"];
const params = new URLSearchParams(window.location.search);
let report = null;
let reports = null;  // the stored reports, or the ApiError that refused them
let regionNames = [];  // [id, name, level] of every region seen unfiltered

function lastMonth() {
  const shanghai = new Date(Date.now() + 8 * 3600e3);  // calendar of Asia/Shanghai (UTC+8, no DST)
  const y = shanghai.getUTCFullYear(), m = shanghai.getUTCMonth();  // m: this month, 0-based
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, "0")}`;
}

function target(rate) {
  const targets = report.settings.targets;
  return rate === "abnormal_rate" ? targets.abnormal_rate_max : targets[rate];
}

const fails = (row, rate) => (row.below_target || "").split(" ").includes(rate);

// A rate as a percentage with a small bar and the target drawn as a tick across it.
function rateCell(row, rate) {
  const value = row[rate];
  return el("td", {className: `rate ${fails(row, rate) ? "below" : ""}`, "data-rate": rate},
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
    className: "drill", "data-region": r.region, onclick: () => show(r.region)},
  el("td", {}, t(`level.${r.level}`)), el("td", {}, r.name), el("td", {}, String(r.stations)),
  el("td", {}, String(r.reporting_normally)), el("td", {}, String(r.abnormal_stations)), el("td", {}, String(r.expected)),
  el("td", {}, String(r.received)), el("td", {}, String(r.on_time)), ...RATES.map((rate) => rateCell(r, rate)))));
}

function renderStations() {
  head("stations", ["col.station", "col.name", "col.region", "col.expected", "col.received", "col.on_time",
    "rate.upload_rate", "rate.timeliness", "col.normal", "col.abnormal"]);
  const yes = (v) => t(v ? "yes" : "no");
  document.querySelector("#stations tbody").replaceChildren(...report.stations.map((s) => el("tr", {"data-station": s.station},
    el("td", {}, el("a", {href: `/station?id=${encodeURIComponent(s.station)}`}, s.station)), el("td", {}, s.name),
    el("td", {}, s.region), el("td", {}, String(s.expected)), el("td", {}, String(s.received)), el("td", {}, String(s.on_time)),
    el("td", {}, fmtPercent(s.upload_rate)), el("td", {}, fmtPercent(s.timeliness)),
    el("td", {className: s.reporting_normally ? "ok" : "bad"}, yes(s.reporting_normally)),
    el("td", {className: s.abnormal ? "bad" : "ok"}, yes(s.abnormal)))));
}

function problemText(kind, p) {
  if (kind === "under_target") return p.reasons.join(" ");
  if (kind === "stopped") return `${p.since ?? ""} · ${p.hours} h`;
  if (kind === "abnormal_days") return `${p.abnormal_days} / ${p.service_days}`;
  if (kind === "over_permit") return `${p.holder} · ${fmtPercent(p.share)}`;
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
  const rows = reports instanceof Error ? [] : reports;
  note.textContent = reports instanceof ApiError && reports.status === 403 ? t("quality.reports_scoped")
    : rows.length ? "" : t("quality.no_reports");
  document.querySelector("#reports tbody").replaceChildren(...rows.map((r) => el("tr", {},
    el("td", {}, t(`report.${r.kind}`)), el("td", {}, r.period),
    el("td", {}, ...r.formats.map((f) => el("a", {href: `/api/reports/${r.kind}/${r.period}.${f}`, download: "", className: "download"}, f))))));
}

function renderAll() {
  const select = document.getElementById("region");
  const chosen = report ? report.region || "" : select.value;
  select.replaceChildren(el("option", {value: ""}, t("quality.all")),
    ...regionNames.map(([id, name, level]) => el("option", {value: id}, `${level === "county" ? "\u00a0\u00a0" : ""}${name}`)));
  select.value = chosen;
  if (reports !== null) renderReports();
  if (!report) return;
  document.getElementById("up").hidden = !report.region;
  const q = new URLSearchParams({period: report.period.label, ...(report.region ? {region: report.region} : {})});
  document.getElementById("downloads").replaceChildren(t("quality.download"), " ",
    ...["csv", "xlsx"].map((f) => el("a", {href: `/api/rates?${q}&format=${f}`, className: "download"}, f)));
  renderOverall();
  renderRegions();
  renderStations();
  renderProblems();
}

async function show(region) {
  const period = document.getElementById("period").value.trim();
  const q = new URLSearchParams({period, ...(region ? {region} : {})});
  try {
    report = await getJson(`/api/rates?${q}`);
    if (!region) regionNames = report.regions.map((r) => [r.region, r.name, r.level]);
    history.replaceState(null, "", `/quality?${q}`);
    showError(null);
  } catch (error) { report = null; showError(error); }
  renderAll();
}

mountHeader("/quality");
document.getElementById("period").value = params.get("period") || lastMonth();
document.getElementById("period-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show(document.getElementById("region").value);
});
document.getElementById("up").addEventListener("click", () => {
  const ids = report.overall.path.split("/");  // province/city/county ids
  show(ids.length > 1 ? ids[ids.length - 2] : "");
});
getJson("/api/reports").then((rows) => { reports = rows; }, (error) => { reports = error; }).then(renderAll);
show(params.get("region") || "");
window.addEventListener("langchange", renderAll);
