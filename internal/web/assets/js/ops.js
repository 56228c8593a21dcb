import { api, page, $, el, show, showError, placeInput, money, rpm, when, flash, stream } from "./api.js";
import { usMap, svgEl } from "./map.js";
import { lineChart } from "./chart.js";

await page("ops");

// Network: live trucks over the posted loads.
async function network() {
  const map = await usMap($("net-map"));
  try {
    const b = await api("/api/v1/board?limit=200");
    for (const l of b.items) map.dot("loads", l.origin, { r: 3, cls: "pickup", label: `${l.origin.city} → ${l.destination.city}` });
  } catch { /* trucks still show */ }
  const trucks = new Map();
  stream("/api/v1/tracking/network/stream", (type, p) => {
    if (type !== "position") return;
    const t = trucks.get(p.driver_id);
    if (t) map.move(t, p);
    else trucks.set(p.driver_id, map.dot("trucks", p, { r: 5, cls: "truck", label: `Driver ${p.driver_id.slice(-6)}` }));
    $("net-count").textContent = `${trucks.size} trucks reporting; last fix ${when(p.time)}.`;
  }, { onState: (s) => { if (s === "live" && trucks.size === 0) $("net-count").textContent = "Live: waiting for the first position."; } });
}

// Heat: load-to-truck ratio per market area at its centroid.
async function heat() {
  const map = await usMap($("heat-map"));
  try {
    const [a, h] = await Promise.all([api("/api/v1/market/areas?limit=500"), api("/api/v1/market/hot?limit=8")]);
    for (const x of a.items) {
      if (x.load_to_truck === null && x.open_loads === 0) continue;
      const ratio = x.load_to_truck ?? x.open_loads;
      const cls = ratio >= 1.5 ? "hot" : ratio <= 0.67 ? "cold" : "even";
      map.dot("areas", x.centroid, { r: Math.min(4 + Math.sqrt(x.open_loads + x.available_trucks) * 2, 18), cls: `area ${cls}`,
        label: `${x.name}: ${x.open_loads} loads, ${x.available_trucks} trucks${x.load_to_truck !== null ? `, ratio ${x.load_to_truck}` : ""}` });
    }
    const item = (m) => el("li", {}, `${m.area.name} (${m.equipment}): ${m.live.open_loads} loads / ${m.live.available_trucks} trucks`);
    $("hot").replaceChildren(...(h.hot.length ? h.hot.map(item) : [el("li", { class: "muted" }, "None now.")]));
    $("cold").replaceChildren(...(h.cold.length ? h.cold.map(item) : [el("li", { class: "muted" }, "None now.")]));
  } catch (err) {
    flash(`Market data unavailable: ${err.message}`);
  }
}

// Lane rates and their trend.
for (const id of ["lane-origin", "lane-dest"]) placeInput($(id));
$("lane-origin").dataset.field = "origin";
$("lane-dest").dataset.field = "destination";
async function laneRates(e) {
  e?.preventDefault();
  const q = new URLSearchParams({ origin: $("lane-origin").value, destination: $("lane-dest").value, equipment: $("lane-eq").value, weeks: "26" });
  try {
    const r = await api(`/api/v1/market/lanes?${q}`);
    showError($("lane-form"), "lane-error", null);
    const pts = r.weeks.filter((w) => w.rate_per_mile !== null).map((w) => [new Date(w.week), w.rate_per_mile]);
    const last = r.weeks.filter((w) => w.rate_usd !== null).at(-1);
    $("lane-out").replaceChildren(el("p", {}, `${r.origin.name} → ${r.destination.name}, ${r.equipment}: ${r.bookings} bookings in ${r.weeks.length} weeks`,
      last ? `; latest week ${money(last.rate_usd)} (${rpm(last.rate_per_mile)})` : "; no booked rate yet on this lane."));
    lineChart($("lane-chart"), [{ name: "rate per mile", points: pts }], { yLabel: "USD per mile", yFormat: (v) => `$${v.toFixed(2)}` });
  } catch (err) {
    showError($("lane-form"), "lane-error", err);
  }
}
$("lane-form").addEventListener("submit", laneRates);

// Optimization jobs: submit, follow live, draw the routes.
let instanceText = "";
async function jobs() {
  try {
    const r = await api("/api/v1/jobs?limit=10");
    show("jobs-empty", r.items.length === 0);
    show("jobs", r.items.length > 0);
    $("jobs").tBodies[0].replaceChildren(...r.items.map((j) => el("tr", {},
      el("td", {}, j.name || j.id.slice(-8)), el("td", {}, j.problem.instance || j.problem.format), el("td", {}, j.status),
      el("td", {}, j.progress.vehicles ?? "—"), el("td", {}, j.progress.distance?.toFixed(1) ?? "—"))));
  } catch (err) {
    if (err.status !== 403) flash(`Jobs unavailable: ${err.message}`);
  }
}

// coordinates reads node coordinates from a Solomon or Li & Lim file:
// rows whose first number is the node id, then x and y.
function coordinates(text) {
  const xy = new Map();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length >= 7 && f.every(Number.isFinite)) xy.set(f[0], [f[1], f[2]]);
  }
  return xy;
}

function drawRoutes(routes) {
  const xy = coordinates(instanceText);
  const fig = $("job-routes");
  if (xy.size === 0 || !routes) { fig.replaceChildren(); return; }
  const all = [...xy.values()];
  const [minX, maxX] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [minY, maxY] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  const S = 400, sx = (x) => 10 + ((x - minX) / (maxX - minX || 1)) * (S - 20), sy = (y) => S - 10 - ((y - minY) / (maxY - minY || 1)) * (S - 20);
  const svg = svgEl("svg", { viewBox: `0 0 ${S} ${S}`, role: "img", class: "routes" });
  const depot = xy.get(0);
  routes.forEach((r, i) => {
    const pts = [depot, ...r.map((n) => xy.get(n)), depot].filter(Boolean);
    svg.append(svgEl("path", { d: pts.map((p, k) => `${k ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(""), class: `route r${i % 8}` }));
  });
  if (depot) svg.append(svgEl("rect", { x: sx(depot[0]) - 4, y: sy(depot[1]) - 4, width: 8, height: 8, class: "depot" }));
  fig.replaceChildren(svg);
}

$("job-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target, btn = f.querySelector("button");
  const file = $("job-file").files[0];
  $("job-file").dataset.field = "problem.instance";
  $("job-limit").dataset.field = "time_limit_s";
  if (!file) { showError(f, "job-error", { message: "Choose an instance file.", fields: [{ field: "problem.instance", detail: "required" }] }); return; }
  btn.disabled = true;
  try {
    instanceText = await file.text();
    const j = await api("/api/v1/jobs", { method: "POST", headers: { "Idempotency-Key": crypto.randomUUID() }, body: {
      name: file.name, time_limit_s: Number($("job-limit").value), problem: { format: $("job-format").value, instance: instanceText } } });
    showError(f, "job-error", null);
    follow(j);
  } catch (err) {
    showError(f, "job-error", err);
  } finally {
    btn.disabled = false;
  }
});

function follow(j) {
  show("job-live");
  const ctl = new AbortController();
  const pts = [];
  $("job-state").textContent = `Job ${j.name}: ${j.status}…`;
  $("job-progress").value = 0;
  stream(`/api/v1/jobs/${j.id}/events`, (type, d) => {
    if (type === "progress") {
      pts.push([d.elapsed_ms / 1000, d.distance]);
      $("job-progress").value = Math.min(100, (d.elapsed_ms / (j.time_limit_s * 1000)) * 100);
      $("job-state").textContent = `Running: ${d.vehicles} vehicles, distance ${d.distance.toFixed(1)} after ${(d.elapsed_ms / 1000).toFixed(1)} s.`;
      lineChart($("job-chart"), [{ name: "best distance", points: pts }], { xTime: false, yLabel: "distance" });
    } else if (type === "done") {
      ctl.abort();
      $("job-progress").value = 100;
      const r = d.result;
      $("job-state").textContent = d.status === "succeeded" && r ? `Done: ${r.vehicles} vehicles, distance ${r.distance.toFixed(2)}, ${r.feasible ? "feasible" : "infeasible"}.` : `Job ${d.status}${d.error ? `: ${d.error}` : ""}.`;
      drawRoutes(r?.routes);
      jobs();
    }
  }, { signal: ctl.signal });
}

await Promise.all([network(), heat(), laneRates(), jobs()]);
