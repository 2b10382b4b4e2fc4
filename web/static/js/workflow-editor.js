// The workflow canvas editor: turns the Drawflow graph into an invsync definition and back,
// edits the selected block's settings, and talks JSON with the server (validate, save, dry run,
// activate, deactivate). The page works without this file through its JSON form. A workflow is
// over SaaS users or people: the palette, presets, triggers, fields and run modes offered follow
// the object chosen.
(function () {
  "use strict";

  var root = document.getElementById("workflow-editor");
  if (!root || typeof window.Drawflow === "undefined") { return; }

  var config = readJson("workflow-editor-config");
  var initial = readJson("workflow-definition");
  var blockTypes = indexBy(config.blocks, "type");
  var DEFAULT_IDS = { saas_user_role: "role", notification: "notify" };
  var SCHEDULE_EXAMPLES = { daily: "03:00", every: "6h", cron: "0 3 * * *" };
  var CUSTOM_REQUEST = { method: "GET", url: "{{ base_url }}/users/{{ record.external_id }}" };
  var PEOPLE_REQUEST = { method: "POST", url: "https://it.example.com/laptops",
    body: { name: "{{ record.full_name }}", start_date: "{{ record.start_date }}" } };
  // What a workflow over each object starts from when the object is chosen.
  var OBJECT_STARTS = {
    saas_users: { trigger: { type: "manual" },
      criteria: { all: [{ field: "app", op: "eq", value: "Lever" }] },
      rule: { field: "role", op: "eq", value: "admin" },
      templates: "{{ record.email }}, {{ record.role }}, {{ record.app }} …" },
    people: { trigger: { type: "person_hired" },
      criteria: { field: "status", op: "eq", value: "pre_start" },
      rule: { field: "department", op: "eq", value: "Engineering" },
      templates: "{{ record.full_name }}, {{ record.start_date }}, {{ record.department }}, " +
        "{{ record.location }}, {{ record.manager_email }} …" }
  };
  var NODE_WIDTH = 240;
  var NODE_HEIGHT = 130;

  // Everything the editor knows beyond Drawflow's own graph.
  var state = {
    editor: null,
    name: root.dataset.workflow || "",
    blocks: {},        // Drawflow node id -> the block's definition (id, type, options)
    workflow: {},      // trigger, criteria and run mode: edited in the begin block's settings
    jsonErrors: {},    // settings whose JSON text does not parse, by field key
    selected: null,    // the Drawflow node id whose settings are shown
    busy: false
  };

  var el = {
    canvas: document.getElementById("drawflow"),
    settings: document.getElementById("block-settings"),
    problems: document.getElementById("workflow-problems"),
    report: document.getElementById("dry-run-report"),
    message: document.getElementById("workflow-message"),
    state: document.getElementById("workflow-state"),
    version: document.getElementById("workflow-version"),
    name: document.getElementById("wf-name"),
    object: document.getElementById("wf-object"),
    description: document.getElementById("wf-description"),
    fallback: document.getElementById("json-fallback"),
    fallbackText: document.getElementById("definition-json"),
    fallbackForm: document.querySelector("#json-fallback form")
  };

  // -- small utilities ------------------------------------------------------------------------

  // The JSON held in a <script type="application/json"> block.
  function readJson(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  // A lookup table of a list of objects by one of their keys.
  function indexBy(list, key) {
    var found = {};
    list.forEach(function (item) { found[item[key]] = item; });
    return found;
  }

  // A deep copy of plain JSON data.
  function copy(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  // An element with a class and text (text is never parsed as HTML).
  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // Text safe to place in HTML (Drawflow takes a node's content as an HTML string).
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // A short status line for the person editing.
  function say(text) {
    el.message.textContent = text;
  }

  // -- block types and nodes ------------------------------------------------------------------

  // The registry's entry for a block type (an unknown type gets a generic one).
  function typeOf(type) {
    return blockTypes[type] || { type: type, title: type, exits: ["success", "failure"],
      presets: [], keys: [] };
  }

  // The object the workflow is over: saas_users or people.
  function objectOf() {
    return state.workflow.object || "saas_users";
  }

  // Whether a block type, or a preset, can act on the workflow's object.
  function fits(entry) {
    return !entry.objects || entry.objects.indexOf(objectOf()) >= 0;
  }

  // The presets of a block type that fit the workflow's object.
  function presetsOf(type) {
    return typeOf(type).presets.filter(fits);
  }

  // How many input and output ports a block type's node has.
  function portsOf(type) {
    return { inputs: type === "begin" ? 0 : 1, outputs: typeOf(type).exits.length };
  }

  // The words shown under a node's id: its preset, label or nothing.
  function nodeDetail(block) {
    return block.label || block.preset || "";
  }

  // The HTML inside a node: its type, id and detail.
  function nodeHtml(block) {
    return '<div class="wf-node-body"><span class="wf-node-type">' +
      escapeHtml(typeOf(block.type).title) + '</span><strong class="wf-node-id">' +
      escapeHtml(block.id) + '</strong><span class="wf-node-detail">' +
      escapeHtml(nodeDetail(block)) + "</span></div>";
  }

  // The DOM element of a Drawflow node.
  function nodeElement(nodeId) {
    return document.getElementById("node-" + nodeId);
  }

  // Show a block's current id and detail on its node.
  function refreshNode(nodeId) {
    var node = nodeElement(nodeId);
    var block = state.blocks[nodeId];
    if (!node || !block) { return; }
    node.querySelector(".wf-node-id").textContent = block.id;
    node.querySelector(".wf-node-detail").textContent = nodeDetail(block);
  }

  // Put a block on the canvas at a point; its Drawflow node id.
  function addBlock(block, x, y) {
    var ports = portsOf(block.type);
    var classes = "wf-node wf-" + block.type + (ports.outputs > 1 ? " wf-two-exits" : "");
    var nodeId = state.editor.addNode(block.type, ports.inputs, ports.outputs, x, y, classes,
      {}, nodeHtml(block));
    state.blocks[nodeId] = block;
    return nodeId;
  }

  // Every block id in use on the canvas.
  function usedIds() {
    return Object.keys(state.blocks).map(function (key) { return state.blocks[key].id; });
  }

  // A block id not yet used, from the type's usual name (api, api_2, …).
  function freshId(type) {
    var base = DEFAULT_IDS[type] || type;
    var used = usedIds();
    var id = base;
    for (var n = 2; used.indexOf(id) >= 0; n++) { id = base + "_" + n; }
    return id;
  }

  // A new block of a type, filled with its first preset and the vault's only credential.
  function newBlock(type) {
    var block = { id: freshId(type), type: type };
    var kind = typeOf(type);
    var presets = presetsOf(type);
    if (presets.length) { applyPreset(block, presets[0].name); }
    if (type === "api" && !presets.length) { applyPreset(block, ""); }
    if (kind.keys.indexOf("credential") >= 0 && config.credentials.length === 1) {
      block.credential = config.credentials[0];
    }
    if (type === "condition") { block.rule = copy(OBJECT_STARTS[objectOf()].rule); }
    if (type === "update") { block.set = { status: "deactivated" }; }
    if (type === "notification") { block.to = ""; block.subject = ""; block.body = ""; }
    return block;
  }

  // Fill a block from a preset (its defaults too); an empty name means a custom API request.
  function applyPreset(block, name) {
    var preset = typeOf(block.type).presets.filter(function (p) { return p.name === name; })[0];
    if (!preset) {
      delete block.preset;
      if (block.type === "api" && !block.request) { block.request = copy(customRequest()); }
      return;
    }
    block.preset = name;
    delete block.request;
    Object.keys(preset.defaults).forEach(function (key) {
      if (block[key] === undefined) { block[key] = copy(preset.defaults[key]); }
    });
  }

  // The custom request a new API block starts from: a Lever call, or for people another API.
  function customRequest() {
    return objectOf() === "people" ? PEOPLE_REQUEST : CUSTOM_REQUEST;
  }

  // The positions of every node on the canvas.
  function positions() {
    var data = state.editor.drawflow.drawflow[state.editor.module].data;
    return Object.keys(data).map(function (key) { return { x: data[key].pos_x, y: data[key].pos_y }; });
  }

  // The first grid spot, left to right and top to bottom, with no node near it.
  function freeSpot() {
    var taken = positions();
    for (var i = 0; i < 200; i++) {
      var spot = { x: 40 + (i % 4) * NODE_WIDTH, y: 40 + Math.floor(i / 4) * NODE_HEIGHT };
      var clear = taken.every(function (p) {
        return Math.abs(p.x - spot.x) > NODE_WIDTH / 2 || Math.abs(p.y - spot.y) > NODE_HEIGHT / 2;
      });
      if (clear) { return spot; }
    }
    return { x: 40, y: 40 };
  }

  // Add a new block of a type where asked (or at a free spot), then show its settings.
  function addNewBlock(type, x, y) {
    var spot = x === undefined ? freeSpot() : { x: x, y: y };
    var nodeId = addBlock(newBlock(type), spot.x, spot.y);
    changed();
    say("Added " + typeOf(type).title + " block " + state.blocks[nodeId].id + ".");
    return nodeId;
  }

  // -- definition <-> graph -------------------------------------------------------------------

  // Lay blocks out left to right by their distance from begin; positions by block id.
  function layout(doc) {
    var depth = {};
    (doc.blocks || []).forEach(function (b) { depth[b.id] = b.type === "begin" ? 0 : 1; });
    var edges = (doc.edges || []).filter(function (e) { return e.from in depth && e.to in depth; });
    for (var round = 0; round < (doc.blocks || []).length; round++) {
      edges.forEach(function (e) { depth[e.to] = Math.max(depth[e.to], depth[e.from] + 1); });
    }
    var rows = {};
    var placed = {};
    (doc.blocks || []).forEach(function (b) {
      var column = Math.min(depth[b.id], 30);
      rows[column] = (rows[column] || 0) + 1;
      placed[b.id] = { x: 40 + column * NODE_WIDTH, y: 40 + (rows[column] - 1) * NODE_HEIGHT };
    });
    return placed;
  }

  // Draw a definition on an empty canvas.
  function loadDefinition(doc) {
    state.editor.clear();
    state.blocks = {};
    state.workflow = { object: doc.object || "saas_users",
      trigger: copy(doc.trigger) || { type: "manual" },
      criteria: copy(doc.criteria), run_mode: doc.run_mode || "autopilot" };
    var placed = layout(doc);
    var nodes = {};
    (doc.blocks || []).forEach(function (block) {
      if (block && typeof block.id === "string" && !(block.id in nodes)) {
        nodes[block.id] = addBlock(copy(block), placed[block.id].x, placed[block.id].y);
      }
    });
    (doc.edges || []).forEach(function (edge) { connectEdge(nodes, edge); });
  }

  // Draw one edge of a definition between the nodes of its blocks.
  function connectEdge(nodes, edge) {
    var from = nodes[edge.from];
    var to = nodes[edge.to];
    if (from === undefined || to === undefined) { return; }
    var exits = typeOf(state.blocks[from].type).exits;
    var index = exits.indexOf(edge.on || "success");
    if (index < 0 || portsOf(state.blocks[to].type).inputs === 0) { return; }
    state.editor.addConnection(from, to, "output_" + (index + 1), "input_1");
  }

  // The blocks in definition order: begin first, end blocks last, the rest as created.
  function orderedNodeIds() {
    var rank = function (id) {
      var type = state.blocks[id].type;
      return type === "begin" ? 0 : type === "end" ? 2 : 1;
    };
    return Object.keys(state.blocks).sort(function (a, b) {
      return rank(a) - rank(b) || Number(a) - Number(b);
    });
  }

  // The edges drawn on the canvas, as definition edges (output 1 = success, 2 = failure).
  function graphEdges() {
    var data = state.editor.export().drawflow[state.editor.module].data;
    var edges = [];
    orderedNodeIds().forEach(function (nodeId) {
      var exits = typeOf(state.blocks[nodeId].type).exits;
      var outputs = data[nodeId].outputs;
      Object.keys(outputs).sort().forEach(function (port) {
        outputs[port].connections.forEach(function (c) {
          if (!state.blocks[c.node]) { return; }
          edges.push({ from: state.blocks[nodeId].id, to: state.blocks[c.node].id,
            on: exits[Number(port.replace("output_", "")) - 1] });
        });
      });
    });
    return edges;
  }

  // The invsync definition the canvas and settings describe.
  function toDefinition() {
    var doc = { name: el.name.value.trim(), description: el.description.value || null,
      object: objectOf(), trigger: copy(state.workflow.trigger),
      criteria: copy(state.workflow.criteria), run_mode: state.workflow.run_mode };
    if (doc.description === null) { delete doc.description; }
    doc.blocks = orderedNodeIds().map(function (id) { return copy(state.blocks[id]); });
    doc.edges = graphEdges();
    return doc;
  }

  // After any edit: keep the JSON form in step with the canvas.
  function changed() {
    el.fallbackText.value = JSON.stringify(toDefinition(), null, 2);
  }

  // Show only the palette's blocks that can act on the workflow's object.
  function showPalette() {
    root.querySelectorAll(".palette-item").forEach(function (item) {
      item.hidden = (item.dataset.objects || "").split(" ").indexOf(objectOf()) < 0;
    });
  }

  // Choose the object of a new workflow: its palette, and a trigger (the object's usual one,
  // unless another that fits was chosen), criteria and run mode that fit it (blocks already on
  // the canvas that do not fit are named by Validate).
  function chooseObject(object) {
    var start = OBJECT_STARTS[object] || OBJECT_STARTS.saas_users;
    var before = OBJECT_STARTS[objectOf()] || OBJECT_STARTS.saas_users;
    var untouched = state.workflow.trigger.type === before.trigger.type;
    state.workflow.object = object;
    if (untouched || config.object_triggers[object].indexOf(state.workflow.trigger.type) < 0) {
      state.workflow.trigger = copy(start.trigger);
    }
    state.workflow.criteria = copy(start.criteria);
    if (config.object_run_modes[object].indexOf(state.workflow.run_mode) < 0) {
      state.workflow.run_mode = config.object_run_modes[object][0];
    }
    showPalette();
    renderSettings(state.selected);
    changed();
    say("The workflow is over " + (object === "people" ? "people" : "SaaS users") + ".");
  }

  // -- the settings panel: field builders -----------------------------------------------------

  // A labelled field around a control, with an optional hint below it.
  function field(labelText, control, hint) {
    var label = make("label", "wf-field", labelText);
    label.appendChild(control);
    if (hint) { label.appendChild(make("small", "muted", hint)); }
    return label;
  }

  // A text input that reports every change.
  function textInput(name, value, onValue, type) {
    var input = make("input");
    input.name = name;
    input.type = type || "text";
    input.value = value === undefined || value === null ? "" : String(value);
    input.addEventListener("input", function () { onValue(input.value); changed(); });
    return input;
  }

  // A select of `[value, label]` choices that reports changes.
  function selectInput(name, choices, value, onValue) {
    var select = make("select");
    select.name = name;
    choices.forEach(function (choice) {
      var option = make("option", null, choice[1]);
      option.value = choice[0];
      option.selected = choice[0] === (value === undefined || value === null ? "" : value);
      select.appendChild(option);
    });
    select.addEventListener("change", function () { onValue(select.value); changed(); });
    return select;
  }

  // A checkbox that reports changes.
  function checkInput(name, checked, onValue) {
    var input = make("input");
    input.type = "checkbox";
    input.name = name;
    input.checked = !!checked;
    input.addEventListener("change", function () { onValue(input.checked); changed(); });
    return input;
  }

  // A textarea holding JSON: a value that parses is stored; one that does not is marked and
  // remembered, so Save and Validate refuse it with a problem naming the block.
  function jsonInput(name, value, onValue, errorKey, blockId) {
    var area = make("textarea", "wf-json-input");
    area.name = name;
    area.rows = 5;
    area.spellcheck = false;
    area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
    area.addEventListener("input", function () {
      var text = area.value.trim();
      try {
        onValue(text === "" ? undefined : JSON.parse(text));
        delete state.jsonErrors[errorKey];
        area.removeAttribute("aria-invalid");
      } catch (err) {
        state.jsonErrors[errorKey] = { block: blockId(),
          message: "block '" + blockId() + "': " + name + " is not valid JSON (" + err.message + ")" };
        area.setAttribute("aria-invalid", "true");
      }
      changed();
    });
    return area;
  }

  // Set or remove one option of a block.
  function setOption(block, key, value) {
    if (value === undefined || value === "") { delete block[key]; } else { block[key] = value; }
  }

  // -- the settings panel: per block type -----------------------------------------------------

  // Show the settings of the selected node (or a hint when none is selected).
  function renderSettings(nodeId) {
    state.selected = nodeId;
    el.settings.textContent = "";
    var block = state.blocks[nodeId];
    if (!block) {
      el.settings.appendChild(make("p", "muted", "Select a block to edit its settings."));
      return;
    }
    var kind = typeOf(block.type);
    el.settings.appendChild(make("h2", null, kind.title + " block"));
    if (kind.description) { el.settings.appendChild(make("p", "muted small", kind.description)); }
    commonSettings(nodeId, block).forEach(function (f) { el.settings.appendChild(f); });
    var builder = SETTINGS[block.type] || genericSettings;
    builder(nodeId, block).forEach(function (f) { el.settings.appendChild(f); });
    if (kind.exits.indexOf("failure") >= 0) {
      retrySettings(block).forEach(function (f) { el.settings.appendChild(f); });
    }
    el.settings.appendChild(removeButton(nodeId));
  }

  // The id and label every block has.
  function commonSettings(nodeId, block) {
    return [
      field("Block id", textInput("block_id", block.id, function (v) {
        block.id = v.trim();
        refreshNode(nodeId);
      }), "Letters, digits, _ - . (unique in the workflow)"),
      field("Label", textInput("label", block.label, function (v) {
        setOption(block, "label", v);
        refreshNode(nodeId);
      }))
    ];
  }

  // A select of the vault's credential names (a name no longer stored stays selectable).
  function credentialField(block) {
    var choices = [["", "(choose a credential)"]].concat(config.credentials.map(function (n) {
      return [n, n];
    }));
    if (block.credential && config.credentials.indexOf(block.credential) < 0) {
      choices.push([block.credential, block.credential + " (not in the vault)"]);
    }
    return field("Credential", selectInput("credential", choices, block.credential, function (v) {
      setOption(block, "credential", v);
    }), "The vault credential whose key the block sends to Lever");
  }

  // A select of the type's presets that fit the object; `custom` adds the "no preset" choice.
  function presetField(nodeId, block, custom) {
    var presets = presetsOf(block.type).map(function (p) { return [p.name, p.name]; });
    if (block.preset && presets.every(function (p) { return p[0] !== block.preset; })) {
      presets.push([block.preset, block.preset + " (not for this object)"]);
    }
    var choices = custom ? [["", "(custom request)"]].concat(presets) : presets;
    var chosen = typeOf(block.type).presets.filter(function (p) { return p.name === block.preset; })[0];
    return field("Preset", selectInput("preset", choices, block.preset, function (v) {
      applyPreset(block, v);
      refreshNode(nodeId);
      renderSettings(nodeId);
    }), chosen ? chosen.description : "");
  }

  // Begin: the workflow's trigger, criteria and run mode.
  function beginSettings() {
    var fields = [triggerTypeField()];
    if (state.workflow.trigger.type === "schedule") { fields = fields.concat(scheduleFields()); }
    var people = objectOf() === "people";
    fields.push(field("Criteria (rule JSON)", jsonInput("criteria", state.workflow.criteria,
      function (v) { state.workflow.criteria = v; }, "workflow:criteria", beginId),
      "Which " + (people ? "people" : "SaaS users") + " run, such as " +
      JSON.stringify(OBJECT_STARTS[objectOf()].criteria) + ". Fields: " +
      config.fields[objectOf()].join(", ")));
    fields.push(field("Run mode", selectInput("run_mode", config.object_run_modes[objectOf()]
      .map(function (m) { return [m, m]; }), state.workflow.run_mode,
    function (v) { state.workflow.run_mode = v; }),
    people ? "A people workflow changes no Lever user, so it never waits for approval"
      : "Supervised holds every change to Lever for approval"));
    return fields;
  }

  // The id of the begin block (problems in the trigger or criteria are shown on it).
  function beginId() {
    var found = orderedNodeIds().filter(function (id) { return state.blocks[id].type === "begin"; });
    return found.length ? state.blocks[found[0]].id : "begin";
  }

  // The trigger type select; changing it starts that trigger afresh.
  function triggerTypeField() {
    var labels = { schedule: "schedule", record_created: "record created (after a sync)",
      record_deactivated: "record deactivated (after a sync)", manual: "manual (Run now)",
      person_hired: "person hired (from Lever, before day one)",
      person_started: "person started (on the start date)" };
    var choices = config.object_triggers[objectOf()].map(function (t) { return [t, labels[t] || t]; });
    if (!choices.some(function (c) { return c[0] === state.workflow.trigger.type; })) {
      choices.push([state.workflow.trigger.type, state.workflow.trigger.type + " (not for this object)"]);
    }
    return field("Trigger", selectInput("trigger", choices, state.workflow.trigger.type,
      function (v) {
        state.workflow.trigger = v === "schedule" ? { type: v, daily: "03:00", tz: "UTC" } : { type: v };
        renderSettings(state.selected);
      }));
  }

  // The kind (daily, every, cron), value and time zone of a schedule trigger.
  function scheduleFields() {
    var trigger = state.workflow.trigger;
    var kind = config.schedule_kinds.filter(function (k) { return k in trigger; })[0] || "daily";
    return [
      field("Schedule", selectInput("schedule_kind", config.schedule_kinds.map(function (k) {
        return [k, k];
      }), kind, function (v) {
        config.schedule_kinds.forEach(function (k) { delete trigger[k]; });
        trigger[v] = SCHEDULE_EXAMPLES[v];
        renderSettings(state.selected);
      })),
      field("When", textInput("schedule_value", trigger[kind], function (v) { trigger[kind] = v; }),
        "daily HH:MM, every 6h / 30m, or cron M H DOM MON DOW"),
      field("Time zone", textInput("tz", trigger.tz || "UTC", function (v) {
        setOption(trigger, "tz", v.trim());
      }))
    ];
  }

  // API: a preset (Lever Delete User …) or a custom templated request, and the credential.
  function apiSettings(nodeId, block) {
    var fields = [presetField(nodeId, block, true), credentialField(block)];
    if (!block.preset) { fields = fields.concat(requestFields(nodeId, block)); }
    return fields;
  }

  // The method, URL, headers and body templates of a custom API request.
  function requestFields(nodeId, block) {
    var request = block.request || (block.request = copy(customRequest()));
    var idOf = function () { return block.id; };
    return [
      field("Method", selectInput("method", config.methods.map(function (m) { return [m, m]; }),
        String(request.method || "GET").toUpperCase(), function (v) { request.method = v; })),
      field("URL", textInput("url", request.url, function (v) { request.url = v; }),
        "A template: {{ base_url }}, " + OBJECT_STARTS[objectOf()].templates),
      field("Headers (JSON)", jsonInput("headers", request.headers, function (v) {
        setOption(request, "headers", v);
      }, nodeId + ":headers", idOf)),
      field("Body (JSON)", jsonInput("body", request.body, function (v) {
        setOption(request, "body", v);
      }, nodeId + ":body", idOf))
    ];
  }

  // SaaS User Role: the preset, credential, deactivate_user and the lookup.
  function roleSettings(nodeId, block) {
    return [
      presetField(nodeId, block, false),
      credentialField(block),
      field("Deactivate user", checkInput("deactivate_user", block.deactivate_user !== false,
        function (v) { block.deactivate_user = v; }),
      "Deactivate the SaaS user when Lever does not have it, or has deactivated it"),
      field("Lookup", selectInput("lookup", [["", "auto"], ["each", "each (one call per user)"]],
        block.lookup === "each" ? "each" : "", function (v) { setOption(block, "lookup", v); }))
    ];
  }

  // Condition: the rule JSON.
  function conditionSettings(nodeId, block) {
    return [field("Rule (JSON)", jsonInput("rule", block.rule, function (v) {
      setOption(block, "rule", v);
    }, nodeId + ":rule", function () { return block.id; }),
    "Success when it holds, failure when not")];
  }

  // Update: the fields to set, as JSON.
  function updateSettings(nodeId, block) {
    return [field("Set fields (JSON)", jsonInput("set", block.set, function (v) {
      setOption(block, "set", v);
    }, nodeId + ":set", function () { return block.id; }),
    "Fields: " + config.update_fields.join(", ") + "; values are templates or null")];
  }

  // Notification: recipients, subject and body templates.
  function notificationSettings(nodeId, block) {
    var to = Array.isArray(block.to) ? block.to.join(", ") : block.to;
    return [
      field("To", textInput("to", to, function (v) {
        var list = v.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
        block.to = list.length === 1 ? list[0] : list;
      }), "Addresses separated by commas (templates allowed)"),
      field("Subject", textInput("subject", block.subject, function (v) { block.subject = v; }),
        "Templates: " + OBJECT_STARTS[objectOf()].templates),
      field("Body", (function () {
        var area = make("textarea");
        area.name = "body";
        area.rows = 5;
        area.value = block.body || "";
        area.addEventListener("input", function () { block.body = area.value; changed(); });
        return area;
      })())
    ];
  }

  // A block type this editor has no form for: its options as JSON.
  function genericSettings(nodeId, block) {
    var options = {};
    Object.keys(block).forEach(function (key) {
      if (["id", "type", "label", "retry"].indexOf(key) < 0) { options[key] = block[key]; }
    });
    return [field("Options (JSON)", jsonInput("options", options, function (v) {
      Object.keys(options).forEach(function (key) { delete block[key]; });
      Object.assign(block, v || {});
      options = v || {};
    }, nodeId + ":options", function () { return block.id; }))];
  }

  // No settings beyond id and label.
  function noSettings() {
    return [];
  }

  // Retry tries and backoff for blocks that can fail.
  function retrySettings(block) {
    var retry = block.retry || {};
    var update = function (key, text) {
      var next = copy(block.retry) || {};
      if (text === "") { delete next[key]; } else { next[key] = Number(text); }
      if (Object.keys(next).length) { block.retry = next; } else { delete block.retry; }
    };
    return [
      field("Retry tries", textInput("retry_tries", retry.tries, function (v) { update("tries", v); },
        "number"), "1 to 10 (1 = no retry)"),
      field("Retry backoff (seconds)", textInput("retry_backoff", retry.backoff, function (v) {
        update("backoff", v);
      }, "number"), "Doubles after each failed try")
    ];
  }

  // A button that removes the block from the canvas.
  function removeButton(nodeId) {
    var button = make("button", "secondary outline small", "Remove block");
    button.type = "button";
    button.addEventListener("click", function () {
      state.editor.removeNodeId("node-" + nodeId);
    });
    return button;
  }

  var SETTINGS = {
    begin: beginSettings, end: noSettings, api: apiSettings, saas_user_role: roleSettings,
    condition: conditionSettings, update: updateSettings, notification: notificationSettings
  };

  // -- problems and reports -------------------------------------------------------------------

  // List problems in #workflow-problems and mark the nodes they name with `has-problem`.
  function showProblems(problems) {
    el.problems.textContent = "";
    Object.keys(state.blocks).forEach(function (id) {
      var node = nodeElement(id);
      if (node) { node.classList.remove("has-problem"); }
    });
    if (!problems.length) { return; }
    var count = problems.length + " problem" + (problems.length === 1 ? "" : "s");
    el.problems.appendChild(make("p")).appendChild(make("strong", null, count));
    var list = el.problems.appendChild(make("ul"));
    problems.forEach(function (problem) {
      var item = list.appendChild(make("li", null, problem.message));
      if (problem.block) { item.dataset.block = problem.block; markBlock(problem.block); }
    });
  }

  // Add `has-problem` to every node whose block has this id.
  function markBlock(blockId) {
    Object.keys(state.blocks).forEach(function (id) {
      var node = nodeElement(id);
      if (node && state.blocks[id].id === blockId) { node.classList.add("has-problem"); }
    });
  }

  // Problems the browser already knows about: settings whose JSON does not parse.
  function localProblems() {
    return Object.keys(state.jsonErrors).map(function (key) { return state.jsonErrors[key]; });
  }

  // A cell of a report table.
  function cell(row, text, className) {
    return row.appendChild(make("td", className, text));
  }

  // Show a dry run's would-do report: per record, what each block would do.
  function showReport(report) {
    el.report.textContent = "";
    el.report.appendChild(make("h2", null, "Dry run report"));
    var summary = el.report.appendChild(make("p", "wf-report-summary",
      "Run " + report.run_id + ": " + report.status + ", " + report.matched + " record" +
      (report.matched === 1 ? "" : "s") + " matched. "));
    var link = summary.appendChild(make("a", null, "Every step"));
    link.href = report.url;
    if (report.message) { el.report.appendChild(make("p", "flash flash-error", report.message)); }
    if (report.pending_approvals) {
      el.report.appendChild(make("p", null, report.pending_approvals +
        " change(s) would wait for approval (supervised)."));
    }
    if (report.records.length) { el.report.appendChild(reportTable(report.records)); }
    if (report.more_records) {
      el.report.appendChild(make("p", "muted", "… and " + report.more_records +
        " more records on the run page."));
    }
  }

  // The report's table: record, block, outcome, message.
  function reportTable(records) {
    var table = make("table", "data wf-steps");
    var head = table.appendChild(make("thead")).appendChild(make("tr"));
    ["Record", "Block", "Outcome", "Message"].forEach(function (h) {
      head.appendChild(make("th", null, h));
    });
    var body = table.appendChild(make("tbody"));
    records.forEach(function (record) {
      record.steps.forEach(function (step, i) {
        var row = body.appendChild(make("tr", "outcome-" + step.outcome));
        cell(row, i === 0 ? record.record : "");
        cell(row, step.block);
        cell(row, step.outcome);
        cell(row, step.message || "", "wf-message-cell");
      });
    });
    return table;
  }

  // Show the workflow's state and version, and which of Activate / Deactivate applies.
  function showState(workflowState, version) {
    el.state.textContent = workflowState;
    el.version.textContent = version;
    root.querySelector('[data-action="activate"]').hidden = workflowState === "active";
    root.querySelector('[data-action="deactivate"]').hidden = workflowState !== "active";
  }

  // -- talking to the server ------------------------------------------------------------------

  // POST JSON with the page's CSRF token; the server's JSON answer (or a problem saying why not).
  function post(url, body) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
        "X-CSRF-Token": meta ? meta.content : "" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return { ok: false, problems: [{ block: null,
          message: "the server answered " + response.status + " (reload the page?)" }] };
      });
    }, function () {
      return { ok: false, problems: [{ block: null, message: "the server could not be reached" }] };
    });
  }

  // Ask for a queued run's report until a worker has finished it (a few minutes at most).
  function follow(report, tries) {
    tries = tries || 0;
    if (report.done || !report.url || tries >= 300) { return Promise.resolve(report); }
    say(report.status === "queued" ? "Dry run waiting for a worker…" : "Dry run in progress…");
    return new Promise(function (resolve) { window.setTimeout(resolve, tries < 10 ? 300 : 1000); })
      .then(function () {
        return fetch(report.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (response) { return response.ok ? response.json() : report; },
                function () { return report; });
      })
      .then(function (next) { return follow(next, tries + 1); });
  }

  // The URL of one of a stored workflow's actions.
  function workflowUrl(action) {
    return root.dataset.workflowsUrl + "/" + encodeURIComponent(state.name) + "/" + action;
  }

  // The definition to send, or null (with the problems shown) when a setting does not parse.
  function collect() {
    var local = localProblems();
    if (local.length) {
      showProblems(local);
      say("Fix the settings marked invalid first.");
      return null;
    }
    return toDefinition();
  }

  // Validate: check the definition on the server without storing it.
  function validate() {
    var doc = collect();
    if (!doc) { return Promise.resolve(null); }
    return post(root.dataset.validateUrl, doc).then(function (answer) {
      showProblems(answer.problems || []);
      say(answer.ok ? "Valid: no problems." : "Not valid yet: see the problems.");
      return answer;
    });
  }

  // Save: create the workflow, or update it; resolves to the answer when it was stored.
  function save() {
    var doc = collect();
    if (!doc) { return Promise.resolve(null); }
    var url = state.name ? workflowUrl("definition") : root.dataset.createUrl;
    return post(url, doc).then(function (answer) {
      if (!answer.ok) {
        showProblems(answer.problems || []);
        say("Not saved: see the problems.");
        return null;
      }
      saved(answer);
      return answer;
    });
  }

  // After a save: the editor now edits the stored workflow (its name stays).
  function saved(answer) {
    state.name = answer.name;
    root.dataset.workflow = answer.name;
    el.name.readOnly = true;
    el.fallbackForm.action = answer.edit_url;
    if (window.location.pathname !== answer.edit_url) {
      window.history.replaceState(null, "", answer.edit_url);
    }
    showState(answer.state, answer.version);
    showProblems([]);
    say("Saved: " + answer.result.replace("_", " ") + " (version " + answer.version + ").");
  }

  // Dry run: save, then try the workflow on its records and show what it would do.
  function dryRun() {
    return save().then(function (stored) {
      if (!stored) { return null; }
      say("Dry run queued…");
      return post(workflowUrl("dry-run"), {}).then(function (report) {
        if (!report.records) { showProblems(report.problems || []); say("The dry run did not start."); return null; }
        return follow(report).then(function (done) {
          showReport(done);
          say(done.done ? "Dry run done: nothing was changed." : "The dry run is still going: see its run page.");
          return done;
        });
      });
    });
  }

  // Activate: save, then make the workflow active.
  function activate() {
    return save().then(function (stored) {
      if (!stored) { return null; }
      return post(workflowUrl("activate"), {}).then(stateAnswer);
    });
  }

  // Deactivate: stop the workflow running on its trigger.
  function deactivate() {
    if (!state.name) { return Promise.resolve(null); }
    return post(workflowUrl("deactivate"), {}).then(stateAnswer);
  }

  // Show the answer of an activate or deactivate.
  function stateAnswer(answer) {
    showProblems(answer.problems || []);
    if (answer.ok) {
      showState(answer.state, answer.version);
      say("The workflow is " + answer.state + ".");
    } else {
      say("Not changed: see the problems.");
    }
    return answer;
  }

  var ACTIONS = { validate: validate, save: save, "dry-run": dryRun, activate: activate,
    deactivate: deactivate };

  // Run a toolbar action, one at a time, with the buttons disabled meanwhile.
  function runAction(name) {
    if (state.busy) { return; }
    var buttons = root.querySelectorAll("[data-action]");
    state.busy = true;
    buttons.forEach(function (b) { b.disabled = true; });
    var done = function () {
      state.busy = false;
      buttons.forEach(function (b) { b.disabled = false; });
    };
    ACTIONS[name]().then(done, function (err) { done(); say("Something went wrong: " + err); });
  }

  // -- wiring ---------------------------------------------------------------------------------

  // The canvas point under a drop, in Drawflow's coordinates (zoom and pan included).
  function canvasPoint(event) {
    var box = state.editor.precanvas.getBoundingClientRect();
    return { x: (event.clientX - box.left) / state.editor.zoom,
      y: (event.clientY - box.top) / state.editor.zoom };
  }

  // Palette items add blocks by click, keyboard or drag and drop.
  function wirePalette() {
    root.querySelectorAll(".palette-item").forEach(function (item) {
      var type = item.dataset.blockType;
      item.addEventListener("click", function () { addNewBlock(type); });
      item.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); addNewBlock(type); }
      });
      item.addEventListener("dragstart", function (event) {
        event.dataTransfer.setData("text/plain", type);
        event.dataTransfer.effectAllowed = "copy";
      });
    });
    el.canvas.addEventListener("dragover", function (event) { event.preventDefault(); });
    el.canvas.addEventListener("drop", function (event) {
      event.preventDefault();
      var type = event.dataTransfer.getData("text/plain");
      if (!blockTypes[type] || !fits(blockTypes[type])) { return; }
      var point = canvasPoint(event);
      addNewBlock(type, point.x, point.y);
    });
  }

  // One connection per output: a new one from an output replaces the one it had.
  function onConnection(info) {
    var node = state.editor.getNodeFromId(info.output_id);
    node.outputs[info.output_class].connections.forEach(function (c) {
      if (String(c.node) !== String(info.input_id)) {
        state.editor.removeSingleConnection(info.output_id, c.node, info.output_class, c.output);
      }
    });
    changed();
  }

  // Drawflow's events: selection opens the settings; graph edits refresh the JSON form.
  function wireCanvas() {
    var editor = state.editor;
    editor.on("nodeSelected", function (id) { renderSettings(String(id)); });
    editor.on("nodeUnselected", function () { renderSettings(null); });
    editor.on("nodeRemoved", function (id) {
      delete state.blocks[String(id)];
      if (state.selected === String(id)) { renderSettings(null); }
      changed();
    });
    editor.on("connectionCreated", onConnection);
    editor.on("connectionRemoved", changed);
    editor.on("nodeMoved", changed);
  }

  // The toolbar buttons and the name and description inputs.
  function wireToolbar() {
    root.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () { runAction(button.dataset.action); });
    });
    el.name.addEventListener("input", changed);
    el.description.addEventListener("input", changed);
    el.object.addEventListener("change", function () { chooseObject(el.object.value); });
  }

  // Mark the nodes named by problems the server listed when the page was rendered.
  function markRenderedProblems() {
    el.problems.querySelectorAll("li[data-block]").forEach(function (item) {
      markBlock(item.dataset.block);
    });
  }

  // Start the editor on the page's definition.
  function start() {
    state.editor = new window.Drawflow(el.canvas);
    state.editor.reroute = false;
    state.editor.start();
    loadDefinition(initial);
    el.object.value = objectOf();
    showPalette();
    wireCanvas();
    wirePalette();
    wireToolbar();
    markRenderedProblems();
    if (!el.problems.querySelector("li")) { el.fallback.open = false; }
  }

  start();
})();
