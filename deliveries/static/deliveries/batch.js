// Samlet upload: many files (or zips) chosen or dropped at once, sent with a progress bar.
// The limits are checked here before a byte is sent, and again by the server. Without
// JavaScript the form posts normally (choosing the files, not dropping them).
(function () {
  "use strict";
  var form = document.getElementById("batch-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
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

  function size(bytes) {
    var units = ["B", "KB", "MB", "GB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return bytes.toFixed(i ? 1 : 0).replace(".", ",") + " " + units[i];
  }

  function totalBytes(files) {
    var sum = 0;
    for (var i = 0; i < files.length; i += 1) { sum += files[i].size; }
    return sum;
  }

  // The errors stay on screen until the next attempt: nothing clears them on a timer.
  function showErrors(lines) {
    box.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = form.dataset.intro;
    var list = document.createElement("ul");
    list.className = "mb-0";
    lines.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    box.appendChild(strong);
    box.appendChild(list);
    box.classList.remove("d-none");
    box.scrollIntoView({ block: "nearest" });
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
    box.classList.add("d-none");
    progress.classList.remove("d-none");
    bar.style.width = "0%";
    submit.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { text.textContent = size(e.loaded); return; }
      var percent = Math.floor((e.loaded / e.total) * 100);
      bar.style.width = percent + "%";
      progress.setAttribute("aria-valuenow", String(percent));
      text.textContent = size(e.loaded) + " / " + size(e.total) + " (" + percent + " %)";
    });
    xhr.addEventListener("load", function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (ignore) { data = null; }
      if (xhr.status === 200 && data && data.redirect) {
        window.location.assign(data.redirect);
        return;
      }
      submit.disabled = false;
      progress.classList.add("d-none");
      showErrors(data && data.errors ? data.errors : [form.dataset.failed + " (HTTP " + xhr.status + ")"]);
    });
    xhr.addEventListener("error", function () {
      submit.disabled = false;
      progress.classList.add("d-none");
      showErrors([form.dataset.failed]);
    });
    xhr.send(new FormData(form));
  });
})();
