// Accord scenarios page: the Pareto frontier (dominated scenarios grey) and, linked to it, the daily epidemic curves
// of the scenarios clicked (the no-new-measures baseline is always shown). Works without this file: see the table.
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("scenario-data");
    if (!el || !window.Plotly) return;
    var d = JSON.parse(el.textContent);
    var s = d.scenarios;
    var front = s.filter(function (r) { return r.on_frontier; });
    front.sort(function (a, b) { return a.health_cost - b.health_cost; });
    function pts(rows, name, colour, size) {
      return { x: rows.map(function (r) { return r.economic_cost; }), y: rows.map(function (r) { return r.health_cost; }),
        text: rows.map(function (r) { return r.name; }), customdata: rows.map(function (r) { return s.indexOf(r); }),
        type: "scatter", mode: "markers", name: name, marker: { color: colour, size: size } };
    }
    var dominated = s.filter(function (r) { return !r.on_frontier; });
    var line = pts(front, "frontier", "#b3261e", 10);
    line.mode = "lines+markers";
    var chart = document.getElementById("frontier-chart");
    Plotly.newPlot(chart, [pts(dominated, "dominated", "#c0c4cc", 7), line],
      { margin: { t: 10, l: 70 }, xaxis: { title: { text: "economic cost" } }, yaxis: { title: { text: d.health } },
        hovermode: "closest" },
      { responsive: true });
    var shown = [0];
    function curves() {
      var days = s[0].curves.infections.map(function (_, k) { return k; });
      var traces = [];
      shown.forEach(function (i) {
        traces.push({ x: days, y: s[i].curves.infections, type: "scatter", mode: "lines", name: s[i].name });
        traces.push({ x: days, y: s[i].curves.icu, type: "scatter", mode: "lines", yaxis: "y2",
          line: { dash: "dot" }, name: s[i].name + " (ICU)" });
      });
      Plotly.react(document.getElementById("curves-chart"), traces,
        { margin: { t: 10, l: 70, r: 70 }, xaxis: { title: { text: "day" } }, yaxis: { title: { text: "new infections" } },
          yaxis2: { title: { text: "ICU census" }, overlaying: "y", side: "right" },
          legend: { orientation: "h", y: -0.25 } }, { responsive: true });
    }
    chart.on("plotly_click", function (ev) {
      var i = ev.points[0].customdata;
      if (shown.indexOf(i) < 0) shown.push(i);
      if (shown.length > 4) shown.splice(1, 1);
      curves();
    });
    if (front.length) shown.push(s.indexOf(front[0]));
    curves();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
