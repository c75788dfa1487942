/* Maps without a tile server: the base map is vector layers (administrative areas, evacuation zones, routes)
   fetched as GeoJSON; a deployment may add tiles (data-tiles on the map element, from MAP_TILE_URL).
   WebMap.create(element) returns { map, add(geojson, style, popup), fit(layers) }. */
(function () {
  "use strict";
  var BASE_STYLES = {
    area: { color: "#51606f", weight: 1, fill: true, fillColor: "#dfe6ee", fillOpacity: 0.5 },
    zone: { color: "#b26b00", weight: 1, dashArray: "4 3", fill: true, fillColor: "#ffe9c7", fillOpacity: 0.35 },
    route: { color: "#1d6b2f", weight: 3 }
  };
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function create(element, options) {
    var opts = options || {};
    var map = L.map(element, { zoomControl: true, attributionControl: !!element.dataset.tiles, preferCanvas: true });
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, { attribution: element.dataset.attribution || "", maxZoom: 19 }).addTo(map);
    }
    var center = (element.dataset.center || "").split(",").map(Number);
    if (center.length === 2 && !isNaN(center[0])) map.setView(center, Number(element.dataset.zoom || 13));
    else map.setView([0, 0], 2);
    var base = L.featureGroup().addTo(map);
    function add(geojson, style, popup) {
      var layer = L.geoJSON(geojson, {
        style: typeof style === "function" ? style : function () { return style || BASE_STYLES.area; },
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, Object.assign({ radius: 7, weight: 2, fillOpacity: 0.9 }, (typeof style === "function" ? style(feature) : style) || {}));
        },
        onEachFeature: function (feature, layer) {
          var text = popup ? popup(feature) : (feature.properties && feature.properties.name);
          if (text) layer.bindPopup(typeof text === "string" ? escapeHtml(text) : text);
        }
      });
      layer.addTo(map);
      return layer;
    }
    function fit(layers) {
      var bounds = null;
      (layers || [base]).forEach(function (layer) {
        if (!layer || !layer.getBounds) return;
        var b = layer.getBounds();
        if (b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
      });
      if (bounds) map.fitBounds(bounds, { padding: [16, 16], maxZoom: 16 });
    }
    var ready = Promise.resolve();
    var urls = (element.dataset.base || "").split(" ").filter(Boolean);
    if (urls.length && opts.base !== false) {
      ready = Promise.all(urls.map(function (url) {
        return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (!data) return;
            var kind = url.indexOf("routes") >= 0 ? "route" : null;
            L.geoJSON(data, {
              style: function (f) { return BASE_STYLES[kind || (f.properties && f.properties.level === "zone" ? "zone" : "area")]; },
              onEachFeature: function (f, layer) { if (f.properties && f.properties.name) layer.bindTooltip(escapeHtml(f.properties.name)); }
            }).addTo(base);
            base.bringToBack();
          }).catch(function () { /* the page still works without the base layers */ });
      }));
    }
    return { map: map, base: base, add: add, fit: fit, ready: ready, escape: escapeHtml };
  }
  window.WebMap = { create: create, styles: BASE_STYLES };
})();
