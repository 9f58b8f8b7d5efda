// OpenNRM, screening of a worker: say when a draft is being saved, and when it could not be (no connection).
// htmx does the saving; without JavaScript the "Save the draft" button does it.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("screening-form");
    if (!form) { return; }
    function say(text, isError) {
      var status = document.querySelector("#conclusion-bar .save-status");
      if (!status) { return; }
      status.textContent = text;
      status.classList.toggle("save-error", !!isError);
    }
    form.addEventListener("htmx:beforeRequest", function () { say(form.dataset.saving, false); });
    form.addEventListener("htmx:sendError", function () { say(form.dataset.offline, true); });
    form.addEventListener("htmx:responseError", function () { say(form.dataset.offline, true); });
  });
})();
