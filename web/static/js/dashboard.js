// Draws the dashboard charts from the page's JSON blocks; the tables beside them hold the same
// numbers, so they fold away once a chart is drawn (and stay open when scripts cannot run).
(function () {
  "use strict";

  var COLORS = {
    users: "#3b82f6",
    idle: "#8b5cf6",
    succeeded: "#16a34a",
    completed_with_errors: "#f59e0b",
    failed: "#dc2626",
    other: "#9ca3af"
  };
  var STATUS_COLORS = { active: "#16a34a", deactivated: "#9ca3af" };
  var SPARE = ["#f59e0b", "#dc2626", "#0ea5e9", "#a855f7"];

  // One colour per slice for the doughnut, one per series for the bars.
  function colour(data, series) {
    if (data.kind !== "doughnut") { return COLORS[series.key] || SPARE[0]; }
    return data.labels.map(function (label, i) {
      return STATUS_COLORS[label] || SPARE[i % SPARE.length];
    });
  }

  function datasets(data) {
    return data.datasets.map(function (series) {
      return { label: series.label, data: series.data, backgroundColor: colour(data, series) };
    });
  }

  function config(data) {
    var stacked = data.kind === "stacked";
    var options = { responsive: true, maintainAspectRatio: false, animation: false };
    if (data.kind === "doughnut") {
      options.plugins = { legend: { position: "right" } };
    } else {
      options.plugins = { legend: { display: stacked } };
      options.scales = {
        x: { stacked: stacked },
        y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } }
      };
    }
    return {
      type: data.kind === "doughnut" ? "doughnut" : "bar",
      data: { labels: data.labels, datasets: datasets(data) },
      options: options
    };
  }

  function draw(canvas) {
    var block = document.getElementById(canvas.dataset.chart);
    if (!block || typeof window.Chart === "undefined") { return; }
    new window.Chart(canvas, config(JSON.parse(block.textContent)));
    var numbers = canvas.closest(".chart").querySelector("details.chart-numbers");
    if (numbers) { numbers.open = false; }
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
