/* A room, live: the resident page and the console's panel share this file. The server-rendered page is complete
   without it; here every form marked data-frame is sent as a frame of the room's WebSocket protocol (docs/rooms.md)
   while the socket is open (otherwise it posts as usual), and each event the room sends updates the page in place.
   Items arriving live are clones of the page's own <template> elements, filled with textContent only. */
(function () {
  "use strict";
  var root = document.getElementById("room");
  if (!root || !window.Live) return;
  var me = parseInt(root.dataset.user, 10);
  var staff = root.dataset.staff === "1";
  var names = {};
  var namesEl = document.getElementById("room-names");
  if (namesEl) { try { names = JSON.parse(namesEl.textContent); } catch (e) { names = {}; } }
  var statusEl = document.getElementById("room-live");
  var feedback = document.getElementById("room-feedback");
  var pending = {};  // ref -> form waiting for its ack
  // The newest event applied: every (re)connection asks for what came after it, so nothing is missed.
  var lastId = parseInt(root.dataset.after, 10) || 0;
  var applied = {};  // event ids already applied: a `catchup` sent while connected may overlap live events
  var nextRef = 0;

  function list(name) { return root.querySelector('[data-list="' + name + '"]'); }
  function byId(id) { return document.getElementById(id); }
  function field(el, name) { return el.querySelector('[data-field="' + name + '"]'); }
  function setText(el, name, text) { var f = field(el, name); if (f) f.textContent = text; }
  function who(userId) {
    if (userId === null || userId === undefined) return root.dataset.textService;
    if (userId === me) return root.dataset.textYou;
    return names[String(userId)] || root.dataset.textParticipant.replace("%(id)s", String(userId));
  }
  function clone(name) {
    var tpl = byId("tpl-" + name);
    return tpl.content.firstElementChild.cloneNode(true);
  }
  function fixIds(el, id) {
    // Labels in the template point at ids ending in "-new": make them unique for this item.
    el.querySelectorAll('[id$="-new"]').forEach(function (x) { x.id = x.id.replace(/-new$/, "-" + id); });
    el.querySelectorAll('label[for$="-new"]').forEach(function (x) { x.htmlFor = x.htmlFor.replace(/-new$/, "-" + id); });
  }
  function setInput(el, name, value) {
    el.querySelectorAll('input[name="' + name + '"][type="hidden"]').forEach(function (i) { i.value = value; });
  }
  function say(text, isError) {
    if (!feedback) return;
    feedback.textContent = text;
    feedback.classList.toggle("error", !!isError);
  }

  // --- messages and questions -------------------------------------------------------------------------------

  function fillMessage(el, data) {
    el.id = "m-" + data.message_id;
    el.dataset.id = data.message_id;
    setText(el, "who", who(data.author_id));
    setText(el, "body", data.body);
    var time = field(el, "time");
    if (time && data.created_at) {
      time.dateTime = data.created_at;
      var d = new Date(data.created_at);
      time.textContent = ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
    }
    setInput(el, "message_id", data.message_id);
    fixIds(el, data.message_id);
    return el;
  }

  function placeQuestion(data) {
    var old = byId("m-" + data.message_id);
    var state = data.question_state;
    var target = state === "pending" ? "pending" : state === "answered" ? "answered" : state === "open" ? "questions" : null;
    if (old && old.closest('[data-list="chat"], [data-list="official"]')) old = null;
    var el = old || fillMessage(clone("question"), data);
    if (!old) {
      setInput(el, "question_id", data.message_id);
      el.dataset.author = data.author_id === null ? "" : String(data.author_id);
      if (data.author_id === me) { var up = el.querySelector(".upvote-form"); if (up) up.remove(); }
    }
    if (typeof data.votes === "number") { el.dataset.votes = data.votes; setText(el, "votes", data.votes); }
    if (!target) { el.remove(); return; }
    el.dataset.state = state;
    var dest = list(target);
    if (!dest) { el.remove(); return; }
    if (el.parentNode !== dest) dest.appendChild(el);
    if (target === "questions") sortQuestions();
  }

  function sortQuestions() {
    var dest = list("questions");
    if (!dest) return;
    var items = Array.prototype.slice.call(dest.children);
    items.sort(function (a, b) { return (parseInt(b.dataset.votes, 10) || 0) - (parseInt(a.dataset.votes, 10) || 0); });
    items.forEach(function (item) { dest.appendChild(item); });
  }

  function placeAnswer(data) {
    if (byId("m-" + data.message_id)) return;
    var question = byId("m-" + data.answers_id);
    var el = fillMessage(clone("answer"), data);
    if (question) { field(question, "answers").appendChild(el); }
  }

  function placeMessage(data) {
    if (data.kind === "question") { placeQuestion(data); return; }
    if (data.kind === "answer") { placeAnswer(data); return; }
    var old = byId("m-" + data.message_id);
    if (old) { setText(old, "body", data.body); return; }
    var official = data.kind !== "chat";
    var dest = list(official ? "official" : "chat");
    if (!dest) return;
    var el = fillMessage(clone("message"), data);
    el.className = "msg msg-" + data.kind;
    var badge = field(el, "kind");
    if (badge) {
      if (official) badge.textContent = (root.dataset["textKind" + data.kind.charAt(0).toUpperCase() + data.kind.slice(1)] || data.kind);
      else if (badge.previousSibling) { badge.previousSibling.remove(); badge.remove(); }
    }
    if (official) { var hide = el.querySelector(".hide-form"); if (hide) hide.remove(); }
    if (data.supersedes_id) { var prev = byId("m-" + data.supersedes_id); if (prev) prev.remove(); }
    if (official) dest.insertBefore(el, dest.firstChild); else { dest.appendChild(el); dest.scrollTop = dest.scrollHeight; }
  }

  // --- polls ------------------------------------------------------------------------------------------------

  function placePoll(data) {
    if (byId("poll-" + data.poll_id)) return;
    var dest = list("polls");
    if (!dest) return;
    var el = clone("poll");
    el.id = "poll-" + data.poll_id;
    el.dataset.id = data.poll_id;
    el.dataset.closed = "0";
    el.dataset.voted = "0";
    el.querySelectorAll('[data-field="question"]').forEach(function (q) { q.textContent = data.question; });
    setInput(el, "poll_id", data.poll_id);
    var options = field(el, "options"), choices = field(el, "choices");
    data.choices.forEach(function (label, index) {
      var li = clone("poll-option");
      li.dataset.index = index;
      setText(li, "label", label);
      options.appendChild(li);
      if (choices) {
        var choice = clone("poll-choice");
        choice.querySelector("input").value = index;
        choice.querySelector("input").type = data.multiple ? "checkbox" : "radio";
        if (data.multiple) choice.querySelector("input").required = false;
        setText(choice, "label", label);
        choices.appendChild(choice);
      }
    });
    dest.insertBefore(el, dest.firstChild);
  }

  function setResults(pollId, results) {
    var el = byId("poll-" + pollId);
    if (!el || !results) return null;
    el.querySelectorAll("[data-field=options] > li").forEach(function (li) {
      var n = results[parseInt(li.dataset.index, 10)];
      if (typeof n === "number") setText(li, "count", n);
    });
    return el;
  }

  // --- hands ------------------------------------------------------------------------------------------------

  function setHand(userId, state) {
    if (userId === me && !staff) root.dataset.hand = state;
    var dest = list("hands");
    if (!dest) return;
    var el = byId("hand-" + userId);
    if (state === "lowered") { if (el) el.remove(); return; }
    if (!el) {
      el = clone("hand");
      el.id = "hand-" + userId;
      setText(el, "who", who(userId));
      setInput(el, "user_id", userId);
      el.classList.add("card");
      dest.appendChild(el);
    }
    el.dataset.state = state;
  }

  // --- members (the panel) ---------------------------------------------------------------------------------

  function setMember(userId, state, role) {
    var dest = list("members");
    if (!dest) return;
    var el = byId("member-" + userId);
    if (!el) {
      if (state !== "present") return;
      el = clone("member");
      el.id = "member-" + userId;
      setText(el, "who", who(userId));
      setInput(el, "user_id", userId);
      fixIds(el, userId);
      dest.insertBefore(el, dest.firstChild);
    }
    if (state) el.dataset.state = state;
    if (role) setText(el, "role", root.dataset["textRole" + role.charAt(0).toUpperCase() + role.slice(1)] || role);
  }

  // --- events -----------------------------------------------------------------------------------------------

  var handlers = {
    "message.posted": placeMessage,
    "message.unhidden": placeMessage,
    "question.approved": placeQuestion,
    "message.hidden": function (d) {
      [d.message_id].concat(d.version_ids || []).forEach(function (id) { var el = byId("m-" + id); if (el) el.remove(); });
    },
    "question.voted": function (d) {
      var el = byId("m-" + d.message_id);
      if (!el) return;
      el.dataset.votes = d.votes;
      setText(el, "votes", d.votes);
      sortQuestions();
    },
    "question.answered": function (d) {
      var el = byId("m-" + d.message_id);
      if (!el) return;
      el.dataset.state = "answered";
      var dest = list("answered");
      if (dest && el.parentNode !== dest) dest.insertBefore(el, dest.firstChild);
    },
    "question.rejected": function (d) {
      var el = byId("m-" + d.message_id);
      if (el) el.remove();
      if (d.subject_id === me && root.dataset.textRejected) say(root.dataset.textRejected + " " + (d.reason || ""), true);
    },
    "member.joined": function (d) { setMember(d.subject_id, "present", d.role); },
    "member.left": function (d) { setMember(d.subject_id, "left"); },
    "member.banned": function (d) { setMember(d.subject_id, "banned"); },
    "member.unbanned": function (d) { setMember(d.subject_id, "present"); },
    "member.role_changed": function (d) { setMember(d.subject_id, null, d.role); },
    "member.muted": function (d) {
      setMember(d.subject_id, "muted");
      if (d.subject_id === me && root.dataset.textMuted) say(root.dataset.textMuted + " " + (d.reason || ""), true);
    },
    "member.unmuted": function (d) {
      setMember(d.subject_id, "present");
      if (d.subject_id === me && root.dataset.textUnmuted) say(root.dataset.textUnmuted, false);
    },
    "hand.raised": function (d) { setHand(d.user_id, "raised"); },
    "hand.granted": function (d) { setHand(d.user_id, "granted"); },
    "hand.lowered": function (d) { setHand(d.user_id, "lowered"); },
    "hand.revoked": function (d) { setHand(d.user_id, "lowered"); },
    "poll.opened": placePoll,
    "poll.voted": function (d) { setResults(d.poll_id, d.results); },
    "poll.closed": function (d) { var el = setResults(d.poll_id, d.results); if (el) el.dataset.closed = "1"; }
  };

  function onMessage(frame, api) {
    if (frame.type === "event") {
      if (applied[frame.id]) return;
      applied[frame.id] = true;
      if (frame.id > lastId) lastId = frame.id;
      var handle = handlers[frame.event];
      if (handle) handle(frame.data || {});
    } else if (frame.type === "ack") {
      var form = pending[frame.ref];
      delete pending[frame.ref];
      if (!form) return;
      acknowledged(form, frame);
    } else if (frame.type === "catchup.done") {
      if (frame.more) api.send({ type: "catchup", after: lastId });
    } else if (frame.type === "error") {
      if (frame.ref !== null && frame.ref !== undefined) delete pending[frame.ref];
      say(frame.message, true);
    }
  }

  function acknowledged(form, frame) {
    var action = frame.action;
    if (action === "poll.vote") {
      var poll = form.closest(".poll");
      if (poll) { poll.dataset.voted = "1"; setResults(poll.dataset.id, frame.result.results); }
    }
    if (action === "question.ask" && root.dataset.premoderated === "1" && root.dataset.textPending) {
      say(root.dataset.textPending, false);
    } else {
      say(root.dataset.textSent, false);
    }
    form.querySelectorAll("textarea, input:not([type=hidden]):not([type=checkbox]):not([type=number])")
      .forEach(function (input) { if (input.type !== "radio") input.value = ""; else input.checked = false; });
  }

  // --- forms as frames --------------------------------------------------------------------------------------

  function frameOf(form) {
    var frame = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      var name = input.name;
      if (!name || name === "csrfmiddlewaretoken" || input.disabled) return;
      var type = input.dataset.type || "text";
      var target = frame;
      if (input.dataset.nest) { frame[input.dataset.nest] = frame[input.dataset.nest] || {}; target = frame[input.dataset.nest]; }
      if (name === "action") { frame.type = input.value; return; }
      if (type === "bool") { target[name] = input.checked; return; }
      if (type === "intlist") {
        target[name] = target[name] || [];
        if (input.checked) target[name].push(parseInt(input.value, 10));
        return;
      }
      if (type === "int") { var n = parseInt(input.value, 10); target[name] = isNaN(n) ? input.value : n; return; }
      if (type === "lines") {
        target[name] = input.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
        return;
      }
      target[name] = input.value;
    });
    return frame;
  }

  var live = null;
  root.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-frame") || !live || !statusEl || statusEl.dataset.state !== "live") return;
    event.preventDefault();
    var frame = frameOf(form);
    nextRef += 1;
    frame.ref = "f" + nextRef;
    pending[frame.ref] = form;
    say("", false);
    live.send(frame);
  });

  // Each (re)connection names the newest event applied (?after=): the server then sends what came after it from the
  // record before any live event, each once (docs/rooms.md, "Reconnecting and catch-up"). A `catchup` frame sent
  // once open would race the live events: some arrived twice, and before older ones.
  live = window.Live.connect(function () { return root.dataset.ws + "?after=" + lastId; }, {
    status: statusEl,
    onMessage: onMessage
  });
})();
