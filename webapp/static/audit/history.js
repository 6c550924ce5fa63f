/* The history page's diagram: the BPMN version the petition ran on, drawn by the bpmn-js viewer (served from
   /static/vendor), with the path taken highlighted. Data comes from the JSON endpoint named by the container's
   data-trace-url; nothing here is inline (CSP script-src 'self'). */
(function () {
  "use strict";

  var TAKEN = "audit-taken";
  var CURRENT = "audit-current";

  function text(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content) { node.textContent = content; }
    return node;
  }

  function describe(id, info, labels) {
    var lines = [info.name || id];
    (info.visits || []).forEach(function (visit) {
      lines.push(visit.at_text + " · " + visit.actor + (visit.role ? " (" + visit.role + ")" : ""));
    });
    if (info.current) {
      lines.push(labels.open_since + " " + (info.waiting_since || "") +
                 (info.waiting_for ? " · " + labels.waiting_for + ": " + info.waiting_for : "") +
                 (info.claimed_by ? " · " + labels.taken_by + " " + info.claimed_by : ""));
    }
    return lines;
  }

  function tooltip(lines) {
    var box = text("div", "audit-tip");
    box.setAttribute("role", "tooltip");
    lines.forEach(function (line, index) {
      box.appendChild(text(index === 0 ? "strong" : "div", index === 0 ? "audit-tip-title" : "audit-tip-line", line));
    });
    return box;
  }

  function addSvgTitle(gfx, lines) {
    var title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = lines.join("\n");
    gfx.insertBefore(title, gfx.firstChild);
  }

  function show(container, trace) {
    var viewer = new window.BpmnJS({ container: container });
    return viewer.importXML(trace.xml).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      var eventBus = viewer.get("eventBus");
      var labels = trace.labels || {};
      var marked = {};

      trace.taken.concat(trace.flows).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, TAKEN); marked[id] = true; }
      });
      trace.current.forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, CURRENT); }
      });

      var tips = {};
      Object.keys(trace.elements).forEach(function (id) {
        var element = registry.get(id);
        if (!element) { return; }
        var info = trace.elements[id];
        var lines = describe(id, info, labels);
        tips[id] = lines;
        addSvgTitle(registry.getGraphics(element), lines);
        var count = (info.visits || []).length;
        if (count > 1) {
          var badge = text("span", "audit-count", "×" + count);
          badge.title = (labels.times || "{n}").replace("{n}", String(count));
          overlays.add(id, "audit-count", { position: { top: -10, right: 10 }, html: badge });
        }
      });

      var open = null;
      eventBus.on("element.hover", function (event) {
        var id = event.element && event.element.id;
        if (open) { overlays.remove(open); open = null; }
        if (id && tips[id]) {
          open = overlays.add(id, "audit-tip", { position: { bottom: -6, left: 0 }, html: tooltip(tips[id]) });
        }
      });
      eventBus.on("element.out", function () {
        if (open) { overlays.remove(open); open = null; }
      });

      canvas.zoom("fit-viewport");
      container.setAttribute("data-rendered", "true");
      container.setAttribute("data-marked", Object.keys(marked).sort().join(" "));
    });
  }

  function fail(container, message) {
    var error = document.querySelector("[data-testid='diagram-error']");
    if (error) { error.textContent = message; error.hidden = false; }
    container.setAttribute("data-rendered", "error");
  }

  function start() {
    var container = document.getElementById("audit-diagram");
    if (!container) { return; }
    if (!window.BpmnJS) { fail(container, "bpmn-js"); return; }
    fetch(container.getAttribute("data-trace-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (trace) {
        if (!trace.xml) { throw new Error("no diagram"); }
        return show(container, trace).catch(function (err) {
          fail(container, (trace.labels && trace.labels.failed) || String(err));
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
