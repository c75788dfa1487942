/* "Use my location" on the report form: fills the latitude and longitude fields from the browser's geolocation.
   Without JavaScript the button stays hidden and the fields are typed in. */
(function () {
  "use strict";
  var button = document.getElementById("report-locate");
  var status = document.getElementById("report-locate-status");
  var lat = document.getElementById("report-lat");
  var lon = document.getElementById("report-lon");
  var box = document.getElementById("report-locate-box");
  if (!button || !box || !lat || !lon || !("geolocation" in navigator)) return;
  box.hidden = false;
  function say(text) { if (status) status.textContent = text || ""; }
  button.addEventListener("click", function () {
    button.disabled = true;
    say(button.dataset.textWorking);
    navigator.geolocation.getCurrentPosition(
      function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lon.value = position.coords.longitude.toFixed(6);
        button.disabled = false;
        say(button.dataset.textDone);
      },
      function () {
        button.disabled = false;
        say(button.dataset.textFailed);
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();

/* Reports triage (console): the located reports on one small map; a marker links to its report on the page. */
(function () {
  "use strict";
  var element = document.getElementById("triage-map");
  var data = document.getElementById("triage-features");
  if (!element || !data || !window.WebMap) return;
  var features = JSON.parse(data.textContent);
  var web = WebMap.create(element);
  var colours = ["#51606f", "#b26b00", "#b3261e"];
  var layer = web.add(
    features,
    function (feature) {
      var colour = colours[(feature.properties && feature.properties.urgency) || 0] || colours[0];
      return { color: colour, fillColor: colour };
    },
    function (feature) {
      var link = document.createElement("a");
      link.href = "#report-" + feature.properties.id;
      link.textContent = feature.properties.name;
      return link;
    }
  );
  web.fit([layer]);
})();
