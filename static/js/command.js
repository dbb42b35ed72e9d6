// Small glue the browser needs: theme switching and Ctrl/Cmd+Enter to send a form.
(function () {
  "use strict";
  var root = document.documentElement;
  var stored = null;
  try { stored = localStorage.getItem("command-theme"); } catch (e) { /* private mode */ }
  if (stored === "light" || stored === "dark") root.dataset.theme = stored;

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-theme-toggle]");
    if (!toggle) return;
    var dark = root.dataset.theme ? root.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    try { localStorage.setItem("command-theme", root.dataset.theme); } catch (e) { /* ignore */ }
  });

  // Example requests on the landing page fill the prompt (and never send it by themselves).
  document.addEventListener("click", function (event) {
    var chip = event.target.closest("[data-fill-prompt]");
    if (!chip) return;
    var box = chip.form && chip.form.querySelector("textarea");
    if (box) { box.value = chip.dataset.fillPrompt; box.focus(); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.tagName === "TEXTAREA") {
      var form = event.target.form;
      if (form) { event.preventDefault(); form.requestSubmit(); }
    }
  });
})();

// The live workstream (DESIGN.md "Realtime delivery"): on every (re)connect tell the server the
// last row this page has for each run on screen, read from the DOM at that moment, so it replays
// exactly what was missed. While no socket is open, elements with
// hx-trigger="every 3s" data-poll-unless="socket" poll the same partials instead.
(function () {
  "use strict";
  window.commandSocketOpen = false;
  var socket = null;

  // htmx runs without eval (the Content-Security-Policy forbids it), so the two things it used to
  // evaluate live here. First, polls with a condition: data-poll-unless="socket" polls only while
  // no socket is open, data-poll-if="timeline-idle" only while the timeline is idle.
  document.addEventListener("htmx:confirm", function (event) {
    var data = event.detail.elt && event.detail.elt.dataset;
    if (!data) return;
    var skip = (data.pollUnless === "socket" && window.commandSocketOpen) ||
      (data.pollIf === "timeline-idle" && !(window.commandTimelineIdle && window.commandTimelineIdle()));
    if (skip) event.preventDefault();
  });
  // Second, cursors read from the page at request time: data-cursor-after="RUN" sends the last row's
  // seq as ?after=, data-cursor-before="RUN" the first row's as ?before=, data-rows-of="RUN" asks
  // for the run's card with the rows from the first one the page has.
  document.addEventListener("htmx:configRequest", function (event) {
    var data = event.detail.elt && event.detail.elt.dataset;
    if (!data) return;
    var params = event.detail.parameters;
    if (data.cursorAfter) params.after = window.commandLastSeq(data.cursorAfter);
    if (data.cursorBefore) params.before = window.commandFirstSeq(data.cursorBefore);
    if (data.rowsOf) {
      params.rows_of = data.rowsOf;
      params.rows_from = window.commandFirstSeq(data.rowsOf);
    }
  });

  window.commandLastSeq = function (runId) {
    var list = document.getElementById("workstream-" + runId);
    if (!list) return 0;
    var rows = list.querySelectorAll("[data-seq]");
    var last = 0;
    for (var i = 0; i < rows.length; i++) last = Math.max(last, parseInt(rows[i].dataset.seq, 10) || 0);
    return last;
  };

  // The first row the page has for a run: "Show earlier rows" asks for the rows before it.
  window.commandFirstSeq = function (runId) {
    var list = document.getElementById("workstream-" + runId);
    if (!list) return 0;
    var rows = list.querySelectorAll("[data-seq]");
    var first = 0;
    for (var i = 0; i < rows.length; i++) {
      var seq = parseInt(rows[i].dataset.seq, 10) || 0;
      if (seq && (!first || seq < first)) first = seq;
    }
    return first;
  };

  // Earlier rows are history, not news: the list stops announcing while they are prepended, and
  // focus goes to the control again (or, when nothing earlier is left, to the first row).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var runId = event.detail.elt && event.detail.elt.dataset && event.detail.elt.dataset.earlierRows;
    var list = runId && document.getElementById("workstream-" + runId);
    if (!list) return;
    list.setAttribute("aria-live", "off");
    list.dataset.rowsBefore = list.querySelectorAll("[data-seq]").length;
  });
  // One quiet sentence says how many earlier rows arrived, since the list itself stays silent.
  function announce(text) {
    var region = document.getElementById("earlier-announcer");
    if (!region) {
      region = document.createElement("div");
      region.id = "earlier-announcer";
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      document.body.appendChild(region);
    }
    region.textContent = text;
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    var list = event.detail.target;
    if (!list || !list.matches || !list.matches("[data-run-stream]")) return;
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!elt || !elt.dataset || !elt.dataset.earlierRows) return;
    list.setAttribute("aria-live", "polite");
    var added = list.querySelectorAll("[data-seq]").length - (parseInt(list.dataset.rowsBefore, 10) || 0);
    announce(added === 1 ? "1 earlier row shown." : added + " earlier rows shown.");
    var again = document.querySelector('[data-earlier-rows="' + list.dataset.runStream + '"]');
    var first = list.querySelector("[data-seq]");
    if (again) again.focus();
    else if (first) { first.setAttribute("tabindex", "-1"); first.focus(); }
  });

  function streams(root) {
    var found = [];
    (root || document).querySelectorAll("[data-run-stream]").forEach(function (el) {
      found.push({ run: parseInt(el.dataset.runStream, 10), after: window.commandLastSeq(el.dataset.runStream) });
    });
    return found;
  }

  function setStatus(text, state) {
    var el = document.querySelector("[data-live-status]");
    if (!el) return;
    el.textContent = text;
    el.dataset.state = state;
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    window.commandSocketOpen = true;
    socket.sendImmediately(JSON.stringify({
      type: "subscribe", runs: streams(document), switcher: !!document.querySelector("[data-switcher]")
    }));
    setStatus("Live", "open");
  });

  // The ws extension retries only after these close codes; any other close is final.
  var RETRIED = [1006, 1011, 1012, 1013];
  document.addEventListener("htmx:wsClose", function (event) {
    socket = null;
    window.commandSocketOpen = false;
    var code = event.detail && event.detail.event ? event.detail.event.code : 1006;
    setStatus(RETRIED.indexOf(code) >= 0
      ? "Reconnecting… this page checks every few seconds meanwhile"
      : "Live updates are off; this page checks every few seconds", "closed");
  });

  // Streams that arrive later (a run started while the page was open) are subscribed at once.
  document.addEventListener("htmx:load", function (event) {
    if (!socket || !event.detail.elt || !event.detail.elt.querySelectorAll) return;
    var elt = event.detail.elt;
    var found = elt.matches && elt.matches("[data-run-stream]")
      ? [{ run: parseInt(elt.dataset.runStream, 10), after: window.commandLastSeq(elt.dataset.runStream) }]
      : streams(elt);
    if (found.length) socket.sendImmediately(JSON.stringify({ type: "subscribe", runs: found }));
  });

  // Socket messages that are not HTML (pong, errors) are not swapped into the page.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail.message;
    if (typeof text === "string" && text.charAt(0) === "{") event.preventDefault();
  });

  // The right panel (diffs, revert previews): opens when something is loaded into it, and
  // collapses on narrow screens with its toggle.
  function panel(open) {
    var el = document.querySelector("[data-panel]");
    if (!el) return;
    el.classList.toggle("is-collapsed", !open);
    var toggle = el.querySelector("[data-panel-toggle]");
    if (toggle) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      toggle.textContent = open ? "Hide" : "Show";
    }
  }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-panel-toggle]");
    if (toggle) panel(toggle.getAttribute("aria-expanded") !== "true");
    var opener = event.target.closest("[data-open-panel]");
    if (opener) {
      document.querySelectorAll("[data-open-panel][aria-current]").forEach(function (el) { el.removeAttribute("aria-current"); });
      opener.setAttribute("aria-current", "true");
    }
  });
  // Esc inside the panel folds it and puts focus back on what opened it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest || !event.target.closest("[data-panel]")) return;
    panel(false);
    var opener = document.querySelector("[data-open-panel][aria-current]") || document.querySelector("[data-panel-toggle]");
    if (opener) opener.focus();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "diff-panel-body") {
      panel(true);
      event.detail.target.setAttribute("tabindex", "-1");
      event.detail.target.focus({ preventScroll: false });
    }
  });
})();

// The task record's newest timeline page refreshes itself while a run works, but never under the
// operator's hands: not while a replay is under way, nor while focus is inside the card.
window.commandTimelineIdle = function () {
  var card = document.getElementById("timeline");
  if (!card) return false;
  if (card.querySelector("[data-replay-list].is-replaying")) return false;
  return !card.contains(document.activeElement);
};

// Timeline replay on the task record: step through the recorded events in order.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-replay]");
    if (!button) return;
    var card = button.closest("section");
    var list = card && card.querySelector("[data-replay-list]");
    if (!list) return;
    var rows = Array.prototype.slice.call(list.querySelectorAll("[data-seq]"));
    var at = parseInt(list.dataset.replayAt || "-1", 10);
    var action = button.dataset.replay;
    if (action === "start") at = 0;
    else if (action === "next") at = Math.min(at + 1, rows.length - 1);
    else if (action === "prev") at = Math.max(at - 1, 0);
    else if (action === "all") at = -1;
    list.dataset.replayAt = String(at);
    list.classList.toggle("is-replaying", at >= 0);
    rows.forEach(function (row, i) {
      row.hidden = at >= 0 && i > at;
      row.classList.toggle("is-replay-current", i === at);
    });
    list.querySelectorAll("[data-replay-divider]").forEach(function (d) {
      var next = d.nextElementSibling;
      d.hidden = !!(next && next.hidden);
    });
    var controls = card.querySelector("[data-replay-controls]");
    controls.querySelector("[data-replay=prev]").disabled = at <= 0;
    controls.querySelector("[data-replay=next]").disabled = at < 0 || at >= rows.length - 1;
    controls.querySelector("[data-replay=all]").disabled = at < 0;
    var position = controls.querySelector("[data-replay-position]");
    // Positions are the event's place in the whole timeline, not just on this page.
    if (!position.dataset.summary) position.dataset.summary = position.textContent;
    var first = parseInt(list.dataset.replayFirst || "1", 10) || 1;
    var total = parseInt(list.dataset.replayTotal || String(rows.length), 10) || rows.length;
    if (at >= 0) {
      position.textContent = "Event " + (first + at).toLocaleString("en") + " of " + total.toLocaleString("en") + ": " +
        rows[at].querySelector(".wsr-title").textContent;
      rows[at].scrollIntoView({ block: "nearest" });
    } else {
      position.textContent = position.dataset.summary;
    }
  });

  // Another page of the timeline (or of the thread list) was loaded in place: focus its heading,
  // so keyboard and screen reader users continue from the top of the new page.
  var HEADINGS = { timeline: "timeline-title", threads: "recent-title" };
  document.addEventListener("htmx:afterSettle", function (event) {
    var card = event.detail.elt;
    var target = event.detail.target;
    var id = card && HEADINGS[card.id] ? card.id : target && HEADINGS[target.id] ? target.id : null;
    var heading = id && document.getElementById(HEADINGS[id]);
    if (heading) heading.focus();
  });
})();

// Loading and error states for in-page requests: the change panel shows that it is loading, and a
// failed request says so in the one message area (replacing, not stacking, earlier ones).
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "diff-panel-body") target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "diff-panel-body") target.removeAttribute("aria-busy");
  });
  function say(text) {
    var area = document.getElementById("messages");
    if (!area) return;
    area.innerHTML = "";
    var line = document.createElement("div");
    line.className = "message message-error";
    line.textContent = text;
    area.appendChild(line);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    say(status === 404
      ? "That is no longer available (it may belong to another account or have been removed)."
      : "That request failed (HTTP " + status + "). The page shows only what the server confirmed; try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    // Polling keeps trying on its own; say it once, calmly.
    say("Command cannot be reached right now. This page keeps trying.");
  });
})();

// A command is one workstream row: its output rows (data-terminal-for) are moved into the
// terminal pane of the row that started it, in order, and kept in the list hidden (their seq
// still counts for the socket's cursor). The pane follows the tail unless it was scrolled up.
// Where the command's row is not on the page (an earlier page), the output stays a row of its own.
(function () {
  "use strict";
  function merge(root) {
    var rows = (root || document).querySelectorAll("li[data-terminal-for]:not(.is-merged)");
    for (var i = 0; i < rows.length; i++) {
      var pane = document.getElementById(rows[i].dataset.terminalFor);
      var text = rows[i].querySelector(".wsr-output pre");
      if (!pane || !text) continue;
      var following = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 24;
      pane.appendChild(document.createTextNode(text.textContent));
      rows[i].classList.add("is-merged");
      rows[i].setAttribute("aria-hidden", "true");
      if (following) pane.scrollTop = pane.scrollHeight;
    }
  }
  document.addEventListener("DOMContentLoaded", function () { merge(document); });
  ["htmx:afterSettle", "htmx:oobAfterSwap", "htmx:wsAfterMessage", "htmx:afterSwap"].forEach(function (name) {
    document.addEventListener(name, function () { merge(document); });
  });
  window.commandMergeTerminals = merge;
})();
