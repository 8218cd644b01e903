// The live alarm board: alarms from /api/alarms (filtered by region, rule, severity, state and time
// raised; the filters live in the address, so a link or a reload keeps them), kept current by
// /api/events. By default it shows every alarm not closed yet: raised, acknowledged, and cleared
// ones that wait for a manager to close them. Open ones first, then by severity (red first) and
// newest. A row opens the alarm's own page (/alarm?id=…) with its history and work order.
// Red rows pulse and the title counts them; a red alarm that arrives live flashes the banner and
// beeps (Web Audio, no sound file) unless the sound is switched off (kept in localStorage).
// Operators and admins acknowledge (one, or the ticked ones at once) and assign from the list;
// admins also close cleared ones. Alarms of stations in maintenance (suppressed) are not shown.
import {postJson} from "./actions.js";
import {el, getJson, live, mountHeader} from "./common.js";
import {alarmMessage, fmtAge, fmtDateTime, pointName, ruleName, t} from "./i18n.js";
import {refusalText, send, showRefusal} from "./handling.js";

const RULES = ["data_stopped", "consecutive_zeros", "spike", "volume_change", "water_quality", "night_flow", "mass_balance",
  "burst", "over_permit", "over_plan", "over_permit_projected", "device_fault", "clock_unsynced", "totaliser_reset",
  "gateway_offline", "buffer_full", "chain_gap", "refused_envelope"];
const SEVERITIES = ["red", "orange", "yellow", "blue"];
const STATES = {open: ["raised", "acknowledged", "cleared"], raised: ["raised"], acknowledged: ["acknowledged"],
  cleared: ["cleared"], closed: ["closed"], all: null};
const RANGES = {all: null, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, custom: null};
const RANK = {red: 0, orange: 1, yellow: 2, blue: 3};
const STAGE = {raised: 0, acknowledged: 0, cleared: 1, closed: 2};

let me = {role: "viewer"};
let canWrite = false;  // operator or admin (from /api/me)
let assigning = null;  // id of the alarm whose assign box is open
let draft = "";  // what is typed there (kept when a live update redraws the board)
const alarms = new Map();  // id -> alarm row shown
const fresh = new Set();  // ids that arrived live (highlighted once)
const selected = new Set();  // ticked for a bulk step
const seenRules = new Set(RULES);
const cueLater = new Set();  // red alarms that arrived while a region filter was on: cue once reloaded
const baseTitle = document.title;
const SOUND_KEY = "watertel_alarm_sound";  // "off": no beep
let audio = null;  // one AudioContext, made on first use
let reloadTimer = null;

const $ = (id) => document.getElementById(id);
const soundOn = () => localStorage.getItem(SOUND_KEY) !== "off";
const bump = (node, key) => { node.dataset[key] = String(Number(node.dataset[key] || 0) + 1); };

// --- filters -----------------------------------------------------------------------------------
// China time whatever the browser's zone: a datetime-local value is read as UTC+8.
const fromLocal = (value) => (value ? Date.parse(`${value}:00+08:00`) : null);

function filters() {
  return {region: $("f-region").value, rule: $("f-rule").value, severity: $("f-severity").value,
    state: $("f-state").value || "open", range: $("f-range").value || "all", from: $("f-from").value, to: $("f-to").value};
}

function window_(f) {
  if (f.range === "custom") return [fromLocal(f.from), fromLocal(f.to)];
  return RANGES[f.range] ? [Date.now() - RANGES[f.range], null] : [null, null];
}

function query(f) {
  const q = new URLSearchParams();
  if (STATES[f.state]) STATES[f.state].forEach((s) => q.append("state", s));
  else q.set("open_only", "false");
  if (f.severity) q.set("severity", f.severity);
  if (f.rule) q.set("type", f.rule);
  if (f.region) q.set("region", f.region);
  const [lo, hi] = window_(f);
  if (lo !== null && !Number.isNaN(lo)) q.set("raised_from", String(lo));
  if (hi !== null && !Number.isNaN(hi)) q.set("raised_to", String(hi));
  return q;
}

// Whether a row (from a live event) belongs on the board as filtered; the region needs the
// server (a station's regions), so with a region filter the board reloads instead.
function matches(a, f = filters()) {
  if (a.suppressed) return false;
  if (STATES[f.state] && !STATES[f.state].includes(a.state)) return false;
  if (f.severity && a.severity !== f.severity) return false;
  if (f.rule && a.type !== f.rule) return false;
  const [lo, hi] = window_(f);
  return !(lo !== null && a.raised_ms < lo) && !(hi !== null && a.raised_ms >= hi);
}

function keepInAddress(f) {
  const q = new URLSearchParams(Object.entries(f).filter(([k, v]) => v && !(k === "state" && v === "open")
    && !(k === "range" && v === "all") && !((k === "from" || k === "to") && f.range !== "custom")));
  history.replaceState(null, "", `${location.pathname}${q.toString() ? `?${q}` : ""}`);
}

function fillOptions() {
  const keep = filters();
  const options = (select, values, label) => {
    const first = select.options[0] && select.options[0].value === "" ? [select.options[0]] : [];
    select.replaceChildren(...first, ...values.map((v) => el("option", {value: v}, label(v))));
  };
  options($("f-rule"), [...seenRules], (r) => ruleName(r));
  options($("f-severity"), SEVERITIES, (s) => t(`sev.${s}`));
  options($("f-state"), Object.keys(STATES), (s) => t(`ac.state.${s}`));
  options($("f-range"), Object.keys(RANGES), (r) => t(`ac.range.${r}`));
  for (const [id, value] of Object.entries({"f-rule": keep.rule, "f-severity": keep.severity, "f-state": keep.state,
    "f-range": keep.range})) $(id).value = value;
}

async function loadRegions(wanted) {
  try {
    const regions = await getJson("/api/registry/regions");
    const depth = {province: 0, city: 1, county: 2};
    $("f-region").append(...regions.map((r) => el("option", {value: r.id}, `${"　".repeat(depth[r.level] ?? 0)}${r.name}`)));
    $("f-region").value = wanted || "";
  } catch (error) {
    $("f-region").closest("label").hidden = true;  // no registry: nothing to filter by
  }
}

// --- sound and banner ----------------------------------------------------------------------------
// Two short tones. Chromium keeps audio suspended until the user has touched the page: then this
// stays silent and the banner alone signals (a click on the sound toggle unlocks it).
function beep() {
  if (!soundOn() || !window.AudioContext) return false;
  audio = audio || new AudioContext();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  if (audio.state !== "running") return false;  // still locked: silent this time
  const start = audio.currentTime;
  const gain = audio.createGain();
  gain.gain.setValueAtTime(0.25, start);
  gain.gain.exponentialRampToValueAtTime(0.001, start + 0.5);
  gain.connect(audio.destination);
  [880, 660].forEach((hz, i) => {
    const tone = audio.createOscillator();
    tone.frequency.value = hz;
    tone.connect(gain);
    tone.start(start + i * 0.2);
    tone.stop(start + i * 0.2 + 0.18);
  });
  return true;
}

// The cue for a red alarm that arrived live: the banner flashes (restarted for each) and beeps.
function cue(alarm) {
  const banner = $("red-banner");
  banner.classList.remove("flash");
  void banner.offsetWidth;  // a reflow, so the animation starts again
  banner.classList.add("flash");
  banner.title = t("alarms.new_red", {what: `${alarm.station} ${ruleName(alarm.type)}`});
  bump(banner, "cues");
  if (beep()) bump(document.body, "beeps");
}

function renderSound() {
  const button = $("sound");
  button.textContent = t(soundOn() ? "alarms.sound_on" : "alarms.sound_off");
  button.setAttribute("aria-pressed", String(soundOn()));
}

// --- the board ----------------------------------------------------------------------------------
export function sortAlarms(rows) {
  return rows.sort((a, b) => (STAGE[a.state] ?? 3) - (STAGE[b.state] ?? 3) || (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9)
    || b.raised_ms - a.raised_ms || b.id - a.id);
}

function stateCell(a) {
  const bits = [a.state === "cleared" ? t("ac.cleared_open") : t(`state.${a.state}`)];
  if (a.acked_by) bits.push(t("alarms.acked_by", {who: a.acked_by}));
  if (a.assignee) bits.push(t("alarms.assigned_to", {who: a.assignee}));
  return el("td", {className: "state", "data-label": t("col.state")}, bits.join(" · "),
    a.level ? el("span", {className: "badge escalated"}, t("alarms.level", {n: a.level})) : null,
    a.flapping ? el("span", {className: "badge flapping"}, t("alarms.flapping")) : null);
}

async function act(a, path, body) {
  try {
    const row = await postJson(`/api/alarms/${a.id}/${path}`, body);
    if (matches(row)) alarms.set(row.id, row); else alarms.delete(row.id);
    assigning = null;
    showRefusal($("error"), null);
    render();
  } catch (error) { showRefusal($("error"), error); }
}

async function suggest(alarmId) {
  try {
    const dispatch = await getJson(`/api/alarms/${alarmId}/dispatch`);
    $("assignees").replaceChildren(...[...dispatch.operators, ...dispatch.crews].map((u) =>
      el("option", {value: u.username}, `${u.username} · ${t(`role.${u.role}`)}`)));
  } catch (error) { $("assignees").replaceChildren(); }
}

function actionsCell(a) {
  if (!canWrite) return el("td", {className: "actions", "data-label": t("col.actions")});
  if (assigning === a.id) {
    const input = el("input", {className: "assignee", type: "text", list: "assignees", "aria-label": t("alarms.assignee"),
      placeholder: t("alarms.assignee"), value: draft, oninput: (e) => { draft = e.target.value; }});
    const ok = el("button", {type: "button", className: "assign-ok",
      onclick: () => input.value.trim() && act(a, "assign", {assignee: input.value.trim()})}, t("alarms.assign_ok"));
    const cancel = el("button", {type: "button", onclick: () => { assigning = null; render(); }}, t("alarms.cancel"));
    setTimeout(() => input.focus(), 0);
    return el("td", {className: "actions", "data-label": t("col.actions")}, input, ok, cancel);
  }
  return el("td", {className: "actions", "data-label": t("col.actions")},
    a.state === "raised" ? el("button", {type: "button", className: "ack", onclick: () => act(a, "ack", {})}, t("alarms.ack")) : null,
    a.state !== "closed" ? el("button", {type: "button", className: "assign",
      onclick: () => { assigning = a.id; draft = a.assignee || ""; suggest(a.id); render(); }}, t("alarms.assign")) : null,
    me.role === "admin" && a.state === "cleared" ? el("button", {type: "button", className: "close",
      onclick: () => act(a, "close", {})}, t("ac.close")) : null);
}

function severityCell(a) {
  const box = canWrite ? el("input", {type: "checkbox", className: "pick", "aria-label": t("ac.pick", {id: a.id}),
    onchange: (e) => { if (e.target.checked) selected.add(a.id); else selected.delete(a.id); renderBulk(); }}) : null;
  if (box) box.checked = selected.has(a.id);
  return el("td", {className: `sev-${a.severity}`, "data-label": t("col.severity")}, box, t(`sev.${a.severity}`));
}

function row(a, now) {
  const age = (a.cleared_ms ?? now) - a.raised_ms;
  const tr = el("tr", {className: [`row-${a.severity}`, `row-state-${a.state}`, fresh.has(a.id) ? "fresh" : ""].join(" ").trim(),
    "data-id": a.id},
    severityCell(a), el("td", {"data-label": t("col.type")}, ruleName(a.type)),
    el("td", {"data-label": t("col.station")}, el("a", {href: `/station?id=${encodeURIComponent(a.station)}`}, a.station)),
    el("td", {"data-label": t("col.point")}, pointName(a.point)),
    el("td", {className: "message", "data-label": t("col.message")}, el("a", {className: "open", href: `/alarm?id=${a.id}`},
      alarmMessage(a))),
    el("td", {"data-label": t("col.raised")}, fmtDateTime(a.raised_ms)),
    el("td", {"data-label": t("col.age")}, fmtAge(age)), stateCell(a), actionsCell(a));
  tr.addEventListener("click", (e) => {
    if (!e.target.closest("a, button, input, label, select, textarea")) window.location = `/alarm?id=${a.id}`;
  });
  return tr;
}

function renderBulk() {
  const shown = [...alarms.values()];
  for (const id of [...selected]) if (!alarms.has(id)) selected.delete(id);
  const picked = shown.filter((a) => selected.has(a.id));
  const ackable = picked.filter((a) => a.state === "raised").length;
  const closable = picked.filter((a) => a.state !== "closed").length;
  $("bulk").hidden = !canWrite;
  $("bulk-ack").textContent = t("ac.bulk_ack", {n: ackable});
  $("bulk-ack").disabled = ackable === 0;
  $("bulk-close").hidden = me.role !== "admin";
  $("bulk-close").textContent = t("ac.bulk_close", {n: closable});
  $("bulk-close").disabled = closable === 0;
  $("select-all").checked = shown.length > 0 && picked.length === shown.length;
}

function render() {
  const rows = sortAlarms([...alarms.values()]);
  const now = Date.now();
  document.querySelector("#board tbody").replaceChildren(...rows.map((a) => row(a, now)));
  fresh.clear();
  const reds = rows.filter((a) => a.severity === "red" && a.state === "raised").length;
  $("alarm-count").textContent = rows.length;
  $("empty").hidden = rows.length > 0;
  const banner = $("red-banner");
  banner.hidden = reds === 0;
  banner.textContent = t("alarms.red", {n: reds});
  document.title = reds ? `(${reds}) ${baseTitle}` : baseTitle;
  renderSound();
  renderBulk();
}

async function bulkStep(path, pick) {
  const ids = [...alarms.values()].filter((a) => selected.has(a.id) && pick(a)).map((a) => a.id);
  if (!ids.length) return;
  try {
    const outcome = await send("POST", `/api/alarms/${path}`, {ids});
    outcome.done.forEach((a) => { if (matches(a)) alarms.set(a.id, a); else alarms.delete(a.id); selected.delete(a.id); });
    const why = outcome.refused.map((r) => `${r.id}：${refusalText({...r, message: r.detail, params: r.params || {}})}`).join("；");
    $("bulk-result").textContent = t("ac.bulk_done", {n: outcome.done.length})
      + (outcome.refused.length ? ` ${t("ac.bulk_refused", {n: outcome.refused.length, why})}` : "");
    showRefusal($("error"), null);
    render();
  } catch (error) { showRefusal($("error"), error); }
}

// --- loading and live updates ----------------------------------------------------------------------
async function reload() {
  const f = filters();
  try {
    const rows = await getJson(`/api/alarms?${query(f)}`);
    alarms.clear();
    rows.filter((a) => matches(a, {...f, region: ""})).forEach((a) => { alarms.set(a.id, a); seenRules.add(a.type); });
    for (const id of cueLater) if (alarms.has(id)) cue(alarms.get(id));
    cueLater.clear();
    showRefusal($("error"), null);
    render();
  } catch (error) { showRefusal($("error"), error); }
}

function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(reload, 150);
}

function onAlarm({change, alarm}) {
  const f = filters();
  const isNewRed = change === "new" && alarm.severity === "red" && alarm.state === "raised" && !alarm.suppressed;
  if (f.region) {  // which stations lie in the region is the server's to say
    if (isNewRed) cueLater.add(alarm.id);
    reloadSoon();
    return;
  }
  const before = alarms.get(alarm.id);
  if (matches(alarm, f)) {
    if (!before) fresh.add(alarm.id);
    alarms.set(alarm.id, alarm);
    seenRules.add(alarm.type);
  } else alarms.delete(alarm.id);
  render();
  if (matches(alarm, f) && alarm.severity === "red" && alarm.state === "raised" && (!before || before.severity !== "red")) cue(alarm);
}

async function start() {
  mountHeader("/alarms");
  renderSound();  // the toggle shows its state at once, not only once the alarms have loaded
  const wanted = Object.fromEntries(new URLSearchParams(location.search));
  if (wanted.rule) seenRules.add(wanted.rule);
  fillOptions();
  for (const [key, id] of [["rule", "f-rule"], ["severity", "f-severity"], ["state", "f-state"], ["range", "f-range"],
    ["from", "f-from"], ["to", "f-to"]]) if (wanted[key]) $(id).value = wanted[key];
  $("custom-range").hidden = $("f-range").value !== "custom";
  try {
    me = await getJson("/api/me");
    canWrite = me.role === "operator" || me.role === "admin";
  } catch (error) { showRefusal($("error"), error); }
  await loadRegions(wanted.region);
  $("filters").addEventListener("change", () => {
    $("custom-range").hidden = $("f-range").value !== "custom";
    keepInAddress(filters());
    selected.clear();
    reload();
  });
  $("f-reset").addEventListener("click", () => {
    for (const id of ["f-region", "f-rule", "f-severity", "f-from", "f-to"]) $(id).value = "";
    $("f-state").value = "open";
    $("f-range").value = "all";
    $("filters").dispatchEvent(new Event("change"));
  });
  $("select-all").addEventListener("change", (e) => {
    for (const a of alarms.values()) if (e.target.checked) selected.add(a.id); else selected.delete(a.id);
    render();
  });
  $("bulk-ack").addEventListener("click", () => bulkStep("ack", (a) => a.state === "raised"));
  $("bulk-close").addEventListener("click", () => bulkStep("close", (a) => a.state !== "closed"));
  live({alarm: onAlarm}, reload);
  await reload();
}

window.addEventListener("langchange", () => { fillOptions(); render(); });
$("sound").addEventListener("click", () => {
  localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
  if (soundOn() && window.AudioContext) { audio = audio || new AudioContext(); audio.resume().catch(() => {}); }  // a gesture unlocks audio
  renderSound();
});
setInterval(() => { if (assigning === null) render(); }, 30_000);  // ages move on (not while typing)
start();
