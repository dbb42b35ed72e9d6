// Workspace page glue: Ctrl/Cmd+S saves the editor; forms with data-confirm ask first.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      var form = event.target.closest && event.target.closest("form[data-editor]");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
    }
  });
  // A save in the editor changed the folder: the site preview shows the file as saved.
  document.body.addEventListener("workspace-saved", function () {
    document.querySelectorAll(".ws-preview-frame").forEach(function (frame) {
      frame.src = frame.src;
    });
  });
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  }, true);
})();
