/* Staff console for shelters and assets: the occupancy board and a shelter's page follow live updates
   (ws/shelters/areas/<id>/ and ws/shelters/<id>/) without reload; the assets pages show their markers on the map.
   Texts come from the templates (data-* attributes and the "shelter-status-labels" JSON). */
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  var statusLabels = readJson("shelter-status-labels") || {};

  function setText(root, field, text) {
    var node = root.querySelector('[data-field="' + field + '"]');
    if (node && node.textContent !== String(text)) node.textContent = String(text);
    return node;
  }

  /* Show one shelter's new state in `root` (a board row or the shelter page's summary); older versions are dropped. */
  function apply(root, shelter, unknown) {
    var current = Number(root.dataset.version || 0);
    if (typeof shelter.version === "number" && shelter.version < current) return;
    root.dataset.version = String(shelter.version);
    var badge = setText(root, "status", statusLabels[shelter.status] || shelter.status);
    if (badge) badge.className = "badge " + shelter.status;
    setText(root, "occupancy", shelter.occupancy);
    setText(root, "capacity", shelter.capacity === null ? unknown : shelter.capacity);
    setText(root, "free", shelter.free_places === null ? unknown : shelter.free_places);
    var meter = root.querySelector('[data-field="fill"]');
    if (meter) {
      meter.max = shelter.capacity || 1;
      meter.low = meter.max * 0.8;
      meter.high = meter.max * 0.95;
      meter.value = shelter.occupancy;
      meter.textContent = shelter.occupancy + "/" + (shelter.capacity === null ? "?" : shelter.capacity);
    }
    root.classList.remove("updated");
    void root.offsetWidth; // restart the highlight
    root.classList.add("updated");
  }

  function board(table) {
    var unknown = table.dataset.unknown || "";
    var status = document.getElementById("board-live");
    var areas = (table.dataset.liveAreas || "").split(" ").filter(Boolean);
    areas.forEach(function (areaId) {
      window.Live.connect("/ws/shelters/areas/" + areaId + "/", {
        status: status,
        onMessage: function (data) {
          if (!data || data.type !== "shelter.updated" || !data.shelter) return;
          var row = table.querySelector('tr[data-shelter-id="' + Number(data.shelter.id) + '"]');
          if (row) apply(row, data.shelter, unknown);
        }
      });
    });
  }

  function shelterPage(section) {
    var unknown = section.dataset.unknown || "";
    window.Live.connect("/ws/shelters/" + Number(section.dataset.liveShelter) + "/", {
      status: document.getElementById("shelter-live-status"),
      onMessage: function (data) {
        if (!data || data.type !== "shelter.updated" || !data.shelter) return;
        if (Number(data.shelter.id) !== Number(section.dataset.liveShelter)) return;
        apply(section, data.shelter, unknown);
      }
    });
  }

  function assetsMap(element) {
    var markers = readJson("asset-markers") || [];
    var web = window.WebMap.create(element);
    var colours = { available: "#1d6b2f", deployed: "#0b5cad", maintenance: "#8a4b00", damaged: "#a4161a" };
    var features = markers.map(function (m) {
      return { type: "Feature", geometry: { type: "Point", coordinates: [m.lon, m.lat] }, properties: m };
    });
    var layer = web.add({ type: "FeatureCollection", features: features }, function (feature) {
      var colour = colours[feature.properties.state] || "#51606f";
      return { color: colour, fillColor: colour };
    }, function (feature) {
      var p = feature.properties;
      var text = web.escape(p.name);
      if (p.type) text += "<br>" + web.escape(p.type);
      if (p.state_label) text += " · " + web.escape(p.state_label);
      if (p.quantity !== undefined) text += " · " + web.escape(p.quantity);
      if (element.dataset.detailUrl) {
        text = '<a href="' + web.escape(element.dataset.detailUrl.replace(/\/0\/$/, "/" + Number(p.id) + "/")) + '">' + text + "</a>";
      }
      return text;
    });
    element.dataset.markerCount = String(features.length);
    if (features.length) web.fit([layer]); else web.ready.then(function () { web.fit(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("shelter-board");
    if (table && window.Live) board(table);
    var section = document.getElementById("shelter-live");
    if (section && window.Live) shelterPage(section);
    var map = document.getElementById("assets-map");
    if (map && window.WebMap) assetsMap(map);
  });
})();
