// Water-withdrawal permits (GET /api/permits): each permit year's withdrawal so far against the
// permitted volume, drawn as a bar with the alarm tiers marked on it (and the annual plan, if
// any), the tier reached, the projected date the permit is reached, and the running plan periods.
// Below the table, the chosen permit's year as a chart: the running total day by day against the
// permitted and planned volumes, the tiers, the plan month by month, and the projection to the
// year's end. The figures are those of `watertel report permits`; reloaded every five minutes.
import {COLORS, fromChart, lineChart, numberLabel, toChart} from "./chart.js";
import {el, getJson, mountHeader, showError} from "./common.js";
import {fmtDateTime, fmtPercent, t} from "./i18n.js";

let permits = [];
let asOf = null;
let chosen = null;  // the permit whose chart is shown
const fmtM3 = (v) => (v === null || v === undefined ? "—" : `${Math.round(v).toLocaleString()} m³`);
const midnight = (day) => Date.parse(`${day}T00:00:00+08:00`);
const DAY_MS = 86400e3;
const SEVERITY = {red: COLORS.red, orange: COLORS.orange, yellow: COLORS.yellow, blue: COLORS.blue};

// A bar from 0 to the larger of 110 % and the share reached; tiers and the annual plan as marks.
function bar(p) {
  const scale = Math.max(1.1, p.share);
  const at = (share) => `${(Math.min(share, scale) / scale * 100).toFixed(2)}%`;
  const marks = p.tiers.map((tier) => el("span", {className: `mark sev-${tier.severity}`, style: `left: ${at(tier.share)}`,
    title: `${fmtPercent(tier.share)} ${t(`sev.${tier.severity}`)}`, "data-share": tier.share}));
  if (p.plan && p.plan.annual) {
    marks.push(el("span", {className: "mark plan", style: `left: ${at(p.plan.annual / p.permitted_m3)}`,
      title: t("permits.annual_plan", {v: fmtM3(p.plan.annual)})}));
  }
  return el("span", {className: "permit-bar", role: "img",
      "aria-label": t("permits.bar", {v: fmtM3(p.volume_m3), of: fmtM3(p.permitted_m3)})},
    el("span", {className: `fill ${p.severity ? `sev-${p.severity}` : "within"}`, style: `width: ${at(p.share)}`}), ...marks);
}

function projection(p) {
  if (p.projection_method === "exceeded") return el("span", {className: "bad"}, t("permits.exceeded_on", {day: p.projection_date}));
  if (!p.projection_date) return el("span", {}, t("permits.not_reached"));
  const within = p.projected_within_year;
  return el("span", {className: within ? "bad" : ""}, p.projection_date,
    el("small", {}, ` ${t(`permits.method.${p.projection_method}`)}`
      + (p.rate_m3_per_day ? ` · ${t("permits.rate", {v: Math.round(p.rate_m3_per_day).toLocaleString()})}` : "")));
}

function plans(p) {
  if (!p.plans.length) return el("td", {className: "plans"}, t("permits.no_plan"));
  return el("td", {className: "plans"}, ...p.plans.map((u) => el("div", {"data-plan": u.plan.split(" ")[0]},
    `${t(`permits.plan.${u.plan.split(" ")[0]}`)} ${u.plan.split(" ")[1]}: ${fmtM3(u.volume_m3)} / ${fmtM3(u.planned_m3)} `,
    el("b", {className: u.share >= 1 ? "bad" : ""}, fmtPercent(u.share)))));
}

function render() {
  document.querySelector("#permits tbody").replaceChildren(...permits.map((p) => el("tr", {
      "data-permit": p.permit, className: p.severity ? `row-${p.severity}` : "", "aria-selected": String(p.permit === chosen),
      onclick: (event) => { if (!event.target.closest("a")) { chosen = p.permit; render(); } }},
    el("td", {}, p.permit), el("td", {}, p.holder),
    el("td", {}, ...p.stations.map((s) => el("div", {}, el("a", {href: `/station?id=${encodeURIComponent(s.station)}`},
      s.station), s.name ? ` ${s.name}` : "")), el("small", {}, p.region_name)),
    el("td", {}, `${p.first_day} … ${p.last_day}`),
    el("td", {className: "withdrawal"}, `${fmtM3(p.volume_m3)} / ${fmtM3(p.permitted_m3)}`, bar(p)),
    el("td", {className: "share"}, fmtPercent(p.share)),
    el("td", {className: "tier"}, p.severity ? el("span", {className: `status sev-${p.severity}`},
      `${t(`sev.${p.severity}`)} ≥ ${fmtPercent(p.tier)}`) : t("permits.below_tiers")),
    el("td", {className: "projection"}, projection(p)), plans(p))));
  document.getElementById("count").textContent = permits.length;
  document.getElementById("empty").hidden = permits.length > 0;
  renderChart();
}

// The plan's running total at each period's end: month by month (or two months by two), from the year's start.
function planSteps(p) {
  const plan = p.plan || {};
  const list = plan.monthly || plan.bimonthly;
  if (!list) return [];
  const months = plan.monthly ? 1 : 2;
  const [y, m, d] = p.first_day.split("-").map(Number);
  let total = 0;
  const steps = [[midnight(p.first_day), 0]];
  list.forEach((volume, i) => {
    const end = new Date(Date.UTC(y, m - 1 + (i + 1) * months, d));
    total += volume;
    steps.push([midnight(end.toISOString().slice(0, 10)), total]);
  });
  return steps;
}

// An axis top at a whole number of round ticks (1, 2, 2.5 or 5 × 10^k, about 5 of them): 6,000 over
// 5,306 m³, not a "5,306" tick squeezed above "5,000".
function niceTop(top) {
  const raw = top / 5, mag = 10 ** Math.floor(Math.log10(raw || 1));
  const interval = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((x) => x >= raw);
  return {max: Math.ceil(top / interval) * interval, interval};
}

function renderChart() {
  const box = document.getElementById("permit-chart");
  const p = permits.find((x) => x.permit === chosen);
  document.getElementById("chart-box").hidden = !p;
  if (!p) return;
  document.getElementById("chart-title").textContent = `${p.permit} ${p.holder}`;
  const start = midnight(p.first_day), end = midnight(p.last_day) + DAY_MS;
  let total = 0;
  const running = [[toChart(start), 0], ...p.by_day.map((d) => { total += d.volume_m3; return [toChart(midnight(d.day) + DAY_MS), total]; })];
  const now = Math.min(asOf, end);
  const lines = [];
  if (p.projection_method !== "exceeded" && p.rate_m3_per_day) {
    const reach = p.projection_date ? midnight(p.projection_date) : null;
    const stop = reach !== null && reach < end ? reach : end;
    const atStop = p.projection_method === "run_rate" || reach === null || reach >= end
      ? p.volume_m3 + p.rate_m3_per_day * (stop - now) / DAY_MS : p.permitted_m3;
    lines.push({name: t("permits.chart.projection"), type: "line", symbol: "none", lineStyle: {type: "dashed", color: COLORS.projection, width: 2},
      itemStyle: {color: COLORS.projection}, data: [[toChart(now), p.volume_m3], [toChart(stop), atStop]]});
  }
  const steps = planSteps(p);
  if (steps.length) {
    lines.push({name: t("permits.chart.plan_steps"), type: "line", step: "end", symbol: "none",
      lineStyle: {color: COLORS.plan, type: "dotted", width: 1.5}, itemStyle: {color: COLORS.plan},
      data: steps.map(([ms, v]) => [toChart(ms), v])});
  }
  const level = (value, color, label, type = "dashed") => ({yAxis: value, lineStyle: {color, type, width: 1.2},
    label: {formatter: label, position: "insideStartTop", color, fontSize: 11}});
  const marks = [level(p.permitted_m3, COLORS.red, t("permits.chart.permitted", {v: fmtM3(p.permitted_m3)}), "solid"),
    ...p.tiers.filter((tier) => Math.abs(tier.share - 1) > 1e-9).map((tier) => level(tier.share * p.permitted_m3,
      SEVERITY[tier.severity], `${fmtPercent(tier.share, 0)} ${t(`sev.${tier.severity}`)}`)),
    ...(p.plan && p.plan.annual ? [level(p.plan.annual, COLORS.plan, t("permits.annual_plan", {v: fmtM3(p.plan.annual)}), "dotted")] : [])];
  // labels alternate left and right from the top line down: neighbours a few pixels apart never collide
  marks.sort((a, b) => b.yAxis - a.yAxis).forEach((m, i) => { m.label.position = i % 2 ? "insideEndTop" : "insideStartTop"; });
  const top = Math.max(p.permitted_m3 * 1.1, total * 1.05, ...lines.flatMap((l) => l.data.map((x) => x[1])));
  // the day the permit is reached: a vertical line named in the legend (a label on it would cross the tiers')
  if (p.projection_date && p.projection_method !== "exceeded" && midnight(p.projection_date) < end) {
    const x = toChart(midnight(p.projection_date));
    lines.push({name: t("permits.chart.reach", {day: p.projection_date}), type: "line", symbol: "none", silent: true,
      lineStyle: {color: COLORS.projection, type: "dashed", width: 1}, itemStyle: {color: COLORS.projection},
      tooltip: {show: false}, data: [[x, 0], [x, niceTop(top).max]]});
  }
  const narrow = box.clientWidth < 560;  // the legend wraps onto a second row on a phone
  lineChart(box, {
    grid: {left: 8, right: 24, top: narrow ? 72 : 48, bottom: 24, containLabel: true},
    legend: {top: 0, left: "center", textStyle: {fontSize: 12}, itemGap: 8},
    tooltip: {trigger: "axis", confine: true, formatter: (items) => {
      const when = fmtDateTime(fromChart(items[0].value[0])).slice(0, 10);
      return `${when}<br>${items.map((i) => `${i.marker}${i.seriesName}: ${fmtM3(i.value[1])}`).join("<br>")}`;
    }},
    xAxis: {type: "time", min: toChart(start), max: toChart(end), axisLabel: {hideOverlap: true, formatter: (v) => {
      const d = new Date(v);
      return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
    }}},
    yAxis: {type: "value", min: 0, ...niceTop(top), name: "m³", nameGap: 12, axisLabel: {formatter: numberLabel}},
    series: [{name: t("permits.chart.withdrawn"), type: "line", symbol: "none", areaStyle: {color: "rgba(11, 79, 108, 0.12)"},
      lineStyle: {color: COLORS.line, width: 2}, itemStyle: {color: COLORS.line}, data: running,
      markLine: {symbol: "none", silent: true, data: marks}}, ...lines],
  }, {svg: true});
  Object.assign(box.dataset, {permit: p.permit, days: String(p.by_day.length), total: total.toFixed(3),
    projection: lines.some((l) => l.name === t("permits.chart.projection")) ? "yes" : "no",
    tiers: String(marks.length), planSteps: String(steps.length)});
}

async function reload() {
  try {
    const body = await getJson("/api/permits");
    permits = body.permits;
    asOf = body.now_ms;
    if (!permits.some((p) => p.permit === chosen)) {  // the one nearest its limit first
      chosen = permits.length ? permits.reduce((a, b) => (b.share > a.share ? b : a)).permit : null;
    }
    document.getElementById("as-of").textContent = t("permits.as_of", {time: fmtDateTime(body.now_ms)});
    showError(null);
    render();
  } catch (error) { showError(error); }
}

mountHeader("/permits");
reload();
window.addEventListener("langchange", render);
setInterval(reload, 300_000);
