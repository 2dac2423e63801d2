// The review page's adjudication: the ranking page's bucket board (same look, drag and drop,
// keyboard: focus a chip, press 1..9 to put it in that rank, 0 to take it out, arrows to move
// between chips), posted to /api/v1 with the session and its CSRF token. Errors are shown in
// place, in the API's one shape {"error", "detail", "fields"}. No build step, no dependencies.
// Judging projects (docs/judging.md): a pairwise project's board gets a strength / tie-kind
// select, and each dimension its own board (optional: an empty one is not adjudicated).
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("adjudicate-config").textContent);
  const judging = config.judging || { mode: "ranking", strength_levels: [], dimensions: [] };
  const pairwise = judging.mode === "pairwise_strength";
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const error = $("adj-error");
  const save = $("adj-save");
  const k = config.outputs.length;
  const TIES = { both_good: "tie: both good", both_bad: "tie: both bad" };

  function node(tag, attrs = {}, text) {
    const n = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "className") n.className = value;
      else if (key === "dataset") Object.assign(n.dataset, value);
      else n.setAttribute(key, value);
    }
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function title(r) {
    if (r === 0) return "Not ranked";
    if (r === 1) return "Rank 1 (best)";
    if (r === k) return `Rank ${k} (worst)`;
    return `Rank ${r}`;
  }

  // One board: the overall ranking (required) or a dimension's (optional, all or nothing).
  function makeBoard(board, hint, initial, name, required, strengthInitial) {
    const rank = new Map(Object.entries(initial || {}).filter(([, r]) => r >= 1 && r <= k));
    const placedAt = new Map();
    let seq = 0;
    let select = null;
    for (const id of rank.keys()) placedAt.set(id, (seq += 1));

    function place(id, r) {
      if (r >= 1 && r <= k) {
        rank.set(id, r);
        placedAt.set(id, (seq += 1));
      } else {
        rank.delete(id);
        placedAt.delete(id);
      }
      redraw();
      board.querySelector(`.chip[data-id="${CSS.escape(id)}"]`).focus();
    }

    function groups() {
      const out = [];
      for (let r = 1; r <= k; r += 1) {
        const ids = [...rank.entries()].filter(([, v]) => v === r).map(([id]) => id);
        ids.sort((a, b) => placedAt.get(a) - placedAt.get(b));
        if (ids.length) out.push(ids);
      }
      return out;
    }

    function empty() {
      return !required && rank.size === 0 && (!select || !select.value);
    }

    function problem() {
      if (empty()) return null;
      const missing = config.outputs.filter((o) => !rank.has(o.id)).map((o) => o.label);
      const prefix = name ? `${name}: ` : "";
      if (missing.length) {
        const or = required ? "" : " or none";
        return `${prefix}Place every output${or} (not yet: ${missing.join(", ")}).`;
      }
      if (!config.ties_allowed) {
        const tied = groups().find((g) => g.length > 1);
        if (tied) return `${prefix}Ties are not allowed in this project (${tied.join(" and ")} share a rank).`;
      }
      if (select) {
        const tie = groups().length === 1;
        if (!select.value || (select.value in TIES) !== tie) {
          return `${prefix}${tie ? "Say which tie" : "Say how much better"}.`;
        }
      }
      return null;
    }

    function extras() {
      if (!select) return {};
      if (select.value in TIES) return { strength: 0, tie_kind: select.value };
      return { strength: Number(select.value), tie_kind: "" };
    }

    function text() {
      const order = groups().map((g) => g.join(" = ")).join(" > ");
      return select && select.value ? `${order} · ${select.selectedOptions[0].textContent}` : order;
    }

    function draw() {
      for (const output of config.outputs) {
        const chip = board.querySelector(`.chip[data-id="${CSS.escape(output.id)}"]`);
        board.querySelector(`.bucket[data-rank="${rank.get(output.id) || 0}"] .chips`).append(chip);
      }
      for (const chips of board.querySelectorAll(".bucket:not(.unranked) .chips")) {
        [...chips.children]
          .sort((a, b) => placedAt.get(a.dataset.id) - placedAt.get(b.dataset.id))
          .forEach((c) => chips.append(c));
      }
      const why = problem();
      hint.textContent = why || (empty() ? "Not adjudicated (optional)." : `Ready: ${text()}`);
      hint.classList.toggle("ready", !why && !empty());
    }

    function build() {
      board.style.setProperty("--ranks", String(k));
      for (let r = 0; r <= k; r += 1) {
        const bucket = node("div", {
          className: r === 0 ? "bucket unranked" : "bucket", dataset: { rank: String(r) }, "aria-label": title(r),
        });
        bucket.append(node("div", { className: "bucket-title" }, title(r)), node("div", { className: "chips" }));
        bucket.addEventListener("dragover", (event) => {
          event.preventDefault();
          bucket.classList.add("over");
        });
        bucket.addEventListener("dragleave", () => bucket.classList.remove("over"));
        bucket.addEventListener("drop", (event) => {
          event.preventDefault();
          bucket.classList.remove("over");
          place(event.dataTransfer.getData("text/plain"), r);
        });
        board.append(bucket);
      }
      for (const output of config.outputs) {
        const chip = node("span", {
          className: "chip chip-wide", draggable: "true", tabindex: "0", dataset: { id: output.id },
          "aria-label": `Output ${output.label}`,
        }, output.label);
        chip.addEventListener("dragstart", (event) => {
          event.dataTransfer.setData("text/plain", output.id);
          chip.classList.add("dragging");
        });
        chip.addEventListener("dragend", () => chip.classList.remove("dragging"));
        chip.addEventListener("keydown", (event) => {
          if (/^[0-9]$/.test(event.key) && Number(event.key) <= k) {
            event.preventDefault();
            place(output.id, Number(event.key));
          } else if (["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) {
            event.preventDefault();
            const chips = [...board.querySelectorAll(".chip")];
            const step = event.key === "ArrowLeft" || event.key === "ArrowUp" ? -1 : 1;
            const next = chips[Math.max(0, Math.min(chips.length - 1, chips.indexOf(chip) + step))];
            next.focus();
          }
        });
        board.querySelector('.bucket[data-rank="0"] .chips').append(chip);
      }
      if (pairwise) {
        const label = node("label", { className: "adj-strength-label" }, "How much better, or which tie ");
        select = node("select", { className: "adj-strength", "aria-label": `${name || "Overall"}: strength or tie kind` });
        select.append(node("option", { value: "" }, "—"));
        judging.strength_levels.forEach((level, i) => select.append(node("option", { value: String(i + 1) }, level)));
        for (const [value, words] of Object.entries(TIES)) select.append(node("option", { value }, words));
        const start = strengthInitial || {};
        select.value = start.tie_kind || (start.strength ? String(start.strength) : "");
        select.addEventListener("change", redraw);
        label.append(select);
        hint.before(label);
      }
    }

    build();
    return { groups, problem, extras, empty, draw };
  }

  const boards = [];
  function redraw() {
    for (const b of boards) b.draw();
    save.disabled = boards.some((b) => b.problem());
  }

  const overall = makeBoard($("adj-board"), $("adj-hint"), config.initial, "", true, judging.initial);
  boards.push(overall);
  const dimensionBoards = {};
  const holder = $("adj-dimensions");
  for (const d of judging.dimensions || []) {
    const section = node("div", { className: "adj-dimension", dataset: { dimension: d.key } });
    const board = node("div", { className: "board adj-board", role: "group", "aria-label": `${d.name}: adjudicated ranking` });
    const hint = node("p", { className: "hint", "aria-live": "polite" });
    section.append(node("h3", {}, d.name), board, hint);
    holder.append(section);
    const start = (judging.initial_dimensions || {})[d.key] || {};
    dimensionBoards[d.key] = makeBoard(board, hint, start.rank, d.name, false, start);
    boards.push(dimensionBoards[d.key]);
  }

  function showError(body) {
    const fields = Object.entries((body && body.fields) || {});
    error.textContent = fields.length
      ? fields.map(([name, message]) => `${name}: ${message}`).join("; ")
      : (body && body.detail) || "Something went wrong; try again.";
    error.hidden = false;
  }

  function payload() {
    const dimensions = {};
    for (const [key, b] of Object.entries(dimensionBoards)) {
      if (!b.empty()) dimensions[key] = { ranking: b.groups(), ...b.extras() };
    }
    return { ranking: overall.groups(), ...overall.extras(), dimensions, comment: $("adj-comment").value };
  }

  async function submit() {
    if (boards.some((b) => b.problem())) return;
    save.disabled = true;
    error.hidden = true;
    let response;
    let body = null;
    try {
      response = await fetch(config.url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify(payload()),
      });
      body = await response.json();
    } catch (err) {
      showError({ detail: "Cannot reach the server; check your connection and retry." });
      redraw();
      return;
    }
    if (!response.ok) {
      showError(body);
      redraw();
      return;
    }
    window.location.assign(config.done_url);
  }

  save.addEventListener("click", submit);
  redraw();
})();
