// Agreement dashboard: draws the charts as inline SVG from the report embedded in the page,
// and makes the annotator table sortable. No library: the charts are a few rectangles and lines.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var dataNode = document.getElementById("agreement-report");
  if (!dataNode) return;
  var report = JSON.parse(dataNode.textContent);

  function el(name, attrs, parent, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function svg(container, width, height, label) {
    var root = el("svg", {
      viewBox: "0 0 " + width + " " + height, width: "100%", role: "img", "aria-label": label,
      "class": "agr-svg",
    });
    container.appendChild(root);
    return root;
  }

  function empty(container, message) {
    var p = document.createElement("p");
    p.className = "agr-empty";
    p.textContent = message;
    container.appendChild(p);
  }

  function fmt(x, digits) { return x === null || x === undefined ? "n/a" : x.toFixed(digits || 2); }

  // Red below chance (0.5), white at chance, green towards full agreement.
  function agreementColour(v) {
    if (v === null || v === undefined) return "#d0d4dc";
    var lo = [180, 35, 24], mid = [246, 247, 251], hi = [21, 127, 59];
    var t = Math.max(0, Math.min(1, v)), a, b, f;
    if (t < 0.5) { a = lo; b = mid; f = t / 0.5; } else { a = mid; b = hi; f = (t - 0.5) / 0.5; }
    var c = a.map(function (x, i) { return Math.round(x + (b[i] - x) * f); });
    return "rgb(" + c.join(",") + ")";
  }

  function heatmap(container) {
    var names = (report.annotators || []).map(function (a) { return a.annotator; });
    var pairs = report.annotator_pairs || [];
    if (names.length < 2 || pairs.length === 0) {
      empty(container, "No two annotators ranked the same prompt.");
      return;
    }
    var index = {};
    names.forEach(function (n, i) { index[n] = i; });
    var cell = Math.max(14, Math.min(48, Math.floor(420 / names.length)));
    var label = 110, n = names.length;
    var root = svg(container, label + n * cell + 10, label + n * cell + 10, "Annotator agreement heatmap");
    names.forEach(function (name, i) {
      el("text", { x: label - 6, y: label + i * cell + cell / 2 + 4, "text-anchor": "end", "class": "agr-tick" }, root, name);
      el("text", {
        x: 0, y: 0, "class": "agr-tick",
        transform: "translate(" + (label + i * cell + cell / 2 + 4) + "," + (label - 6) + ") rotate(-60)",
      }, root, name);
    });
    var byPair = {};
    pairs.forEach(function (p) {
      var i = index[p.annotators[0]], j = index[p.annotators[1]];
      if (i === undefined || j === undefined) return;
      byPair[i + ":" + j] = p;
      byPair[j + ":" + i] = p;
    });
    for (var i = 0; i < n; i++) {
      for (var j = 0; j < n; j++) {
        if (i === j) continue;
        var p = byPair[i + ":" + j];
        var v = p ? p.pairwise_agreement : null;
        var rect = el("rect", {
          x: label + j * cell, y: label + i * cell, width: cell - 1, height: cell - 1,
          fill: p ? agreementColour(v) : "#eef0f4", "class": "agr-cell",
          "data-value": v === null || v === undefined ? "" : v,
        }, root);
        var tip = names[i] + " vs " + names[j] + ": ";
        if (!p) tip += "no shared prompts";
        else if (v === null) tip += "n/a (" + ((p.reasons || {}).pairwise_agreement || "undefined") + ")";
        else tip += fmt(v, 3) + " over " + p.comparisons + " comparisons, " + p.shared_prompts + " prompts";
        el("title", {}, rect, tip);
        if (p && v !== null && cell >= 30) {
          el("text", { x: label + j * cell + cell / 2, y: label + i * cell + cell / 2 + 4,
            "text-anchor": "middle", "class": "agr-cell-text" }, root, fmt(v, 2));
        }
      }
    }
  }

  function axes(root, x0, y0, w, h, yMax, yLabel) {
    el("line", { x1: x0, y1: y0, x2: x0 + w, y2: y0, "class": "agr-axis" }, root);
    el("line", { x1: x0, y1: y0, x2: x0, y2: y0 - h, "class": "agr-axis" }, root);
    [0, 0.5, 1].forEach(function (f) {
      var y = y0 - f * h;
      el("text", { x: x0 - 6, y: y + 4, "text-anchor": "end", "class": "agr-tick" }, root,
        yMax === 1 ? fmt(f, 1) : String(Math.round(f * yMax)));
    });
    el("text", { x: 12, y: y0 - h / 2, "class": "agr-tick",
      transform: "rotate(-90 12 " + (y0 - h / 2) + ")", "text-anchor": "middle" }, root, yLabel);
  }

  function histogram(container) {
    var h = report.per_prompt_agreement;
    if (!h || !h.counts || h.prompts === 0) {
      empty(container, "No prompt has two annotators who ordered the same pair.");
      return;
    }
    var W = 460, H = 240, x0 = 48, y0 = 200, w = W - x0 - 16, ht = 170;
    var root = svg(container, W, H, "Distribution of per-prompt agreement");
    var maxCount = Math.max.apply(null, h.counts.concat([1]));
    axes(root, x0, y0, w, ht, maxCount, "prompts");
    var bw = w / h.counts.length;
    h.counts.forEach(function (c, i) {
      var bh = ht * c / maxCount;
      var mid = (h.bins[i] + h.bins[i + 1]) / 2;
      var bar = el("rect", { x: x0 + i * bw + 1, y: y0 - bh, width: bw - 2, height: bh,
        fill: agreementColour(mid), stroke: "#8a93a6", "class": "agr-bar", "data-count": c }, root);
      el("title", {}, bar, fmt(h.bins[i], 1) + "–" + fmt(h.bins[i + 1], 1) + ": " + c + " prompts");
    });
    h.bins.forEach(function (b, i) {
      if (i % 2) return;
      el("text", { x: x0 + i * bw, y: y0 + 16, "text-anchor": "middle", "class": "agr-tick" }, root, fmt(b, 1));
    });
    var threshold = parseFloat(container.getAttribute("data-threshold"));
    if (!isNaN(threshold)) {
      var tx = x0 + threshold * w;
      el("line", { x1: tx, y1: y0, x2: tx, y2: y0 - ht, "class": "agr-threshold" }, root);
      el("text", { x: tx + 4, y: y0 - ht + 10, "class": "agr-tick" }, root, "threshold " + threshold);
    }
    var note = document.createElement("p");
    note.className = "agr-legend";
    note.textContent = h.prompts + " prompts; median " + fmt(h.median, 3) + "; " +
      h.undefined_prompts + " without two annotators ordering the same pair.";
    container.appendChild(note);
  }

  function overTime(container) {
    var days = (report.agreement_over_time || []).filter(function (d) { return d.pairwise_agreement !== null; });
    if (days.length === 0) {
      empty(container, "No dated comparisons between annotators yet.");
      return;
    }
    var W = 940, H = 240, x0 = 48, y0 = 200, w = W - x0 - 24, ht = 170;
    var root = svg(container, W, H, "Agreement over time");
    axes(root, x0, y0, w, ht, 1, "agreement");
    var step = days.length > 1 ? w / (days.length - 1) : 0;
    var pts = days.map(function (d, i) {
      return [x0 + (days.length > 1 ? i * step : w / 2), y0 - d.pairwise_agreement * ht];
    });
    if (pts.length > 1) {
      el("polyline", { points: pts.map(function (p) { return p.join(","); }).join(" "), "class": "agr-line" }, root);
    }
    var every = Math.max(1, Math.ceil(days.length / 8));
    days.forEach(function (d, i) {
      var dot = el("circle", { cx: pts[i][0], cy: pts[i][1], r: 3.5, "class": "agr-dot" }, root);
      el("title", {}, dot, d.day + ": " + fmt(d.pairwise_agreement, 3) + " over " + d.comparisons + " comparisons");
      if (i % every === 0 || i === days.length - 1) {
        el("text", { x: pts[i][0], y: y0 + 16, "text-anchor": "middle", "class": "agr-tick" }, root, d.day.slice(5));
      }
    });
  }

  function sortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, col) {
      th.classList.add("agr-sort");
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        function key(row) {
          var cell = row.cells[col];
          var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
          if (!numeric) return raw.toLowerCase();
          return raw === "" ? null : parseFloat(raw);
        }
        rows.sort(function (a, b) {
          var ka = key(a), kb = key(b);
          if (ka === kb) return 0;
          if (ka === null) return 1;  // n/a sorts last either way
          if (kb === null) return -1;
          return (ka < kb ? -1 : 1) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  var charts = { "chart-heatmap": heatmap, "chart-histogram": histogram, "chart-time": overTime };
  Object.keys(charts).forEach(function (id) {
    var node = document.getElementById(id);
    if (node) charts[id](node);
  });
  Array.prototype.forEach.call(document.querySelectorAll("table.agr-sortable"), sortable);
})();
