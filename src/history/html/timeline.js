// The timeline of a replikv history, drawn on a canvas. See
// src/history/html/mod.rs for what it shows and why it is drawn this way.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  // How each kind of operation is drawn: one row per kind, by the name the
  // history's JSON gives it. A kind missing here is drawn grey.
  var KINDS = {
    put: { fill: "#3b7dd8", label: "put" },
    get: { fill: "#2ea44f", label: "get" },
    "delete": { fill: "#d73a49", label: "delete" },
    cas: { fill: "#8250df", label: "compare-and-set" }
  };
  var OTHER = { fill: "#888888", label: "other" };
  var ROW = 22, BAR = 14, AXIS = 26, LEFT = 60, RIGHT = 12;
  var n = D.call.length;
  var plot = document.getElementById("plot");
  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var tip = document.getElementById("tip");
  var style = function (k) { return KINDS[D.kinds[k]] || OTHER; };

  var end = 1;
  for (var i = 0; i < n; i++) {
    end = Math.max(end, D.ret[i] >= 0 ? D.ret[i] : D.call[i]);
  }
  var whole = { t0: 0, t1: end * 1.02 + 1 };
  var view = { t0: whole.t0, t1: whole.t1 };
  var keyFilter = D.cx_key === null || D.cx_key === undefined ? -1 : D.cx_key;
  var showPoints = false;
  var pointAt = {};
  D.points.forEach(function (p) { pointAt[p[0]] = p[1]; });
  var inCx = {};
  D.cx.forEach(function (i) { inCx[i] = true; });
  var rows = [];      // rows[r] = { client, ops: [indices by call] }

  function refilter() {
    var byLane = {};
    rows = [];
    for (var i = 0; i < n; i++) {
      if (keyFilter >= 0 && D.key[i] !== keyFilter) { continue; }
      var lane = D.lane[i];
      if (!(lane in byLane)) { byLane[lane] = { client: D.clients[lane], ops: [], lane: lane }; rows.push(byLane[lane]); }
      byLane[lane].ops.push(i);
    }
    rows.sort(function (a, b) { return a.lane - b.lane; });
  }

  function width() { return canvas.width; }
  function x(t) { return LEFT + (t - view.t0) / (view.t1 - view.t0) * (width() - LEFT - RIGHT); }
  function tAt(px) { return view.t0 + (px - LEFT) / (width() - LEFT - RIGHT) * (view.t1 - view.t0); }
  // Times are kept relative to the first call; shown on the cluster clock,
  // as the history JSON, the trace and `replikv diagram --from` have them.
  function ms(t) { return ((t + D.origin_ns) / 1e6).toFixed(3) + " ms"; }

  function resize() {
    canvas.width = Math.max(400, plot.clientWidth - 4);
    canvas.height = AXIS + ROW * Math.max(1, rows.length) + 8;
  }

  function draw() {
    var W = width();
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, W, canvas.height);
    // Time axis.
    ctx.fillStyle = "#555";
    ctx.strokeStyle = "#e5e5e5";
    ctx.font = "11px sans-serif";
    for (var k = 0; k <= 8; k++) {
      var t = view.t0 + (view.t1 - view.t0) * k / 8;
      var px = x(t);
      ctx.beginPath(); ctx.moveTo(px, AXIS - 4); ctx.lineTo(px, canvas.height); ctx.stroke();
      ctx.fillText(ms(t), px - 20, 14);
    }
    for (var r = 0; r < rows.length; r++) {
      var y = AXIS + r * ROW;
      ctx.fillStyle = r % 2 ? "#fafafa" : "#ffffff";
      ctx.fillRect(LEFT, y, W - LEFT, ROW);
      ctx.fillStyle = "#333";
      ctx.fillText("c" + rows[r].client, 6, y + 15);
      var ops = rows[r].ops;
      for (var j = 0; j < ops.length; j++) {
        var i = ops[j];
        var c = D.call[i];
        if (c > view.t1) { break; }
        var open = D.ret[i] < 0;
        var e = open ? view.t1 : D.ret[i];
        if (e < view.t0) { continue; }
        drawBar(i, y + (ROW - BAR) / 2, open);
      }
    }
    // The counterexample last, on top.
    D.cx.forEach(function (i) {
      var row = rowOf(i);
      if (row < 0) { return; }
      var x0 = x(D.call[i]), x1 = D.ret[i] < 0 ? width() - RIGHT : x(D.ret[i]);
      ctx.strokeStyle = "#c62828"; ctx.lineWidth = 3;
      ctx.strokeRect(x0 - 2, AXIS + row * ROW + 1, Math.max(4, x1 - x0) + 4, ROW - 2);
      ctx.lineWidth = 1;
      ctx.fillStyle = "#c62828";
      ctx.fillText("#" + i, Math.max(x0, x1) + 6, AXIS + row * ROW + 15);
    });
    document.getElementById("window").textContent = "showing " + ms(view.t0) + " to " + ms(view.t1);
  }

  function drawBar(i, y, open) {
    var s = style(D.kind[i]);
    var x0 = x(D.call[i]);
    var x1 = open ? width() - RIGHT : x(D.ret[i]);
    var w = Math.max(2, x1 - x0);
    if (open) {
      var g = ctx.createLinearGradient(x0, 0, x0 + Math.min(w, 160), 0);
      g.addColorStop(0, s.fill); g.addColorStop(1, "rgba(255,255,255,0)");
      ctx.fillStyle = g;
      ctx.fillRect(x0, y, Math.min(w, 160), BAR);
      ctx.fillStyle = "#333";
      ctx.fillText("?", x0 + Math.min(w, 160) + 2, y + 11);
    } else if (!D.ok[i]) {
      ctx.strokeStyle = s.fill;
      ctx.strokeRect(x0 + 0.5, y + 0.5, w - 1, BAR - 1);
    } else {
      ctx.fillStyle = s.fill;
      ctx.fillRect(x0, y, w, BAR);
    }
    if (w > 60) {
      ctx.save();
      ctx.beginPath(); ctx.rect(x0, y, w, BAR); ctx.clip();
      ctx.fillStyle = open || !D.ok[i] ? "#222" : "#fff";
      ctx.fillText(D.label[i], x0 + 3, y + 11);
      ctx.restore();
    }
    if (showPoints && (i in pointAt)) {
      var px = x(pointAt[i] + 0);
      ctx.fillStyle = "#000";
      ctx.beginPath(); ctx.moveTo(px, y - 3); ctx.lineTo(px - 4, y - 8); ctx.lineTo(px + 4, y - 8); ctx.fill();
      ctx.fillRect(px - 0.5, y - 3, 1, BAR + 3);
    }
  }

  function rowOf(i) {
    for (var r = 0; r < rows.length; r++) { if (rows[r].client === D.clients[D.lane[i]]) { return rows[r].ops.indexOf(i) >= 0 ? r : -1; } }
    return -1;
  }

  function hit(px, py) {
    var r = Math.floor((py - AXIS) / ROW);
    if (r < 0 || r >= rows.length) { return -1; }
    var t = tAt(px), slack = 3 * (view.t1 - view.t0) / width(), found = -1;
    rows[r].ops.forEach(function (i) {
      var e = D.ret[i] < 0 ? view.t1 : D.ret[i];
      if (D.call[i] - slack <= t && t <= e + slack) { found = i; }
    });
    return found;
  }

  function describe(i) {
    var lines = ["#" + i + "  c" + D.clients[D.lane[i]] + "  " + D.label[i],
      "key " + D.keys[D.key[i]],
      "called " + ms(D.call[i]) + (D.ret[i] < 0 ? ", timed out: may have taken effect later, or never" :
        ", returned " + ms(D.ret[i]) + " (" + ((D.ret[i] - D.call[i]) / 1e3).toFixed(1) + " µs)")];
    if (D.ret[i] >= 0 && !D.ok[i]) { lines.push("failed without effect"); }
    if (i in pointAt) { lines.push("linearized at " + ms(pointAt[i])); }
    if (inCx[i]) { lines.push("part of the counterexample"); }
    return lines.join("\n");
  }

  function zoom(factor, around) {
    var span = (view.t1 - view.t0) * factor;
    span = Math.max(span, 100);
    var c = around === undefined ? (view.t0 + view.t1) / 2 : around;
    var f = (c - view.t0) / (view.t1 - view.t0);
    view.t0 = c - f * span; view.t1 = view.t0 + span;
    draw();
  }

  function focus(indices) {
    if (!indices.length) { return; }
    var a = Infinity, b = -Infinity;
    indices.forEach(function (i) { a = Math.min(a, D.call[i]); b = Math.max(b, D.ret[i] < 0 ? D.call[i] : D.ret[i]); });
    var pad = Math.max((b - a) * 0.25, 1000);
    view.t0 = a - pad; view.t1 = b + pad;
    draw();
  }

  // Controls.
  var select = document.getElementById("key");
  D.keys.forEach(function (k, i) {
    var o = document.createElement("option");
    o.value = String(i); o.textContent = k;
    select.appendChild(o);
  });
  select.value = String(keyFilter);
  select.addEventListener("change", function () { keyFilter = Number(select.value); refilter(); resize(); draw(); });
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(0.5); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2); });
  document.getElementById("zoom-reset").addEventListener("click", function () { view.t0 = whole.t0; view.t1 = whole.t1; draw(); });
  var box = document.getElementById("points");
  box.disabled = D.points.length === 0;
  box.addEventListener("change", function () { showPoints = box.checked; draw(); });
  var legend = document.getElementById("legend");
  D.kinds.forEach(function (k) {
    var s = KINDS[k] || OTHER, sw = document.createElement("span");
    sw.className = "swatch"; sw.style.background = s.fill;
    legend.appendChild(sw);
    legend.appendChild(document.createTextNode(s === OTHER ? k : s.label));
  });
  Array.prototype.forEach.call(document.querySelectorAll("tr.cx-op"), function (tr) {
    tr.addEventListener("click", function () { focus([Number(tr.getAttribute("data-index"))]); });
  });

  var drag = null;
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 0.8 : 1.25, tAt(ev.offsetX));
  }, { passive: false });
  canvas.addEventListener("mousedown", function (ev) { drag = { x: ev.offsetX, t0: view.t0, t1: view.t1 }; });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("mousemove", function (ev) {
    if (drag) {
      var dt = (ev.offsetX - drag.x) / (width() - LEFT - RIGHT) * (drag.t1 - drag.t0);
      view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt;
      draw();
      return;
    }
    var i = hit(ev.offsetX, ev.offsetY);
    if (i < 0) { tip.hidden = true; return; }
    tip.textContent = describe(i);
    tip.hidden = false;
    tip.style.left = (ev.offsetX + 14) + "px";
    tip.style.top = (ev.offsetY + 14) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  window.addEventListener("resize", function () { resize(); draw(); });

  refilter();
  resize();
  if (D.cx.length) { focus(D.cx); } else { draw(); }
  document.body.setAttribute("data-drawn", String(n));
})();
