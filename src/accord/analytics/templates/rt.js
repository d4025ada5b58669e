// Accord Rt page: one line per jurisdiction (posterior mean) with its 95% credible band, and Rt = 1 dashed.
// The page works without this file: the table holds the latest estimates and the twins hold every number.
(function () {
  "use strict";
  var COLOURS = ["#08519c", "#b3261e", "#1b7f3b", "#b26a00", "#6a3d9a", "#00838f", "#5b6675", "#c2185b",
    "#827717", "#4e342e", "#283593", "#2e7d32"];

  function band(s, colour) {
    // a closed polygon: upper bound forwards, lower bound backwards (gaps where an estimate is withheld)
    return {
      x: s.x.concat(s.x.slice().reverse()),
      y: s.upper.concat(s.lower.slice().reverse()),
      type: "scatter", mode: "lines", fill: "toself", fillcolor: colour, opacity: 0.15,
      line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: s.code,
      visible: s.visible ? true : "legendonly"
    };
  }

  function draw() {
    var holder = document.getElementById("rt-chart");
    var data = document.getElementById("rt-data");
    if (!holder || !data || !window.Plotly) return;
    var d = JSON.parse(data.textContent);
    var traces = [];
    d.series.forEach(function (s, i) {
      var colour = s.root ? "#222" : COLOURS[i % COLOURS.length];
      traces.push(band(s, colour));
      traces.push({
        x: s.x, y: s.mean, type: "scatter", mode: "lines", name: s.name, legendgroup: s.code,
        line: { color: colour, width: s.root ? 3 : 1.5 }, visible: s.visible ? true : "legendonly",
        hovertemplate: "%{x}: Rt %{y:.2f}<extra>" + s.name.replace(/</g, "&lt;") + "</extra>"
      });
    });
    var layout = {
      margin: { l: 45, r: 10, t: 10, b: 40 },
      yaxis: { title: d.labels.rt, rangemode: "tozero" },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 1, y1: 1, line: { dash: "dash", color: "#555", width: 1 } }],
      legend: { orientation: "h", y: -0.2 }
    };
    window.Plotly.newPlot(holder, traces, layout, { responsive: true, displaylogo: false });
    holder.setAttribute("data-drawn", "1");
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
