// Samlet upload: many files (or zips) chosen or dropped at once, sent with a progress bar.
// The limits are checked here before a byte is sent, and again by the server. Without
// JavaScript the form posts normally (choosing the files, not dropping them).
(function () {
  "use strict";
  var form = document.getElementById("batch-form");
  if (!form || !window.XMLHttpRequest || !window.FormData || !window.FlisSend) { return; }
  var input = document.getElementById("id_files");
  var drop = document.getElementById("batch-drop");
  var chosen = document.getElementById("batch-chosen");
  var box = document.getElementById("batch-errors");
  var progress = document.getElementById("batch-progress");
  var bar = progress.querySelector(".progress-bar");
  var text = document.getElementById("batch-progress-text");
  var submit = document.getElementById("batch-submit");
  var maxFiles = parseInt(form.dataset.maxFiles, 10);
  var maxBytes = parseInt(form.dataset.maxBytes, 10);

  var size = window.FlisSend.size;

  function totalBytes(files) {
    var sum = 0;
    for (var i = 0; i < files.length; i += 1) { sum += files[i].size; }
    return sum;
  }

  function showErrors(lines) {
    window.FlisSend.showErrors(box, form.dataset.intro, lines);
  }

  function describe() {
    var files = input.files || [];
    chosen.textContent = files.length ? files.length + " " + form.dataset.chosen + " · " + size(totalBytes(files)) : "";
  }

  input.addEventListener("change", describe);
  ["dragenter", "dragover"].forEach(function (name) {
    drop.addEventListener(name, function (event) {
      event.preventDefault();
      drop.classList.add("border-primary");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove("border-primary"); });
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      describe();
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = input.files || [];
    // A zip's members are counted by the server; here only the files themselves.
    if (files.length > maxFiles) { showErrors([form.dataset.tooMany]); return; }
    if (totalBytes(files) > maxBytes) { showErrors([form.dataset.tooLarge]); return; }
    window.FlisSend.post(form, new FormData(form), {
      box: box,
      progress: progress,
      bar: bar,
      text: text,
      disable: function (state) { submit.disabled = state; },
    });
  });
})();
