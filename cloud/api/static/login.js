document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/api/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: form.get("username"), password: form.get("password")}),
  });
  if (response.ok) {
    window.location = "/";
  } else {
    document.getElementById("error").textContent = "用户名或密码错误 Wrong username or password";
  }
});
