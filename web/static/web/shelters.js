/* Shelters: "Use my location" fills the search form; the map shows the listed shelters coloured by free places;
   a shelter's page follows its free places live (signed in: websocket; otherwise a light refresh each minute). */
(function () {
  "use strict";

  function colour(item) {
    if (item.free === null || item.free === undefined) return "#6b7683";
    if (item.free <= 0 || item.status === "full" || item.status === "closed") return "#b00020";
    if (item.capacity && item.free / item.capacity < 0.2) return "#b26b00";
    return "#1d6b2f";
  }

  function drawMap() {
    var element = document.getElementById("shelters-map");
    var source = document.getElementById("shelters-data");
    if (!element || !source || !window.WebMap) return;
    var data = JSON.parse(source.textContent);
    var web = window.WebMap.create(element);
    var words = data.labels || {};
    var features = (data.shelters || []).map(function (item) {
      return { type: "Feature", geometry: { type: "Point", coordinates: [item.lon, item.lat] }, properties: item };
    });
    var layers = [];
    if (features.length) {
      layers.push(web.add({ type: "FeatureCollection", features: features }, function (feature) {
        var c = colour(feature.properties);
        return { color: c, fillColor: c, radius: 9 };
      }, function (feature) {
        var p = feature.properties;
        var free = p.free === null || p.free === undefined ? (words.unknown || "?") : (words.free || "") + ": " + p.free;
        return '<a href="' + web.escape(p.url) + '">' + web.escape(p.name) + "</a><br>" + web.escape(free);
      }));
    }
    if (data.point) {
      layers.push(web.add({ type: "Feature", geometry: { type: "Point", coordinates: [data.point[1], data.point[0]] },
        properties: { name: words.you || "" } }, { color: "#0f2a47", fillColor: "#ffffff", radius: 6 }));
    }
    if (layers.length) web.fit(layers);
    else web.ready.then(function () { web.fit(); });
  }

  function locate() {
    var button = document.getElementById("use-my-location");
    if (!button || !navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var form = button.closest("form");
      navigator.geolocation.getCurrentPosition(function (position) {
        form.querySelector('[name="lat"]').value = position.coords.latitude.toFixed(6);
        form.querySelector('[name="lon"]').value = position.coords.longitude.toFixed(6);
        ["street", "postcode", "q"].forEach(function (name) { form.querySelector('[name="' + name + '"]').value = ""; });
        form.submit();
      }, function () {
        button.textContent = button.dataset.textFailed || button.textContent;
      }, { timeout: 10000 });
    });
  }

  // A shelter's page ------------------------------------------------------------------------------------
  function setText(root, selector, value) {
    var node = root.querySelector(selector);
    if (node) node.textContent = value === null || value === undefined ? "?" : String(value);
  }

  function show(page, shelter) {
    if (!shelter || String(shelter.id) !== page.dataset.shelterId) return;
    var labels = {};
    var source = document.getElementById("shelter-status-labels");
    if (source) labels = JSON.parse(source.textContent);
    setText(page, "[data-free-places]", shelter.free_places);
    setText(page, "[data-occupancy]", shelter.occupancy);
    setText(page, "[data-capacity]", shelter.capacity);
    var meter = page.querySelector("[data-occupancy-meter]");
    if (meter) {
      if (shelter.capacity) meter.max = shelter.capacity;
      meter.value = shelter.occupancy;
      meter.textContent = shelter.occupancy + " / " + (shelter.capacity || "?");
    }
    var badge = page.querySelector("[data-status]");
    if (badge && shelter.status) {
      badge.classList.remove(badge.dataset.status);
      badge.dataset.status = shelter.status;
      badge.classList.add(shelter.status);
      badge.textContent = labels[shelter.status] || shelter.status;
    }
    var updated = page.querySelector("[data-updated]");
    if (updated && shelter.at) {
      updated.setAttribute("datetime", shelter.at);
      updated.textContent = new Date(shelter.at).toLocaleString(document.documentElement.lang || undefined);
    }
  }

  function follow(page) {
    if (page.dataset.liveUrl && window.Live) {
      var status = document.getElementById("shelter-live-status");
      if (status) status.hidden = false;
      window.Live.connect(page.dataset.liveUrl, {
        status: status,
        onMessage: function (data) { if (data && data.type === "shelter.updated") show(page, data.shelter); }
      });
    } else if (page.dataset.pollUrl && window.fetch && window.DOMParser) {
      // Not signed in: the live stream is for signed-in people; read the page again now and then instead.
      setInterval(function () {
        fetch(page.dataset.pollUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html) return;
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("shelter");
            if (!fresh) return;
            ["[data-free-places]", "[data-occupancy]", "[data-capacity]", "[data-updated]"].forEach(function (sel) {
              var a = page.querySelector(sel), b = fresh.querySelector(sel);
              if (a && b) a.textContent = b.textContent;
            });
            var badge = page.querySelector("[data-status]"), fresher = fresh.querySelector("[data-status]");
            if (badge && fresher) { badge.className = fresher.className; badge.dataset.status = fresher.dataset.status; badge.textContent = fresher.textContent; }
          }).catch(function () { /* try again next time */ });
      }, 60000);
    }
  }

  locate();
  drawMap();
  var page = document.getElementById("shelter");
  if (page) follow(page);
})();
