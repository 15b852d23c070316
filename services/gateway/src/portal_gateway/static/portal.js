// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Move focus to the error summary so screen-reader and keyboard users hear what went wrong.
  var summary = document.querySelector("[data-focus]");
  if (summary) { summary.focus(); }

  // A just-saved change: ask the API until upstream settles it, then show the final page.
  var change = document.querySelector("[data-change-id]");
  if (change && change.getAttribute("data-change-status") === "pending" && window.fetch) {
    var id = encodeURIComponent(change.getAttribute("data-change-id"));
    var tries = 0;
    var poll = function () {
      tries += 1;
      fetch("/api/portal/v1/changes/" + id, { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (item) {
          if (item && item.status && item.status !== "pending") { window.location.reload(); return; }
          if (tries < 40) { window.setTimeout(poll, 1500); }
        })
        .catch(function () { if (tries < 40) { window.setTimeout(poll, 3000); } });
    };
    window.setTimeout(poll, 1000);
  }
})();
