// Follows the deliveries of a batch upload: each row's status badge and the batch's progress
// bar are refreshed from the status endpoint until every delivery has settled (hentet,
// afvist or fejlet), so the user never reloads by hand. While the files are being sent (a job
// on the queue), each row changes as it becomes a delivery or is refused.
(function () {
  "use strict";
  var box = document.getElementById("batch-follow");
  if (!box || !window.fetch) { return; }
  var url = box.dataset.statusUrl;
  var sending = box.dataset.sending === "1";
  var bar = box.querySelector(".progress-bar");
  var summary = document.getElementById("batch-summary");
  var template = document.getElementById("batch-summary-template").dataset.text;
  // The width is set here, not in a style attribute: the CSP (style-src 'self') blocks those.
  bar.style.width = (bar.dataset.percent || "0") + "%";

  // A row not made a delivery: the refusal, as the page renders it (a row drawn so by the
  // page already keeps its own list, which may say more).
  function showRefused(cell, file) {
    if (cell.querySelector('.badge[data-status="not_sent"]')) { return; }
    cell.textContent = "";
    var badge = document.createElement("span");
    badge.className = "badge text-bg-" + file.badge;
    badge.textContent = file.status_label;
    badge.dataset.status = file.status;
    cell.appendChild(badge);
    var list = document.createElement("ul");
    list.className = "mb-0 ps-3 small";
    var item = document.createElement("li");
    item.textContent = file.refusal;
    list.appendChild(item);
    cell.appendChild(list);
  }

  function show(data) {
    bar.style.width = data.percent + "%";
    summary.textContent = template.replace(/\{settled\}/g, data.settled)
      .replace(/\{sent\}/g, data.sent).replace(/\{total\}/g, data.total);
    data.files.forEach(function (file) {
      var cell = document.querySelector("#batch-file-" + file.id + " .batch-status");
      if (!cell) { return; }
      if (file.status === "not_sent") { showRefused(cell, file); return; }
      var badge = cell.querySelector(".badge");
      if (!badge) {
        badge = document.createElement("span");
        cell.textContent = "";
        cell.appendChild(badge);
      }
      badge.className = "badge text-bg-" + file.badge;
      badge.textContent = file.status_label;
      badge.dataset.status = file.status;
      // The «?» beside the badge explains the status it was rendered with: gone once that moves.
      var help = cell.querySelector(".help-link");
      if (help && help.dataset.for !== file.status) { help.remove(); }
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        show(data);
        // The send has finished (or stalled): the page is drawn again for its outcome, the
        // counts of deliveries made and files refused, and the way back to the preview.
        if (sending && !data.sending) { window.location.reload(); return; }
        if (data.working) { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  if (box.dataset.working === "1") { window.setTimeout(poll, 1000); }
})();
