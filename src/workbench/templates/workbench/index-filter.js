(function () {
  var box = document.getElementById("wb-filter");
  var status = document.getElementById("wb-filter-status");
  if (!box) { return; }
  document.getElementById("wb-filter-form").hidden = false;
  function norm(s) { return s.toLocaleLowerCase("sv").trim(); }
  box.addEventListener("input", function () {
    var q = norm(box.value);
    var shown = 0;
    document.querySelectorAll("details[data-county]").forEach(function (d) {
      var any = false;
      d.querySelectorAll("tr[data-search]").forEach(function (tr) {
        var hit = q === "" || norm(tr.getAttribute("data-search")).indexOf(q) >= 0;
        tr.hidden = !hit;
        if (hit) { any = true; shown += 1; }
      });
      d.hidden = !any;
      d.open = q !== "" && any;
    });
    status.textContent = q === "" ? "" : shown + " kommuner eller områden matchar.";
  });
})();
