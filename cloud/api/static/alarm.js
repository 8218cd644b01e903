// One alarm's page (/alarm?id=…): what it is and where, its whole history as a timeline (raised,
// acknowledged, assigned, commented, escalated, work-order steps, cleared, closed), and what the
// user may do next: operators and admins acknowledge, assign (to an operator or crew user who
// covers the station), comment and send a work order to a crew (only crew users whose regions
// hold the station are offered; the deadline starts at the rule's response target, e.g. 72 h for
// data stopped); admins close the alarm and its work order. The crew's report and photos show with
// the work order. Kept current by /api/events; each part loads on its own (section()).
import {el, getJson, live, mountHeader, section} from "./common.js";
import {alarmMessage, fmtAge, fmtDateTime, pointName, ruleName, t} from "./i18n.js";
import {dueText, orderTitle, send, showRefusal, stepName, stepNote} from "./handling.js";

const id = Number(new URLSearchParams(location.search).get("id"));
const $ = (name) => document.getElementById(name);
let me = {role: "viewer"};
let alarm = null;
let station = null;  // the registry's entry, when there is one to see
let dispatch = null;  // who may be assigned, and the rule's due time (writers only)
let orders = [];
let regions = null;  // region id -> name (the registry's), for the station's place
const drafts = {};  // text typed in the forms, kept when a live update redraws them

const writer = () => me.role === "operator" || me.role === "admin";
const SHANGHAI_MS = 8 * 3600e3;
const toLocalInput = (ms) => new Date(ms + SHANGHAI_MS).toISOString().slice(0, 16);  // China time, for datetime-local
const fromLocalInput = (value) => Date.parse(`${value}:00+08:00`);

function field(name, multiline = false, attrs = {}) {
  const input = el(multiline ? "textarea" : "input", {id: name, name, ...attrs,
    oninput: (e) => { drafts[name] = e.target.value; }});
  input.value = drafts[name] ?? attrs.value ?? "";
  return input;
}

async function step(path, body, box = $("error")) {
  try {
    await send("POST", path, body);
    for (const key of Object.keys(drafts)) delete drafts[key];
    showRefusal(box, null);
    await refresh();
  } catch (error) { showRefusal(box, error); }
}

const regionNames = (path) => path.split("/").map((id) => (regions && regions.get(id)) || id).join(" / ");

// --- the alarm -----------------------------------------------------------------------------------
function renderSummary() {
  if (!alarm) return;
  $("al-id").textContent = `#${alarm.id}`;
  document.title = `${ruleName(alarm.type)} · ${alarm.station} · watertel`;
  const stateText = alarm.state === "cleared" ? t("ac.cleared_open") : t(`state.${alarm.state}`);
  $("al-head").replaceChildren(
    el("span", {className: `sev-badge sev-${alarm.severity}`}, t(`sev.${alarm.severity}`)),
    el("strong", {className: "al-rule"}, ruleName(alarm.type)),
    el("span", {className: `al-state al-state-${alarm.state}`}, stateText),
    ...(alarm.level ? [el("span", {className: "badge escalated"}, t("alarms.level", {n: alarm.level}))] : []),
    ...(alarm.flapping ? [el("span", {className: "badge flapping"}, t("alarms.flapping"))] : []),
    el("p", {className: "al-message"}, alarmMessage(alarm)));
  const name = station ? `${station.name} (${alarm.station})` : alarm.station;
  const facts = [
    ["col.station", el("a", {href: `/station?id=${encodeURIComponent(alarm.station)}`}, name)],
    ["col.region", station ? regionNames(station.region_path) : "—"],
    ["col.point", pointName(alarm.point)],
    ["col.raised", `${fmtDateTime(alarm.raised_ms)} · ${fmtAge((alarm.cleared_ms ?? Date.now()) - alarm.raised_ms)}`],
    ["al.cleared", fmtDateTime(alarm.cleared_ms)],
    ["al.acked", alarm.acked_by ? `${alarm.acked_by} · ${fmtDateTime(alarm.acked_ms)}` : "—"],
    ["al.assignee", alarm.assignee || "—"],
    ["al.closed", alarm.closed_by ? `${alarm.closed_by} · ${fmtDateTime(alarm.closed_ms)}` : "—"],
  ];
  $("al-facts").replaceChildren(...facts.flatMap(([key, value]) => [el("dt", {}, t(key)), el("dd", {}, value)]));
  renderActions();
}

function renderActions() {
  const box = $("al-actions");
  if (!alarm || !writer()) { box.replaceChildren(); return; }
  const parts = [];
  if (alarm.state === "raised") {
    parts.push(el("div", {className: "al-row"}, el("button", {type: "button", id: "do-ack", className: "primary",
      onclick: () => step(`/api/alarms/${id}/ack`, {note: $("ack-note").value.trim()})}, t("alarms.ack")),
      field("ack-note", false, {placeholder: t("al.note_optional"), "aria-label": t("al.note_optional"), maxlength: 2000})));
  }
  if (alarm.state !== "closed") {
    const choose = el("select", {id: "assign-to", "aria-label": t("al.assign_to")},
      el("option", {value: ""}, t("al.assign_pick")),
      ...(dispatch ? [["al.operators", dispatch.operators], ["al.crews", dispatch.crews]]
        .filter(([, users]) => users.length)
        .map(([label, users]) => el("optgroup", {label: t(label)}, ...users.map((u) =>
          el("option", {value: u.username}, `${u.username} · ${t(`role.${u.role}`)}`)))) : []));
    choose.value = drafts["assign-to"] ?? "";
    choose.addEventListener("change", (e) => { drafts["assign-to"] = e.target.value; });
    parts.push(el("div", {className: "al-row"}, choose, el("button", {type: "button", id: "do-assign",
      onclick: () => choose.value && step(`/api/alarms/${id}/assign`, {assignee: choose.value})}, t("alarms.assign"))));
  }
  parts.push(el("div", {className: "al-row al-comment"}, field("comment-text", true, {placeholder: t("al.comment_ph"),
    "aria-label": t("al.comment"), maxlength: 2000, rows: 2}),
    el("button", {type: "button", id: "do-comment", onclick: () => {
      const text = $("comment-text").value.trim();
      if (text) step(`/api/alarms/${id}/comment`, {text});
    }}, t("al.comment"))));
  if (me.role === "admin" && alarm.state !== "closed") {
    parts.push(el("div", {className: "al-row"}, field("close-note", false, {placeholder: t("al.close_note"),
      "aria-label": t("al.close_note"), maxlength: 2000}),
      el("button", {type: "button", id: "do-close", className: "danger",
        onclick: () => step(`/api/alarms/${id}/close`, {note: $("close-note").value.trim()})}, t("al.close"))));
  }
  box.replaceChildren(...parts);
}

// --- its work order ---------------------------------------------------------------------------------
function crewSelect(name, current = "") {
  const crews = dispatch ? dispatch.crews : [];
  const select = el("select", {id: name, "aria-label": t("al.wo_assignee")},
    el("option", {value: ""}, crews.length ? t("al.crew_pick") : t("al.no_crew")),
    ...crews.map((u) => el("option", {value: u.username},
      `${u.username}${u.open_orders ? ` · ${t("al.busy", {n: u.open_orders})}` : ""}`)));
  select.value = drafts[name] ?? current;
  select.addEventListener("change", (e) => { drafts[name] = e.target.value; });
  return select;
}

function newOrderForm() {
  if (!writer() || !alarm || alarm.state === "closed" || !dispatch) return el("p", {className: "muted"}, t("al.wo_none"));
  const due = field("wo-due", false, {type: "datetime-local", value: toLocalInput(dispatch.due_ms), "aria-label": t("al.wo_due")});
  const form = el("form", {id: "wo-form", className: "al-form", onsubmit: (e) => {
    e.preventDefault();
    const assignee = $("wo-assignee").value;
    if (!assignee) { showRefusal($("order-error"), {message: t("al.crew_needed")}); return; }
    step("/api/workorders", {alarm_id: id, assignee, title: $("wo-title").value.trim(), due_ms: fromLocalInput(due.value)},
      $("order-error"));
  }},
  el("p", {className: "muted"}, t("al.wo_none")),
  el("label", {}, el("span", {}, t("al.wo_assignee")), crewSelect("wo-assignee")),
  el("label", {}, el("span", {}, t("al.wo_due")), due,
    el("small", {className: "muted"}, t("al.wo_due_hint", {h: dispatch.due_hours, rule: ruleName(alarm.type)}))),
  el("label", {}, el("span", {}, t("al.wo_title")), field("wo-title", false, {maxlength: 500,
    placeholder: `${ruleName(alarm.type)} · ${station ? station.name : alarm.station}`})),
  el("button", {type: "submit", id: "wo-create", className: "primary", disabled: dispatch.crews.length === 0 ? "" : null},
    t("al.wo_create")));
  return form;
}

async function photoStrip(order) {
  if (!order.photos) return null;
  const photos = await getJson(`/api/workorders/${order.id}/photos`);
  return el("div", {className: "photos"}, ...photos.map((p) => el("a", {href: p.url, target: "_blank", rel: "noopener"},
    el("img", {src: p.url, alt: t("al.photo_alt", {n: p.id}), loading: "lazy", width: 120, height: 90}))));
}

async function orderCard(o) {
  const open = o.state !== "closed";
  const actions = [];
  if (writer() && ["open", "assigned", "accepted"].includes(o.state)) {
    actions.push(crewSelect(`reassign-${o.id}`, o.assignee || ""), el("button", {type: "button", className: "wo-assign",
      onclick: () => {
        const who = $(`reassign-${o.id}`).value;
        if (who) step(`/api/workorders/${o.id}/assign`, {assignee: who}, $("order-error"));
      }}, o.assignee ? t("al.wo_reassign") : t("al.wo_assign")));
  }
  if (me.role === "admin" && open) {
    actions.push(el("button", {type: "button", className: "wo-close danger",
      onclick: () => step(`/api/workorders/${o.id}/close`, {}, $("order-error"))}, t("al.wo_close")));
  }
  return el("article", {className: `wo-card${o.overdue ? " overdue" : ""}${open ? "" : " closed"}`, "data-id": o.id},
    el("h3", {}, t("al.wo_ref", {id: o.id}), " ", el("span", {className: `wo-state wo-${o.state}`}, t(`wo.${o.state}`)),
      o.overdue ? el("span", {className: "badge late"}, t("wl.overdue")) : null),
    el("p", {className: "wo-title"}, orderTitle(o, station && station.name)),
    el("dl", {className: "al-facts"},
      el("dt", {}, t("al.wo_assignee")), el("dd", {}, o.assignee || t("wl.unassigned")),
      el("dt", {}, t("al.wo_due")), el("dd", {}, ["reported", "closed"].includes(o.state) ? fmtDateTime(o.due_ms) : dueText(o.due_ms)),
      el("dt", {}, t("al.wo_report")), el("dd", {className: "wo-report"}, o.report || "—")),
    await photoStrip(o),
    actions.length ? el("div", {className: "al-row"}, ...actions) : null);
}

async function renderOrders() {
  const current = orders.find((o) => o.state !== "closed");
  const cards = await Promise.all(orders.map(orderCard));
  const canSend = !current && writer() && alarm && alarm.state !== "closed" && dispatch;
  const head = canSend ? [newOrderForm()] : orders.length ? [] : [el("p", {className: "muted"}, t("al.wo_none"))];
  $("al-order-body").replaceChildren(...head, ...cards);
}

// --- the timeline --------------------------------------------------------------------------------------
function renderHistory(history) {
  $("timeline").replaceChildren(...history.map((h) => el("li", {className: `tl tl-${h.action.replace(".", "-")}`,
    "data-action": h.action},
    el("time", {}, fmtDateTime(h.t_ms)),
    el("span", {className: "tl-step"}, stepName(h.action)),
    el("span", {className: "tl-actor"}, h.actor === "system" ? t("al.system") : h.actor),
    h.note ? el("span", {className: "tl-note"}, stepNote(h, alarm)) : null)));
}

// --- loading -----------------------------------------------------------------------------------------------
async function loadAlarm() {
  await section($("al-summary"), async () => {
    alarm = await getJson(`/api/alarms/${id}`);
    if (!station) station = await getJson(`/api/registry/stations/${encodeURIComponent(alarm.station)}`).catch(() => null);
    if (station && !regions) {
      regions = new Map((await getJson("/api/registry/regions").catch(() => [])).map((r) => [r.id, r.name]));
    }
    if (writer() && alarm.state !== "closed") dispatch = await getJson(`/api/alarms/${id}/dispatch`).catch(() => null);
    renderSummary();
  });
}

async function loadOrders() {
  await section($("al-order"), async () => {
    orders = await getJson(`/api/workorders?alarm_id=${id}`);
    await renderOrders();
  });
}

async function loadHistory() {
  await section($("al-history"), async () => renderHistory(await getJson(`/api/alarms/${id}/history`)));
}

async function refresh() {
  await loadAlarm();
  await Promise.all([loadOrders(), loadHistory()]);
}

async function start() {
  mountHeader("/alarms");
  if (!Number.isInteger(id) || id <= 0) { showRefusal($("error"), {message: t("al.no_id")}); return; }
  me = await getJson("/api/me").catch(() => me);
  let pending = null;
  const soon = () => { clearTimeout(pending); pending = setTimeout(refresh, 100); };
  live({
    alarm: ({alarm: a}) => { if (a.id === id) soon(); },
    workorder: ({order}) => { if (order.alarm_id === id) soon(); },
  }, refresh);
  await refresh();
}

window.addEventListener("langchange", () => { renderSummary(); renderOrders(); loadHistory(); });
start().catch((error) => showRefusal($("error"), error));
