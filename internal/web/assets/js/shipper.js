import { api, page, $, el, show, showError, placeInput, parsePlace, money, miles, rpm, windowText, lane, badge, flash } from "./api.js";
import { usMap } from "./map.js";

await page("shipper");

for (const id of ["origin", "destination"]) placeInput($(id));

// Dates default to tomorrow and the day after.
const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
$("pickup-date").value ||= day(1);
$("delivery-date").value ||= day(3);

// localTime turns a date and a time of day in the browser's zone into RFC 3339.
const localTime = (d, t) => new Date(`${d}T${t}`).toISOString();

let quoteCtl;
async function quote() {
  const o = $("origin").value.trim(), d = $("destination").value.trim();
  if (o.length < 2 || d.length < 2 || !$("pickup-date").value) return;
  quoteCtl?.abort();
  quoteCtl = new AbortController();
  const box = $("quote");
  box.replaceChildren(el("p", { class: "loading" }, "Quoting…"));
  try {
    const q = await api("/api/v1/quotes", { method: "POST", signal: quoteCtl.signal, body: {
      origin: parsePlace(o), destination: parsePlace(d), equipment: $("equipment").value,
      pickup_date: $("pickup-date").value, weight_lbs: Number($("weight").value) || 0 } });
    box.replaceChildren(
      el("p", { class: "big" }, money(q.rate_usd.p50), " ", el("span", { class: "muted" }, `(${rpm(q.rate_per_mile?.p50)})`)),
      el("p", {}, `Likely range ${money(q.rate_usd.p10)} – ${money(q.rate_usd.p90)} for ${miles(q.miles)}.`),
      el("p", { class: "muted" }, `Model ${q.model_version || ""}`));
    $("rate").placeholder = String(Math.round(q.rate_usd.p50));
  } catch (err) {
    if (err.name === "AbortError") return;
    box.replaceChildren(el("p", { class: "muted" }, `No quote: ${err.fields?.[0] ? `${err.fields[0].field}: ${err.fields[0].detail}` : err.message}`));
  }
}
for (const id of ["origin", "destination", "equipment", "pickup-date", "weight"]) $(id).addEventListener("change", quote);

// Field names of the API's problems, on the inputs that carry them.
const fieldOf = { origin: "origin", destination: "destination", "pickup-date": "pickup", "delivery-date": "delivery", equipment: "equipment", weight: "weight_lbs", commodity: "commodity", reference: "reference", rate: "rate_usd" };
for (const [id, f] of Object.entries(fieldOf)) $(id).dataset.field = f;

$("post").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target, btn = f.querySelector("button[type=submit]");
  btn.disabled = true;
  try {
    const body = {
      reference: $("reference").value.trim(), commodity: $("commodity").value.trim(),
      origin: parsePlace($("origin").value), destination: parsePlace($("destination").value),
      pickup: { start: localTime($("pickup-date").value, $("pickup-from").value), end: localTime($("pickup-date").value, $("pickup-to").value) },
      delivery: { start: localTime($("delivery-date").value, $("delivery-from").value), end: localTime($("delivery-date").value, $("delivery-to").value) },
      equipment: $("equipment").value, weight_lbs: Number($("weight").value), post: true,
    };
    if ($("rate").value) body.rate_usd = Number($("rate").value);
    const l = await api("/api/v1/loads", { method: "POST", body, headers: { "Idempotency-Key": crypto.randomUUID() } });
    showError(f, "post-error", null);
    flash(`Posted ${l.reference || "your load"}: ${lane(l)} at ${money(l.rate_usd)}.`, "ok");
    location.assign(`/shipper/loads/${l.id}`);
  } catch (err) {
    showError(f, "post-error", err);
  } finally {
    btn.disabled = false;
  }
});

async function mine() {
  try {
    const r = await api("/api/v1/loads?limit=50");
    show("mine-loading", false);
    show("mine-empty", r.items.length === 0);
    show("mine", r.items.length > 0);
    $("mine").tBodies[0].replaceChildren(...r.items.map((l) => {
      const b = el("span", { class: "badge" });
      badge(b, l.status);
      return el("tr", {},
        el("td", {}, el("a", { href: `/shipper/loads/${l.id}` }, l.reference || l.id.slice(-8))),
        el("td", {}, lane(l)), el("td", {}, windowText(l.pickup)), el("td", {}, money(l.rate_usd)), el("td", {}, b));
    }));
    const map = await usMap($("mine-map"));
    for (const l of r.items) {
      map.line("lanes", l.origin, l.destination, `lane s-${l.status}`);
      map.dot("stops", l.origin, { r: 3, cls: "pickup", label: `${lane(l)} (${l.status})` });
    }
  } catch (err) {
    show("mine-loading", false);
    flash(`Shipments could not be loaded: ${err.message}`);
  }
}
mine();
