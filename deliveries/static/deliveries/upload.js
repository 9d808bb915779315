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

// Upload with a progress bar (deliveries/send.js). Without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData || !window.FlisSend) { return; }
  var box = document.getElementById("upload-errors");
  var progress = document.getElementById("upload-progress");
  // Both buttons post the same form; «Kontrollér uden at sende» only adds its name.
  var buttons = [document.getElementById("upload-submit"), document.getElementById("check-submit")]
    .filter(function (button) { return button; });
  var maxBytes = parseInt(form.dataset.maxBytes, 10);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    if (file && file.size > maxBytes) {
      window.FlisSend.showErrors(box, form.dataset.intro, [form.dataset.tooLarge]);
      return;
    }
    var data = new FormData(form);
    // FormData(form) leaves out the button that was pressed; the server needs to know which.
    if (event.submitter && event.submitter.name) {
      data.append(event.submitter.name, event.submitter.value);
    }
    window.FlisSend.post(form, data, {
      box: box,
      progress: progress,
      bar: progress.querySelector(".progress-bar"),
      text: document.getElementById("upload-progress-text"),
      disable: function (state) {
        buttons.forEach(function (button) { button.disabled = state; });
      },
    });
  });
})();
