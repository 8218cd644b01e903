// The login form: POST /api/login; errors in the user's language (the answer's code through the
// catalogue: wrong password, too many attempts with the wait). The language toggle is here too,
// so the choice is made before logging in and kept (localStorage).
import {apiError} from "./common.js";
import {applyI18n, errorText, lang, setLang} from "./i18n.js";

let shown = null;  // the error on screen, said again when the language changes

function showError(error) {
  shown = error;
  document.getElementById("error").textContent = error ? errorText(error) : "";
}

document.documentElement.lang = lang() === "en" ? "en" : "zh-CN";
applyI18n();
document.getElementById("lang").addEventListener("click", () => setLang(lang() === "en" ? "zh" : "en"));
window.addEventListener("langchange", () => showError(shown));

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const response = await fetch("/api/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: form.get("username"), password: form.get("password")}),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = apiError(response, body);
      if (response.status === 429 && !error.params.wait_s) error.params.wait_s = Number(response.headers.get("Retry-After") || 60);
      showError(error);
      return;
    }
    // The CSRF token also comes as the readable watertel_csrf cookie, which the pages send back.
    sessionStorage.setItem("watertel_csrf", body.csrf_token);
    window.location = "/";
  } catch (error) { showError(error); }  // no answer at all: said as a network failure
});
