// «Vælg alle» on the bulk status change: ticks or clears every route checkbox in the table.
// The box stays hidden without JavaScript, where each route is ticked by hand.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  if (!all) {
    return;
  }
  var boxes = document.querySelectorAll('input[name="routes"]');
  all.hidden = false;
  all.addEventListener("change", function () {
    boxes.forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
