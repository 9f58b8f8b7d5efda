// OpenNRM: small progressive enhancements. Every page works without JavaScript.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // Switch language as soon as one is chosen (the button stays for keyboard and no-script users).
    var select = document.getElementById("language-select");
    if (select && select.form) {
      select.addEventListener("change", function () { select.form.submit(); });
    }
    // Move focus to the first error so screen-reader and keyboard users land on what needs fixing.
    var firstError = document.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (firstError) { firstError.focus(); }
  });
})();
