// Draws the dashboard's charts with Chart.js from the JSON the page embeds (no inline script).
(function () {
  "use strict";
  var el = document.getElementById("chart-data");
  if (!el || typeof Chart === "undefined") return;
  var d = JSON.parse(el.textContent);
  var palette = ["#1456f0", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16",
                 "#ec4899", "#64748b", "#f97316", "#14b8a6"];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  function make(id, cfg) { var c = document.getElementById(id); if (c) new Chart(c, cfg); }
  make("chart-per-day", {
    type: "bar",
    data: { labels: d.days, datasets: d.per_reason.map(function (s, i) {
      return { label: s.label, data: s.data, backgroundColor: palette[i % palette.length] }; }) },
    options: { maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true,
      ticks: { precision: 0 } } } }
  });
  make("chart-rates", {
    type: "bar",
    data: { labels: d.rates.labels, datasets: [{ label: "%", data: d.rates.data, backgroundColor: palette }] },
    options: { maintainAspectRatio: false, indexAxis: "y", plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, suggestedMax: 10 } } }
  });
  make("chart-loss", {
    type: "doughnut",
    data: { labels: d.loss.labels, datasets: [{ data: d.loss.data, backgroundColor: palette }] },
    options: { maintainAspectRatio: false }
  });
  make("chart-timeouts", {
    type: "bar",
    data: { labels: d.timeouts.labels, datasets: [{ data: d.timeouts.data, backgroundColor: "#ef4444" }] },
    options: { maintainAspectRatio: false, plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  document.body.dataset.chartsReady = "1";
})();
