/* The bottleneck view: the petition BPMN drawn by the bpmn-js viewer (static/vendor), each element coloured by
   its mean step time in the period (heat-1 .. heat-5), a thick border when more than a quarter of its steps
   were late, and a badge with mean / p90 days. Data from the container's data-url; nothing inline (CSP). */
(function () {
  "use strict";

  function heatClass(heat) {
    return "heat-" + Math.max(1, Math.min(5, Math.ceil(heat * 5)));
  }

  function badge(info, labels) {
    var node = document.createElement("span");
    node.className = "bottleneck-badge";
    node.textContent = info.mean_days + " / " + info.p90_days + " " + labels.days;
    node.title = info.name + ": " + labels.mean + " " + info.mean_days + " " + labels.days + ", " + labels.p90 + " " +
      info.p90_days + " " + labels.days + ", " + info.count + " " + labels.steps +
      (info.late_rate !== null ? ", " + Math.round(info.late_rate * 100) + "% " + labels.late : "");
    return node;
  }

  function show(container, data) {
    var viewer = new window.BpmnJS({ container: container });
    return viewer.importXML(data.xml).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      var labels = data.labels || {};
      var marked = [];
      Object.keys(data.elements).forEach(function (id) {
        if (!registry.get(id)) { return; }
        var info = data.elements[id];
        canvas.addMarker(id, heatClass(info.heat));
        if (info.late_rate !== null && info.late_rate > 0.25) { canvas.addMarker(id, "often-late"); }
        if (id === data.slowest) { canvas.addMarker(id, "bottleneck-slowest"); }
        overlays.add(id, "bottleneck", { position: { bottom: 8, left: 0 }, html: badge(info, labels) });
        marked.push(id);
      });
      canvas.zoom("fit-viewport");
      container.setAttribute("data-slowest", data.slowest || "");
      container.setAttribute("data-marked", marked.sort().join(" "));
      container.setAttribute("data-rendered", "true");
    });
  }

  function fail(container, message) {
    var error = document.querySelector("[data-testid='diagram-error']");
    if (error) { error.textContent = message; error.hidden = false; }
    container.setAttribute("data-rendered", "error");
  }

  function start() {
    var container = document.getElementById("bottleneck-diagram");
    if (!container) { return; }
    if (!window.BpmnJS) { fail(container, "bpmn-js"); return; }
    fetch(container.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        if (!data.xml) { throw new Error("no diagram"); }
        return show(container, data).catch(function (err) {
          fail(container, (data.labels && data.labels.failed) || String(err));
        });
      })
      .catch(function (err) { fail(container, String(err)); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
