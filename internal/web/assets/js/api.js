// Shared by every page: the API client (the signed-in user's token, RFC 9457
// problems as errors), server-sent events over fetch (so the token travels in
// a header, not a URL), small DOM helpers and formatting.

const TOKEN = "bh.token";

export function token() { return localStorage.getItem(TOKEN); }
export function setToken(t) { t ? localStorage.setItem(TOKEN, t) : localStorage.removeItem(TOKEN); }

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.fields = problem.errors || [];
  }
}

export async function api(path, { method = "GET", body, headers = {}, signal, form } = {}) {
  const h = { Accept: "application/json", ...headers };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { h["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, { title: "Network error", detail: "The platform could not be reached. Check your connection and try again." });
  }
  if (res.status === 401 && !path.startsWith("/api/v1/auth/")) {
    setToken(null);
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, { title: "Signed out" });
  }
  const ctype = res.headers.get("Content-Type") || "";
  const data = ctype.includes("json") ? await res.json().catch(() => ({})) : await res.text();
  if (!res.ok) throw new ApiError(res.status, typeof data === "object" ? data : { detail: String(data).slice(0, 200) });
  return data;
}

let meCache;
// me is the signed-in user with organization and role; it sends an
// anonymous visitor to the sign-in page.
export async function me() {
  if (!token()) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return new Promise(() => {});
  }
  meCache ??= api("/api/v1/me");
  return meCache;
}

// audience checks say which roles a page serves; others get a clear note.
const audiences = {
  shipper: (m) => m.role === "operator" || (["shipper", "broker"].includes(m.organization.kind) && ["shipper", "admin"].includes(m.role)),
  carrier: (m) => m.role === "operator" || (["carrier", "broker"].includes(m.organization.kind) && ["dispatcher", "admin"].includes(m.role)),
  driver: (m) => m.role === "driver",
  ops: (m) => m.role === "operator" || m.organization.kind === "platform",
};
const homes = { shipper: "/shipper", carrier: "/carrier", driver: "/driver", ops: "/ops" };

export function homeFor(m) {
  for (const a of ["driver", "ops", "carrier", "shipper"]) if (audiences[a](m)) return homes[a];
  return "/";
}

// page resolves to the user when the page is theirs; otherwise it explains
// and links to the user's own page, and never resolves.
export async function page(audience) {
  const m = await me();
  if (audiences[audience](m)) return m;
  const main = document.getElementById("main");
  main.replaceChildren(el("h1", {}, "Not your page"),
    el("p", {}, `Signed in as ${m.user.email} (${m.role} at ${m.organization.name}), which this page does not serve. `,
      el("a", { href: homeFor(m) }, "Go to your page"), "."));
  return new Promise(() => {});
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function $(id) { return document.getElementById(id); }
export function show(id, on = true) { $(id).hidden = !on; }

export function flash(message, kind = "error") {
  const f = $("flash");
  f.textContent = message;
  f.className = `flash ${kind}`;
  f.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { f.hidden = true; }, kind === "error" ? 10000 : 4000);
}

// showError puts a problem in a form's error line and marks the fields it
// names (by their data-field or name attribute).
export function showError(form, errorId, err) {
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  const box = $(errorId);
  if (!err) { box.hidden = true; return; }
  const parts = [];
  for (const f of err.fields || []) {
    parts.push(`${f.field}: ${f.detail}`);
    const input = form.querySelector(`[data-field="${CSS.escape(f.field)}"]`) || form.querySelector(`[name="${CSS.escape(f.field)}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
  }
  box.textContent = parts.length ? `${err.message} — ${parts.join("; ")}` : err.message;
  box.hidden = false;
}

// stream reads a server-sent event stream and calls onEvent(type, data)
// until the signal aborts, reconnecting with backoff when it drops. A 4xx
// answer ends it (onState("closed")).
export function stream(path, onEvent, { signal, onState } = {}) {
  let delay = 1000;
  (async () => {
    while (!signal?.aborted) {
      try {
        const res = await fetch(path, { headers: { Accept: "text/event-stream", Authorization: `Bearer ${token()}` }, signal });
        if (res.status === 401) { setToken(null); location.assign("/login"); return; }
        // A refusal will not change by asking again; an outage might.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) { onState?.("closed"); return; }
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        onState?.("live");
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const chunk = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = "message", data = "";
            for (const line of chunk.split("\n")) {
              if (line.startsWith("event:")) type = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trim();
            }
            if (data) { try { onEvent(type, JSON.parse(data)); } catch { onEvent(type, data); } }
          }
        }
      } catch (e) {
        if (signal?.aborted) return;
        onState?.("retrying");
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
}

// Places: "60607", "Chicago, IL", "Chicago IL".
export function parsePlace(text) {
  const t = text.trim();
  const zip = t.match(/\b(\d{5})\b/);
  if (zip) return { zip: zip[1] };
  const m = t.match(/^(.+?)[,\s]+([A-Za-z]{2})$/);
  if (m) return { city: m[1].trim(), state: m[2].toUpperCase() };
  return { city: t };
}

// placeInput fills a datalist with the offline geocoder's suggestions.
export function placeInput(input) {
  const list = $(input.getAttribute("list"));
  let ctl;
  input.addEventListener("input", async () => {
    const q = input.value.trim();
    if (q.length < 2) return;
    ctl?.abort();
    ctl = new AbortController();
    try {
      const r = await api(`/api/v1/places?q=${encodeURIComponent(q)}&limit=8`, { signal: ctl.signal });
      list.replaceChildren(...r.items.map((p) => el("option", { value: placeText(p) })));
    } catch { /* suggestions are a convenience; typing still works */ }
  });
}

export function placeText(p) {
  if (!p) return "";
  const city = p.city ? `${p.city}, ${p.state}` : p.state || "";
  return p.zip && city ? `${city} ${p.zip}` : city || `${p.lat?.toFixed(3)}, ${p.lon?.toFixed(3)}`;
}

export function lane(l) { return `${placeText(l.origin).replace(/ \d{5}$/, "")} → ${placeText(l.destination).replace(/ \d{5}$/, "")}`; }

const money0 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const money2 = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
export function money(v) { return v === undefined || v === null ? "—" : money0.format(v); }
export function rpm(v) { return v === undefined || v === null ? "—" : `${money2.format(v)}/mi`; }
export function miles(v) { return v === undefined || v === null ? "—" : `${Math.round(v).toLocaleString("en-US")} mi`; }
export function when(t) {
  if (!t) return "—";
  return new Date(t).toLocaleString("en-US", { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
}
export function windowText(w) { return w ? `${when(w.start)} – ${new Date(w.end).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" })}` : "—"; }
export function statusText(s) { return (s || "").replaceAll("_", " "); }
export function badge(node, status) { node.textContent = statusText(status); node.dataset.status = status; }

// The signed-in bar, the notification inbox and sign-out, on every page.
function inboxItem(n) {
  return el("li", { class: n.read_at ? "read" : "unread", dataset: { id: n.id } },
    el("strong", {}, n.title), el("div", {}, n.body), el("time", { class: "muted", datetime: n.created_at }, when(n.created_at)));
}

async function openInbox() {
  const open = $("inbox").hidden;
  $("inbox").hidden = !open;
  $("bell").setAttribute("aria-expanded", String(open));
  if (!open) return;
  try {
    const r = await api("/api/v1/notifications?limit=20");
    $("unread").textContent = r.unread;
    $("inbox-list").replaceChildren(...(r.items.length ? r.items.map(inboxItem) : [el("li", { class: "muted" }, "Nothing yet.")]));
  } catch (err) {
    $("inbox-list").replaceChildren(el("li", { class: "muted" }, `Notifications unavailable: ${err.message}`));
  }
}

if (token()) {
  me().then((m) => {
    $("who-name").textContent = `${m.user.name} · ${m.organization.name}`;
    show("who");
    if (!m.user?.id) return;
    stream("/api/v1/notifications/stream", (type, d) => {
      if (type === "unread") $("unread").textContent = d.unread;
      if (type === "notification") {
        const list = $("inbox-list");
        if (list.firstElementChild?.classList.contains("muted")) list.replaceChildren();
        list.prepend(inboxItem(d));
        if (d.urgent) flash(`${d.title}: ${d.body}`);
      }
    });
  }).catch(() => {});
}
$("bell")?.addEventListener("click", openInbox);
$("read-all")?.addEventListener("click", async () => {
  try {
    await api("/api/v1/notifications/read-all", { method: "POST" });
    $("unread").textContent = "0";
    for (const li of $("inbox-list").children) li.className = "read";
  } catch (err) {
    flash(err.message);
  }
});
$("signout")?.addEventListener("click", () => { setToken(null); location.assign("/login"); });
