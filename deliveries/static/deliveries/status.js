// Refreshes the progress of a delivery a worker is busy with; reloads when it is done.
(function () {
  "use strict";
  var box = document.getElementById("delivery-progress");
  if (!box || !window.fetch) { return; }
  var url = box.dataset.statusUrl;
  var bar = box.querySelector(".progress-bar");
  var text = box.querySelector(".progress-text");
  // The width is set here, not in a style attribute: the CSP (style-src 'self') blocks those.
  bar.style.width = (bar.dataset.percent || "0") + "%";
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.working) { window.location.reload(); return; }
        if (data.status === "pushing") {
          // Rows mean nothing while the file travels; the server's text says what happens.
          bar.style.width = "100%";
          text.textContent = data.status_text;
          window.setTimeout(poll, 2000);
          return;
        }
        bar.style.width = data.progress_percent + "%";
        text.textContent = data.status_label + " · " + data.rows_checked.toLocaleString("da-DK") +
          (data.rows_total ? " / " + data.rows_total.toLocaleString("da-DK") : "") +
          " · " + data.progress_percent + " %";
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
