// The operators' work-order list (/workorders): overdue ones first, then by due time, each with its
// station, its alarm's severity and escalation (the alarm's contact level rises while nobody
// acknowledges it; an order past due is marked and counted in the title), its crew and photos.
// A row opens the alarm's page, where the order is handled; admins close reported orders here too.
// Kept current by /api/events (workorder events).
import {el, getJson, live, mountHeader} from "./common.js";
import {fmtDateTime, ruleName, t} from "./i18n.js";
import {dueText, orderTitle, send, showRefusal} from "./handling.js";

const $ = (name) => document.getElementById(name);
let me = {role: "viewer"};
let orders = [];
let pending = null;

function query() {
  const q = new URLSearchParams();
  const state = $("f-state").value;
  if (state === "open") ["open", "assigned", "accepted", "reported"].forEach((s) => q.append("state", s));
  else if (state === "open_only") q.set("state", "open");
  else if (state !== "all") q.set("state", state);
  if ($("f-overdue").checked) q.set("overdue", "true");
  return q;
}

function row(o) {
  const cells = [
    el("td", {"data-label": t("wl.col.id")}, el("a", {href: `/alarm?id=${o.alarm_id}#order-${o.id}`}, `#${o.id}`)),
    el("td", {"data-label": t("col.station")}, el("a", {href: `/station?id=${encodeURIComponent(o.station)}`},
      o.station_name || o.station), o.region_path ? el("small", {className: "muted block"}, o.region_path) : null),
    el("td", {"data-label": t("wl.col.title")}, orderTitle(o), el("small", {className: "muted block"}, ruleName(o.alarm_type))),
    el("td", {"data-label": t("col.severity"), className: `sev-${o.severity}`}, t(`sev.${o.severity}`),
      o.level ? el("span", {className: "badge escalated"}, t("alarms.level", {n: o.level})) : null),
    el("td", {"data-label": t("wl.col.state")}, el("span", {className: `wo-state wo-${o.state}`}, t(`wo.${o.state}`))),
    el("td", {"data-label": t("wl.col.assignee")}, o.assignee || el("span", {className: "muted"}, t("wl.unassigned"))),
    el("td", {"data-label": t("wl.col.due"), className: o.overdue ? "late" : ""},
      o.overdue ? el("span", {className: "badge late"}, t("wl.overdue")) : null, " ",
      ["reported", "closed"].includes(o.state) ? fmtDateTime(o.due_ms) : dueText(o.due_ms)),
    el("td", {"data-label": t("wl.col.photos")}, String(o.photos)),
    el("td", {className: "actions", "data-label": t("col.actions")},
      me.role === "admin" && o.state === "reported" ? el("button", {type: "button", className: "wo-close",
        onclick: async () => {
          try { await send("POST", `/api/workorders/${o.id}/close`, {}); await reload(); } catch (error) { showRefusal($("error"), error); }
        }}, t("al.wo_close")) : null),
  ];
  const tr = el("tr", {className: `${o.overdue ? "overdue" : ""} wo-row-${o.state}`.trim(), "data-id": o.id}, ...cells);
  tr.addEventListener("click", (e) => {
    if (!e.target.closest("a, button, input")) window.location = `/alarm?id=${o.alarm_id}`;
  });
  return tr;
}

function render() {
  document.querySelector("#orders tbody").replaceChildren(...orders.map(row));
  $("order-count").textContent = orders.length;
  const late = orders.filter((o) => o.overdue).length;
  $("overdue-count").hidden = late === 0;
  $("overdue-count").textContent = t("wl.overdue_n", {n: late});
  $("empty").hidden = orders.length > 0;
}

async function reload() {
  try {
    orders = await getJson(`/api/workorders?${query()}`);
    showRefusal($("error"), null);
    render();
  } catch (error) { showRefusal($("error"), error); }
}

async function start() {
  mountHeader("/workorders");
  me = await getJson("/api/me").catch(() => me);
  $("filters").addEventListener("change", reload);
  live({workorder: () => { clearTimeout(pending); pending = setTimeout(reload, 150); }}, reload);
  await reload();
}

window.addEventListener("langchange", render);
setInterval(render, 60_000);  // due times move on
start();
