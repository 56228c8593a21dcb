import { api, setToken, $, showError, homeFor } from "./api.js";

function next(session) {
  const n = new URLSearchParams(location.search).get("next");
  // Only paths on this site: never an open redirect.
  if (n && n.startsWith("/") && !n.startsWith("//")) return n;
  return null;
}

async function signedIn(session) {
  setToken(session.token);
  const m = await api("/api/v1/me");
  location.assign(next(session) || homeFor(m));
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const btn = f.querySelector("button");
  btn.disabled = true;
  try {
    const s = await api("/api/v1/auth/login", { method: "POST", body: { email: $("email").value.trim(), password: $("password").value } });
    await signedIn(s);
  } catch (err) {
    showError(f, "signin-error", err.status === 401 ? { message: "Wrong email or password." } : err);
  } finally {
    btn.disabled = false;
  }
});

$("signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  for (const [id, field] of [["org", "org_name"], ["kind", "org_kind"], ["su-name", "name"], ["su-email", "email"], ["su-password", "password"]]) $(id).dataset.field = field;
  const btn = f.querySelector("button");
  btn.disabled = true;
  try {
    const s = await api("/api/v1/auth/signup", { method: "POST", body: {
      org_name: $("org").value.trim(), org_kind: $("kind").value, name: $("su-name").value.trim(),
      email: $("su-email").value.trim(), password: $("su-password").value } });
    await signedIn(s);
  } catch (err) {
    showError(f, "signup-error", err);
  } finally {
    btn.disabled = false;
  }
});
