// The desk's small behaviours: live countdowns, quick replies, select-all. No framework.
(function () {
  "use strict";
  var body = document.body;
  function fmt(tpl, values) {
    return tpl.replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }
  function span(seconds) {
    var s = Math.abs(Math.floor(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return fmt(body.dataset.fmtDh, { d: d, h: h });
    if (h) return fmt(body.dataset.fmtHm, { h: h, m: m });
    return fmt(body.dataset.fmtM, { m: Math.max(m, s ? 1 : 0) });
  }
  // Countdowns start from the seconds the server counted on its own clock (a sandbox shop
  // has its own), so a wrong clock on the person's computer cannot mislead them.
  var loaded = Date.now();
  function tick() {
    var gone = (Date.now() - loaded) / 1000;
    document.querySelectorAll("[data-left]").forEach(function (el) {
      var left = Number(el.dataset.left) - gone;
      el.textContent = left < 0 ? fmt(body.dataset.fmtOver, { span: span(left) })
                                : fmt(body.dataset.fmtLeft, { span: span(left) });
      var row = el.closest("tr");
      if (row && left < 0) row.classList.add("overdue");
    });
  }
  tick();
  setInterval(tick, 1000);

  document.addEventListener("click", function (ev) {
    var q = ev.target.closest("[data-quick]");
    if (q) {
      ev.preventDefault();
      var box = document.getElementById(q.dataset.target || "reply");
      if (box) { box.value = (box.value ? box.value + "\n" : "") + q.dataset.quick; box.focus(); }
    }
    var all = ev.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll("input[name=case_id]").forEach(function (c) { c.checked = all.checked; });
    }
  });
  document.addEventListener("change", function (ev) {
    if (ev.target.matches("select[data-autosubmit]")) ev.target.form.submit();
  });
})();
