// Chain view: an interactive graph (nodes placed by the server, edges infector -> infectee) and a timeline of
// onsets per cluster, both drawn by plotly.js served from the plotly wheel. Data come from the page itself.
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("chain-data");
    if (!el || typeof Plotly === "undefined") { return; }
    var d = JSON.parse(el.textContent);
    var ex = [], ey = [];
    d.edges.forEach(function (e) {
      ex.push(d.nodes[e.source].x, d.nodes[e.target].x, null);
      ey.push(d.nodes[e.source].y, d.nodes[e.target].y, null);
    });
    var hover = d.nodes.map(function (n) {
      return "case " + n.node + " · cluster " + n.cluster + "<br>onset " + (n.onset || "") + " · " + n.residence + " · " + n.origin;
    });
    var graph = [
      { x: ex, y: ey, mode: "lines", line: { color: "#9aa5b1", width: 1 }, hoverinfo: "skip", type: "scatter" },
      { x: d.nodes.map(function (n) { return n.x; }), y: d.nodes.map(function (n) { return n.y; }), mode: "markers",
        type: "scatter", text: hover, hoverinfo: "text",
        marker: { size: 9, color: d.nodes.map(function (n) { return n.cluster; }), colorscale: "Viridis",
                  line: { width: 1, color: d.nodes.map(function (n) { return n.origin === "imported" ? "#b3261e" : "#fff"; }) } } }
    ];
    var axis = { showgrid: false, zeroline: false, showticklabels: false };
    Plotly.newPlot("graph", graph, { showlegend: false, margin: { l: 10, r: 10, t: 10, b: 10 }, xaxis: axis, yaxis: axis },
      { responsive: true, displaylogo: false }).then(function () { document.getElementById("graph").dataset.drawn = "1"; });
    var tx = [], ty = [];
    d.edges.forEach(function (e) {
      var a = d.nodes[e.source], b = d.nodes[e.target];
      if (a.onset && b.onset) { tx.push(a.onset, b.onset, null); ty.push(a.cluster + a.jitter, b.cluster + b.jitter, null); }
    });
    var withOnset = d.nodes.filter(function (n) { return n.onset; });
    var timeline = [
      { x: tx, y: ty, mode: "lines", line: { color: "#9aa5b1", width: 1 }, hoverinfo: "skip", type: "scatter" },
      { x: withOnset.map(function (n) { return n.onset; }), y: withOnset.map(function (n) { return n.cluster + n.jitter; }),
        mode: "markers", type: "scatter", text: withOnset.map(function (n) { return "case " + n.node; }), hoverinfo: "x+text",
        marker: { size: 7, color: "#0b5cad" } }
    ];
    Plotly.newPlot("timeline", timeline, { showlegend: false, margin: { l: 50, r: 10, t: 10, b: 40 },
      yaxis: { title: { text: "cluster" }, dtick: 1 }, xaxis: { type: "date" } }, { responsive: true, displaylogo: false })
      .then(function () { document.getElementById("timeline").dataset.drawn = "1"; });
  }
  if (document.readyState === "complete") { draw(); } else { window.addEventListener("load", draw); }
})();
