// The live alarm board: open alarms from /api/alarms, then kept current by /api/events.
// Sorted by severity (red first), then newest first; red rows pulse and the title counts them.
// A red alarm that arrives live flashes the banner and beeps (Web Audio, no sound file) unless
// the sound is switched off (the choice is kept in localStorage).
// Operators and admins acknowledge and assign from the list; alarms of stations in maintenance
// (suppressed) are not shown.
import {postJson} from "./actions.js";
import {el, getJson, live, mountHeader, showError} from "./common.js";
import {fmtAge, fmtTime, t} from "./i18n.js";

const OPEN = new Set(["raised", "acknowledged"]);
let canWrite = false;  // operator or admin (from /api/me)
let assigning = null;  // id of the alarm whose assign box is open
let draft = "";  // what is typed there (kept when a live update redraws the board)

const RANK = {red: 0, orange: 1, yellow: 2, blue: 3};
const alarms = new Map();  // id -> alarm row
const fresh = new Set();  // ids that arrived live (highlighted once)
const baseTitle = document.title;
const SOUND_KEY = "watertel_alarm_sound";  // "off": no beep
let audio = null;  // one AudioContext, made on first use

const soundOn = () => localStorage.getItem(SOUND_KEY) !== "off";
const bump = (node, key) => { node.dataset[key] = String(Number(node.dataset[key] || 0) + 1); };

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
  const banner = document.getElementById("red-banner");
  banner.classList.remove("flash");
  void banner.offsetWidth;  // a reflow, so the animation starts again
  banner.classList.add("flash");
  banner.title = t("alarms.new_red", {what: `${alarm.station} ${alarm.type}`});
  bump(banner, "cues");
  if (beep()) bump(document.body, "beeps");
}

function renderSound() {
  const button = document.getElementById("sound");
  button.textContent = t(soundOn() ? "alarms.sound_on" : "alarms.sound_off");
  button.setAttribute("aria-pressed", String(soundOn()));
}

export function sortAlarms(rows) {
  return rows.sort((a, b) => (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9) || b.raised_ms - a.raised_ms || b.id - a.id);
}

function stateCell(a) {
  const bits = [t(`state.${a.state}`)];
  if (a.acked_by) bits.push(t("alarms.acked_by", {who: a.acked_by}));
  if (a.assignee) bits.push(t("alarms.assigned_to", {who: a.assignee}));
  return el("td", {className: "state"}, bits.join(" · "),
    a.level ? el("span", {className: "badge escalated"}, t("alarms.level", {n: a.level})) : null,
    a.flapping ? el("span", {className: "badge flapping"}, t("alarms.flapping")) : null);
}

async function act(a, path, body) {
  try {
    const row = await postJson(`/api/alarms/${a.id}/${path}`, body);
    alarms.set(row.id, row);
    assigning = null;
    showError(null);
    render();
  } catch (error) { showError(error); }
}

function actionsCell(a) {
  if (!canWrite) return el("td", {});
  if (assigning === a.id) {
    const input = el("input", {className: "assignee", type: "text", "aria-label": t("alarms.assignee"),
      placeholder: t("alarms.assignee"), value: draft, oninput: (e) => { draft = e.target.value; }});
    const ok = el("button", {type: "button", className: "assign-ok",
      onclick: () => input.value.trim() && act(a, "assign", {assignee: input.value.trim()})}, t("alarms.assign_ok"));
    const cancel = el("button", {type: "button", onclick: () => { assigning = null; render(); }}, t("alarms.cancel"));
    setTimeout(() => input.focus(), 0);
    return el("td", {className: "actions"}, input, ok, cancel);
  }
  return el("td", {className: "actions"},
    a.state === "raised" ? el("button", {type: "button", className: "ack", onclick: () => act(a, "ack", {})}, t("alarms.ack")) : null,
    el("button", {type: "button", className: "assign", onclick: () => { assigning = a.id; draft = a.assignee || ""; render(); }}, t("alarms.assign")));
}

function render() {
  const rows = sortAlarms([...alarms.values()]);
  const now = Date.now();
  document.querySelector("#board tbody").replaceChildren(...rows.map((a) => el("tr", {
    className: [`row-${a.severity}`, fresh.has(a.id) ? "fresh" : ""].join(" ").trim(), "data-id": a.id},
    el("td", {className: `sev-${a.severity}`}, t(`sev.${a.severity}`)), el("td", {}, a.type),
    el("td", {}, el("a", {href: `/station?id=${encodeURIComponent(a.station)}`}, a.station)),
    el("td", {}, a.point), el("td", {}, a.message), el("td", {}, fmtTime(a.raised_ms)),
    el("td", {}, fmtAge(now - a.raised_ms)), stateCell(a), actionsCell(a))));
  fresh.clear();
  const reds = rows.filter((a) => a.severity === "red" && a.state === "raised").length;
  document.getElementById("alarm-count").textContent = rows.length;
  document.getElementById("empty").hidden = rows.length > 0;
  const banner = document.getElementById("red-banner");
  banner.hidden = reds === 0;
  banner.textContent = t("alarms.red", {n: reds});
  document.title = reds ? `(${reds}) ${baseTitle}` : baseTitle;
  renderSound();
}

async function reload() {
  try {
    const [rows, me] = await Promise.all([getJson("/api/alarms"), getJson("/api/me")]);
    canWrite = me.role === "operator" || me.role === "admin";
    alarms.clear();
    rows.filter((a) => !a.suppressed).forEach((a) => alarms.set(a.id, a));
    showError(null);
    render();
  } catch (error) { showError(error); }
}

mountHeader("/alarms");
renderSound();  // the toggle shows its state at once, not only once the alarms have loaded
live({
  alarm: ({change, alarm}) => {
    const before = alarms.get(alarm.id);
    const open = change !== "cleared" && OPEN.has(alarm.state) && !alarm.suppressed;
    if (!open) alarms.delete(alarm.id);
    else { if (!before) fresh.add(alarm.id); alarms.set(alarm.id, alarm); }
    render();
    if (open && alarm.severity === "red" && alarm.state === "raised" && (!before || before.severity !== "red")) cue(alarm);
  },
}, reload);
reload();
window.addEventListener("langchange", render);
document.getElementById("sound").addEventListener("click", () => {
  localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
  if (soundOn() && window.AudioContext) { audio = audio || new AudioContext(); audio.resume().catch(() => {}); }  // a gesture unlocks audio
  renderSound();
});
setInterval(() => { if (assigning === null) render(); }, 30_000);  // ages move on (not while typing)
