import { api, page, $, el, show, showError } from "./api.js";

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
  const btn = e.target.querySelector("button");
  btn.disabled = true;
  $("scale-chart").replaceChildren(el("p", { class: "loading" }, "Simulating…"));
  try {
    const q = new URLSearchParams({ scenario: $("scenario").value, compare: "predictive" });
    const [svg, text] = await Promise.all([
      api(`/api/v1/scaling/simulations?${q}&format=svg`, { headers: { Accept: "image/svg+xml" } }),
      api(`/api/v1/scaling/simulations?${q}&format=text`, { headers: { Accept: "text/plain" } }),
    ]);
    showError(e.target, "scale-error", null);
    // The chart is our own server's SVG; parsed as XML, it carries no script.
    const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
    const chart = document.importNode(doc.documentElement, true);
    for (const s of chart.querySelectorAll("script, foreignObject")) s.remove();
    $("scale-chart").replaceChildren(chart, el("pre", { class: "report" }, text));
  } catch (err) {
    $("scale-chart").replaceChildren();
    showError(e.target, "scale-error", err);
  } finally {
    btn.disabled = false;
  }
});

health();
