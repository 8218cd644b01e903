// Polls the API every two seconds; everything is served by the watertel service itself.
const fmtTime = (ms) => new Date(ms).toLocaleTimeString();

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fill(tableId, rows, toCells) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.append(...toCells(row));
    return tr;
  }));
}

// Unsafe requests carry the session's CSRF token (set at login as the readable watertel_csrf cookie).
function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("watertel_csrf="));
  return cookie ? decodeURIComponent(cookie.slice("watertel_csrf=".length)) : (sessionStorage.getItem("watertel_csrf") || "");
}

async function getJson(path) {
  const response = await fetch(path);
  if (response.status === 401) { window.location = "/login"; throw new Error("logged out"); }
  return response.json();
}

async function refresh() {
  const [summary, latest, alarms] = await Promise.all(
    ["/api/summary", "/api/latest", "/api/alarms"].map(getJson));
  const refused = Object.values(summary.refused).reduce((a, b) => a + b, 0);
  document.getElementById("totals").textContent =
    `已验证批次 verified envelopes ${summary.envelopes} · 读数 readings ${summary.readings} · 拒收 refused ${refused}`;
  document.getElementById("alarm-count").textContent = alarms.length;
  fill("alarms", alarms, (a) => [cell(a.severity, `sev-${a.severity}`), cell(a.type), cell(a.station),
    cell(a.point), cell(a.message), cell(fmtTime(a.raised_ms))]);
  fill("latest", latest, (r) => [cell(r.station), cell(r.point),
    cell(r.value === null ? "—" : Number(r.value).toPrecision(6)), cell(r.unit),
    cell(r.quality, r.quality === "OK" ? "ok" : "bad"), cell(fmtTime(r.t_ms))]);
}

document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/api/logout", {method: "POST", headers: {"X-CSRF-Token": csrfToken()}});
  window.location = "/login";
});
refresh();
setInterval(() => refresh().catch(() => {}), 2000);
