// US maps drawn with d3-geo (Albers USA) over the us-atlas state outlines;
// no tile server. Layers are SVG groups the pages fill.

const W = 975, H = 610;
const NS = "http://www.w3.org/2000/svg";
let topology;

function atlasURL() {
  return document.querySelector('link[rel="preload"][as="fetch"]')?.href || "/assets/vendor/states-10m.json";
}

async function states() {
  topology ??= fetch(atlasURL()).then((r) => {
    if (!r.ok) throw new Error(`state outlines: HTTP ${r.status}`);
    return r.json();
  });
  return topology;
}

export function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  return e;
}

// usMap draws the states into figure and returns helpers to place things.
export async function usMap(figure) {
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "usmap" });
  const title = svgEl("title");
  title.textContent = figure.getAttribute("aria-label") || "Map of the United States";
  svg.append(title);
  figure.replaceChildren(svg);
  const projection = d3.geoAlbersUsa().scale(1300).translate([W / 2, H / 2]);
  const path = d3.geoPath(projection);
  const base = svgEl("g", { class: "states" });
  svg.append(base);
  try {
    const topo = await states();
    for (const f of topojson.feature(topo, topo.objects.states).features) base.append(svgEl("path", { d: path(f) }));
    base.append(svgEl("path", { class: "borders", d: path(topojson.mesh(topo, topo.objects.states, (a, b) => a !== b)) }));
  } catch (e) {
    figure.append(Object.assign(document.createElement("figcaption"), { textContent: "The map outlines could not be loaded." }));
  }
  const layers = {};
  const layer = (name) => {
    if (!layers[name]) { layers[name] = svgEl("g", { class: `layer ${name}` }); svg.append(layers[name]); }
    return layers[name];
  };
  const project = (p) => (p && Number.isFinite(p.lat) ? projection([p.lon, p.lat]) : null);
  return {
    svg, layer, project,
    clear(name) { layer(name).replaceChildren(); },
    // dot places a circle (with a tooltip) and returns it, or null outside the map.
    dot(name, p, { r = 5, cls = "", label = "", data = {} } = {}) {
      const xy = project(p);
      if (!xy) return null;
      const c = svgEl("circle", { cx: xy[0].toFixed(1), cy: xy[1].toFixed(1), r, class: cls });
      Object.assign(c.dataset, data);
      if (label) { const t = svgEl("title"); t.textContent = label; c.append(t); }
      layer(name).append(c);
      return c;
    },
    move(node, p) {
      const xy = project(p);
      if (!xy || !node) return;
      node.setAttribute("cx", xy[0].toFixed(1));
      node.setAttribute("cy", xy[1].toFixed(1));
    },
    line(name, a, b, cls = "") {
      const pa = project(a), pb = project(b);
      if (!pa || !pb) return null;
      const l = svgEl("path", { d: path({ type: "LineString", coordinates: [[a.lon, a.lat], [b.lon, b.lat]] }) || `M${pa}L${pb}`, class: cls });
      layer(name).append(l);
      return l;
    },
    polyline(name, pts, cls = "") {
      const coords = pts.filter((p) => Number.isFinite(p.lat)).map((p) => [p.lon, p.lat]);
      if (coords.length < 2) return null;
      const l = svgEl("path", { d: path({ type: "LineString", coordinates: coords }), class: cls });
      layer(name).append(l);
      return l;
    },
  };
}
