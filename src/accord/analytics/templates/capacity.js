// Accord capacity page: a map (units with boundaries) or a ranking of days until ICU capacity is exceeded, and the
// modelled ICU census of each unit against its capacity. The table and the twins hold every number without this.
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("capacity-data");
    if (!el || !window.Plotly) return;
    var d = JSON.parse(el.textContent);
    // not exceeded within the horizon: a bar to the horizon; capacity not reported: no bar (unknown, not "safe")
    var days = d.days_to_icu.map(function (v, i) {
      if (d.icu_capacity[i] === null) return null;
      return v === null ? d.horizon : v + 1;
    });
    var names = d.units.map(function (u) { return u.name; });
    var withShapes = d.units.filter(function (u) { return u.boundary; });
    var map = document.getElementById("capacity-map");
    if (withShapes.length === d.units.length && d.units.length > 0) {
      var geo = { type: "FeatureCollection", features: d.units.map(function (u) {
        return { type: "Feature", id: u.code, properties: {}, geometry: u.boundary.geometry || u.boundary }; }) };
      Plotly.newPlot(map, [{ type: "choropleth", geojson: geo, locations: d.units.map(function (u) { return u.code; }),
        z: days, text: names, colorscale: "Reds", reversescale: true, zmin: 0, zmax: d.horizon,
        colorbar: { title: "days" } }], { geo: { fitbounds: "locations", visible: false }, margin: { t: 10, b: 10 } },
        { responsive: true });
    } else {
      Plotly.newPlot(map, [{ type: "bar", orientation: "h", y: names, x: days,
        marker: { color: days.map(function (v) { return v !== null && v < d.horizon ? "#b3261e" : "#9aa5b1"; }) } }],
        { margin: { l: 140, t: 10 }, xaxis: { title: "days (full bar: not exceeded; none: capacity not reported)",
          range: [0, d.horizon] } },
        { responsive: true });
    }
    var traces = [];
    d.units.forEach(function (u, i) {
      traces.push({ x: d.dates, y: d.icu[i], type: "scatter", mode: "lines", name: u.name, legendgroup: u.code });
      if (d.icu_capacity[i] !== null) {
        traces.push({ x: [d.dates[0], d.dates[d.dates.length - 1]], y: [d.icu_capacity[i], d.icu_capacity[i]],
          type: "scatter", mode: "lines", line: { dash: "dash", width: 1 }, name: u.name + " capacity",
          legendgroup: u.code, showlegend: false });
      }
    });
    Plotly.newPlot(document.getElementById("capacity-census"), traces,
      { margin: { t: 10 }, yaxis: { title: "ICU beds occupied" } }, { responsive: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
