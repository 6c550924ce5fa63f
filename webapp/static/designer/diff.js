/* The diff page: both versions in bpmn-js NavigatedViewers, with added / removed / changed elements marked. */
(function () {
  'use strict';
  var root = document.getElementById('diff');
  if (!root || typeof window.BpmnJS !== 'function') { return; }
  var marks = JSON.parse(root.dataset.marks || '{}');

  function show(container, url, kinds) {
    var viewer = new window.BpmnJS({ container: container });
    return fetch(url, { credentials: 'same-origin' }).then(function (response) { return response.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        canvas.zoom('fit-viewport');
        kinds.forEach(function (kind) {
          (marks[kind] || []).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, 'diff-' + kind); }
          });
        });
        container.setAttribute('data-ready', 'yes');
        return viewer;
      })
      .catch(function (err) {
        container.setAttribute('data-ready', 'error');
        container.textContent = String(err && err.message ? err.message : err);
      });
  }

  show(document.getElementById('canvas-old'), root.dataset.oldUrl, ['removed', 'changed']);
  show(document.getElementById('canvas-new'), root.dataset.newUrl, ['added', 'changed']);
}());
