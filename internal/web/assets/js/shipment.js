import { api, token, page, $, el, show, money, miles, when, windowText, lane, badge, statusText, placeText, stream, flash } from "./api.js";
import { usMap } from "./map.js";

await page("shipper");
const id = document.body.dataset.id;
let load, map, truck;

function facts(l) {
  const rows = [["Lane", lane(l)], ["Pickup", `${placeText(l.origin)}, ${windowText(l.pickup)}`], ["Delivery", `${placeText(l.destination)}, ${windowText(l.delivery)}`],
    ["Equipment", l.equipment], ["Weight", `${l.weight_lbs.toLocaleString("en-US")} lb`], ["Distance", miles(l.miles)], ["Rate", money(l.rate_usd)]];
  if (l.commodity) rows.push(["Commodity", l.commodity]);
  $("facts").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function showLoad(l) {
  load = l;
  $("title").textContent = `Shipment ${l.reference || l.id.slice(-8)}`;
  badge($("status"), l.status);
  facts(l);
  show("cancel", ["draft", "posted", "booked", "dispatched"].includes(l.status));
  if (l.status === "delivered" || l.status === "cancelled") {
    $("eta").className = "";
    $("eta").textContent = l.status === "delivered" ? "Delivered." : "Cancelled.";
  }
}

function placeTruck(p) {
  if (!map || !p) return;
  if (!truck) truck = map.dot("truck", p, { r: 8, cls: "truck", label: "Truck" });
  else map.move(truck, p);
  truck?.setAttribute("data-time", p.time);
  $("position").textContent = `Truck seen ${when(p.time)}${p.speed_mph ? ` at ${Math.round(p.speed_mph)} mph` : ""}.`;
}

function showTracking(t) {
  if (t.position) placeTruck(t.position);
  const eta = t.eta;
  if (eta && !["delivered", "cancelled"].includes(load.status)) {
    const late = new Date(eta.p50) > new Date(eta.window_end);
    $("eta").className = late ? "late" : "";
    $("eta").textContent = `${eta.stop === "pickup" ? "At pickup" : "At delivery"} ${when(eta.p50)} (90% by ${when(eta.p90)}), ${miles(eta.remaining_miles)} to go${late ? " — late risk: past the window" : ""}.`;
  }
  const v = t.visits || [];
  if (v.length) {
    $("visits").replaceChildren(...v.map((x) => el("li", {},
      `${x.stop}: ${x.arrived_at ? `arrived ${when(x.arrived_at)}` : x.inside_since ? `inside since ${when(x.inside_since)}` : "not yet"}`,
      x.departed_at ? `, left ${when(x.departed_at)}` : "",
      x.detention_min ? el("strong", {}, ` · detention ${x.detention_min} min`) : "")));
  }
}

async function timeline() {
  const h = await api(`/api/v1/loads/${id}/history`);
  $("timeline").replaceChildren(...h.items.map((t) => el("li", { dataset: { status: t.to } }, el("time", { datetime: t.at }, when(t.at)), " ", statusText(t.to), t.note ? ` — ${t.note}` : "")));
}

async function documents() {
  try {
    const d = await api(`/api/v1/loads/${id}/documents`);
    if (!d.items?.length) { $("docs").replaceChildren(el("li", { class: "muted" }, "No documents yet.")); return; }
    $("docs").replaceChildren(...d.items.map((doc) => el("li", {},
      el("button", { type: "button", class: "link", onclick: () => download(doc) }, `${doc.kind.replaceAll("_", " ")}: ${doc.filename || doc.id.slice(-8)}`),
      el("span", { class: "muted" }, ` ${Math.ceil(doc.size_bytes / 1024)} KiB, ${when(doc.created_at)}`))));
  } catch (err) {
    if (err.status !== 404) $("docs").replaceChildren(el("li", { class: "muted" }, `Documents could not be loaded: ${err.message}`));
  }
}

async function download(doc) {
  try {
    // Links are signed for the caller's organization and still need the
    // caller's token, so the file comes through fetch, not a navigation.
    const d = doc.download_url ? doc : await api(`/api/v1/documents/${doc.id}`);
    const res = await fetch(d.download_url, { headers: { Authorization: `Bearer ${token()}` } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: doc.filename || `${doc.kind}-${doc.id.slice(-8)}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    flash(`The document could not be opened: ${err.message}`);
  }
}

$("cancel").addEventListener("click", async () => {
  if (!confirm("Cancel this load? Carriers will see it withdrawn.")) return;
  try {
    showLoad(await api(`/api/v1/loads/${id}/status`, { method: "POST", body: { status: "cancelled", note: "cancelled by the shipper" } }));
    timeline();
  } catch (err) {
    flash(err.message);
  }
});

try {
  showLoad(await api(`/api/v1/loads/${id}`));
  show("loading", false);
  show("body");
  map = await usMap($("map"));
  map.line("route", load.origin, load.destination, "route");
  map.dot("stops", load.origin, { r: 6, cls: "pickup", label: `Pickup: ${placeText(load.origin)}` });
  map.dot("stops", load.destination, { r: 6, cls: "delivery", label: `Delivery: ${placeText(load.destination)}` });
  await Promise.all([timeline(), documents(), api(`/api/v1/tracking/loads/${id}`).then(showTracking).catch(() => {})]);
  // Live: positions as they arrive, from dispatch on; status, ETA and
  // stops refreshed with them.
  let refresh, live;
  const follow = () => {
    if (live || !["dispatched", "at_pickup", "in_transit", "at_delivery"].includes(load.status)) return;
    live = new AbortController();
    stream(`/api/v1/tracking/loads/${id}/stream`, (type, data) => {
      if (type !== "position") return;
      placeTruck(data);
      clearTimeout(refresh);
      refresh = setTimeout(async () => {
        try {
          const [l, t] = await Promise.all([api(`/api/v1/loads/${id}`), api(`/api/v1/tracking/loads/${id}`)]);
          if (l.status !== load.status) timeline();
          showLoad(l);
          showTracking(t);
        } catch { /* the next position retries */ }
      }, 500);
    }, { signal: live.signal, onState: (s) => { if (s === "closed") live = undefined; } });
  };
  follow();
  // Status changes with no position (booking, dispatch) show up too.
  setInterval(async () => {
    try {
      const l = await api(`/api/v1/loads/${id}`);
      if (l.status !== load.status) { showLoad(l); timeline(); follow(); }
      // Paperwork arrives around delivery, often just after it.
      if (["at_delivery", "delivered"].includes(l.status)) documents();
      if (["delivered", "cancelled"].includes(l.status)) live?.abort();
    } catch { /* shown on the next success */ }
  }, 5000);
} catch (err) {
  show("loading", false);
  $("main").append(el("p", { class: "error", role: "alert" }, err.status === 404 ? "No such shipment, or it is not yours." : `The shipment could not be loaded: ${err.message}`));
}
