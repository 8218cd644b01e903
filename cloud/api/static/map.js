// The station map, drawn by Leaflet (vendored: /static/vendor/leaflet-*.js, a classic script, so
// `window.L` is there) on a canvas: 4,000 stations draw in one frame where 4,000 SVG circles
// would not.
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

export function stationMap(box, settings, regions) {
  const L = window.L;
  const map = L.map(box, {preferCanvas: true, worldCopyJump: false, zoomSnap: 0.5, attributionControl: true});
  map.attributionControl.setPrefix("Leaflet");
  const renderer = L.canvas({padding: 0.2});
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
        layer.bindTooltip(escapeHtml(name), {permanent: true, direction: "center", className: "region-label"});
      }
    });
    box.dataset.regions = String(regions.features.length);
  }
  const group = L.featureGroup().addTo(map);
  const markers = new Map();
  let labels = null;
  let fitted = false;
  group.on("click", (e) => { if (e.layer.station) e.layer.bindPopup(popup(e.layer.station)).openPopup(); });

  function style(s) {
    const state = stateOf(s);
    return {radius: state === "alarm" ? 7 : 6, color: state === "never" ? "#7f8c8d" : "#ffffff", weight: 1,
      fillColor: STATE_COLORS[state], fillOpacity: 0.95};
  }

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
      className: "region-label", interactive: false}).setLatLng([w.lat / w.n, w.lon / w.n])
      .setContent(escapeHtml(path.split(" / ").pop())))).addTo(map);
  }

  const api = {
    map,
    async show(stations) {
      const start = performance.now();
      group.clearLayers();
      markers.clear();
      const placed = [];
      for (const s of stations) {
        if (!s.location) continue;
        const marker = L.circleMarker([s.location.lat, s.location.lon], {...style(s), renderer});
        marker.station = s;
        markers.set(s.station, marker);
        placed.push(marker);
      }
      placed.forEach((m) => group.addLayer(m));
      if (!fitted) {
        const bounds = placed.length ? group.getBounds() : outline ? outline.getBounds() : L.latLngBounds(CHINA);
        map.fitBounds(bounds.pad(0.08), {maxZoom: 13, animate: false});
        fitted = true;
      }
      regionLabels(stations);
      await frame();
      const ms = performance.now() - start;
      if (!box.dataset.drawMs) box.dataset.drawMs = ms.toFixed(1);  // the first draw
      Object.assign(box.dataset, {drawn: String(placed.length), unplaced: String(stations.length - placed.length)});
      for (const state of STATES) box.dataset[`n${state[0].toUpperCase()}${state.slice(1)}`] =
        String(placed.filter((m) => stateOf(m.station) === state).length);
      return placed.length;
    },
    update(s) {
      const marker = markers.get(s.station);
      if (marker) marker.setStyle(style(s));
    },
    resize() { map.invalidateSize(); },
    pixelOf(id) {
      const marker = markers.get(id);
      if (!marker) return null;
      const point = map.latLngToContainerPoint(marker.getLatLng());
      const r = box.getBoundingClientRect();
      return {x: r.left + point.x, y: r.top + point.y};
    },
  };
  box.stationMap = api;
  return api;
}
