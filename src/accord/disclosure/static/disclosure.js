// Accord public pages: the epidemic curve and small conveniences. The page works without this file;
// all state lives in the URL, so links and the date form are ordinary navigation.
(function () {
  "use strict";

  function drawCurve() {
    var holder = document.getElementById("curve");
    var data = document.getElementById("curve-data");
    if (!holder || !data || !window.Plotly) return;
    var d = JSON.parse(data.textContent);
    var bars = { x: d.x, y: d.bars, type: "bar", name: d.labels[0], marker: { color: "#9ecae1" } };
    var line = { x: d.x, y: d.line, type: "scatter", mode: "lines", name: d.labels[1], line: { color: "#08519c", width: 2 } };
    var layout = {
      margin: { l: 45, r: 10, t: 10, b: 40 },
      yaxis: { type: d.scale === "log" ? "log" : "linear", rangemode: "tozero" },
      legend: { orientation: "h", y: -0.2 },
      bargap: 0.1
    };
    window.Plotly.newPlot(holder, [bars, line], layout, { responsive: true, displaylogo: false });
    holder.setAttribute("data-drawn", "1");
  }

  function autoSubmitDate() {
    var input = document.getElementById("date");
    if (input && input.form) input.addEventListener("change", function () { if (input.value) input.form.submit(); });
  }

  document.addEventListener("DOMContentLoaded", function () { autoSubmitDate(); drawCurve(); });
})();
