// Writes from the console: a JSON POST with the session's CSRF token; errors as ApiError.
import {ApiError, apiError, csrfToken} from "./common.js";

export async function postJson(path, body = {}) {
  const response = await fetch(path, {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()}});
  if (response.status === 401) { window.location = "/login"; throw new ApiError(401, "logged out"); }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw apiError(response, answer);  // with the error's code and params (i18n.js errorText)
  return answer;
}
