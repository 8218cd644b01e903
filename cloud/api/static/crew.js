// The crew's phone page: my work orders (GET /api/workorders?mine=true), most urgent first;
// accept one, then report back with notes. Reloaded every minute and after each action.
import {postJson} from "./actions.js";
import {el, getJson, mountHeader, showError} from "./common.js";
import {fmtTime, t} from "./i18n.js";

let orders = [];
const drafts = new Map();  // order id -> notes being typed (kept across reloads)

async function act(order, path, body) {
  try {
    await postJson(`/api/workorders/${order.id}/${path}`, body);
    drafts.delete(order.id);
    await reload();
  } catch (error) { showError(error); }
}

function card(o) {
  const notes = el("textarea", {className: "notes", "aria-label": t("crew.notes"), placeholder: t("crew.notes"),
    oninput: (e) => drafts.set(o.id, e.target.value)});
  notes.value = drafts.get(o.id) || "";
  return el("article", {className: `order${o.overdue ? " overdue" : ""}`, "data-id": o.id},
    el("h3", {}, o.title),
    el("div", {className: "meta"}, `${o.station} · `, el("span", {className: "wo-state"}, t(`wo.${o.state}`)), " · ",
      t("crew.due", {time: fmtTime(o.due_ms)}), o.overdue ? el("span", {className: "late"}, ` ${t("crew.overdue")}`) : null),
    o.state === "assigned" ? el("button", {type: "button", className: "accept", onclick: () => act(o, "accept")},
      t("crew.accept")) : null,
    o.state === "accepted" ? notes : null,
    o.state === "accepted" ? el("button", {type: "button", className: "report",
      onclick: () => notes.value.trim() && act(o, "report", {notes: notes.value.trim()})}, t("crew.report")) : null,
    o.state === "reported" ? el("p", {className: "meta"}, t("crew.reported", {notes: o.report})) : null);
}

function render() {
  const open = orders.filter((o) => o.state !== "closed");
  document.getElementById("orders").replaceChildren(...open.map(card));
  document.getElementById("order-count").textContent = open.length;
  document.getElementById("empty").hidden = open.length > 0;
}

async function reload() {
  try {
    orders = await getJson("/api/workorders?mine=true");
    showError(null);
    render();
  } catch (error) { showError(error); }
}

mountHeader("/crew");
reload();
window.addEventListener("langchange", render);
setInterval(() => { if (!document.activeElement || document.activeElement.tagName !== "TEXTAREA") reload(); }, 60_000);
