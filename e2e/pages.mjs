// Page weight and time to first render of each main page, cold cache, in
// headless Debian Chromium, against a running `backhaul serve --demo`:
//
//   node e2e/pages.mjs http://127.0.0.1:8080 [runs]
//
// Each run of each page uses a new browser context (empty cache) signed in
// as the page's demo user. The baseline in the same run is a bare HTML page
// of a few bytes served by the same process (/healthz as a document is
// JSON, so the baseline is an inline data: URL with no server at all, the
// browser's own floor). Prints a Markdown table and a JSON summary.
import { chromium } from "playwright-core";

const base = process.argv[2] || "http://127.0.0.1:8080";
const runs = Number(process.argv[3] || 5);
const password = "backhaul-demo";
const pages = [
  { name: "baseline (empty document)", url: "data:text/html,<!doctype html><title>x</title><p>x</p>", ready: "p" },
  { name: "landing", path: "/", ready: ".cards" },
  { name: "sign in", path: "/login", ready: "#signin" },
  { name: "shipper", path: "/shipper", user: "shipper@acme-foods.example", ready: "#mine tbody tr" },
  { name: "shipment", path: "/shipper/loads/{load}", user: "shipper@acme-foods.example", ready: "#timeline li" },
  { name: "carrier", path: "/carrier", user: "dispatch@blueridge.example", ready: "#board-table tbody tr" },
  { name: "driver", path: "/driver", user: "driver@blueridge.example", ready: "#hos .meter" },
  { name: "operations", path: "/ops", user: "ops@backhaul.example", ready: "#heat-map svg circle" },
  { name: "platform", path: "/ops/platform", user: "ops@backhaul.example", ready: "#health tbody tr" },
];

async function login(email) {
  const r = await fetch(`${base}/api/v1/auth/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email, password }) });
  if (!r.ok) throw new Error(`login ${email}: HTTP ${r.status}`);
  return (await r.json()).token;
}

const tokens = {};
for (const p of pages) if (p.user) tokens[p.user] ??= await login(p.user);
const loads = await (await fetch(`${base}/api/v1/loads?limit=1`, { headers: { Authorization: `Bearer ${tokens["shipper@acme-foods.example"]}` } })).json();
const loadID = loads.items[0].id;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const results = [];
for (const p of pages) {
  const fcp = [], ready = [], bytes = [], requests = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (p.user) await ctx.addInitScript((t) => localStorage.setItem("bh.token", t), tokens[p.user]);
    const page = await ctx.newPage();
    let n = 0, b = 0;
    const pending = [];
    page.on("requestfinished", (req) => { n++; pending.push(req.sizes().then((s) => { b += s.responseBodySize + s.responseHeadersSize; }).catch(() => {})); });
    const t0 = Date.now();
    await page.goto(p.url || base + p.path.replace("{load}", loadID));
    await page.locator(p.ready).first().waitFor({ timeout: 30000 });
    ready.push(Date.now() - t0);
    // Signed-in pages hold event streams open, so the network never idles:
    // give trailing requests a moment instead.
    await page.waitForLoadState("load");
    await page.waitForTimeout(500);
    await Promise.all(pending);
    fcp.push(await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN));
    bytes.push(b);
    requests.push(n);
    await ctx.close();
  }
  results.push({ page: p.name, path: p.path || "data:", requests: median(requests), bytes: median(bytes), first_contentful_paint_ms: Math.round(median(fcp)), data_ready_ms: median(ready) });
}
await browser.close();

console.log("| page | requests | transferred | first render (FCP) | data shown |");
console.log("|---|---:|---:|---:|---:|");
for (const r of results) console.log(`| ${r.page} | ${r.requests} | ${(r.bytes / 1024).toFixed(1)} KiB | ${r.first_contentful_paint_ms} ms | ${r.data_ready_ms} ms |`);
console.log(JSON.stringify({ base, runs, pages: results }));
