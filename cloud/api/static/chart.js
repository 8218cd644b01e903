// A small SVG line chart, written for the console (no chart library): one series of
// {t, v} points, with an optional min/max band for downsampled buckets and vertical markers.
const NS = "http://www.w3.org/2000/svg";
const W = 720, H = 220, PAD = {left: 56, right: 12, top: 10, bottom: 26};

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function ticks(lo, hi, count) {
  if (lo === hi) return [lo];
  const step = (hi - lo) / (count - 1);
  return Array.from({length: count}, (_, i) => lo + i * step);
}

// points: [{t, v, lo?, hi?}] sorted by t; range: [t0, t1]; fmtT formats a time tick;
// markers: [{t, label, className}]. Returns the <svg>; data-n holds the number of points drawn.
export function lineChart(points, {range, fmtT, unit = "", markers = []}) {
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "data-n": String(points.length)});
  const values = points.flatMap((p) => [p.v, p.lo, p.hi]).filter((v) => v !== null && v !== undefined);
  let [vLo, vHi] = values.length ? [Math.min(...values), Math.max(...values)] : [0, 1];
  if (vLo === vHi) { vLo -= 1; vHi += 1; }
  const [t0, t1] = range;
  const x = (t) => PAD.left + (t - t0) / (t1 - t0) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v - vLo) / (vHi - vLo) * (H - PAD.top - PAD.bottom);

  for (const v of ticks(vLo, vHi, 5)) {
    root.append(svg("line", {x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid"}),
      svg("text", {x: PAD.left - 4, y: y(v) + 4, class: "tick", "text-anchor": "end"}, Number(v.toPrecision(4)).toString()));
  }
  for (const tt of ticks(t0, t1, 4)) {
    root.append(svg("text", {x: x(tt), y: H - 6, class: "tick", "text-anchor": "middle"}, fmtT(tt)));
  }
  if (unit) root.append(svg("text", {x: 4, y: PAD.top + 4, class: "tick"}, unit));

  const band = points.filter((p) => p.lo !== undefined && p.lo !== null);
  if (band.length) {
    const upper = band.map((p) => `${x(p.t).toFixed(1)},${y(p.hi).toFixed(1)}`);
    const lower = band.slice().reverse().map((p) => `${x(p.t).toFixed(1)},${y(p.lo).toFixed(1)}`);
    root.append(svg("polygon", {points: [...upper, ...lower].join(" "), class: "band"}));
  }
  const drawn = points.filter((p) => p.v !== null && p.v !== undefined);
  root.append(svg("polyline", {points: drawn.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" "),
    class: "line"}));
  for (const m of markers) {
    if (m.t < t0 || m.t > t1) continue;
    const line = svg("line", {x1: x(m.t), x2: x(m.t), y1: PAD.top, y2: H - PAD.bottom, class: `marker ${m.className || ""}`});
    line.append(svg("title", {}, m.label));
    root.append(line);
  }
  return root;
}
