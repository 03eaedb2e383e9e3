// siyu console: charts from server-rendered options; the CSRF token on every HTMX request.
(function () {
  "use strict";
  function drawCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll(".chart[data-option]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(JSON.parse(el.dataset.option));
      el.dataset.drawn = "1";
      new ResizeObserver(function () { chart.resize(); }).observe(el);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
  });
  window.siyu = { drawCharts: drawCharts };
})();
