// The review page's adjudication: the ranking page's bucket board (same look, drag and drop,
// keyboard: focus a chip, press 1..9 to put it in that rank, 0 to take it out, arrows to move
// between chips), posted to /api/v1 with the session and its CSRF token. Errors are shown in
// place, in the API's one shape {"error", "detail", "fields"}. No build step, no dependencies.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("adjudicate-config").textContent);
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const board = $("adj-board");
  const hint = $("adj-hint");
  const error = $("adj-error");
  const save = $("adj-save");
  const k = config.outputs.length;
  const rank = new Map(Object.entries(config.initial || {}).filter(([, r]) => r >= 1 && r <= k));
  const placedAt = new Map();
  let seq = 0;
  for (const id of rank.keys()) placedAt.set(id, (seq += 1));

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

  function place(id, r) {
    if (r >= 1 && r <= k) {
      rank.set(id, r);
      placedAt.set(id, (seq += 1));
    } else {
      rank.delete(id);
      placedAt.delete(id);
    }
    draw();
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

  function problem() {
    const missing = config.outputs.filter((o) => !rank.has(o.id)).map((o) => o.label);
    if (missing.length) return `Place every output (not yet: ${missing.join(", ")}).`;
    if (!config.ties_allowed) {
      const tied = groups().find((g) => g.length > 1);
      if (tied) return `Ties are not allowed in this project (${tied.join(" and ")} share a rank).`;
    }
    return null;
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
    save.disabled = Boolean(why);
    hint.textContent = why || `Ready: ${groups().map((g) => g.join(" = ")).join(" > ")}`;
    hint.classList.toggle("ready", !why);
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
    draw();
  }

  function showError(body) {
    const fields = Object.entries((body && body.fields) || {});
    error.textContent = fields.length
      ? fields.map(([name, message]) => `${name}: ${message}`).join("; ")
      : (body && body.detail) || "Something went wrong; try again.";
    error.hidden = false;
  }

  async function submit() {
    if (problem()) return;
    save.disabled = true;
    error.hidden = true;
    let response;
    let body = null;
    try {
      response = await fetch(config.url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ ranking: groups(), comment: $("adj-comment").value }),
      });
      body = await response.json();
    } catch (err) {
      showError({ detail: "Cannot reach the server; check your connection and retry." });
      draw();
      return;
    }
    if (!response.ok) {
      showError(body);
      draw();
      return;
    }
    window.location.assign(config.done_url);
  }

  save.addEventListener("click", submit);
  build();
})();
