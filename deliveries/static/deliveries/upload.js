// A filter box above a long list of routes: typing "aarhus skole" keeps the options whose
// kommune, area, system or environment hold every word. Without JavaScript the select stays
// whole; the server checks the choice either way.
(function () {
  "use strict";
  var select = document.getElementById("id_route");
  var minimum = 12; // a shorter list is read at a glance
  if (!select || select.options.length <= minimum) { return; }
  var box = document.createElement("input");
  box.type = "search";
  box.id = "route-filter";
  box.className = "form-control form-control-sm mb-1";
  box.placeholder = select.dataset.filterPlaceholder || "";
  box.setAttribute("aria-label", select.dataset.filterLabel || "");
  box.setAttribute("aria-controls", select.id);
  var none = document.createElement("div");
  none.className = "form-text text-danger d-none";
  none.setAttribute("aria-live", "polite");
  none.textContent = select.dataset.filterNone || "";
  select.parentNode.insertBefore(box, select);
  select.parentNode.insertBefore(none, select.nextSibling);

  function words(text) { return text.toLowerCase().split(/\s+/).filter(Boolean); }

  box.addEventListener("input", function () {
    var wanted = words(box.value);
    var shown = 0;
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      var groupShown = 0;
      Array.prototype.forEach.call(group.querySelectorAll("option"), function (option) {
        var said = (group.label + " " + option.text).toLowerCase();
        var match = wanted.every(function (word) { return said.indexOf(word) !== -1; });
        // The chosen route stays visible, so a filter never silently changes the choice.
        option.hidden = !match && !option.selected;
        if (!option.hidden) { groupShown += 1; }
      });
      group.hidden = groupShown === 0;
      shown += groupShown;
    });
    none.classList.toggle("d-none", shown > 0);
  });
})();

// Upload with a progress bar (bytes and percent). Without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var box = document.getElementById("upload-errors");
  var progress = document.getElementById("upload-progress");
  var bar = progress.querySelector(".progress-bar");
  var text = document.getElementById("upload-progress-text");
  // Both buttons post the same form; «Kontrollér uden at sende» only adds its name.
  var buttons = [document.getElementById("upload-submit"), document.getElementById("check-submit")]
    .filter(function (button) { return button; });

  function disable(state) {
    buttons.forEach(function (button) { button.disabled = state; });
  }
  var maxBytes = parseInt(form.dataset.maxBytes, 10);

  function size(bytes) {
    var units = ["B", "KB", "MB", "GB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return bytes.toFixed(i ? 1 : 0).replace(".", ",") + " " + units[i];
  }

  // The errors stay on screen until the next attempt: nothing clears them on a timer.
  function showErrors(lines, earlier) {
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

  form.addEventListener("submit", function (event) {
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    if (file && file.size > maxBytes) {
      event.preventDefault();
      showErrors([form.dataset.tooLarge]);
      return;
    }
    event.preventDefault();
    box.classList.add("d-none");
    progress.classList.remove("d-none");
    bar.style.width = "0%";
    disable(true);
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
      disable(false);
      progress.classList.add("d-none");
      showErrors(
        data && data.errors ? data.errors : [form.dataset.failed + " (HTTP " + xhr.status + ")"],
        data ? data.earlier : null
      );
    });
    xhr.addEventListener("error", function () {
      disable(false);
      progress.classList.add("d-none");
      showErrors([form.dataset.failed]);
    });
    var data = new FormData(form);
    // FormData(form) leaves out the button that was pressed; the server needs to know which.
    if (event.submitter && event.submitter.name) {
      data.append(event.submitter.name, event.submitter.value);
    }
    xhr.send(data);
  });
})();
