// Small behaviours every page shares; no inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  // htmx requests carry the session's CSRF token like forms do.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });
  // Forms marked data-confirm ask before they submit (deletes, deactivations).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
})();
