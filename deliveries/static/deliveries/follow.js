// Follows a delivery that waits for others (push, platform, recipient): reloads the page as
// soon as its status changes, so the timeline shows each step without a manual reload.
(function () {
  "use strict";
  var box = document.getElementById("delivery-follow");
  if (!box || !window.fetch) { return; }
  var url = box.dataset.statusUrl;
  var shown = box.dataset.status;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.status !== shown) { window.location.reload(); return; }
        // The expected time moves on (next cron round, overdue) without a status change.
        var expectation = document.getElementById("delivery-expectation");
        if (expectation && data.expectation) {
          expectation.textContent = data.expectation;
          expectation.classList.toggle("alert", data.expectation_overdue);
          expectation.classList.toggle("alert-warning", data.expectation_overdue);
          expectation.classList.toggle("py-2", data.expectation_overdue);
        }
        window.setTimeout(poll, 3000);
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 3000);
})();
