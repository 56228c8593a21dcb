// Small SVG line charts: time or number on x, one or more series.
import { svgEl } from "./map.js";

export function lineChart(figure, series, { width = 640, height = 220, yLabel = "", xTime = true, yFormat = (v) => v.toLocaleString("en-US", { maximumFractionDigits: 2 }) } = {}) {
  const pts = series.flatMap((s) => s.points);
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "linechart" });
  const t = svgEl("title");
  t.textContent = figure.getAttribute("aria-label") || yLabel;
  svg.append(t);
  figure.replaceChildren(svg);
  if (pts.length === 0) {
    const e = svgEl("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted" });
    e.textContent = "No data yet";
    svg.append(e);
    return;
  }
  const m = { l: 56, r: 12, t: 12, b: 26 };
  const xs = pts.map((p) => +p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
  const X = (v) => m.l + ((+v - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = (v) => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);
  const axis = svgEl("g", { class: "axis" });
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    axis.append(svgEl("line", { x1: m.l, x2: width - m.r, y1: Y(v), y2: Y(v), class: "grid" }));
    const lab = svgEl("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end" });
    lab.textContent = yFormat(v);
    axis.append(lab);
  }
  for (let i = 0; i <= 4; i++) {
    const v = x0 + ((x1 - x0) * i) / 4;
    const lab = svgEl("text", { x: X(v), y: height - 6, "text-anchor": "middle" });
    lab.textContent = xTime ? new Date(v).toLocaleDateString("en-US", { month: "short", day: "numeric" }) : v.toLocaleString("en-US", { maximumFractionDigits: x1 - x0 < 10 ? 1 : 0 });
    axis.append(lab);
  }
  svg.append(axis);
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    svg.append(svgEl("path", { d, class: `series s${i} ${s.cls || ""}` }));
  });
  if (series.length > 1) {
    const legend = svgEl("g", { class: "legend" });
    series.forEach((s, i) => {
      const tx = svgEl("text", { x: m.l + 8 + i * 150, y: m.t + 10, class: `s${i}` });
      tx.textContent = s.name;
      legend.append(tx);
    });
    svg.append(legend);
  }
}
