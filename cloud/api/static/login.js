document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/api/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: form.get("username"), password: form.get("password")}),
  });
  if (response.ok) {
    // The CSRF token also comes as the readable watertel_csrf cookie, which console.js sends back.
    sessionStorage.setItem("watertel_csrf", (await response.json()).csrf_token);
    window.location = "/";
  } else if (response.status === 429) {
    const wait = Math.ceil(Number(response.headers.get("Retry-After") || 60) / 60);
    document.getElementById("error").textContent =
      `尝试次数过多，请 ${wait} 分钟后再试 Too many failed attempts: try again in ${wait} min`;
  } else {
    document.getElementById("error").textContent = "用户名或密码错误 Wrong username or password";
  }
});
