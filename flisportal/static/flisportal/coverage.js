// Dækning: the kommune search filters the overview and the table as one types. Without this
// script the search is an ordinary GET form field, filtered by the server on "Filtrér".
(function () {
  "use strict";
  var field = document.getElementById("id_search");
  var overview = document.getElementById("overview");
  if (!field || !overview) {
    return;
  }
  var rows = document.querySelectorAll("tr[data-kommune]");
  var regions = overview.querySelectorAll("[data-region]");
  var none = document.getElementById("overview-none");

  function matches(row, text) {
    var haystack = row.getAttribute("data-kommune");
    // A code is matched from its start ("7" finds 751 but not 147), as the server does.
    return haystack.indexOf(text) !== -1 && (!/^[0-9]+$/.test(text) || haystack.indexOf(text) === 0);
  }

  function apply() {
    var text = field.value.trim().toLowerCase().replace(/^0+(?=[0-9])/, "");
    rows.forEach(function (row) {
      row.hidden = text !== "" && !matches(row, text);
    });
    var shown = 0;
    regions.forEach(function (region) {
      var visible = region.querySelectorAll("tr[data-kommune]:not([hidden])").length;
      region.hidden = visible === 0;
      shown += visible;
    });
    if (none) {
      none.hidden = shown !== 0;
    }
  }

  field.addEventListener("input", apply);
})();
