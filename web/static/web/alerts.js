/* A resident's alerts: new alerts arrive over the websocket and are put on top of the list without a reload;
   "I'm safe" / "I need help" are sent with fetch (the same form works without JavaScript); the detail page
   draws the alert's area on the map. Every word shown comes from the page (translated there). */
(function () {
  "use strict";

  function labels() {
    var node = document.getElementById("alert-labels");
    if (!node) return {};
    try { return JSON.parse(node.textContent); } catch (e) { return {}; }
  }

  function cardFor(id) {
    return document.querySelector('article.alert-card[data-alert-id="' + id + '"]');
  }

  function inList(list, id) {
    return list.querySelector('article.alert-card[data-alert-id="' + id + '"]');
  }

  // Answers ----------------------------------------------------------------------------------------------
  function showStatus(card, text, failed) {
    var status = card.querySelector(".reply-status");
    if (!status) return;
    status.textContent = text;
    status.hidden = false;
    status.classList.toggle("error", !!failed);
  }

  function sendReply(form, kind) {
    var card = form.closest("article.alert-card");
    var data = new FormData(form);
    data.set("kind", kind);
    var words = labels();
    if (words.sending) showStatus(card, words.sending, false);
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") || "" }
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (result.ok) showStatus(card, result.body.status, false);
      else showStatus(card, result.body.error || words.failed || "", true);
    }).catch(function () {
      showStatus(card, words.failed || "", true);
    }).then(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = false; });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-reply-form]") || !window.fetch) return;
    var submitter = event.submitter;
    if (!submitter || submitter.name !== "kind") return;
    event.preventDefault();
    sendReply(form, submitter.value);
  });

  function enableLocate(root) {
    if (!navigator.geolocation) return;
    Array.prototype.forEach.call(root.querySelectorAll("[data-locate]"), function (button) {
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var form = button.closest("form");
        navigator.geolocation.getCurrentPosition(function (position) {
          form.querySelector('[name="lat"]').value = position.coords.latitude.toFixed(6);
          form.querySelector('[name="lon"]').value = position.coords.longitude.toFixed(6);
        }, function () { /* the fields stay for typing */ }, { timeout: 10000 });
      });
    });
  }

  // Live arrivals --------------------------------------------------------------------------------------
  function fromTemplate(data, list) {
    var template = document.getElementById("alert-card-template");
    if (!template) return null;
    var words = labels();
    var card = template.content.firstElementChild.cloneNode(true);
    var cardUrl = list.dataset.cardUrl || "";
    card.dataset.alertId = String(data.alert_id);
    var severity = String(data.severity || "").toLowerCase();
    if (severity) card.classList.add(severity);
    function slot(name) { return card.querySelector('[data-slot="' + name + '"]'); }
    var headline = slot("headline");
    headline.textContent = data.headline || data.event || "";
    headline.href = cardUrl.replace(/\/0\/card\/$/, "/" + data.alert_id + "/");
    if (data.language) {
      ["headline", "event", "description", "instruction"].forEach(function (name) {
        var node = slot(name);
        (name === "headline" ? node.closest("h2") : node).setAttribute("lang", data.language);
      });
    }
    var kind = slot("kind");
    if (data.msg_type === "Update" || data.msg_type === "Cancel") {
      kind.textContent = data.msg_type === "Update" ? words.update : words.cancel;
      kind.hidden = false;
    }
    var severityBadge = slot("severity");
    severityBadge.textContent = (words.severity || {})[data.severity] || data.severity || "";
    if (severity) severityBadge.classList.add(severity);
    slot("urgency").textContent = (words.urgency || {})[data.urgency] || data.urgency || "";
    slot("event").textContent = data.event || "";
    slot("description").textContent = data.description || "";
    var instruction = slot("instruction");
    if (data.instruction) instruction.textContent = data.instruction;
    else instruction.closest("p").remove();
    if (data.expires) {
      var expires = slot("expires");
      expires.setAttribute("datetime", data.expires);
      expires.textContent = new Date(data.expires).toLocaleString(document.documentElement.lang || undefined);
      slot("expires-label").hidden = false;
    }
    var form = card.querySelector("form[data-reply-form]");
    // Read the attribute: the template's own document has no base URL to resolve `form.action` against.
    form.setAttribute("action", form.getAttribute("action").replace(/\/0\/reply\/$/, "/" + data.alert_id + "/reply/"));
    if (data.msg_type === "Cancel") form.remove();
    return card;
  }

  function markReplaced(card) {
    var older = card.dataset.supersedesId ? cardFor(card.dataset.supersedesId) : null;
    if (!older || older.classList.contains("closed")) return;
    var words = labels();
    older.classList.add("closed");
    var badge = document.createElement("span");
    badge.className = "badge state";
    badge.textContent = card.dataset.msgType === "Cancel" ? words.cancel : words.replaced;
    var meta = older.querySelector(".alert-meta");
    if (meta) meta.insertBefore(badge, meta.firstChild);
    var form = older.querySelector("form[data-reply-form]");
    if (form) form.remove();
  }

  function insert(list, card) {
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    list.insertBefore(card, list.firstElementChild);
    enableLocate(card);
    markReplaced(card);
  }

  function arrive(list, data) {
    var id = data.alert_id;
    if (typeof id !== "number" || inList(list, id)) return;
    var url = (list.dataset.cardUrl || "").replace(/\/0\/card\/$/, "/" + id + "/card/");
    // The server renders the card as the list does (the reader's language, their answer); the message itself
    // is the fallback when that fetch fails.
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.text();
    }).then(function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var card = holder.querySelector("article.alert-card");
      if (!card) throw new Error("no card");
      return card;
    }).catch(function () {
      return fromTemplate(data, list);
    }).then(function (card) {
      if (card && !inList(list, id)) insert(list, card);
    });
  }

  function live(list) {
    if (!window.Live) return;
    var status = document.getElementById("alerts-live-status");
    if (status) status.hidden = false;
    // The newest delivery applied (at first, the newest the page was rendered with): every (re)connection asks for
    // what was sent after it (?after=), and names the ones below it it has (&have=): an older alert's delivery may
    // be sent after a newer one's, so alerts sent while the connection was down are not missed (docs/alerts.md).
    var lastId = parseInt(list.dataset.after, 10) || 0;
    var applied = {};  // delivery ids applied (or rendered with the page): a repeat is shown once
    (list.dataset.have || "").split(",").forEach(function (text) {
      var id = parseInt(text, 10);
      if (id > 0) applied[id] = true;
    });
    function path() {
      var have = Object.keys(applied).map(Number).filter(function (id) { return id < lastId; });
      have.sort(function (a, b) { return a - b; });
      have = have.slice(-20);
      return list.dataset.liveUrl + "?after=" + lastId + (have.length ? "&have=" + have.join(",") : "");
    }
    window.Live.connect(path, {
      status: status,
      onMessage: function (data) {
        if (data && data.type === "catchup.done" && data.truncated) {
          // More was sent while the page was away than the catch-up replays (the newest 100): a reload shows it all.
          var note = document.getElementById("alerts-catchup-truncated");
          if (note) note.hidden = false;
          return;
        }
        if (!data || data.type !== "alert") return;
        var id = data.delivery_id;
        if (typeof id === "number") {
          if (applied[id]) return;
          applied[id] = true;
          if (id > lastId) lastId = id;
        }
        arrive(list, data);
      }
    });
  }

  // The detail page's map ------------------------------------------------------------------------------
  function areaMap() {
    var element = document.getElementById("alert-map");
    var source = document.getElementById("alert-geometry");
    if (!element || !source || !window.WebMap) return;
    var geometry = JSON.parse(source.textContent);
    var web = window.WebMap.create(element);
    var area = web.add({ type: "Feature", geometry: geometry, properties: {} },
      { color: "#b00020", weight: 2, fillColor: "#b00020", fillOpacity: 0.2 });
    web.fit([area]);
    element.dataset.drawn = "1";
  }

  enableLocate(document);
  var list = document.getElementById("alert-list");
  if (list && list.dataset.liveUrl) live(list);
  areaMap();
})();
