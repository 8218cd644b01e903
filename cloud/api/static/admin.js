// The admin page: the station registry (interval, points, maintenance windows, permit) edited
// through PUT /api/registry/stations/{id}; the gateways with their key ids and states, registered,
// rotated and revoked through /api/admin/gateways; users and roles (/api/admin/users); the
// notification routes and contacts (/api/admin/notifications); the audit log, newest first, with its hash chain checked
// (GET /api/audit, /api/audit/verify). Admins only; others see a notice.
// Each section loads on its own (common.js section): one failing call shows its error in its own
// box and leaves the others as they are. What the configuration keeps read-only or leaves off
// (GET /api/admin/features) says so and how to enable it, with its forms and buttons disabled.
import {ApiError, apiError, csrfToken, el, getJson, labelCells, mountHeader, notEnabled, section, showError} from "./common.js";
import {errorText, fmtDateTime, pointName, t} from "./i18n.js";

let stations = [];
let editing = null;  // the station being edited, as GET /api/registry/stations answered it

let users = [];
let editingUser = null;  // the username being edited (null: the form creates one)
let resetting = null;  // the username whose password is being reset
let myName = null;  // the logged-in admin: changing their own password needs the current one
let notifications = null;  // GET /api/admin/notifications as last answered (or a write's answer)
let gateways = [];  // GET /api/registry/gateways as last answered
let usersEditable = false;
let auditRows = [];  // the audit rows shown, newest first
let chain = null;  // GET /api/audit/verify as last answered
// What the configuration enables (GET /api/admin/features); until it answers, everything is
// assumed editable (a write the configuration refuses still says why, in the form's error line).
let features = null;
const editable = (part) => !features || features[part].editable;
const box = (id) => document.getElementById(id);

// A write's error in its form's line, in the user's language.
function formError(id, error) {
  document.getElementById(id).textContent = error ? errorText(error) : "";
}

async function send(method, path, body) {
  const response = await fetch(path, {method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()}});
  if (response.status === 401) { window.location = "/login"; throw new ApiError(401, "logged out"); }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw apiError(response, answer);
  return answer;
}

const put = (path, body) => send("PUT", path, body);
const regionList = (text) => text.split(/[;,\s]+/).filter(Boolean);

function interval(s) {
  return s.interval_seconds ? `${s.interval_seconds} ${t("admin.unit_s")}` : `${s.interval_minutes} ${t("admin.unit_min")}`;
}

function renderStations() {
  document.querySelector("#stations tbody").replaceChildren(...stations.map((s) => el("tr", {"data-id": s.id},
    el("td", {}, s.id), el("td", {}, s.name), el("td", {}, s.region_path), el("td", {}, t(`kind.${s.kind}`)),
    el("td", {className: "interval"}, interval(s)), el("td", {className: "points", title: s.points.join("; ")},  // names; the ids (what the form takes) on hover
      s.points.map(pointName).join(t("list.sep")) || "—"),
    el("td", {}, String(s.maintenance.length)), el("td", {}, s.permit ? s.permit.id : "—"),
    el("td", {}, el("button", {type: "button", className: "edit", disabled: !editable("registry"),
      onclick: () => openEdit(s)}, t("admin.edit"))))));
  labelCells(document.getElementById("stations"));
}

function keyText(k) {
  const state = t(`key.${k.state}`);
  return k.valid_until ? `${k.key_id} (${state} ${fmtDateTime(Date.parse(k.valid_until))})` : `${k.key_id} (${state})`;
}

function renderGateways() {
  const off = !editable("gateways");
  document.querySelector("#gateways tbody").replaceChildren(...gateways.map((g) => el("tr", {"data-id": g.id},
    el("td", {}, g.id), el("td", {}, g.stations.join(", ")),
    el("td", {className: "keys"}, g.keys.map(keyText).join("; ")),
    el("td", {className: "payload-keys"}, g.payload_keys.map(keyText).join("; ") || "—"),
    el("td", {className: "key-actions"},
      el("button", {type: "button", className: "rotate", disabled: off, onclick: () => keyForm(g.id)}, t("admin.rotate")),
      ...g.keys.filter((k) => k.state === "previous" || k.state === "expired").map((k) => el("button",
        {type: "button", className: "revoke", "data-key": k.key_id, disabled: off, onclick: () => revoke(g.id, k.key_id)},
        t("admin.revoke", {key: k.key_id})))))));
  labelCells(document.getElementById("gateways"));
}

// The key form registers a gateway, or (opened from a row) rotates that gateway's key.
function keyForm(gatewayId) {
  const form = document.getElementById("key-form");
  form.reset();
  form.dataset.rotate = gatewayId || "";
  form.gateway.value = gatewayId || "";
  form.gateway.readOnly = Boolean(gatewayId);
  for (const label of form.querySelectorAll(".rotate-only")) label.hidden = !gatewayId;
  for (const label of form.querySelectorAll(".register-only")) label.hidden = Boolean(gatewayId);
  document.getElementById("key-save").textContent = t(gatewayId ? "admin.rotate" : "admin.register");
  document.getElementById("key-error").textContent = "";
  if (gatewayId) form.key_id.focus();
}

async function saveKey(event) {
  event.preventDefault();
  const form = event.target;
  const gid = form.gateway.value.trim();
  try {
    if (form.dataset.rotate) {
      await send("POST", `/api/admin/gateways/${encodeURIComponent(gid)}/rotate`, {key_id: form.key_id.value.trim(),
        public_key_pem: form.pem.value, old_valid_until: form.old_valid_until.value.trim() || null,
        revoke_old: form.revoke_old.checked});
    } else {
      await send("POST", "/api/admin/gateways", {id: gid, stations: regionList(form.stations.value),
        key_id: form.key_id.value.trim(), public_key_pem: form.pem.value});
    }
    document.getElementById("key-saved").textContent = t("admin.gateway_saved", {id: gid});
    keyForm(null);
    await loadGateways();
  } catch (error) {
    formError("key-error", error);
  }
}

async function revoke(gid, key) {
  if (!window.confirm(t("admin.confirm_revoke", {id: gid, key}))) return;
  try {
    await send("POST", `/api/admin/gateways/${encodeURIComponent(gid)}/revoke`, {key_id: key});
    document.getElementById("key-saved").textContent = t("admin.gateway_saved", {id: gid});
    await loadGateways();
  } catch (error) { formError("key-error", error); }
}

function renderUsers() {
  const editable = usersEditable;
  document.querySelector("#users tbody").replaceChildren(...users.map((u) => el("tr", {"data-id": u.username},
    el("td", {}, u.username), el("td", {className: "role"}, t(`role.${u.role}`)),
    el("td", {className: "regions"}, u.regions.join("; ") || t("admin.all_regions")),
    el("td", {}, ...(editable ? [
      el("button", {type: "button", className: "edit-user", onclick: () => userForm(u)}, t("admin.edit")),
      el("button", {type: "button", className: "reset", onclick: () => passwordForm(u.username)}, t("admin.reset")),
      el("button", {type: "button", className: "delete", onclick: () => deleteUser(u.username)}, t("admin.delete"))] : [])))));
  labelCells(document.getElementById("users"));
}

// The user form creates a user, or (opened from a row) changes that user's role and regions.
function userForm(user) {
  const form = document.getElementById("user-form");
  form.reset();
  editingUser = user ? user.username : null;
  form.username.value = user ? user.username : "";
  form.username.readOnly = Boolean(user);
  form.role.value = user ? user.role : "viewer";
  form.regions.value = user ? user.regions.join("; ") : "";
  form.querySelector(".create-only").hidden = Boolean(user);
  form.password.required = !user;
  document.getElementById("user-save").textContent = t(user ? "admin.save" : "admin.create_user");
  document.getElementById("user-error").textContent = "";
}

function passwordForm(name) {
  resetting = name;
  const form = document.getElementById("password-form");
  form.reset();
  form.hidden = false;
  document.getElementById("password-user").textContent = name;
  const own = name === myName;
  form.querySelector(".own-only").hidden = !own;
  form.current_password.required = own;
  (own ? form.current_password : form.password).focus();
}

async function userAction(action, name) {
  try {
    await action();
    document.getElementById("user-saved").textContent = t(name.deleted ? "admin.user_deleted" : "admin.user_saved", name);
    await loadUsers();
    return true;
  } catch (error) {
    formError("user-error", error);
    return false;
  }
}

async function saveUser(event) {
  event.preventDefault();
  const form = event.target;
  const name = form.username.value.trim();
  const regions = regionList(form.regions.value);
  const done = await userAction(() => editingUser
    ? send("PATCH", `/api/admin/users/${encodeURIComponent(editingUser)}`, {role: form.role.value, regions})
    : send("POST", "/api/admin/users", {username: name, password: form.password.value, role: form.role.value, regions}),
  {name});
  if (done) userForm(null);
}

async function savePassword(event) {
  event.preventDefault();
  const form = event.target;
  const done = await userAction(() => send("POST", `/api/admin/users/${encodeURIComponent(resetting)}/password`,
    resetting === myName ? {password: form.password.value, current_password: form.current_password.value}
      : {password: form.password.value}), {name: resetting});
  if (done) { form.hidden = true; resetting = null; }
}

async function deleteUser(name) {
  if (!window.confirm(t("admin.confirm_delete", {name}))) return;
  await userAction(() => send("DELETE", `/api/admin/users/${encodeURIComponent(name)}`), {name, deleted: true});
}

// Routes and contacts: editable when the cloud config keeps them in notifications_file. A route is
// added or removed by sending the whole list (PUT /api/admin/notifications/routes); a contact is
// created or replaced by PUT /api/admin/notifications/contacts/{id}, removed by DELETE.
function routeBody(r) {
  return {regions: r.regions, severities: r.severities, level: r.level, contacts: r.contacts, roles: r.roles,
    quiet_hours: r.quiet_hours};
}

function contactChannels(c) {
  const names = {email: "admin.email", phone: "admin.phone_short", webhook: "admin.webhook", robot: "admin.robot"};
  return Object.keys(names).filter((k) => c[k]).map((k) => t("admin.channel", {name: t(names[k]), id: c[k]})).join(t("list.sep"));
}

function renderRoutes(answer = notifications) {
  if (!answer) return;
  notifications = answer;
  const editable = answer.editable;
  for (const cell of document.querySelectorAll("#routes-box th.editable-only")) cell.hidden = !editable;
  const problems = document.getElementById("routes-problems");
  problems.textContent = (answer.problems || []).join("\n");
  problems.hidden = !problems.textContent;
  document.querySelector("#routes tbody").replaceChildren(...answer.routes.map((r, i) => el("tr", {"data-index": String(i)},
    el("td", {}, r.regions.join("; ") || t("admin.all_regions")), el("td", {className: "severities"}, r.severities.map((v) => t(`sev.${v}`)).join(t("list.sep")) || "—"),
    el("td", {}, String(r.level)), el("td", {className: "reaches"}, r.reaches.join(", ") || "—"),
    ...(editable ? [el("td", {}, el("button", {type: "button", className: "remove-route", onclick: () => removeRoute(i)},
      t("admin.delete")))] : []))));
  document.querySelector("#contacts tbody").replaceChildren(...answer.contacts.map((c) => el("tr", {"data-id": c.id},
    el("td", {}, c.id), el("td", {className: "role"}, c.role ? t(`role.${c.role}`) : "—"),
    el("td", {className: "channels"}, contactChannels(c)), el("td", {className: "quiet"}, c.quiet_hours || "—"),
    ...(editable ? [el("td", {},
      el("button", {type: "button", className: "edit-contact", onclick: () => contactForm(c)}, t("admin.edit")),
      el("button", {type: "button", className: "delete-contact", onclick: () => deleteContact(c.id)}, t("admin.delete")))]
      : []))));
  document.getElementById("route-contacts").replaceChildren(el("legend", {}, t("admin.contacts")),
    ...answer.contacts.map((c) => el("label", {}, el("input", {type: "checkbox", name: "contact", value: c.id,
      disabled: !editable}), ` ${c.id}`)));
  const form = document.getElementById("contact-form");
  for (const [name, ids] of [["webhook", answer.channels.webhooks], ["robot", answer.channels.robots]]) {
    form[name].replaceChildren(el("option", {value: ""}, "—"), ...ids.map((id) => el("option", {value: id}, id)));
  }
  labelCells(document.getElementById("routes"));
  labelCells(document.getElementById("contacts"));
}

async function notificationAction(action, done, errorId) {
  try {
    renderRoutes(await action());
    document.getElementById(errorId).textContent = "";
    done();
    return true;
  } catch (error) {
    formError(errorId, error);
    return false;
  }
}

async function addRoute(event) {
  event.preventDefault();
  const form = event.target;
  const checked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((box) => box.value);
  const route = {regions: regionList(form.regions.value), severities: checked("severity"), level: Number(form.level.value),
    contacts: checked("contact"), roles: checked("role"), quiet_hours: form.quiet_hours.value.trim() || null};
  await notificationAction(() => put("/api/admin/notifications/routes", [...notifications.routes.map(routeBody), route]),
    () => {
      form.reset();
      document.getElementById("route-saved").textContent = t("admin.routes_saved", {n: notifications.routes.length});
    }, "route-error");
}

async function removeRoute(index) {
  if (!window.confirm(t("admin.confirm_remove_route", {n: index + 1}))) return;
  await notificationAction(() => put("/api/admin/notifications/routes",
    notifications.routes.filter((_, i) => i !== index).map(routeBody)),
  () => { document.getElementById("route-saved").textContent = t("admin.routes_saved", {n: notifications.routes.length}); },
  "route-error");
}

// The contact form creates a contact, or (opened from a row) replaces that contact's channels, role and quiet hours.
function contactForm(contact) {
  const form = document.getElementById("contact-form");
  form.reset();
  form.elements.name.value = contact ? contact.id : "";
  form.elements.name.readOnly = Boolean(contact);
  for (const key of ["email", "phone", "webhook", "robot", "role", "quiet_hours"]) form[key].value = contact?.[key] || "";
  document.getElementById("contact-error").textContent = "";
}

async function saveContact(event) {
  event.preventDefault();
  const form = event.target;
  const id = form.elements.name.value.trim();
  const value = (key) => form[key].value.trim() || null;
  await notificationAction(() => put(`/api/admin/notifications/contacts/${encodeURIComponent(id)}`,
    {email: value("email"), phone: value("phone"), webhook: value("webhook"), robot: value("robot"), role: value("role"),
      quiet_hours: value("quiet_hours")}),
  () => { contactForm(null); document.getElementById("contact-saved").textContent = t("admin.contact_saved", {id}); },
  "contact-error");
}

async function deleteContact(id) {
  if (!window.confirm(t("admin.confirm_delete_contact", {id}))) return;
  await notificationAction(() => send("DELETE", `/api/admin/notifications/contacts/${encodeURIComponent(id)}`),
    () => { document.getElementById("contact-saved").textContent = t("admin.contact_deleted", {id}); }, "contact-error");
}

function loadUsers() {
  return section(box("users-box"), async () => {
    const answer = await getJson("/api/admin/users");
    users = answer.users;
    usersEditable = answer.editable;
    renderUsers();
  });
}

function openEdit(s) {
  editing = s;
  const form = document.getElementById("edit");
  document.getElementById("edit-id").textContent = s.id;
  form.interval.value = s.interval_seconds || s.interval_minutes;
  form.unit.value = s.interval_seconds ? "s" : "min";
  form.points.value = s.points.join("; ");
  form.lat.value = s.location?.lat ?? "";  // maps-charts: the station's place on the map (WGS-84)
  form.lon.value = s.location?.lon ?? "";
  form.maintenance.value = s.maintenance.map((w) => `${w.start}..${w.end}${w.note ? " " + w.note : ""}`).join("\n");
  const p = s.permit || {};
  form.permit_id.value = p.id || "";
  form.holder.value = p.holder || "";
  form.permitted_m3.value = p.permitted_m3 ?? "";
  form.year_start.value = p.year_start || "";
  form.plan_annual.value = p.plan?.annual ?? "";
  document.getElementById("form-error").textContent = "";
  document.getElementById("edit-box").hidden = false;
  form.interval.focus();
}

// The station as the form shows it; lines of maintenance are "START..END note".
function fromForm(form) {
  const body = {...editing};
  delete body.interval_ms; delete body.region_path;
  const value = Number(form.interval.value);
  body.interval_minutes = form.unit.value === "min" ? value : null;
  body.interval_seconds = form.unit.value === "s" ? value : null;
  body.points = form.points.value.split(/[;,\s]+/).filter(Boolean);
  const [lat, lon] = [form.lat.value.trim(), form.lon.value.trim()];  // both empty: no place on the map
  body.location = lat === "" && lon === "" ? null : {lat: lat === "" ? null : Number(lat), lon: lon === "" ? null : Number(lon)};
  body.maintenance = form.maintenance.value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const [span, ...note] = line.split(" ");
    const [start, end] = span.split("..");
    return {start, end: end || "", note: note.join(" ")};
  });
  const id = form.permit_id.value.trim();
  if (!id) {
    body.permit = null;
  } else {
    const old = editing.permit && editing.permit.id === id ? editing.permit : {meters: [editing.id]};
    const annual = form.plan_annual.value === "" ? null : Number(form.plan_annual.value);
    body.permit = {...old, id, holder: form.holder.value.trim(), permitted_m3: Number(form.permitted_m3.value),
      year_start: form.year_start.value.trim() || "01-01",
      plan: annual === null && !old.plan ? null : {...(old.plan || {}), annual}};
  }
  return body;
}

async function save(event) {
  event.preventDefault();
  try {
    const saved = await put(`/api/registry/stations/${encodeURIComponent(editing.id)}`, fromForm(event.target));
    document.getElementById("edit-box").hidden = true;
    document.getElementById("saved").textContent = t("admin.saved", {id: saved.id});
    editing = null;
    await loadStations();
  } catch (error) {
    formError("form-error", error);
  }
}

// --- each section on its own ---------------------------------------------------------------------
function loadStations() {
  return section(box("stations-box"), async () => { stations = await getJson("/api/registry/stations"); renderStations(); });
}

function loadGateways() {
  return section(box("gateways-box"), async () => { gateways = await getJson("/api/registry/gateways"); renderGateways(); });
}

function loadRoutes() {
  return section(box("routes-box"), async () => renderRoutes(await getJson("/api/admin/notifications")));
}

let oldestAudit = null;  // the id of the oldest audit row shown ("older" pages back from it)

// The audit row's action in the user's language, from its method and path; the recorded summary
// (English, part of the hash chain) stays beneath it as the record. Unknown routes: the record only.
const AUDIT_ACTIONS = [
  ["POST", /^\/api\/login$/, "audit.login"], ["POST", /^\/api\/logout$/, "audit.logout"],
  ["POST", /^\/api\/alarms\/([^/]+)\/ack$/, "audit.alarm_ack"], ["POST", /^\/api\/alarms\/([^/]+)\/assign$/, "audit.alarm_assign"],
  ["POST", /^\/api\/alarms\/([^/]+)\/comment$/, "audit.alarm_comment"], ["POST", /^\/api\/alarms\/([^/]+)\/close$/, "audit.alarm_close"],
  ["POST", /^\/api\/workorders$/, "audit.wo_create"], ["POST", /^\/api\/workorders\/([^/]+)\/assign$/, "audit.wo_assign"],
  ["POST", /^\/api\/workorders\/([^/]+)\/accept$/, "audit.wo_accept"],
  ["POST", /^\/api\/workorders\/([^/]+)\/report$/, "audit.wo_report"],
  ["POST", /^\/api\/workorders\/([^/]+)\/close$/, "audit.wo_close"],
  ["PUT", /^\/api\/registry\/stations\/([^/]+)$/, "audit.station_put"],
  ["DELETE", /^\/api\/registry\/stations\/([^/]+)$/, "audit.station_delete"],
  ["POST", /^\/api\/admin\/users$/, "audit.user_create"], ["PATCH", /^\/api\/admin\/users\/([^/]+)$/, "audit.user_update"],
  ["DELETE", /^\/api\/admin\/users\/([^/]+)$/, "audit.user_delete"],
  ["POST", /^\/api\/admin\/users\/([^/]+)\/password$/, "audit.user_password"],
  ["PUT", /^\/api\/admin\/notifications\/routes$/, "audit.routes_set"],
  ["PUT", /^\/api\/admin\/notifications\/contacts\/([^/]+)$/, "audit.contact_put"],
  ["DELETE", /^\/api\/admin\/notifications\/contacts\/([^/]+)$/, "audit.contact_delete"],
  ["POST", /^\/api\/admin\/gateways$/, "audit.gateway_register"],
  ["POST", /^\/api\/admin\/gateways\/([^/]+)\/rotate$/, "audit.gateway_rotate"],
  ["POST", /^\/api\/admin\/gateways\/([^/]+)\/revoke$/, "audit.gateway_revoke"],
];

function auditAction(r) {
  for (const [method, pattern, key] of AUDIT_ACTIONS) {
    const match = r.method === method && pattern.exec(r.path);
    if (match) return t(key, {id: match[1] ? decodeURIComponent(match[1]) : ""});
  }
  return null;
}

function auditCell(r) {
  const record = `${r.summary} (${r.method} ${r.path})`;
  const action = auditAction(r);
  return el("td", {className: "action"}, ...(action ? [el("span", {}, action), el("br"),
    el("small", {className: "record", lang: "en"}, record)] : [el("span", {lang: "en"}, record)]));
}

function renderAudit() {
  document.querySelector("#audit tbody").replaceChildren(...auditRows.map((r) => el("tr", {"data-id": r.id},
    el("td", {className: "time"}, fmtDateTime(r.t_ms, {seconds: true})), el("td", {}, r.actor),
    el("td", {}, r.role ? t(`role.${r.role}`) : "—"), el("td", {}, r.client),
    auditCell(r), el("td", {}, String(r.status)))));
  labelCells(document.getElementById("audit"));
  const note = document.getElementById("audit-chain");
  if (!chain) return;
  note.textContent = chain.ok ? t("admin.chain_ok", {n: chain.rows}) : t("admin.chain_bad", {row: chain.bad_row, reason: chain.reason});
  note.className = chain.ok ? "ok" : "bad";
}

// The rows and the chain check load apart: a failing check does not hide the rows.
function loadAudit(older = false) {
  return section(box("audit-box"), async () => {
    const rows = await getJson(`/api/audit?limit=50${older && oldestAudit ? `&before_id=${oldestAudit}` : ""}`);
    auditRows = older ? [...auditRows, ...rows] : rows;
    if (rows.length) oldestAudit = rows[rows.length - 1].id;
    document.getElementById("audit-older").hidden = rows.length < 50;
    renderAudit();
    chain = await getJson("/api/audit/verify");
    renderAudit();
  });
}

// Parts the configuration keeps read-only or leaves off: say so (and how) and disable their forms.
function applyFeatures() {
  if (!features) return;
  for (const [part, id] of [["registry", "stations-box"], ["gateways", "gateways-box"], ["users", "users-box"],
    ["notifications", "routes-box"]]) {
    const f = features[part];
    if (!f.editable) notEnabled(box(id), f.code, part, f.setting);
  }
}

async function load() {
  try {
    features = await getJson("/api/admin/features");
    applyFeatures();
  } catch (error) { showError(error); }  // the sections still load; a refused write says why
  // A part the configuration leaves off is not asked for (its 409 would only repeat the note).
  const on = (part) => !features || features[part].enabled;
  await Promise.all([on("registry") && loadStations(), on("gateways") && loadGateways(), loadUsers(),
    on("notifications") && loadRoutes(), loadAudit()]);
  applyFeatures();  // rows drawn since: their buttons too
}

function render() {
  renderStations(); renderGateways(); renderUsers(); renderRoutes(); renderAudit();
  const rotating = document.getElementById("key-form").dataset.rotate;  // the forms keep what is typed
  document.getElementById("key-save").textContent = t(rotating ? "admin.rotate" : "admin.register");
  document.getElementById("user-save").textContent = t(editingUser ? "admin.save" : "admin.create_user");
}

async function start() {
  mountHeader("/admin");
  const me = await getJson("/api/me");
  myName = me.user;
  if (me.role !== "admin") {
    document.getElementById("denied").hidden = false;
    return;
  }
  for (const id of ["stations-box", "gateways-box", "users-box", "routes-box", "audit-box"]) document.getElementById(id).hidden = false;
  document.getElementById("audit-older").addEventListener("click", () => loadAudit(true));
  document.getElementById("edit").addEventListener("submit", save);
  document.getElementById("key-form").addEventListener("submit", saveKey);
  document.getElementById("key-reset").addEventListener("click", () => keyForm(null));
  document.getElementById("user-form").addEventListener("submit", saveUser);
  document.getElementById("user-reset").addEventListener("click", () => userForm(null));
  document.getElementById("password-form").addEventListener("submit", savePassword);
  document.getElementById("route-form").addEventListener("submit", addRoute);
  document.getElementById("contact-form").addEventListener("submit", saveContact);
  document.getElementById("contact-reset").addEventListener("click", () => contactForm(null));
  keyForm(null);
  userForm(null);
  contactForm(null);
  document.getElementById("cancel").addEventListener("click", () => {
    document.getElementById("edit-box").hidden = true; editing = null;
  });
  window.addEventListener("langchange", render);
  await load();
}

start().catch(showError);  // /api/me unanswered: the page says so
