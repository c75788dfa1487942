/* Console alerts: drawing the alert's area with Leaflet-Geoman into the composer's hidden inputs, the reach
   check without leaving the page, and an alert's live dispatch figures and replies map.
   Every text shown comes from the page (data-* attributes); the pages work as plain forms without this file. */
(function () {
  "use strict";

  function shapesFromInputs(polygonsInput, circlesInput, group) {
    try {
      if (polygonsInput.value) {
        L.geoJSON(JSON.parse(polygonsInput.value)).eachLayer(function (layer) { group.addLayer(layer); });
      }
    } catch (e) { /* unreadable shapes are reported by the server on save */ }
    try {
      (circlesInput.value ? JSON.parse(circlesInput.value) : []).forEach(function (c) {
        group.addLayer(L.circle([c.lat, c.lon], { radius: c.radius_km * 1000 }));
      });
    } catch (e) { /* idem */ }
  }

  function initComposer(form) {
    var element = document.getElementById("composer-map");
    var polygonsInput = document.getElementById("shapes-polygons");
    var circlesInput = document.getElementById("shapes-circles");
    var summary = document.getElementById("shapes-summary");
    if (element && window.WebMap && window.L && L.PM) {
      var web = WebMap.create(element);
      var map = web.map;
      var drawn = L.featureGroup().addTo(map);
      shapesFromInputs(polygonsInput, circlesInput, drawn);

      var sync = function () {
        var features = [], circles = [];
        drawn.eachLayer(function (layer) {
          if (layer instanceof L.Circle) {
            var centre = layer.getLatLng();
            circles.push({ lat: centre.lat, lon: centre.lng, radius_km: layer.getRadius() / 1000 });
          } else if (layer instanceof L.Polygon) {
            features.push(layer.toGeoJSON());
          }
        });
        polygonsInput.value = features.length ? JSON.stringify({ type: "FeatureCollection", features: features }) : "";
        circlesInput.value = circles.length ? JSON.stringify(circles) : "";
        if (summary && summary.dataset.text) {
          summary.textContent = summary.dataset.text
            .replace("%(polygons)s", String(features.length)).replace("%(circles)s", String(circles.length));
        }
      };
      var watch = function (layer) { layer.on("pm:edit pm:dragend", sync); };
      drawn.eachLayer(watch);

      // Geoman carries its own translations of its tooltips for some of the site's languages.
      var language = (document.documentElement.lang || "en").split("-")[0];
      if (["fr", "es", "ja", "zh"].indexOf(language) >= 0) map.pm.setLang(language);
      map.pm.addControls({
        position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawText: false,
        drawRectangle: true, drawPolygon: true, drawCircle: true, editMode: true, dragMode: false,
        cutPolygon: false, removalMode: true, rotateMode: false
      });
      // The tools are links with only an icon: give each its tooltip as its accessible name.
      element.querySelectorAll(".button-container[title]").forEach(function (container) {
        var link = container.querySelector(".leaflet-buttons-control-button");
        if (link) link.setAttribute("aria-label", container.getAttribute("title"));
      });
      map.on("pm:create", function (event) { drawn.addLayer(event.layer); watch(event.layer); sync(); });
      map.on("pm:remove", function (event) { drawn.removeLayer(event.layer); sync(); });
      // Open on what is drawn already, else on the areas the person drafts for, else on the whole base map.
      var focus = (form.dataset.focus || "").split(",").map(Number);
      if (drawn.getLayers().length) web.fit([drawn]);
      else if (focus.length === 4 && !focus.some(isNaN)) {
        map.fitBounds([[focus[1], focus[0]], [focus[3], focus[2]]], { padding: [16, 16], maxZoom: 16 });
      }
      web.ready.then(function () {
        // The base map is for orientation: its areas must not be edited or removed with the drawing tools.
        web.base.eachLayer(function (group) {
          if (group.eachLayer) group.eachLayer(function (layer) { layer.options.pmIgnore = true; });
        });
        if (!drawn.getLayers().length && !(focus.length === 4 && !focus.some(isNaN))) web.fit([web.base]);
      });
      sync();
    }

    var reachButton = document.getElementById("check-reach");
    var output = document.getElementById("reach-output");
    if (reachButton && output && window.fetch && window.FormData) {
      reachButton.addEventListener("click", function (event) {
        event.preventDefault();
        var data = new FormData(form);
        data.set("action", "reach");
        output.textContent = output.dataset.textChecking || "";
        reachButton.disabled = true;
        // getAttribute: the buttons named "action" shadow the form's own `action` property.
        fetch(form.getAttribute("action"), {
          method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
        }).then(function (response) {
          return response.json();
        }).then(function (result) {
          output.innerHTML = result.html || "";
          if (result.edit_url) {
            // The draft now exists: later saves change it instead of making another.
            form.setAttribute("action", result.edit_url);
            window.history.replaceState(null, "", result.edit_url);
          }
        }).catch(function () {
          output.textContent = output.dataset.textFailed || "";
        }).then(function () { reachButton.disabled = false; });
      });
    }
  }

  function initDispatch(section) {
    var labels = JSON.parse((document.getElementById("state-labels") || {}).textContent || "{}");
    var geometry = JSON.parse((document.getElementById("alert-geometry") || {}).textContent || "null");
    var table = document.getElementById("replies-table");
    var mapElement = document.getElementById("replies-map");
    var web = mapElement && window.WebMap ? WebMap.create(mapElement) : null;
    var repliesLayer = null;
    var initialState = (document.getElementById("alert-state") || { dataset: {} }).dataset.state;
    if (web) {
      var area = geometry ? web.add(geometry, { color: "#a4161a", weight: 2, fillOpacity: 0.08 }) : null;
      if (area) web.fit([area]); else web.ready.then(function () { web.fit(); });
    }

    function setStat(name, value) {
      section.querySelectorAll('[data-stat="' + name + '"]').forEach(function (el) {
        el.textContent = value === null || value === undefined ? "—" : String(value);
      });
    }

    function renderTable(features) {
      if (!table) return;
      var body = table.tBodies[0];
      var rows = features.filter(function (f) { return f.properties.kind === "area"; });
      if (!rows.length) return;
      body.textContent = "";
      rows.forEach(function (f) {
        var tr = document.createElement("tr");
        [f.properties.name, f.properties.need_help, f.properties.safe].forEach(function (value) {
          var td = document.createElement("td");
          td.textContent = String(value);
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
    }

    function loadReplies() {
      if (!section.dataset.repliesUrl) return;
      fetch(section.dataset.repliesUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          renderTable(data.features);
          if (!web) return;
          if (repliesLayer) web.map.removeLayer(repliesLayer);
          var needText = table ? table.dataset.textNeedHelp : "";
          var safeText = table ? table.dataset.textSafe : "";
          repliesLayer = L.geoJSON({ type: "FeatureCollection", features: data.features.filter(function (f) { return f.geometry; }) }, {
            pointToLayer: function (feature, latlng) {
              var p = feature.properties;
              if (p.kind === "person") {
                return L.circleMarker(latlng, { radius: 8, color: "#ffffff", weight: 2, fillColor: "#a4161a", fillOpacity: 1 })
                  .bindTooltip(web.escape(needText + (p.area ? " · " + p.area : "")));
              }
              var help = Number(p.need_help) || 0;
              return L.marker(latlng, {
                zIndexOffset: help ? 1000 : 0,
                keyboard: false,
                icon: L.divIcon({
                  className: "reply-marker" + (help ? "" : " safe-only"),
                  html: String(help || p.safe),
                  iconSize: [28, 28]
                })
              }).bindTooltip(web.escape(p.name + ": " + needText + " " + help + " · " + safeText + " " + p.safe));
            }
          }).addTo(web.map);
        }).catch(function () { /* the table rendered by the server stays */ });
    }

    // The dispatch and each of its batches push figures from different processes, and the channel layer does not
    // keep their order: a snapshot read earlier can arrive later. Keep the one that got furthest (more deliveries
    // settled, then the later reading); answers the same way, by when they were counted.
    var shown = { settled: -1, asOf: -Infinity, repliesAsOf: -Infinity };

    // A frame without these marks (a server older than this page) is shown, and moves nothing.
    function showReplies(counts, asOf) {
      var at = Date.parse(asOf || "");
      if (!isNaN(at)) {
        if (at < shown.repliesAsOf) return;
        shown.repliesAsOf = at;
      }
      setStat("need_help", (counts || {}).need_help || 0);
      setStat("safe", (counts || {}).safe || 0);
    }

    function showStats(stats) {
      var settled = stats.settled, at = Date.parse(stats.as_of || "");
      if (typeof settled === "number" && !isNaN(at)) {
        if (settled < shown.settled || (settled === shown.settled && at < shown.asOf)) return false;
        shown.settled = settled;
        shown.asOf = at;
      }
      var byState = stats.by_state || {};
      Object.keys(byState).forEach(function (state) { setStat("state-" + state, byState[state]); });
      var sent = byState.sent || 0, total = stats.deliveries || 0;
      setStat("sent", sent);
      setStat("deliveries", total);
      setStat("targeted", stats.targeted);
      showReplies(stats.replied, stats.as_of);
      var percent = total ? Math.round((100 * sent) / total) : 0;
      var bar = document.getElementById("dispatch-progress");
      if (bar) {
        bar.setAttribute("aria-valuenow", String(percent));
        bar.firstElementChild.style.width = percent + "%";
      }
      var reasons = document.getElementById("failed-reasons");
      if (reasons) {
        reasons.textContent = "";
        var failed = stats.failed_by_reason || {};
        var keys = Object.keys(failed);
        if (!keys.length) {
          var none = document.createElement("li");
          none.className = "muted";
          none.textContent = reasons.dataset.empty || "";
          reasons.appendChild(none);
        }
        keys.forEach(function (reason) {
          var li = document.createElement("li");
          li.textContent = reason + ": " + failed[reason];
          reasons.appendChild(li);
        });
      }
      return true;
    }

    function showState(state) {
      var badge = document.getElementById("alert-state");
      if (!badge) return;
      badge.className = "badge " + state;
      badge.dataset.state = state;
      badge.textContent = labels[state] || state;
      var stale = document.getElementById("actions-stale");
      if (stale && state !== initialState) stale.hidden = false;
    }

    if (window.Live && section.dataset.ws) {
      Live.connect(section.dataset.ws, {
        status: document.getElementById("dispatch-live"),
        onMessage: function (data) {
          if (data.type === "stats") { if (showStats(data.stats) && data.stats.state) showState(data.stats.state); }
          else if (data.type === "state") showState(data.state);
          else if (data.type === "replies") {
            showReplies(data.counts, data.as_of);
            loadReplies();
          }
        }
      });
    }
    loadReplies();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("composer");
    if (form) initComposer(form);
    var dispatch = document.getElementById("dispatch");
    if (dispatch) initDispatch(dispatch);
  });
})();
