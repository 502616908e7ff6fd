// The grid of index.html: filter rows (models) and columns (GPUs), dim cells by verdict, sort.
// Static: everything it reads is in the table's data- attributes. With #selftest in the URL it
// applies one filter and writes the counts before and after into <output id="selftest">.
(function () {
  "use strict";
  var grid = document.getElementById("grid");
  if (!grid) { return; }
  var head = grid.tHead.rows[0];
  var body = grid.tBodies[0];
  var $ = function (id) { return document.getElementById(id); };

  function columns() {  // the GPU header cells, in their current order (index 1 ..)
    return Array.prototype.slice.call(head.cells, 1);
  }

  function counts() {
    var rows = 0, cols = 0, cells = 0;
    columns().forEach(function (th) { if (!th.classList.contains("hidden")) { cols++; } });
    Array.prototype.forEach.call(body.rows, function (tr) {
      if (tr.classList.contains("hidden")) { return; }
      rows++;
      Array.prototype.forEach.call(tr.cells, function (td, i) {
        if (i > 0 && !td.classList.contains("hidden") && !td.classList.contains("dim") &&
            !td.classList.contains("empty")) { cells++; }
      });
    });
    return {rows: rows, cols: cols, cells: cells};
  }

  function apply() {
    var family = $("f-family").value, vendor = $("f-vendor").value;
    var memory = parseFloat($("f-memory").value) || 0, verdict = $("f-verdict").value;
    var keep = columns().map(function (th) {
      var ok = (!vendor || th.dataset.vendor === vendor) &&
               Number(th.dataset.memory) >= memory * 1073741824;
      th.classList.toggle("hidden", !ok);
      return ok;
    });
    Array.prototype.forEach.call(body.rows, function (tr) {
      var any = false;
      Array.prototype.forEach.call(tr.cells, function (td, i) {
        if (i === 0) { return; }
        td.classList.toggle("hidden", !keep[i - 1]);
        var match = !verdict || td.dataset.verdict === verdict;
        td.classList.toggle("dim", !match);
        if (keep[i - 1] && match && !td.classList.contains("empty")) { any = true; }
      });
      tr.classList.toggle("hidden", (family && tr.dataset.family !== family) || !any);
    });
    var c = counts();
    $("shown").textContent = c.rows + " models × " + c.cols + " GPUs shown";
    return c;
  }

  function sortRows() {
    var by = $("s-models").value;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      if (by === "name") { return a.dataset.name.localeCompare(b.dataset.name); }
      return Number(b.dataset.params) - Number(a.dataset.params) ||
             a.dataset.name.localeCompare(b.dataset.name);
    });
    rows.forEach(function (tr) { body.appendChild(tr); });
  }

  function sortColumns() {
    var by = $("s-gpus").value;
    var order = columns().map(function (th, i) { return {th: th, i: i + 1}; });
    order.sort(function (a, b) {
      if (by === "name") { return a.th.dataset.name.localeCompare(b.th.dataset.name); }
      return Number(a.th.dataset.memory) - Number(b.th.dataset.memory) ||
             a.th.dataset.name.localeCompare(b.th.dataset.name);
    });
    var all = [head].concat(Array.prototype.slice.call(body.rows));
    all.forEach(function (tr) {
      var cells = Array.prototype.slice.call(tr.cells);
      order.forEach(function (o) { tr.appendChild(cells[o.i]); });
    });
  }

  ["f-family", "f-vendor", "f-memory", "f-verdict"].forEach(function (id) {
    $(id).addEventListener("input", apply);
    $(id).addEventListener("change", apply);
  });
  $("s-models").addEventListener("change", function () { sortRows(); apply(); });
  $("s-gpus").addEventListener("change", function () { sortColumns(); apply(); });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  var before = apply();

  if (location.hash === "#selftest") {
    var vendor = $("f-vendor");
    vendor.value = vendor.options.length > 1 ? vendor.options[1].value : "";
    $("f-verdict").value = "fits";
    var after = apply();
    $("s-gpus").value = "name";
    sortColumns();
    var sorted = apply();
    $("selftest").textContent = JSON.stringify({before: before, after: after, sorted: sorted});
  }
}());
