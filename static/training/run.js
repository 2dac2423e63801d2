// Live run page: polls the run and its new metric points every few seconds while the run is
// queued or running, and redraws the progress bar, log tail and SVG line charts.
(function () {
  "use strict";
  const root = document.getElementById("run");
  if (!root) return;
  const COLORS = ["#3451d1", "#d1346b", "#1f9d55", "#b7791f"];
  const SVG = "http://www.w3.org/2000/svg";
  const points = [];
  let after = 0;
  let status = root.dataset.status;
  const active = (s) => s === "queued" || s === "running";
  const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value;

  function el(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(v) {
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toPrecision(3);
  }

  function draw(figure) {
    const keys = figure.dataset.keys.split(",");
    const svg = figure.querySelector("svg");
    const legend = figure.querySelector(".legend");
    svg.replaceChildren();
    legend.replaceChildren();
    const series = keys.map((k) => points.filter((p) => typeof p.values[k] === "number")
      .map((p) => [p.step, p.values[k]]));
    const all = series.flat();
    if (!all.length) {
      svg.appendChild(el("text", { x: 210, y: 90, "text-anchor": "middle" }, "no data yet"));
      return;
    }
    const W = 420, H = 180, L = 48, R = 10, T = 10, B = 22;
    let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
    let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
    if (x0 === x1) x1 = x0 + 1;
    if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    svg.appendChild(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
    svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
    svg.appendChild(el("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, fmt(y1)));
    svg.appendChild(el("text", { x: L - 4, y: H - B, "text-anchor": "end" }, fmt(y0)));
    svg.appendChild(el("text", { x: L, y: H - 6 }, "step " + x0));
    svg.appendChild(el("text", { x: W - R, y: H - 6, "text-anchor": "end" }, "step " + x1));
    series.forEach((s, i) => {
      if (!s.length) return;
      const color = COLORS[i % COLORS.length];
      const d = s.map((p) => sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1)).join(" ");
      svg.appendChild(el("polyline", { points: d, fill: "none", stroke: color, "stroke-width": 1.6 }));
      if (s.length === 1) svg.appendChild(el("circle", { cx: sx(s[0][0]), cy: sy(s[0][1]), r: 2.5, fill: color }));
      const item = document.createElement("span");
      item.style.color = color;
      item.textContent = keys[i] + " " + fmt(s[s.length - 1][1]);
      legend.appendChild(item);
    });
  }

  // The same units as the server's duration_human filter (training_format.py).
  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    let m = Math.round(s / 60);
    if (m < 60) return m + " min";
    let h = Math.floor(m / 60);
    m %= 60;
    if (h < 24) return h + " h " + String(m).padStart(2, "0") + " min";
    return Math.floor(h / 24) + " d " + (h % 24) + " h";
  }

  function render(run) {
    document.getElementById("run-status").textContent = run.status;
    document.getElementById("run-status").className = "run-status status-" + run.status;
    document.getElementById("run-progress").value = run.progress.fraction;
    document.getElementById("run-steps").textContent =
      run.progress.step + "/" + (run.progress.total_steps || "?");
    const eta = run.progress.eta_seconds;
    document.getElementById("run-eta").textContent =
      active(run.status) && eta ? "about " + duration(eta) + " left" : "";
    document.getElementById("run-cancelling").hidden = !(run.cancel_requested && run.status === "running");
    document.getElementById("run-cancel").hidden = !active(run.status);
    document.getElementById("run-resume").hidden =
      active(run.status) || run.status === "succeeded" || !run.last_checkpoint;
    document.getElementById("run-checkpoint").textContent = run.last_checkpoint || "—";
    const err = document.getElementById("run-error");
    err.textContent = run.error;
    err.hidden = !run.error;
    const log = document.getElementById("run-log");
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = run.log_tail;
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  async function poll() {
    try {
      const [run, metrics] = await Promise.all([
        fetch(root.dataset.runUrl, { credentials: "same-origin" }).then((r) => r.json()),
        fetch(root.dataset.metricsUrl + "?after=" + after, { credentials: "same-origin" })
          .then((r) => r.json()),
      ]);
      metrics.points.forEach((p) => points.push(p));
      if (metrics.points.length) after = metrics.points[metrics.points.length - 1].id;
      render(run);
      document.querySelectorAll(".chart").forEach(draw);
      const was = status;
      status = run.status;
      // The card, result and sample tables are rendered by the server: reload once at the end.
      if (active(was) && !active(status)) { window.location.reload(); return; }
    } catch (e) {
      console.warn("run poll failed", e);
    }
    if (active(status)) window.setTimeout(poll, 2000);
  }

  async function post(url) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
    });
    const body = await r.json();
    if (!r.ok) {
      const err = document.getElementById("run-error");
      err.textContent = body.detail || "The request failed; try again.";
      err.hidden = false;
      return;
    }
    status = body.status;
    render(body);
    window.setTimeout(poll, 500);
  }

  document.getElementById("run-cancel").addEventListener("click", () => {
    // Cancelling stops the run at its next step; it can be resumed from its last checkpoint.
    const ok = window.confirm("Cancel this run? It stops at its next step; you can resume it " +
      "later from its last checkpoint.");
    if (ok) post(root.dataset.cancelUrl);
  });
  document.getElementById("run-resume").addEventListener("click", () => post(root.dataset.resumeUrl));
  poll();
})();
