/* "Use my location" buttons: fill the latitude and longitude fields named by data-lat / data-lon. */
(function () {
  "use strict";
  if (!("geolocation" in navigator)) return;
  document.querySelectorAll("[data-geolocate]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        document.getElementById(button.dataset.lat).value = position.coords.latitude.toFixed(6);
        document.getElementById(button.dataset.lon).value = position.coords.longitude.toFixed(6);
        button.dispatchEvent(new CustomEvent("geolocated", { bubbles: true }));
      }, function () {
        button.textContent = button.dataset.textFailed || button.textContent;
      }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
    });
  });
})();
