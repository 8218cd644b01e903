// The station map, drawn by Leaflet (vendored: /static/vendor/leaflet-*.js, a classic script, so
// `window.L` is there). The stations are one canvas layer of our own (StationLayer): painted in
// one pass, a path per colour, and hit-tested by distance on click, rather than a Leaflet layer per
// station (4,000 objects with their own events and bounds): 15–40 ms to draw 4,000 on the bench.
//
// Base layer: the tile URL of api.map (e.g. 天地图 with its key, or a tile server on the
// intranet), with its overlay (labels); without one, a plain map that needs no internet: the
// region boundaries of api.map.regions_geojson (if the operator gave them) and the stations on a
// blank background, with each region's name where its stations are when no boundaries exist.
//
//   stationMap(box, settings, regions)  the map (regions: a GeoJSON FeatureCollection or null)
//   map.show(stations)                  (re)draws the station layer; box.dataset.drawMs: how
//                                       long the first draw took (markers made, canvas painted)
//   map.update(station)                 one station's colour after a live event
//   map.pixelOf(id)                     where a station is drawn, in page pixels (markers live on
//                                       a canvas: a click there opens its popup); the map is
//                                       also box.stationMap
//   stateOf(station)                    maintenance > alarm > online / offline / never
import {escapeHtml} from "./chart.js";
import {fmtDateTime, t} from "./i18n.js";

export const STATE_COLORS = {online: "#1e8449", offline: "#7f8c8d", alarm: "#c0392b", maintenance: "#2e86c1",
  never: "#d5dbdb"};
export const STATES = ["online", "offline", "alarm", "maintenance", "never"];
const CHINA = [[18, 73], [54, 135]];  // where to look when no station has coordinates

export function stateOf(s) {
  if (s.maintenance) return "maintenance";
  if (s.open_alarms > 0) return "alarm";
  return s.status === "online" ? "online" : s.status === "offline" ? "offline" : "never";
}

function frame() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

function popup(s) {
  return `<b>${escapeHtml(s.name || s.station)}</b> <small>${escapeHtml(s.station)}</small><br>`
    + `${escapeHtml(t(`map.state.${stateOf(s)}`))} · ${escapeHtml(s.region_path)}<br>`
    + `${escapeHtml(t("col.last_seen"))} ${escapeHtml(fmtDateTime(s.last_seen_ms))}`
    + (s.open_alarms ? `<br>${escapeHtml(t("map.open_alarms", {n: s.open_alarms}))}` : "")
    + `<br><a href="/station?id=${encodeURIComponent(s.station)}">${escapeHtml(t("map.open_station"))}</a>`;
}

const RADIUS = {alarm: 7};  // px; others 6
const HIT_PX = 9;  // a click this close to a station opens it

// The stations on a canvas the size of the map, redrawn after each move or zoom (hidden while a
// zoom animates, like Leaflet's own renderers). items: [{station, latlng}] in drawing order.
function stationLayer(L) {
  return L.Layer.extend({
    initialize() { this.items = []; this.points = []; },
    onAdd(map) {
      this.canvas = L.DomUtil.create("canvas", "station-layer leaflet-zoom-hide");
      map.getPane("stations").appendChild(this.canvas);
      map.on("moveend zoomend resize viewreset", this.redraw, this);
      this.redraw();
    },
    onRemove(map) {
      this.canvas.remove();
      map.off("moveend zoomend resize viewreset", this.redraw, this);
    },
    setItems(items) { this.items = items; this.redraw(); },
    redraw() {
      const map = this._map;
      if (!map) return;
      const size = map.getSize(), ratio = window.devicePixelRatio || 1, canvas = this.canvas;
      L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = `${size.x}px`;
      canvas.style.height = `${size.y}px`;
      const ctx = canvas.getContext("2d");
      ctx.scale(ratio, ratio);
      const byState = new Map(STATES.map((state) => [state, []]));
      this.points = this.items.map((item) => {
        const p = map.latLngToContainerPoint(item.latlng);
        const state = stateOf(item.station);
        if (p.x > -10 && p.y > -10 && p.x < size.x + 10 && p.y < size.y + 10) byState.get(state).push(p);
        return p;
      });
      // the quiet states first, alarms last: an alarm is never hidden under a neighbour
      for (const state of ["never", "offline", "online", "maintenance", "alarm"]) {
        const points = byState.get(state);
        if (!points.length) continue;
        const r = RADIUS[state] || 6;
        ctx.beginPath();
        for (const p of points) { ctx.moveTo(p.x + r, p.y); ctx.arc(p.x, p.y, r, 0, 2 * Math.PI); }
        ctx.fillStyle = STATE_COLORS[state];
        ctx.globalAlpha = 0.95;
        ctx.fill();
        ctx.globalAlpha = 1;
        ctx.lineWidth = 1;
        ctx.strokeStyle = state === "never" ? "#7f8c8d" : "#ffffff";
        ctx.stroke();
      }
    },
    // the station nearest a point of the map's container, within HIT_PX
    near(point) {
      let best = null, bestD = HIT_PX * HIT_PX;
      this.points.forEach((p, i) => {
        const d = (p.x - point.x) ** 2 + (p.y - point.y) ** 2;
        if (d <= bestD) { best = this.items[i]; bestD = d; }
      });
      return best;
    },
  });
}

export function stationMap(box, settings, regions) {
  const L = window.L;
  const map = L.map(box, {preferCanvas: true, worldCopyJump: false, zoomSnap: 0.5, attributionControl: true});
  map.attributionControl.setPrefix("Leaflet");
  const renderer = L.canvas({padding: 0.2});
  // boundaries (overlay pane, 400) < region names < stations < popups (700); in Leaflet's own
  // tooltip pane (650) a name hid a station
  map.createPane("region-names").style.zIndex = 420;
  map.createPane("stations").style.zIndex = 450;
  if (settings.tiles) {
    const text = escapeHtml(settings.attribution || "");
    const options = {maxZoom: settings.max_zoom, attribution: text, ...(settings.subdomains.length ? {subdomains: settings.subdomains} : {})};
    L.tileLayer(settings.tiles, options).addTo(map);
    if (settings.overlay) L.tileLayer(settings.overlay, {...options, attribution: ""}).addTo(map);
    box.dataset.base = "tiles";
  } else {
    box.classList.add("plain-map");
    box.dataset.base = "plain";
  }
  let outline = null;
  if (regions && regions.features.length) {
    outline = L.geoJSON(regions, {interactive: false, renderer, style: (f) => ({
      color: "#1b4f72", weight: f.geometry.type.includes("Line") ? 2 : 1.2, opacity: 0.7,
      fill: !f.geometry.type.includes("Line"), fillColor: "#d6eaf8", fillOpacity: settings.tiles ? 0.05 : 0.35})}).addTo(map);
    outline.eachLayer((layer) => {
      const name = layer.feature.properties.name;
      if (name && !layer.feature.geometry.type.includes("Line")) {
        layer.bindTooltip(escapeHtml(name), {permanent: true, direction: "center", className: "region-label", pane: "region-names"});
      }
    });
    box.dataset.regions = String(regions.features.length);
  }
  const layer = new (stationLayer(L))().addTo(map);

  // Region names that would print over one another (a county inside its city, zoomed out): the
  // one listed first (the boundaries file's order, the registry's with station labels) is kept.
  function declutter() {
    const kept = [];
    for (const label of box.querySelectorAll(".region-label")) {
      label.style.visibility = "";
      const r = label.getBoundingClientRect();
      if (kept.some((k) => r.left < k.right && k.left < r.right && r.top < k.bottom && k.top < r.bottom)) {
        label.style.visibility = "hidden";
      } else kept.push(r);
    }
  }
  map.on("zoomend moveend", declutter);
  // while the map pans or zooms (a popup's auto-pan included) a click may not reach a popup's link
  map.on("movestart", () => { box.dataset.moving = "1"; });
  map.on("moveend", () => { delete box.dataset.moving; });
  const byId = new Map();
  let labels = null;
  let fitted = false;
  map.on("click", (e) => {
    const hit = layer.near(e.containerPoint);
    if (hit) L.popup({offset: [0, -4]}).setLatLng(hit.latlng).setContent(popup(hit.station)).openOn(map);
  });
  map.on("mousemove", (e) => { box.style.cursor = layer.near(e.containerPoint) ? "pointer" : ""; });

  // Without boundaries and without tiles: each county's name at the middle of its stations.
  function regionLabels(stations) {
    if (labels) labels.remove();
    labels = null;
    if (settings.tiles || outline) return;
    const where = new Map();
    for (const s of stations) {
      if (!s.location || !s.region_path) continue;
      const w = where.get(s.region_path) || {lat: 0, lon: 0, n: 0};
      where.set(s.region_path, {lat: w.lat + s.location.lat, lon: w.lon + s.location.lon, n: w.n + 1});
    }
    if (where.size > 200) return;  // too many to read
    labels = L.layerGroup(Array.from(where, ([path, w]) => L.tooltip({permanent: true, direction: "center",
      className: "region-label", interactive: false, pane: "region-names"}).setLatLng([w.lat / w.n, w.lon / w.n])
      .setContent(escapeHtml(path.split(" / ").pop())))).addTo(map);
  }

  function counts() {
    const n = Object.fromEntries(STATES.map((state) => [state, 0]));
    layer.items.forEach((item) => { n[stateOf(item.station)] += 1; });
    for (const state of STATES) box.dataset[`n${state[0].toUpperCase()}${state.slice(1)}`] = String(n[state]);
  }

  const api = {
    map,
    async show(stations) {
      const start = performance.now();
      byId.clear();
      const items = [];
      for (const s of stations) {
        if (!s.location) continue;
        const item = {station: s, latlng: L.latLng(s.location.lat, s.location.lon)};
        byId.set(s.station, item);
        items.push(item);
      }
      if (!fitted) {
        const bounds = items.length ? L.latLngBounds(items.map((i) => i.latlng)) : outline ? outline.getBounds() : L.latLngBounds(CHINA);
        map.fitBounds(bounds.pad(0.08), {maxZoom: 13, animate: false});
        fitted = true;
      }
      layer.setItems(items);
      regionLabels(stations);
      declutter();
      await frame();
      const ms = performance.now() - start;
      if (!box.dataset.drawMs) box.dataset.drawMs = ms.toFixed(1);  // the first draw
      Object.assign(box.dataset, {drawn: String(items.length), unplaced: String(stations.length - items.length)});
      counts();
      return items.length;
    },
    update(s) {
      const item = byId.get(s.station);
      if (!item) return;
      item.station = s;
      layer.redraw();
      counts();
    },
    resize() { map.invalidateSize(); },
    pixelOf(id) {
      const item = byId.get(id);
      if (!item) return null;
      const point = map.latLngToContainerPoint(item.latlng);
      const r = box.getBoundingClientRect();
      return {x: r.left + point.x, y: r.top + point.y};
    },
  };
  box.stationMap = api;
  return api;
}
