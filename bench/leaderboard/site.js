(function () {
  function key(cell, numeric) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (!numeric) { return raw.toLowerCase(); }
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, column) {
      if (!th.hasAttribute("data-type")) { return; }
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.getAttribute("data-type") === "num";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).map(function (row, position) {
          return { row: row, key: key(row.cells[column], numeric), position: position };
        });
        rows.sort(function (a, b) {
          if (a.key === b.key) { return a.position - b.position; }
          if (a.key === null) { return 1; }
          if (b.key === null) { return -1; }
          var order = a.key < b.key ? -1 : 1;
          return ascending ? order : -order;
        });
        rows.forEach(function (item) { body.appendChild(item.row); });
      }
      th.tabIndex = 0;
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  });

  // Filters: a row is shown when it matches every chosen value of the attributes it has
  // (data-env, data-family, data-prior); sorting moves rows and leaves them hidden or shown.
  var filters = document.querySelectorAll("select[data-filter]");
  var count = document.getElementById("filter-count");
  function applyFilters() {
    var chosen = [];
    Array.prototype.forEach.call(filters, function (select) {
      if (select.value !== "") { chosen.push([select.getAttribute("data-filter"), select.value]); }
    });
    Array.prototype.forEach.call(document.querySelectorAll("table.filterable"), function (table) {
      var shown = 0;
      var rows = table.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function (row) {
        var match = chosen.every(function (pair) {
          var value = row.getAttribute("data-" + pair[0]);
          return value === null || value === pair[1];
        });
        row.hidden = !match;
        if (match) { shown += 1; }
      });
      if (table.id === "leaderboard" && count) {
        count.textContent = chosen.length ? shown + " of " + rows.length + " rows" : "";
      }
    });
  }
  Array.prototype.forEach.call(filters, function (select) {
    select.addEventListener("change", applyFilters);
  });
  applyFilters();

  // On a phone a wide table shows its first columns; "more columns" shows the others (the
  // table then scrolls inside its box, the agent column staying in view).
  Array.prototype.forEach.call(document.querySelectorAll("button.more-columns"), function (button) {
    var wrap = document.getElementById(button.getAttribute("aria-controls"));
    button.addEventListener("click", function () {
      var all = wrap.classList.toggle("all-columns");
      button.setAttribute("aria-expanded", all ? "true" : "false");
      button.textContent = all ? "fewer columns" : "more columns";
    });
  });

  // A link to a row or section (#row-…, #cost) opens the folds around it, and clears the
  // filters when they hide it, so that the browser can scroll to it.
  function reveal(hash) {
    var id;
    try { id = decodeURIComponent(hash.replace(/^#/, "")); } catch (error) { return null; }
    var target = id ? document.getElementById(id) : null;
    if (!target) { return null; }
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS" && !node.classList.contains("prov")) { node.open = true; }
    }
    if (target.hidden) {
      Array.prototype.forEach.call(filters, function (select) { select.value = ""; });
      applyFilters();
    }
    return target;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest('a[href^="#"]') : null;
    if (link) { reveal(link.getAttribute("href")); }
  });
  function followHash() {
    var target = reveal(window.location.hash);
    if (target) { target.scrollIntoView(); }
  }
  window.addEventListener("hashchange", followHash);
  followHash();
})();
