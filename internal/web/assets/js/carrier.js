import { api, page, $, el, show, showError, placeInput, money, miles, rpm, when, windowText, lane, badge, flash, stream } from "./api.js";
import { usMap } from "./map.js";

await page("carrier");
placeInput($("f-origin"));

let drivers = [];
const driverName = (id) => drivers.find((d) => d.id === id)?.name || (id ? id.slice(-6) : "—");

async function loadDrivers() {
  const r = await api("/api/v1/drivers?limit=200");
  drivers = r.items;
  $("recs-driver").replaceChildren(...drivers.map((d) => el("option", { value: d.id }, `${d.name} · ${d.equipment} · ${d.home_base.city || ""} (${d.status})`)));
  if (drivers.length === 0) $("recs-driver").append(el("option", { value: "" }, "No drivers yet"));
}

// Board ---------------------------------------------------------------
let boardMap;
async function board() {
  const q = new URLSearchParams({ limit: "25", sort: $("f-sort").value });
  if ($("f-origin").value.trim()) { q.set("origin", $("f-origin").value.trim()); q.set("radius_mi", $("f-radius").value || "250"); }
  if ($("f-dest").value.trim()) q.set("dest_state", $("f-dest").value.trim());
  if ($("f-equipment").value) q.set("equipment", $("f-equipment").value);
  if ($("f-min-rate").value) q.set("min_rate", $("f-min-rate").value);
  const form = $("board-filters");
  for (const [id, f] of [["f-origin", "origin"], ["f-radius", "radius_mi"], ["f-dest", "dest_state"], ["f-equipment", "equipment"], ["f-min-rate", "min_rate"], ["f-sort", "sort"]]) $(id).dataset.field = f;
  show("board-loading");
  try {
    const r = await api(`/api/v1/board?${q}`);
    showError(form, "board-error", null);
    show("board-empty", r.items.length === 0);
    show("board-table", r.items.length > 0);
    $("board-table").tBodies[0].replaceChildren(...r.items.map((l) => el("tr", { dataset: { load: l.id } },
      el("td", {}, lane(l), l.deadhead_miles !== undefined ? el("div", { class: "muted" }, `${miles(l.deadhead_miles)} deadhead`) : ""),
      el("td", {}, windowText(l.pickup)), el("td", {}, l.equipment), el("td", {}, miles(l.miles)),
      el("td", {}, money(l.rate_usd), el("div", { class: "muted" }, rpm(l.miles ? l.rate_usd / l.miles : null))),
      el("td", {}, el("button", { type: "button", onclick: (e) => book(l, e.target) }, "Book")))));
    boardMap ??= await usMap($("board-map"));
    boardMap.clear("lanes"); boardMap.clear("stops");
    for (const l of r.items) {
      boardMap.line("lanes", l.origin, l.destination, "lane");
      boardMap.dot("stops", l.origin, { r: 4, cls: "pickup", label: `${lane(l)}: ${money(l.rate_usd)}` });
    }
  } catch (err) {
    showError(form, "board-error", err);
  } finally {
    show("board-loading", false);
  }
}
$("board-filters").addEventListener("submit", (e) => { e.preventDefault(); board(); });

async function book(l, btn) {
  btn.disabled = true;
  try {
    await api("/api/v1/bookings", { method: "POST", body: { load_id: l.id }, headers: { "Idempotency-Key": crypto.randomUUID() } });
    flash(`Booked ${lane(l)} at ${money(l.rate_usd)}. Assign a driver under Bookings.`, "ok");
    await Promise.all([board(), bookings()]);
    location.hash = "#bookings";
  } catch (err) {
    flash(err.status === 409 ? "Someone booked this load first." : `Booking failed: ${err.message}`);
    btn.disabled = false;
  }
}

// Recommendations and reload chains ----------------------------------
function reasonList(x) {
  const f = x.factors || {};
  return el("ul", { class: "reasons" },
    el("li", {}, `${miles(f.deadhead_miles)} deadhead, ${miles(f.loaded_miles)} loaded`),
    el("li", {}, `${rpm(f.rate_per_total_mile)} over all miles`),
    f.hos_margin_hours !== undefined ? el("li", {}, `${f.hos_margin_hours.toFixed(1)} h hours-of-service margin, ${f.rests || 0} rests`) : "",
    f.reload_outlook !== undefined ? el("li", {}, `reload outlook at destination ${(f.reload_outlook * 100).toFixed(0)}%`) : "");
}

async function recommendations() {
  const id = $("recs-driver").value;
  if (!id) return;
  try {
    const [r, c] = await Promise.all([api(`/api/v1/recommendations/drivers/${id}/loads?limit=5`), api(`/api/v1/recommendations/drivers/${id}/chains?limit=3`)]);
    show("recs-empty", r.items.length === 0);
    $("recs-list").replaceChildren(...r.items.map((x) => el("li", {},
      el("strong", {}, lane(x.load)), ` · ${money(x.load.rate_usd)} · pickup ${when(x.pickup_at)}`, reasonList(x),
      el("button", { type: "button", onclick: (e) => bookFor(x.load, id, e.target) }, `Book for ${driverName(id)}`))));
    $("chains").replaceChildren(...(c.chains || []).map((ch) => el("li", {},
      ch.legs.map((g) => lane(g.load)).join("  ⟶  "), el("div", { class: "muted" }, `${money(ch.revenue_usd)} revenue`, ch.empty_miles !== undefined ? `, ${miles(ch.empty_miles)} empty` : ""))));
    if (!c.chains?.length) $("chains").replaceChildren(el("li", { class: "muted" }, "No reload chain found."));
  } catch (err) {
    flash(`Recommendations failed: ${err.message}`);
  }
}
$("recs-form").addEventListener("submit", (e) => { e.preventDefault(); recommendations(); });

async function bookFor(l, driverID, btn) {
  btn.disabled = true;
  try {
    const d = drivers.find((x) => x.id === driverID);
    await api("/api/v1/bookings", { method: "POST", body: { load_id: l.id, driver_id: driverID, truck_id: d?.truck_id || "" }, headers: { "Idempotency-Key": crypto.randomUUID() } });
    flash(`Booked ${lane(l)} for ${driverName(driverID)}.`, "ok");
    recommendations(); bookings();
  } catch (err) {
    flash(`Booking failed: ${err.message}`);
    btn.disabled = false;
  }
}

// Bookings ------------------------------------------------------------
async function bookings() {
  try {
    const [b, ls] = await Promise.all([api("/api/v1/bookings?limit=50"), api("/api/v1/loads?limit=200")]);
    const loads = new Map(ls.items.map((l) => [l.id, l]));
    const active = b.items.filter((x) => x.status === "active");
    show("bookings-empty", active.length === 0);
    show("bookings-table", active.length > 0);
    $("bookings-table").tBodies[0].replaceChildren(...active.map((bk) => {
      const l = loads.get(bk.load_id);
      const st = el("span", { class: "badge" });
      badge(st, l?.status || "booked");
      const sel = el("select", { "aria-label": "Driver for this load" }, el("option", { value: "" }, "Choose a driver"),
        ...drivers.filter((d) => !l || d.equipment === l.equipment).map((d) => el("option", { value: d.id, selected: d.id === bk.driver_id }, `${d.name} (${d.status})`)));
      const actions = el("td", { class: "actions" });
      if (!l || l.status === "booked") {
        actions.append(sel, el("button", { type: "button", onclick: () => assign(bk, sel.value) }, "Assign"));
        if (bk.driver_id) actions.append(el("button", { type: "button", onclick: () => dispatch(bk.load_id) }, "Dispatch"));
      }
      return el("tr", { dataset: { booking: bk.id, load: bk.load_id } },
        el("td", {}, l ? lane(l) : bk.load_id.slice(-8), l ? el("div", { class: "muted" }, windowText(l.pickup)) : ""),
        el("td", {}, money(bk.rate_usd)), el("td", {}, st), el("td", {}, driverName(bk.driver_id)), actions);
    }));
  } catch (err) {
    flash(`Bookings could not be loaded: ${err.message}`);
  }
}

async function assign(bk, driverID) {
  if (!driverID) { flash("Choose a driver first."); return; }
  const d = drivers.find((x) => x.id === driverID);
  try {
    await api(`/api/v1/bookings/${bk.id}/assign`, { method: "POST", body: { driver_id: driverID, truck_id: d?.truck_id || "" } });
    flash(`${driverName(driverID)} assigned.`, "ok");
    bookings();
  } catch (err) {
    flash(`Assignment failed: ${err.fields?.map((f) => `${f.field}: ${f.detail}`).join("; ") || err.message}`);
  }
}

async function dispatch(loadID) {
  try {
    await api(`/api/v1/loads/${loadID}/status`, { method: "POST", body: { status: "dispatched" } });
    flash("Dispatched: the driver's app shows the load and the shipper can follow the truck.", "ok");
    bookings();
  } catch (err) {
    flash(`Dispatch failed: ${err.message}`);
  }
}

// Fleet map -----------------------------------------------------------
async function fleet() {
  const map = await usMap($("fleet-map"));
  const marks = new Map();
  for (const d of drivers) marks.set(d.id, map.dot("trucks", d.home_base, { r: 5, cls: "truck idle", label: `${d.name} (home base)` }));
  $("fleet-list").replaceChildren(...drivers.map((d) => el("li", {}, `${d.name}: ${d.status}, ${Math.floor((d.hos?.driving_left_min || 0) / 60)} h driving left`)));
  stream("/api/v1/tracking/fleet/stream", (type, p) => {
    if (type !== "position") return;
    const m = marks.get(p.driver_id);
    if (m) { map.move(m, p); m.setAttribute("class", "truck"); }
    else marks.set(p.driver_id, map.dot("trucks", p, { r: 5, cls: "truck", label: driverName(p.driver_id) }));
  });
}

// Fleet assignment ----------------------------------------------------
$("assign-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const btn = e.target.querySelector("button");
  btn.disabled = true;
  $("assign-summary").textContent = "Solving…";
  try {
    const avail = drivers.filter((d) => d.status === "available").slice(0, Number($("assign-max").value) || 40);
    if (avail.length === 0) throw new Error("no available driver");
    const r = await api("/api/v1/matches/assign", { method: "POST", body: { driver_ids: avail.map((d) => d.id) } });
    showError(e.target, "assign-error", null);
    $("assign-summary").textContent = `${r.assigned} of ${avail.length} trucks get a load with ${miles(r.deadhead_miles)} of deadhead in all (a greedy dispatcher: ${r.greedy.assigned} trucks, ${miles(r.greedy.deadhead_miles)}). Solved in ${Math.round(r.elapsed_ms)} ms.`;
    const map = await usMap($("assign-map"));
    const board = await api("/api/v1/board?limit=200");
    const loads = new Map(board.items.map((l) => [l.id, l]));
    $("assign-list").replaceChildren(...r.assignments.map((a) => {
      const d = drivers.find((x) => x.id === a.driver_id), l = loads.get(a.load_id);
      if (d && l) {
        map.line("dead", d.home_base, l.origin, "deadhead");
        map.line("loaded", l.origin, l.destination, "lane");
        map.dot("trucks", d.home_base, { r: 4, cls: "truck", label: d.name });
      }
      return el("li", {}, `${driverName(a.driver_id)} → ${l ? lane(l) : a.load_id.slice(-8)}: ${miles(a.deadhead_miles)} deadhead, ${money(a.rate_usd)}, pickup ${when(a.pickup_at)}`);
    }));
  } catch (err) {
    $("assign-summary").textContent = "";
    showError(e.target, "assign-error", err);
  } finally {
    btn.disabled = false;
  }
});

await loadDrivers();
await Promise.all([board(), bookings(), recommendations(), fleet()]);
