// The ranking page: rank K outputs into buckets (ties allowed per project), rate and flag
// them, by mouse (HTML5 drag-and-drop) or keyboard alone. No build step, no dependencies.
//
// Output HTML arrives sanitised from the server (markdown + nh3, raw HTML escaped), so it is
// the only thing assigned to innerHTML; everything else is built with textContent.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("rankwise-config").textContent);
  const rules = config.rules;
  const urls = config.urls;
  const editing = config.mode === "edit";
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);

  const el = {
    task: $("task"), outputs: $("outputs"), promptBody: $("prompt-body"), claimInfo: $("claim-info"),
    board: $("board"), bar: $("board-bar"), hint: $("hint"), submit: $("submit-btn"),
    skip: $("skip-btn"), help: $("help-btn"), comment: $("comment"), done: $("done"),
    loading: $("loading"), error: $("error"), status: $("status"), progress: $("progress"),
    skipDialog: $("skip-dialog"), skipReason: $("skip-reason"), skipError: $("skip-error"),
    helpDialog: $("help-dialog"),
  };

  const state = {
    task: null,
    rank: new Map(), // completion id -> rank number (1..K); absent = not ranked
    placedAt: new Map(), // completion id -> placement sequence, keeps chip order stable
    seq: 0,
    busy: false,
    baseTimeMs: 0,
  };

  // ---- Visible time on task: the clock stops while the tab is hidden. --------------------
  const clock = {
    total: 0,
    since: null,
    start() {
      this.total = 0;
      this.since = document.visibilityState === "visible" ? performance.now() : null;
    },
    pause() {
      if (this.since !== null) {
        this.total += performance.now() - this.since;
        this.since = null;
      }
    },
    resume() {
      if (this.since === null && document.visibilityState === "visible") this.since = performance.now();
    },
    ms() {
      return Math.round(this.total + (this.since !== null ? performance.now() - this.since : 0));
    },
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") clock.pause();
    else clock.resume();
  });

  // ---- Server calls -------------------------------------------------------------------------
  async function call(method, url, body) {
    const options = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (err) {
      return { ok: false, data: { error: { message: "Cannot reach the server; check your connection and retry." } } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = { error: { message: `The server answered ${response.status} ${response.statusText}.` } };
    }
    return { ok: response.ok, status: response.status, data };
  }

  function showError(error) {
    const text = error.field ? `${error.field}: ${error.message}` : error.message;
    el.error.replaceChildren(document.createTextNode(text || "Something went wrong."));
    if (!editing && (error.code === "overlap_full" || error.code === "already_annotated")) {
      const next = document.createElement("button");
      next.type = "button";
      next.className = "primary";
      next.id = "next-task-btn";
      next.textContent = "Take the next task";
      next.addEventListener("click", () => loadNext());
      el.error.append(" ", next);
    }
    el.error.hidden = false;
    el.status.hidden = true;
  }

  function showStatus(text) {
    el.status.textContent = text;
    el.status.hidden = false;
    el.error.hidden = true;
  }

  // The counts cost the server a scan of the project's open prompts, so the page asks for
  // them on load and every few tasks, and counts its own finished tasks in between.
  const PROGRESS_EVERY = 10;
  const progress = { data: null, sinceFetch: 0 };

  function showProgress() {
    const d = progress.data;
    if (!d) return;
    el.progress.textContent =
      `Done today: ${d.done_today} · in this project: ${d.done_in_project}` +
      ` · remaining in the queue: ${d.remaining_in_queue}`;
  }

  async function refreshProgress(taskDone = false) {
    if (!urls.progress) return;
    if (taskDone && progress.data && progress.sinceFetch + 1 < PROGRESS_EVERY) {
      progress.sinceFetch += 1;
      progress.data.done_today += 1;
      progress.data.done_in_project += 1;
      progress.data.remaining_in_queue = Math.max(0, progress.data.remaining_in_queue - 1);
      showProgress();
      return;
    }
    const { ok, data } = await call("GET", urls.progress);
    if (!ok) return;
    progress.data = data;
    progress.sinceFetch = 0;
    showProgress();
  }

  // ---- Rendering ------------------------------------------------------------------------------
  function node(tag, attrs = {}, text) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "className") n.className = v;
      else if (k === "dataset") Object.assign(n.dataset, v);
      else n.setAttribute(k, v);
    }
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function renderPrompt(prompt) {
    el.promptBody.replaceChildren();
    if (prompt.kind === "chat") {
      for (const turn of prompt.turns) {
        const box = node("div", { className: `turn turn-${turn.role.replace(/[^a-z_-]/gi, "")}` });
        box.append(node("div", { className: "turn-role" }, turn.role));
        const body = node("div", { className: "markdown" });
        body.innerHTML = turn.html; // sanitised server-side
        box.append(body);
        el.promptBody.append(box);
      }
    } else {
      const body = node("div", { className: "markdown" });
      body.innerHTML = prompt.html; // sanitised server-side
      el.promptBody.append(body);
    }
  }

  function ratingField(output) {
    const scale = rules.rating;
    const fieldset = node("fieldset", { className: "rating" });
    fieldset.append(node("legend", {}, `${scale.label} (${scale.min}–${scale.max})`));
    for (let v = scale.min; v <= scale.max; v += 1) {
      const id = `rating-${output.label}-${v}`;
      const input = node("input", { type: "radio", name: `rating-${output.label}`, id, value: String(v) });
      input.dataset.output = output.id;
      const label = node("label", { for: id, className: "rating-choice" });
      label.append(input, node("span", {}, String(v)));
      fieldset.append(label);
    }
    return fieldset;
  }

  function flagsField(output) {
    const details = node("details", { className: "flags" });
    const summary = node("summary", {}, "Flags");
    const count = node("span", { className: "flag-count" });
    summary.append(" ", count);
    details.append(summary);
    for (const flag of rules.flags) {
      const id = `flag-${output.label}-${flag.key}`;
      const input = node("input", { type: "checkbox", id, value: flag.key });
      input.dataset.output = output.id;
      input.addEventListener("change", () => {
        const n = details.querySelectorAll("input:checked").length;
        count.textContent = n ? `(${n})` : "";
      });
      const label = node("label", { for: id, className: "flag" });
      label.append(input, node("span", {}, flag.label));
      details.append(label);
    }
    return details;
  }

  function renderOutputs(outputs) {
    el.outputs.replaceChildren();
    for (const output of outputs) {
      const card = node("article", {
        className: "output-card", tabindex: "0", "aria-label": `Output ${output.label}`,
        dataset: { id: output.id, label: output.label },
      });
      const head = node("div", { className: "card-head" });
      const handle = node("span", {
        className: "handle", draggable: "true", title: "Drag into a rank",
        dataset: { id: output.id },
      });
      handle.append(node("span", { className: "grip", "aria-hidden": "true" }, "⠿"), node("span", { className: "letter" }, output.label));
      head.append(handle, node("span", { className: "rank-badge" }, "not ranked"));
      const body = node("div", { className: "output-body markdown" });
      body.innerHTML = output.html; // sanitised server-side; HTML in model output arrives escaped
      const foot = node("div", { className: "card-foot" });
      if (rules.rating) foot.append(ratingField(output));
      if (rules.flags.length) foot.append(flagsField(output));
      card.append(head, body, foot);
      wireDrag(handle);
      el.outputs.append(card);
    }
  }

  function bucketTitle(rank, k) {
    if (rank === 0) return "Not ranked";
    if (rank === 1) return "Rank 1 (best)";
    if (rank === k) return `Rank ${k} (worst)`;
    return `Rank ${rank}`;
  }

  function renderBoard(outputs) {
    el.board.replaceChildren();
    const k = outputs.length;
    el.board.style.setProperty("--ranks", String(k));
    for (let rank = 0; rank <= k; rank += 1) {
      const bucket = node("div", {
        className: rank === 0 ? "bucket unranked" : "bucket",
        dataset: { rank: String(rank) },
        "aria-label": bucketTitle(rank, k),
      });
      bucket.append(node("div", { className: "bucket-title" }, bucketTitle(rank, k)), node("div", { className: "chips" }));
      wireDrop(bucket);
      el.board.append(bucket);
    }
    for (const output of outputs) {
      const card = cardById(output.id);
      const snippet = card.querySelector(".output-body").textContent.trim().slice(0, 90);
      const chip = node("span", {
        className: "chip", draggable: "true", title: `${output.label}: ${snippet}`,
        dataset: { id: output.id },
      }, output.label);
      chip.addEventListener("click", () => focusCard(card));
      wireDrag(chip);
      el.board.querySelector('.bucket[data-rank="0"] .chips').append(chip);
    }
  }

  function renderTask(task) {
    state.task = task;
    state.rank = new Map();
    state.placedAt = new Map();
    state.seq = 0;
    state.baseTimeMs = 0;
    el.comment.value = "";
    renderPrompt(task.prompt);
    renderOutputs(task.outputs);
    renderBoard(task.outputs);
    el.claimInfo.textContent = task.expires_at
      ? `reserved for you until ${new Date(task.expires_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`
      : "";
    if (task.existing) applyExisting(task.existing);
    el.loading.hidden = true;
    el.done.hidden = true;
    el.task.hidden = false;
    el.bar.hidden = false;
    update();
    clock.start();
    window.scrollTo(0, 0);
  }

  function applyExisting(existing) {
    existing.ranking.forEach((group, i) => group.forEach((id) => place(id, i + 1, false)));
    for (const [id, value] of Object.entries(existing.ratings || {})) {
      const input = el.outputs.querySelector(`input[type=radio][data-output="${CSS.escape(id)}"][value="${value}"]`);
      if (input) input.checked = true;
    }
    for (const [id, keys] of Object.entries(existing.flags || {})) {
      for (const key of keys) {
        const input = el.outputs.querySelector(`input[type=checkbox][data-output="${CSS.escape(id)}"][value="${CSS.escape(key)}"]`);
        if (input) {
          input.checked = true;
          input.dispatchEvent(new Event("change"));
        }
      }
    }
    el.comment.value = existing.comment || "";
    state.baseTimeMs = existing.time_ms || 0;
    if (existing.skipped) showStatus(`You skipped this prompt (${existing.skip_reason}). Rank it to turn the skip into a judgement.`);
  }

  // ---- Ranking state --------------------------------------------------------------------------
  const cardById = (id) => el.outputs.querySelector(`.output-card[data-id="${CSS.escape(id)}"]`);
  const labelOf = (id) => cardById(id).dataset.label;

  function place(id, rank, refresh = true) {
    if (!state.task || !state.task.outputs.some((o) => o.id === id)) return;
    if (rank >= 1 && rank <= state.task.outputs.length) {
      state.rank.set(id, rank);
      state.placedAt.set(id, (state.seq += 1));
    } else {
      state.rank.delete(id);
      state.placedAt.delete(id);
    }
    if (refresh) update();
  }

  function groups() {
    const k = state.task.outputs.length;
    const out = [];
    for (let rank = 1; rank <= k; rank += 1) {
      const ids = [...state.rank.entries()].filter(([, r]) => r === rank).map(([id]) => id);
      ids.sort((a, b) => state.placedAt.get(a) - state.placedAt.get(b));
      if (ids.length) out.push(ids);
    }
    return out;
  }

  function problem() {
    const outputs = state.task.outputs;
    const missing = outputs.filter((o) => !state.rank.has(o.id)).map((o) => o.label);
    if (rules.require_all_placed && missing.length) {
      return `Put every output in a rank (not yet: ${missing.join(", ")}).`;
    }
    if (outputs.length - missing.length < 2) return "Rank at least two outputs.";
    if (!rules.ties_allowed) {
      const tied = groups().find((g) => g.length > 1);
      if (tied) return `Ties are not allowed in this project (${tied.map(labelOf).join(" and ")} share a rank).`;
    }
    return null;
  }

  function update() {
    if (!state.task) return;
    const k = state.task.outputs.length;
    for (const output of state.task.outputs) {
      const rank = state.rank.get(output.id) || 0;
      const chip = el.board.querySelector(`.chip[data-id="${CSS.escape(output.id)}"]`);
      const card = cardById(output.id);
      card.querySelector(".rank-badge").textContent = rank ? bucketTitle(rank, k) : "not ranked";
      card.classList.toggle("ranked", rank > 0);
      card.dataset.rank = String(rank);
      el.board.querySelector(`.bucket[data-rank="${rank}"] .chips`).append(chip);
    }
    // keep chips in placement order inside each bucket
    for (const chips of el.board.querySelectorAll(".bucket:not(.unranked) .chips")) {
      [...chips.children]
        .sort((a, b) => state.placedAt.get(a.dataset.id) - state.placedAt.get(b.dataset.id))
        .forEach((c) => chips.append(c));
    }
    const why = problem();
    el.submit.disabled = Boolean(why) || state.busy;
    el.hint.textContent = why || `Ready: ${groups().map((g) => g.map(labelOf).join(" = ")).join(" > ")}`;
    el.hint.classList.toggle("ready", !why);
  }

  // ---- Drag and drop ------------------------------------------------------------------------
  function wireDrag(handle) {
    handle.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData("text/plain", handle.dataset.id);
      event.dataTransfer.effectAllowed = "move";
      handle.classList.add("dragging");
    });
    handle.addEventListener("dragend", () => handle.classList.remove("dragging"));
  }

  function wireDrop(bucket) {
    bucket.addEventListener("dragover", (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      bucket.classList.add("over");
    });
    bucket.addEventListener("dragleave", () => bucket.classList.remove("over"));
    bucket.addEventListener("drop", (event) => {
      event.preventDefault();
      bucket.classList.remove("over");
      place(event.dataTransfer.getData("text/plain"), Number(bucket.dataset.rank));
    });
  }

  // ---- Payload and actions --------------------------------------------------------------------
  function judgement() {
    const ratings = {};
    for (const input of el.outputs.querySelectorAll("input[type=radio]:checked")) {
      ratings[input.dataset.output] = Number(input.value);
    }
    const flags = {};
    for (const input of el.outputs.querySelectorAll("input[type=checkbox]:checked")) {
      (flags[input.dataset.output] ||= []).push(input.value);
    }
    return {
      ranking: groups(),
      ratings,
      flags,
      comment: el.comment.value,
      time_ms: state.baseTimeMs + clock.ms(),
      shown_order: state.task.shown_order,
    };
  }

  function taskUrl(template) {
    return template.replace("/prompts/0/", `/prompts/${state.task.prompt_id}/`);
  }

  async function submit() {
    if (!state.task || state.busy || problem()) return;
    state.busy = true;
    update();
    const { ok, data } = editing
      ? await call("POST", urls.update, judgement())
      : await call("POST", taskUrl(urls.submit), judgement());
    state.busy = false;
    if (!ok) {
      update();
      showError(data.error || {});
      return;
    }
    if (editing) {
      showStatus("Changes saved.");
      update();
      return;
    }
    await loadNext(true);
    if (el.error.hidden) showStatus(state.task ? "Saved. Here is the next task." : "Saved.");
  }

  function openSkip() {
    if (!state.task || state.busy) return;
    el.skipReason.value = "";
    el.skipError.hidden = true;
    clock.pause();
    el.skipDialog.showModal();
    el.skipReason.focus();
  }

  async function confirmSkip() {
    const reason = el.skipReason.value.trim();
    if (!reason) {
      el.skipError.hidden = false;
      el.skipReason.focus();
      return;
    }
    el.skipDialog.close();
    clock.resume();
    state.busy = true;
    update();
    const timeMs = state.baseTimeMs + clock.ms();
    const { ok, data } = editing
      ? await call("POST", urls.update, { skipped: true, skip_reason: reason, time_ms: timeMs })
      : await call("POST", taskUrl(urls.skip), { reason, time_ms: timeMs });
    state.busy = false;
    if (!ok) {
      update();
      showError(data.error || {});
      return;
    }
    if (editing) {
      showStatus("Marked as skipped.");
      update();
      return;
    }
    await loadNext(true);
    if (el.error.hidden) showStatus(state.task ? "Skipped. Here is the next task." : "Skipped.");
  }

  async function loadNext(taskDone = false) {
    el.status.hidden = true;
    el.error.hidden = true;
    const { ok, data } = await call("POST", urls.next);
    refreshProgress(taskDone);
    if (!ok) {
      el.loading.hidden = true;
      showError(data.error || {});
      return;
    }
    if (!data.task) {
      state.task = null;
      el.task.hidden = true;
      el.bar.hidden = true;
      el.loading.hidden = true;
      el.done.hidden = false;
      return;
    }
    renderTask(data.task);
  }

  // ---- Keyboard -------------------------------------------------------------------------------
  const cards = () => [...el.outputs.querySelectorAll(".output-card")];

  function focusCard(card) {
    if (!card) return;
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "instant" });
  }

  function currentCard(target) {
    if (!(target instanceof Element)) return null;
    const card = target.closest(".output-card");
    if (card) return card;
    const chip = target.closest(".chip");
    return chip ? cardById(chip.dataset.id) : null;
  }

  function onKey(event) {
    if (el.skipDialog.open) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        confirmSkip();
      }
      return;
    }
    if (el.helpDialog.open || !state.task) return;
    const target = event.target;
    const typing = target instanceof Element && target.matches("textarea, select, input:not([type=radio]):not([type=checkbox])");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
      return;
    }
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key;
    const list = cards();
    if (key === "?") {
      event.preventDefault();
      el.helpDialog.showModal();
      return;
    }
    if (key === "s" || key === "S") {
      event.preventDefault();
      openSkip();
      return;
    }
    if (/^[a-i]$/i.test(key)) {
      const index = key.toLowerCase().charCodeAt(0) - 97;
      if (index < list.length) {
        event.preventDefault();
        focusCard(list[index]);
      }
      return;
    }
    if (/^[0-9]$/.test(key)) {
      const card = currentCard(target);
      const rank = Number(key);
      if (card && rank <= list.length) {
        event.preventDefault();
        place(card.dataset.id, rank);
      }
      return;
    }
    const arrows = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 };
    if (key in arrows && (target.matches?.(".output-card, .chip") || target === document.body)) {
      event.preventDefault();
      const card = currentCard(target);
      const index = card ? list.indexOf(card) + arrows[key] : 0;
      focusCard(list[Math.max(0, Math.min(list.length - 1, index))]);
      return;
    }
    if (key === "Enter" && !(target instanceof Element && target.matches("button, a, summary"))) {
      event.preventDefault();
      submit();
    }
  }

  // ---- Wiring -----------------------------------------------------------------------------------
  document.addEventListener("keydown", onKey);
  el.outputs.addEventListener("change", () => update());
  el.submit.addEventListener("click", () => submit());
  el.skip.addEventListener("click", () => openSkip());
  el.help.addEventListener("click", () => el.helpDialog.showModal());
  $("skip-cancel").addEventListener("click", () => {
    el.skipDialog.close();
    clock.resume();
  });
  $("skip-form").addEventListener("submit", (event) => {
    event.preventDefault();
    confirmSkip();
  });
  el.skipDialog.addEventListener("cancel", () => clock.resume());
  el.skipReason.addEventListener("input", () => {
    if (el.skipReason.value.trim()) el.skipError.hidden = true;
  });

  if (editing) {
    renderTask(config.task);
  } else {
    loadNext();
  }
})();
