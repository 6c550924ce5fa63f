/* The designer's modeler page: bpmn-js Modeler, a small properties panel for what the engine reads
   (names, forms, status, due dates, conditions, scripts, timers, default flows, lanes), a JSON-Schema form
   editor with a server-rendered preview, save / validate / deploy through fetch with the CSRF header.
   No inline code: loaded as a static file under CSP script-src 'self'. */
(function () {
  'use strict';

  var SPIFF_NS = 'http://spiffworkflow.org/bpmn/schema/1.0/core';
  var root = document.getElementById('designer');
  if (!root || typeof window.BpmnJS !== 'function') { return; }

  var T = JSON.parse(root.dataset.i18n || '{}');
  var lanes = (root.dataset.lanes || '').split(',').filter(Boolean);
  var statusEl = document.getElementById('status');
  var propsEl = document.getElementById('props');
  var problemsPanel = document.getElementById('problems-panel');
  var problemsEl = document.getElementById('problems');
  var problemsSummary = document.getElementById('problems-summary');
  var formPanel = document.getElementById('form-panel');
  var formJson = document.getElementById('form-json');
  var formName = document.getElementById('form-name');
  var formError = document.getElementById('form-error');
  var formPreview = document.getElementById('form-preview');

  var modeler = new window.BpmnJS({ container: '#canvas' });
  var forms = {};
  var dirty = false;
  var selected = null;
  var currentForm = null;
  var previewTimer = null;

  // Exposed for tests and for people debugging a model in the browser console.
  window.petitionsDesigner = { modeler: modeler, forms: function () { return forms; }, ready: false };

  function setStatus(text, kind) {
    statusEl.textContent = text || '';
    statusEl.className = 'designer-status' + (kind ? ' designer-status-' + kind : '');
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') { node.textContent = attrs[key]; } else if (key in node && key !== 'list') {
        node[key] = attrs[key];
      } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': root.dataset.csrf, 'Accept': 'application/json' },
      body: JSON.stringify(body || {})
    });
  }

  function payload() {
    return modeler.saveXML({ format: true }).then(function (result) {
      return { bpmn: result.xml, forms: forms };
    });
  }

  // ---- extension elements (kept as generic elements, so unknown spiffworkflow elements survive) ----
  function local(type) { var t = String(type || ''); return t.slice(t.indexOf(':') + 1).toLowerCase(); }

  function extValues(bo, create) {
    if (!bo.extensionElements && create) {
      bo.extensionElements = modeler.get('moddle').create('bpmn:ExtensionElements', { values: [] });
      bo.extensionElements.$parent = bo;
    }
    if (!bo.extensionElements) { return null; }
    if (!bo.extensionElements.values) { bo.extensionElements.values = []; }
    return bo.extensionElements.values;
  }

  function spiffChild(bo, name, create) {
    var values = extValues(bo, create);
    if (!values) { return null; }
    var found = values.filter(function (v) { return local(v.$type) === name.toLowerCase(); })[0];
    if (!found && create) {
      found = modeler.get('moddle').createAny('spiffworkflow:' + name, SPIFF_NS, {});
      values.push(found);
    }
    return found || null;
  }

  function getProperty(bo, name) {
    var props = spiffChild(bo, 'properties', false);
    var items = (props && props.$children) || [];
    var item = items.filter(function (p) { return p.name === name; })[0];
    return item ? (item.value || '') : '';
  }

  function setProperty(element, name, value) {
    var bo = element.businessObject;
    var props = spiffChild(bo, 'properties', !!value);
    if (!props) { return; }
    props.$children = props.$children || [];
    var items = props.$children;
    var item = items.filter(function (p) { return p.name === name; })[0];
    if (!value) {
      if (item) { items.splice(items.indexOf(item), 1); }
    } else if (item) {
      item.value = value;
    } else {
      items.push(modeler.get('moddle').createAny('spiffworkflow:property', SPIFF_NS, { name: name, value: value }));
    }
    touch(element);
  }

  function getScriptExt(bo, name) {
    var node = spiffChild(bo, name, false);
    return node ? (node.$body || '') : '';
  }

  function setScriptExt(element, name, value) {
    var bo = element.businessObject;
    var node = spiffChild(bo, name, !!value);
    if (!node) { return; }
    if (!value) {
      var values = extValues(bo, false);
      values.splice(values.indexOf(node), 1);
    } else {
      node.$body = value;
    }
    touch(element);
  }

  function touch(element) {
    // Register the change with the command stack (undo, dirty flag, re-render).
    modeler.get('modeling').updateProperties(element, { extensionElements: element.businessObject.extensionElements });
  }

  // ---- properties panel ----
  function is(element, type) {
    var bo = element && element.businessObject;
    return !!(bo && bo.$instanceOf && bo.$instanceOf(type));
  }

  function field(label, input, hint) {
    var id = 'prop-' + Math.random().toString(36).slice(2);
    input.id = id;
    return el('div', { className: 'field' }, [
      el('label', { htmlFor: id, text: label }), input, hint ? el('p', { className: 'hint', text: hint }) : null
    ]);
  }

  function textInput(value, onChange, testid, multiline) {
    var input = el(multiline ? 'textarea' : 'input', multiline ? { rows: 4, className: 'code' } : { type: 'text' });
    input.value = value || '';
    input.setAttribute('data-testid', testid);
    input.addEventListener('change', function () { onChange(input.value.trim() ? input.value : ''); });
    return input;
  }

  function laneNames(bo) {
    var list = (bo.get && bo.get('lanes')) || [];
    return list.map(function (l) { return l.name || l.id; }).join(', ');
  }

  function timerDefinition(bo) {
    return (bo.eventDefinitions || []).filter(function (d) { return d.$type === 'bpmn:TimerEventDefinition'; })[0];
  }

  function renderProps(element) {
    propsEl.textContent = '';
    if (!element || element.type === 'label' || is(element, 'bpmn:Process') || is(element, 'bpmn:Collaboration')) {
      propsEl.appendChild(el('p', { className: 'muted', text: T.noSelection }));
      showForm(null);
      return;
    }
    var bo = element.businessObject;
    var modeling = modeler.get('modeling');
    propsEl.appendChild(el('p', {}, [el('span', { className: 'muted', text: T.id + ': ' }),
      el('span', { className: 'code', text: bo.id, 'data-testid': 'prop-id' }),
      el('span', { className: 'muted', text: ' · ' + T.type + ': ' + bo.$type.replace('bpmn:', '') })]));
    propsEl.appendChild(field(T.name, textInput(bo.name, function (v) {
      modeling.updateProperties(element, { name: v || undefined });
    }, 'prop-name')));

    if (is(element, 'bpmn:Lane')) {
      propsEl.appendChild(el('p', { className: 'hint', text: T.laneHint + ' ' + lanes.join(', ') }));
    }
    if (is(element, 'bpmn:FlowNode') && !is(element, 'bpmn:SequenceFlow')) {
      var laneText = laneNames(bo);
      if (laneText) { propsEl.appendChild(el('p', {}, [el('span', { className: 'muted', text: T.lane + ': ' }),
        el('span', { className: 'code', text: laneText, 'data-testid': 'prop-lane' })])); }
    }
    if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
      if (is(element, 'bpmn:UserTask')) {
        propsEl.appendChild(field(T.form, textInput(getProperty(bo, 'formJsonSchemaFilename'), function (v) {
          setProperty(element, 'formJsonSchemaFilename', v.trim());
          showForm(element);
        }, 'prop-form')));
      }
      propsEl.appendChild(field(T.status, textInput(getProperty(bo, 'status'), function (v) {
        setProperty(element, 'status', v.trim());
      }, 'prop-status')));
      propsEl.appendChild(field(T.dueDate, textInput(getProperty(bo, 'dueDate'), function (v) {
        setProperty(element, 'dueDate', v.trim());
      }, 'prop-due')));
    }
    if (is(element, 'bpmn:ScriptTask')) {
      propsEl.appendChild(field(T.script, textInput(bo.script, function (v) {
        modeling.updateProperties(element, { script: v || undefined, scriptFormat: 'python' });
      }, 'prop-script', true)));
    }
    if (is(element, 'bpmn:Task') && !is(element, 'bpmn:ScriptTask')) {
      propsEl.appendChild(field(T.preScript, textInput(getScriptExt(bo, 'preScript'), function (v) {
        setScriptExt(element, 'preScript', v);
      }, 'prop-prescript', true)));
      propsEl.appendChild(field(T.postScript, textInput(getScriptExt(bo, 'postScript'), function (v) {
        setScriptExt(element, 'postScript', v);
      }, 'prop-postscript', true)));
    }
    if (is(element, 'bpmn:SequenceFlow') && bo.sourceRef &&
        (is({ businessObject: bo.sourceRef }, 'bpmn:ExclusiveGateway') ||
         is({ businessObject: bo.sourceRef }, 'bpmn:InclusiveGateway'))) {
      var condition = bo.conditionExpression ? bo.conditionExpression.body : '';
      propsEl.appendChild(field(T.condition, textInput(condition, function (v) {
        var expression = v ? modeler.get('moddle').create('bpmn:FormalExpression', { body: v }) : undefined;
        modeling.updateProperties(element, { conditionExpression: expression });
      }, 'prop-condition', true)));
    }
    if (is(element, 'bpmn:ExclusiveGateway') || is(element, 'bpmn:InclusiveGateway')) {
      var select = el('select', {});
      select.setAttribute('data-testid', 'prop-default');
      select.appendChild(el('option', { value: '', text: T.none }));
      (bo.outgoing || []).forEach(function (flow) {
        select.appendChild(el('option', { value: flow.id, text: (flow.name ? flow.name + ' ' : '') + '(' + flow.id + ')' }));
      });
      select.value = bo.default ? bo.default.id : '';
      select.addEventListener('change', function () {
        var flow = (bo.outgoing || []).filter(function (f) { return f.id === select.value; })[0];
        modeling.updateProperties(element, { default: flow || undefined });
      });
      propsEl.appendChild(field(T.defaultFlow, select));
    }
    var timer = timerDefinition(bo);
    if (timer) { renderTimer(element, timer); }
    showForm(element);
  }

  function renderTimer(element, timer) {
    var kinds = ['timeDuration', 'timeDate', 'timeCycle'];
    var current = kinds.filter(function (k) { return timer[k]; })[0] || 'timeDuration';
    var kind = el('select', {});
    kinds.forEach(function (k) { kind.appendChild(el('option', { value: k, text: T[k] })); });
    kind.value = current;
    var expression = textInput(timer[current] ? timer[current].body : '', apply, 'prop-timer');
    function apply() {
      var props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      if (expression.value.trim()) {
        props[kind.value] = modeler.get('moddle').create('bpmn:FormalExpression', { body: expression.value.trim() });
      }
      modeler.get('modeling').updateModdleProperties(element, timer, props);
    }
    kind.addEventListener('change', apply);
    propsEl.appendChild(field(T.timer, kind));
    propsEl.appendChild(field(T[current] || T.timer, expression, T.timerHint));
  }

  // ---- form editor ----
  function blankForm(name) {
    return { '$schema': 'https://json-schema.org/draft/2020-12/schema', title: name.replace(/\.json$/, ''),
      type: 'object', additionalProperties: false, properties: {}, required: [] };
  }

  function showForm(element) {
    var name = element && is(element, 'bpmn:UserTask') ? getProperty(element.businessObject, 'formJsonSchemaFilename') : '';
    if (!element || !is(element, 'bpmn:UserTask')) { formPanel.hidden = true; currentForm = null; return; }
    formPanel.hidden = false;
    currentForm = name || null;
    formName.textContent = name || '';
    formError.hidden = true;
    if (!name) {
      formJson.value = '';
      formJson.disabled = true;
      formPreview.textContent = T.noForm;
      return;
    }
    formJson.disabled = false;
    if (!forms[name]) { forms[name] = blankForm(name); dirty = true; }
    formJson.value = JSON.stringify(forms[name], null, 2);
    refreshPreview();
  }

  function refreshPreview() {
    if (!currentForm || !forms[currentForm]) { return; }
    post(root.dataset.previewUrl, { schema: forms[currentForm] }).then(function (response) {
      return response.text();
    }).then(function (html) {
      // Server-rendered with Jinja autoescaping (the task page's own field renderer).
      formPreview.innerHTML = html;
    }).catch(function () { formPreview.textContent = T.failed; });
  }

  formJson.addEventListener('input', function () {
    if (!currentForm) { return; }
    try {
      var parsed = JSON.parse(formJson.value);
      forms[currentForm] = parsed;
      dirty = true;
      formError.hidden = true;
      clearTimeout(previewTimer);
      previewTimer = setTimeout(refreshPreview, 400);
    } catch (err) {
      formError.hidden = false;
      formError.textContent = T.invalidJson + ' ' + err.message;
    }
  });

  // ---- problems ----
  function selectElement(id) {
    var registry = modeler.get('elementRegistry');
    var element = registry.get(id);
    if (!element) { return false; }
    modeler.get('selection').select(element);
    try { modeler.get('canvas').scrollToElement(element); } catch (err) { /* older canvas API */ }
    return true;
  }

  function showProblems(problems, ok) {
    problemsPanel.hidden = false;
    problemsEl.textContent = '';
    problemsSummary.textContent = ok ? T.valid : T.problems;
    problemsSummary.className = ok ? 'flash flash-success' : 'flash flash-error';
    (problems || []).forEach(function (p) {
      var where = (p.file || '') + (p.line ? ':' + p.line : '');
      var label = (where ? where + ' ' : '') + (p.element_id ? '[' + p.element_id + (p.element_name ? ' ' + p.element_name : '') + '] ' : '');
      var item = el('li', { 'data-testid': 'problem' });
      item.setAttribute('data-element', p.element_id || '');
      if (p.element_id && modeler.get('elementRegistry').get(p.element_id)) {
        var button = el('button', { type: 'button', className: 'link-button problem-link' }, [
          el('span', { className: 'code', text: label }), el('span', { text: p.message })]);
        button.addEventListener('click', function () { selectElement(p.element_id); });
        item.appendChild(button);
      } else {
        item.appendChild(el('span', { className: 'code', text: label }));
        item.appendChild(el('span', { text: p.message }));
      }
      problemsEl.appendChild(item);
    });
  }

  function handleJson(response) {
    return response.json().catch(function () { return { ok: false, error: T.failed }; }).then(function (body) {
      body.status = response.status;
      return body;
    });
  }

  function save() {
    setStatus(T.saving);
    return payload().then(function (body) { return post(root.dataset.saveUrl, body); }).then(handleJson)
      .then(function (body) {
        if (body.ok) { dirty = false; setStatus(T.saved, 'ok'); } else {
          setStatus(body.error || T.failed, 'error');
          if (body.problems) { showProblems(body.problems, false); }
        }
        return body;
      }).catch(function () { setStatus(T.failed, 'error'); });
  }

  function validate() {
    setStatus(T.validating);
    return payload().then(function (body) { return post(root.dataset.validateUrl, body); }).then(handleJson)
      .then(function (body) {
        dirty = false;
        setStatus('');
        if (body.problems) { showProblems(body.problems, body.ok); } else { setStatus(body.error || T.failed, 'error'); }
        return body;
      }).catch(function () { setStatus(T.failed, 'error'); });
  }

  function deploy() {
    setStatus(T.deploying);
    return payload().then(function (body) { return post(root.dataset.deployUrl, body); }).then(handleJson)
      .then(function (body) {
        if (body.ok) {
          dirty = false;
          showProblems([], true);
          setStatus(body.message, 'ok');
        } else if (body.problems) {
          setStatus('');
          showProblems(body.problems, false);
        } else { setStatus(body.error || T.failed, 'error'); }
        return body;
      }).catch(function () { setStatus(T.failed, 'error'); });
  }

  // SpiffWorkflow names task-data variables in loopDataInputRef / loopDataOutputRef; bpmn-moddle reads them as
  // references to elements that do not exist and would drop them on save. Keep them as named placeholders.
  function keepDataReferences(warnings) {
    var moddle = modeler.get('moddle');
    warnings.forEach(function (warning) {
      var property = String(warning.property || '');
      if (!warning.element || !/loopData(Input|Output)Ref$/.test(property) || !warning.value) { return; }
      var placeholder = moddle.create('bpmn:Property', { id: warning.value });
      warning.element.set(property.replace(/^bpmn:/, ''), placeholder);
    });
  }

  document.getElementById('btn-save').addEventListener('click', save);
  document.getElementById('btn-validate').addEventListener('click', validate);
  document.getElementById('btn-deploy').addEventListener('click', deploy);
  window.addEventListener('beforeunload', function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = T.unsaved; }
  });
  window.petitionsDesigner.save = save;
  window.petitionsDesigner.validate = validate;
  window.petitionsDesigner.deploy = deploy;
  window.petitionsDesigner.selectElement = selectElement;
  window.petitionsDesigner.setProperty = function (id, name, value) {
    setProperty(modeler.get('elementRegistry').get(id), name, value);
  };
  window.petitionsDesigner.setForm = function (name, schema) { forms[name] = schema; dirty = true; };

  modeler.on('commandStack.changed', function () { dirty = true; });
  modeler.on('selection.changed', function (event) {
    selected = event.newSelection.length === 1 ? event.newSelection[0] : null;
    renderProps(selected);
  });

  fetch(root.dataset.dataUrl, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      forms = data.forms || {};
      return modeler.importXML(data.bpmn);
    })
    .then(function (result) {
      keepDataReferences((result && result.warnings) || []);
      modeler.get('canvas').zoom('fit-viewport');
      renderProps(null);
      dirty = false;
      window.petitionsDesigner.ready = true;
      window.petitionsDesigner.warnings = (result && result.warnings) || [];
      root.setAttribute('data-ready', 'yes');
      if (root.dataset.validateOnLoad === 'yes') { validate(); }
    })
    .catch(function (err) {
      setStatus(T.loadFailed + ' ' + (err && err.message ? err.message : err), 'error');
      root.setAttribute('data-ready', 'error');
      if (root.dataset.validateOnLoad === 'yes') { validate(); }
    });
}());
