import { api, page, $, el, show, money, miles, when, windowText, lane, badge, placeText, flash } from "./api.js";

const m = await page("driver");
const driverID = m.driver_id;

// The next step of the haul a driver may record, by status.
const steps = {
  booked: ["dispatched", "Start trip"],
  dispatched: ["at_pickup", "Arrived at pickup"],
  at_pickup: ["in_transit", "Loaded, leaving pickup"],
  in_transit: ["at_delivery", "Arrived at delivery"],
  at_delivery: ["delivered", "Delivered"],
};
const moving = new Set(["dispatched", "at_pickup", "in_transit", "at_delivery"]);
let current, watch, lastSent = 0, pending = [];

function showLoad(l) {
  current = l;
  show("none", !l);
  show("current", !!l);
  if (!l) { share(false); return; }
  $("cur-ref").textContent = l.reference || l.id.slice(-8);
  badge($("cur-status"), l.status);
  $("cur-facts").replaceChildren(...[["Lane", lane(l)], ["Pickup", windowText(l.pickup)], ["Delivery", windowText(l.delivery)],
    ["Load", `${l.weight_lbs.toLocaleString("en-US")} lb ${l.commodity || ""}`], ["Distance", miles(l.miles)], ["Pay", money(l.rate_usd)]]
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const toPickup = ["booked", "dispatched", "at_pickup"].includes(l.status);
  const stop = toPickup ? l.origin : l.destination;
  $("next-stop").textContent = `${toPickup ? "Pickup" : "Delivery"}: ${placeText(stop)} · ${windowText(toPickup ? l.pickup : l.delivery)}`;
  const step = steps[l.status];
  $("actions").replaceChildren(...(step ? [el("button", { type: "button", class: "big", dataset: { to: step[0] }, onclick: (e) => advance(step[0], e.target) }, step[1])] : []));
  show("pod", ["at_delivery", "delivered"].includes(l.status));
  share(moving.has(l.status));
}

async function advance(to, btn) {
  btn.disabled = true;
  try {
    await flush();
    const l = await api(`/api/v1/loads/${current.id}/status`, { method: "POST", body: { status: to } });
    show("action-error", false);
    showLoad(l.status === "delivered" ? l : l);
    if (l.status === "delivered") flash("Delivered. Upload the signed receipt if you have not yet.", "ok");
  } catch (err) {
    $("action-error").textContent = err.message;
    show("action-error");
    btn.disabled = false;
  }
}

// Position sharing: on only while a load is active, batched every few
// seconds, and off the moment the load is delivered or the page closes.
function share(on) {
  if (!on) {
    if (watch !== undefined) navigator.geolocation.clearWatch(watch);
    watch = undefined;
    $("share-state").textContent = "Not sharing your position: no active load.";
    return;
  }
  if (watch !== undefined) return;
  if (!("geolocation" in navigator)) { $("share-state").textContent = "This browser cannot share its position."; return; }
  $("share-state").textContent = "Asking for your position…";
  watch = navigator.geolocation.watchPosition((pos) => {
    const c = pos.coords;
    pending.push({ time: new Date(pos.timestamp).toISOString(), lat: c.latitude, lon: c.longitude,
      speed_mph: c.speed !== null && Number.isFinite(c.speed) ? c.speed * 2.23694 : null,
      heading_deg: c.heading !== null && Number.isFinite(c.heading) ? c.heading : null,
      accuracy_m: Number.isFinite(c.accuracy) ? c.accuracy : null });
    if (Date.now() - lastSent > 5000) flush();
  }, (err) => {
    $("share-state").textContent = err.code === 1 ? "Position sharing is blocked: allow location for this site so your shipper can follow the load." : `No position: ${err.message}`;
  }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
}

async function flush() {
  if (pending.length === 0) return;
  const batch = pending;
  pending = [];
  lastSent = Date.now();
  try {
    const r = await api("/api/v1/positions", { method: "POST", body: batch });
    $("share-state").textContent = `Sharing your position while this load is active (last sent ${when(new Date())}, ${r.accepted} accepted).`;
  } catch (err) {
    if (err.status >= 500 || err.status === 0) pending = batch.concat(pending).slice(-500);
    $("share-state").textContent = `Position not sent: ${err.message}`;
  }
}
setInterval(flush, 5000);

$("pod").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("pod-file").files[0];
  if (!file) return;
  const fd = new FormData();
  fd.append("kind", "pod");
  fd.append("file", file);
  $("pod-state").textContent = "Uploading…";
  try {
    await api(`/api/v1/loads/${current.id}/documents`, { method: "POST", form: fd });
    $("pod-state").textContent = `Uploaded ${file.name}.`;
  } catch (err) {
    $("pod-state").textContent = `Upload failed: ${err.message}`;
  }
});

function hos(h) {
  if (!h) { $("hos").replaceChildren(el("p", { class: "muted" }, "No hours-of-service record.")); return; }
  const bar = (label, min, max) => el("div", { class: "meter" },
    el("label", {}, label, el("span", {}, `${Math.floor(min / 60)} h ${min % 60} min`)),
    el("meter", { min: 0, max, value: min, low: max * 0.2, optimum: max, "aria-label": label }));
  $("hos").replaceChildren(bar("Driving left", h.driving_left_min, 660), bar("On-duty window left", h.window_left_min, 840),
    bar("Until a 30-minute break", h.until_break_min, 480), bar("Cycle left", h.cycle_left_min, 4200));
}

async function refresh() {
  try {
    const r = await api("/api/v1/loads?limit=20");
    const active = r.items.find((l) => l.driver_id === driverID && (steps[l.status] || l.status === "at_delivery"));
    show("loading", false);
    showLoad(active || null);
  } catch (err) {
    show("loading", false);
    flash(`Your loads could not be loaded: ${err.message}`);
  }
}

async function recs() {
  try {
    const [d, r] = await Promise.all([api(`/api/v1/drivers/${driverID}`), api(`/api/v1/recommendations/drivers/${driverID}/loads?limit=5`)]);
    hos(d.hos);
    $("recs").replaceChildren(...(r.items.length ? r.items.map((x) => el("li", {}, el("strong", {}, lane(x.load)),
      ` · ${money(x.load.rate_usd)} · ${miles(x.factors?.deadhead_miles)} deadhead · pickup ${when(x.pickup_at)}`)) : [el("li", { class: "muted" }, "No recommendation right now.")]));
  } catch (err) {
    $("recs").replaceChildren(el("li", { class: "muted" }, `Recommendations unavailable: ${err.message}`));
  }
}

await refresh();
recs();
setInterval(refresh, 10000);
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
