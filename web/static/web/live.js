/* Live updates over WebSocket for every page: one connection per path, reconnecting with backoff.
   Usage: Live.connect("/ws/alerts/", { onMessage(data) {}, onOpen(socket) {}, status: element });
   The path may be a function, called at each (re)connection (a room asks for what it missed with ?after=).
   The returned object has send(obj) (queued until open) and close(). Pages stay readable without it. */
(function () {
  "use strict";
  function connect(path, options) {
    var opts = options || {};
    var socket = null, closed = false, delay = 500, queue = [];
    var status = opts.status || null;
    function setStatus(state) {
      if (!status) return;
      status.dataset.state = state;
      var text = status.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
      if (text) status.textContent = text;
    }
    function open() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + window.location.host + (typeof path === "function" ? path() : path));
      setStatus("connecting");
      socket.onopen = function () {
        delay = 500;
        setStatus("live");
        while (queue.length) socket.send(queue.shift());
        if (opts.onOpen) opts.onOpen(api);
      };
      socket.onmessage = function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        if (opts.onMessage) opts.onMessage(data, api);
      };
      socket.onclose = function (event) {
        if (closed) return;
        // 4401/4403: not signed in or not allowed; retrying will not change that.
        if (event.code === 4401 || event.code === 4403 || event.code === 4404) { setStatus("refused"); return; }
        setStatus("offline");
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }
    var api = {
      send: function (obj) {
        var text = JSON.stringify(obj);
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(text); else queue.push(text);
      },
      close: function () { closed = true; if (socket) socket.close(); }
    };
    open();
    return api;
  }
  window.Live = { connect: connect };
})();
