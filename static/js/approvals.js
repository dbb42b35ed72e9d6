// The approval dialog from the keyboard: focus lands on the decision, Esc closes "refine",
// Ctrl/Cmd+Enter in the refine box sends it as a refine (not as a bare form submit).
(function () {
  "use strict";

  function focusDialog(root) {
    var dialog = root.matches && root.matches("[data-approval-dialog]") ? root : root.querySelector("[data-approval-dialog]");
    if (!dialog) return;
    var target = dialog.querySelector("[data-approval-error]") || dialog.querySelector("[data-autofocus]") || dialog;
    target.focus();
  }

  document.addEventListener("DOMContentLoaded", function () { focusDialog(document); });
  document.addEventListener("htmx:afterSwap", function (event) { focusDialog(event.detail.elt || document); });
  document.addEventListener("htmx:load", function (event) {
    if (event.detail.elt && event.detail.elt.matches && event.detail.elt.matches("[data-approval-dialog]")) focusDialog(event.detail.elt);
  });

  // Capture phase: runs before command.js's generic Ctrl+Enter, which would submit without a decision.
  document.addEventListener("keydown", function (event) {
    var dialog = event.target.closest && event.target.closest("[data-approval-dialog]");
    if (!dialog) return;
    var refine = dialog.querySelector("[data-approval-refine]");
    if (event.key === "Escape" && refine && refine.open) {
      event.preventDefault();
      refine.open = false;
      refine.querySelector("summary").focus();
      return;
    }
    if (event.key === "Escape") {
      var later = dialog.querySelector("[data-approval-later]");
      if (later) { event.preventDefault(); later.focus(); }
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && refine && refine.contains(event.target)) {
      event.preventDefault();
      event.stopPropagation();
      // A click (not requestSubmit) so htmx records which button decided, as it does for a mouse.
      var send = refine.querySelector("[data-approval-refine-submit]");
      if (send) send.click();
    }
  }, true);

  document.addEventListener("toggle", function (event) {
    var refine = event.target;
    if (refine.matches && refine.matches("[data-approval-refine]") && refine.open) {
      var box = refine.querySelector("textarea");
      if (box) box.focus();
    }
  }, true);
})();
