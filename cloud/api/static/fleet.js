// The gateway fleet (GET /api/fleet, operators and admins): agent version, config hash, clock
// offset, buffer depth and last contact of every gateway in your regions. Stale, offline and
// never-heard gateways are highlighted; the "last contact" header sorts by it (oldest first,
// then newest first, then back to gateway order). Reloaded every 30 s; a failed load shows its
// error in the section (common.js section) and keeps the last table. Times in China time,
// conditions by their rule names (i18n.js).
import {el, getJson, labelCells, mountHeader, section} from "./common.js";
import {fmtAge, fmtDateTime, ruleName, t} from "./i18n.js";

const ORDERS = ["gateway", "oldest", "newest"];
let data = {gateways: [], stale_after_s: 300, now_ms: Date.now()};
let order = new URLSearchParams(window.location.search).get("sort") || "gateway";

export function sortGateways(rows, how) {
  const contact = (g) => g.last_contact_ms ?? -Infinity;  // never heard: the oldest of all
  const byId = (a, b) => a.gateway.localeCompare(b.gateway);
  if (how === "oldest") return rows.sort((a, b) => contact(a) - contact(b) || byId(a, b));
  if (how === "newest") return rows.sort((a, b) => contact(b) - contact(a) || byId(a, b));
  return rows.sort(byId);
}

function clock(g) {
  if (g.clock_offset_ms === null || g.clock_offset_ms === undefined) return "—";
  const seconds = g.clock_offset_ms / 1000;
  return t("fleet.clock", {v: `${seconds >= 0 ? "+" : ""}${seconds.toFixed(1)}`,
    how: t(`fleet.clock.${g.clock_offset_source}`)});
}

function buffer(g) {
  if (g.buffer_unsealed === null || g.buffer_unsealed === undefined) return "—";
  return t("fleet.buffer", {n: g.buffer_unsealed, b: g.buffer_batches_pending ?? 0});
}

function render() {
  const rows = sortGateways([...data.gateways], order);
  document.querySelector("#fleet tbody").replaceChildren(...rows.map((g) => el("tr", {
      "data-gateway": g.gateway, className: `fleet-${g.status}`},
    el("td", {}, g.gateway),
    el("td", {}, el("span", {className: `status status-${g.status}`}, t(`fleet.status.${g.status}`))),
    el("td", {}, g.version || "—"),
    el("td", {className: "hash", title: g.config_sm3 || ""}, g.config_sm3 ? g.config_sm3.slice(0, 12) : "—"),
    el("td", {}, clock(g)), el("td", {}, buffer(g)),
    el("td", {className: "contact"}, g.last_contact_ms
      ? t("fleet.contact", {time: fmtDateTime(g.last_contact_ms), age: fmtAge(data.now_ms - g.last_contact_ms)}) : t("fleet.never")),
    el("td", {}, g.stations.join(t("list.sep")) || "—"),
    el("td", {className: "conditions"}, g.conditions.map(ruleName).join(t("list.sep")) || "—"))));
  labelCells(document.getElementById("fleet"));
  const attention = rows.filter((g) => g.status !== "online").length;
  document.getElementById("count").textContent = rows.length;
  document.getElementById("empty").hidden = rows.length > 0;
  const tag = document.getElementById("attention");
  tag.hidden = attention === 0;
  tag.textContent = t("fleet.attention", {n: attention});
  document.getElementById("stale-note").textContent = t("fleet.stale_after", {n: Math.round(data.stale_after_s / 60)});
  const sort = document.getElementById("sort-contact");
  sort.dataset.order = order;
  sort.textContent = `${t("col.last_contact")} ${{gateway: "↕", oldest: "↑", newest: "↓"}[order]}`;
}

function reload() {
  return section(document.getElementById("fleet-box"), async () => {
    data = await getJson("/api/fleet");
    render();
  });
}

mountHeader("/fleet");
document.getElementById("sort-contact").addEventListener("click", () => {
  order = ORDERS[(ORDERS.indexOf(order) + 1) % ORDERS.length];
  render();
});
reload();
window.addEventListener("langchange", render);
setInterval(reload, 30_000);
