// Shared by the upload form (upload.js) and Samlet upload (batch.js), loaded before them: a form
// posted with a progress bar (bytes and percent), then the server's redirect followed or its
// errors shown. Without JavaScript both forms post normally.
window.FlisSend = (function () {
  "use strict";

  function size(bytes) {
    var units = ["B", "KB", "MB", "GB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return bytes.toFixed(i ? 1 : 0).replace(".", ",") + " " + units[i];
  }

  // The errors stay on screen until the next attempt: nothing clears them on a timer. `earlier`
  // is the delivery a refusal was about ({href, text}), linked under the errors.
  function showErrors(box, intro, lines, earlier) {
    box.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = intro;
    var list = document.createElement("ul");
    list.className = "mb-0";
    lines.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    box.appendChild(strong);
    box.appendChild(list);
    if (earlier && earlier.href) {
      var link = document.createElement("a");
      link.id = "upload-earlier";
      link.href = earlier.href;
      link.textContent = earlier.text;
      box.appendChild(link);
    }
    box.classList.remove("d-none");
    box.scrollIntoView({ block: "nearest" });
  }

  // ui: the errors box, the progress element with its bar and text, and disable(state) for the
  // form's buttons.
  function post(form, data, ui) {
    ui.box.classList.add("d-none");
    ui.progress.classList.remove("d-none");
    ui.bar.style.width = "0%";
    ui.disable(true);
    function failed(lines, earlier) {
      ui.disable(false);
      ui.progress.classList.add("d-none");
      showErrors(ui.box, form.dataset.intro, lines, earlier);
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { ui.text.textContent = size(e.loaded); return; }
      var percent = Math.floor((e.loaded / e.total) * 100);
      ui.bar.style.width = percent + "%";
      ui.progress.setAttribute("aria-valuenow", String(percent));
      ui.text.textContent = size(e.loaded) + " / " + size(e.total) + " (" + percent + " %)";
    });
    xhr.addEventListener("load", function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (ignore) { answer = null; }
      if (xhr.status === 200 && answer && answer.redirect) {
        window.location.assign(answer.redirect);
        return;
      }
      failed(
        answer && answer.errors ? answer.errors : [form.dataset.failed + " (HTTP " + xhr.status + ")"],
        answer ? answer.earlier : null
      );
    });
    xhr.addEventListener("error", function () { failed([form.dataset.failed]); });
    xhr.send(data);
  }

  return { size: size, showErrors: showErrors, post: post };
})();
