import { api, page, $, el, show, showError } from "./api.js";
import { lineChart } from "./chart.js";

await page("ops");

async function health() {
  try {
    const res = await fetch("/readyz", { headers: { Accept: "application/json" } });
    const r = await res.json();
    show("health-loading", false);
    show("health");
    const rows = Object.entries({ ...(r.checks || {}), ...(r.modules || {}) });
    $("health").tBodies[0].replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", { class: /ok|Running/.test(v) ? "ok" : "bad" }, v))));
  } catch (err) {
    $("health-loading").textContent = `Health unavailable: ${err.message}`;
  }
  try {
    const text = await (await fetch("/metrics")).text();
    const want = ["job_queue_length", "queue_depth", "pending_notifications", "http_requests_in_flight", "process_resident_memory_bytes", "go_goroutines"];
    const found = [];
    for (const line of text.split("\n")) {
      if (line.startsWith("#")) continue;
      const name = line.split(/[{\s]/)[0];
      if (want.includes(name) && !found.some(([n]) => n === name)) found.push([name, line.split(/\s+/).at(-1)]);
    }
    $("metrics").replaceChildren(...found.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, Number(v).toLocaleString("en-US"))]));
  } catch { /* metrics are optional here */ }
}

$("scale-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await api(`/api/v1/scaling/simulations?scenario=${$("scenario").value}`);
    showError(e.target, "scale-error", null);
    const series = r.services.map((s) => ({ name: s.name, points: s.points.map((p) => [p.minute, p.replicas]) }));
    lineChart($("scale-chart"), series, { xTime: false, width: 900, height: 320, yLabel: "replicas" });
  } catch (err) {
    showError(e.target, "scale-error", err);
  }
});

health();
