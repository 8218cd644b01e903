// Water-withdrawal permits (GET /api/permits): each permit year's withdrawal so far against the
// permitted volume, drawn as a bar with the alarm tiers marked on it (and the annual plan, if
// any), the tier reached, the projected date the permit is reached, and the running plan periods.
// The figures are those of `watertel report permits`; reloaded every five minutes.
import {el, getJson, mountHeader, showError} from "./common.js";
import {fmtPercent, fmtTime, t} from "./i18n.js";

let permits = [];
const fmtM3 = (v) => (v === null || v === undefined ? "—" : `${Math.round(v).toLocaleString()} m³`);

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
      "data-permit": p.permit, className: p.severity ? `row-${p.severity}` : ""},
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
}

async function reload() {
  try {
    const body = await getJson("/api/permits");
    permits = body.permits;
    document.getElementById("as-of").textContent = t("permits.as_of", {time: fmtTime(body.now_ms)});
    showError(null);
    render();
  } catch (error) { showError(error); }
}

mountHeader("/permits");
reload();
window.addEventListener("langchange", render);
setInterval(reload, 300_000);
