// Accord forecast page: per area, a fan chart (95% and 50% bands of the ensemble, median line), the reported
// cases (dots) and the fit (thin line). The page works without this file: the twins hold every number.
(function () {
  "use strict";

  function band(x, lo, hi, opacity) {
    return {
      x: x.concat(x.slice().reverse()), y: hi.concat(lo.slice().reverse()), type: "scatter", mode: "lines",
      fill: "toself", fillcolor: "rgba(8,81,156," + opacity + ")", line: { width: 0 }, hoverinfo: "skip",
      showlegend: false
    };
  }

  function draw() {
    var data = document.getElementById("forecast-data");
    if (!data || !window.Plotly) return;
    var d = JSON.parse(data.textContent);
    d.series.forEach(function (s) {
      var holder = document.querySelector('.fan[data-code="' + CSS.escape(s.code) + '"]');
      if (!holder) return;
      // no fan where the data cannot support a forecast (the page says why): the reported cases only
      var fan = s.q.length ? [
        band(s.xf, s.q[0], s.q[4], 0.15),
        band(s.xf, s.q[1], s.q[3], 0.35),
        { x: s.xf, y: s.q[2], type: "scatter", mode: "lines", line: { color: "#08519c", width: 2 }, name: "median",
          showlegend: false },
        { x: s.x, y: s.fitted, type: "scatter", mode: "lines", line: { color: "#555", width: 1 }, name: "fit",
          showlegend: false }
      ] : [];
      var traces = fan.concat([
        { x: s.x, y: s.observed, type: "scatter", mode: "markers", marker: { color: "#222", size: 4 },
          name: "reported", showlegend: false }
      ]);
      var layout = { margin: { l: 40, r: 8, t: 6, b: 30 }, yaxis: { rangemode: "tozero" }, height: 220 };
      window.Plotly.newPlot(holder, traces, layout, { responsive: true, displaylogo: false });
      holder.setAttribute("data-drawn", "1");
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
