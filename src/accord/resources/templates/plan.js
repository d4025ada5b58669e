(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("plan-data").textContent);
  var table = document.getElementById("shipments");
  var planId = table.getAttribute("data-plan");
  var config = { displaylogo: false, responsive: true };

  // Sankey: origins on the left, destinations on the right (a place can be both, so they are kept apart)
  var labels = [], index = {};
  function node(side, code, name) {
    var key = side + code;
    if (!(key in index)) { index[key] = labels.length; labels.push(name + " (" + code + ")"); }
    return index[key];
  }
  var src = [], dst = [], val = [], lab = [];
  data.links.forEach(function (l) {
    src.push(node("o:", l.origin, l.origin_name));
    dst.push(node("d:", l.destination, l.destination_name));
    val.push(l.quantity);
    lab.push(l.resource);
  });
  if (window.Plotly && data.links.length) {
    Plotly.newPlot("sankey", [{
      type: "sankey", arrangement: "snap",
      node: { label: labels, pad: 12, thickness: 14 },
      link: { source: src, target: dst, value: val, label: lab }
    }], { margin: { l: 10, r: 10, t: 10, b: 10 } }, config);
  }

  // Flow map: places at their coordinates, one line per flow, width by quantity
  var at = {};
  data.places.forEach(function (p) { if (p.lon !== null && p.lat !== null) { at[p.code] = p; } });
  var biggest = Math.max.apply(null, val.concat([1]));
  var traces = data.links.filter(function (l) { return at[l.origin] && at[l.destination]; }).map(function (l) {
    return {
      type: "scatter", mode: "lines", hoverinfo: "text", showlegend: false,
      x: [at[l.origin].lon, at[l.destination].lon], y: [at[l.origin].lat, at[l.destination].lat],
      line: { width: 1 + 9 * l.quantity / biggest, color: "rgba(31,95,174,0.55)" },
      text: l.origin_name + " → " + l.destination_name + ": " + l.quantity + " " + l.resource
    };
  });
  var placed = Object.keys(at).map(function (k) { return at[k]; });
  traces.push({
    type: "scatter", mode: "markers+text", showlegend: false, textposition: "top center",
    x: placed.map(function (p) { return p.lon; }), y: placed.map(function (p) { return p.lat; }),
    text: placed.map(function (p) { return p.name; }), marker: { size: 9, color: "#b3261e" }
  });
  if (window.Plotly && placed.length) {
    Plotly.newPlot("flowmap", traces, {
      margin: { l: 30, r: 10, t: 10, b: 30 }, xaxis: { title: "longitude" },
      yaxis: { title: "latitude", scaleanchor: "x" }
    }, config);
  }

  // Review: edit quantities and approve through the API with the coordinator's token
  var message = document.getElementById("message");
  var tokenBox = document.getElementById("token");
  if (!tokenBox) { return; }
  tokenBox.value = sessionStorage.getItem("accord-token") || "";
  function call(method, url, body) {
    sessionStorage.setItem("accord-token", tokenBox.value);
    return fetch(url, {
      method: method,
      headers: { "Authorization": "Bearer " + tokenBox.value, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(j.detail || j.title || ("HTTP " + r.status)); }
        return j;
      });
    });
  }
  function say(text) { message.textContent = text; }
  document.getElementById("save").addEventListener("click", function () {
    var edits = Array.prototype.filter.call(document.querySelectorAll("input.qty"), function (i) {
      return i.value !== i.getAttribute("data-original");
    });
    var chain = Promise.resolve();
    edits.forEach(function (i) {
      chain = chain.then(function () {
        return call("PATCH", "/api/v1/resources/plans/" + planId + "/shipments/" + i.getAttribute("data-id"),
          { quantity: i.value }).then(function () { i.setAttribute("data-original", i.value); });
      });
    });
    chain.then(function () { say(edits.length + " edit(s) saved"); }, function (e) { say(e.message); });
  });
  document.getElementById("approve").addEventListener("click", function () {
    call("POST", "/api/v1/resources/plans/" + planId + "/approval").then(function () {
      window.location.reload();
    }, function (e) { say(e.message); });
  });
})();
