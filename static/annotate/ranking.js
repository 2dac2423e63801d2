// The ranking page: rank K outputs into buckets (ties allowed per project), rate and flag
// them, by mouse (HTML5 drag-and-drop) or keyboard alone. No build step, no dependencies.
//
// Output HTML arrives sanitised from the server (markdown + nh3, raw HTML escaped, rendered once
// when stored), so it is the only thing assigned to innerHTML; the rest is built with textContent.
// Every call goes to /api/v1 with the session cookie and the CSRF header: the page is one client
// of the API like any other, with its error shape {"error": code, "detail": text, "fields": {}}.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("rankwise-config").textContent);
  const rules = config.rules;
  const urls = config.urls;
  const editing = config.mode === "edit";
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);

  const slug = config.project;
  const el = {
    countdown: $("countdown"), extend: $("extend-btn"), instructions: $("instructions"),
    compare: $("compare-dialog"), compareBtn: $("compare-btn"),
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
    dirty: false, // changes not submitted yet (a draft is kept; leaving asks first)
    expiresAt: null, // Date the reservation runs out (queue mode)
    warned: false,
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
      return { ok: false, data: { error: "offline", detail: "Cannot reach the server; check your connection and retry. Your work is kept on this device." } };
    }
    if (response.status === 204) return { ok: true, status: 204, data: null };
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = { error: "server_error", detail: `The server answered ${response.status} ${response.statusText}. Your work is kept on this device; retry in a moment.` };
    }
    return { ok: response.ok, status: response.status, data };
  }

  // The API's one error shape: {"error": code, "detail": message, "fields": {name: message}}.
  function showError(body) {
    const error = body || {};
    const fields = Object.entries(error.fields || {});
    const text = fields.length
      ? fields.map(([name, message]) => `${name}: ${message}`).join("; ")
      : error.detail;
    el.error.replaceChildren(document.createTextNode(text || "Something went wrong."));
    const code = error.error;
    if (!editing && ["overlap_full", "already_annotated", "claim_lost", "no_claim"].includes(code)) {
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

  // A long conversation shows its last turns; the earlier ones are one click away.
  const TURNS_SHOWN = 2;

  function turnBox(message, html) {
    const role = String(message.role || "");
    const box = node("div", { className: `turn turn-${role.replace(/[^a-z_-]/gi, "")}` });
    box.append(node("div", { className: "turn-role" }, role));
    const body = node("div", { className: "markdown" });
    body.innerHTML = html; // sanitised server-side
    box.append(body);
    return box;
  }

  function renderPrompt(task) {
    el.promptBody.replaceChildren();
    if (task.messages && task.messages.length) {
      const html = task.messages_html || [];
      const boxes = task.messages.map((m, i) => turnBox(m, html[i] || ""));
      const hidden = boxes.length > TURNS_SHOWN + 1 ? boxes.length - TURNS_SHOWN : 0;
      if (hidden) {
        const earlier = node("details", { className: "earlier-turns", id: "earlier-turns" });
        earlier.append(node("summary", {}, `Earlier conversation (${hidden} turns)`), ...boxes.slice(0, hidden));
        el.promptBody.append(earlier);
      }
      el.promptBody.append(...boxes.slice(hidden));
    } else {
      const body = node("div", { className: "markdown" });
      body.innerHTML = task.html; // sanitised server-side
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
      // Out of the Tab order (X expands the focused output), so Tab still leads to the rating.
      const expand = node("button", { type: "button", className: "expand-btn link-btn", "aria-expanded": "false", tabindex: "-1",
        title: "Show the whole output here (x on a focused output)" }, "Expand");
      expand.addEventListener("click", () => toggleExpand(card));
      head.append(handle, node("span", { className: "rank-badge" }, "not ranked"), expand);
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

  function toggleExpand(card) {
    const open = card.classList.toggle("expanded");
    const button = card.querySelector(".expand-btn");
    button.textContent = open ? "Collapse" : "Expand";
    button.setAttribute("aria-expanded", String(open));
  }

  // ---- Two-up compare: any pair of outputs side by side, each in full. -------------------------
  function compareOptions(select, chosen) {
    select.replaceChildren(...state.task.completions.map((o) => {
      const option = node("option", { value: o.label }, `Output ${o.label}`);
      option.selected = o.label === chosen;
      return option;
    }));
  }

  function fillCompare() {
    for (const side of ["left", "right"]) {
      const label = $(`compare-${side}`).value;
      const output = state.task.completions.find((o) => o.label === label);
      const pane = $(`compare-${side}-body`);
      pane.innerHTML = output ? output.html : ""; // sanitised server-side
      $(`compare-${side}-rank`).textContent = output ? rankText(output.id) : "";
    }
  }

  function openCompare(first, second) {
    if (!state.task || state.task.completions.length < 2) return;
    const labels = state.task.completions.map((o) => o.label);
    const a = first || labels[0];
    const b = second || labels.find((l) => l !== a);
    compareOptions($("compare-left"), a);
    compareOptions($("compare-right"), b);
    fillCompare();
    el.compare.showModal();
  }

  function rankText(id) {
    const rank = state.rank.get(id) || 0;
    return rank ? bucketTitle(rank, state.task.completions.length) : "not ranked";
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
    task.outputs = task.completions; // one name in the code below
    state.task = task;
    state.rank = new Map();
    state.placedAt = new Map();
    state.seq = 0;
    state.baseTimeMs = 0;
    state.dirty = false;
    el.comment.value = "";
    renderPrompt(task);
    renderOutputs(task.outputs);
    renderBoard(task.outputs);
    judging.start();
    setExpiry(task.expires_at);
    if (task.existing) applyExisting(task.existing);
    const restored = draftRestore();
    el.loading.hidden = true;
    el.done.hidden = true;
    el.task.hidden = false;
    el.bar.hidden = false;
    update(false);
    clock.start();
    window.scrollTo(0, 0);
    if (restored) showStatus("Restored your unsaved work on this task (kept on this device).");
    if (task.expires_at) prefetchNext(); // a claimed task: fetch a preview of the one after it
  }

  // ---- Drafts: unsaved work survives a reload, a closed tab or a stray click. --------------------
  const DRAFT_DAYS = 7;
  const draftKey = (task = state.task) => task && (editing
    ? `rankwise:draft:${slug}:edit:${task.annotation_id}`
    : `rankwise:draft:${slug}:${task.prompt_id}`);

  function storage() {
    try {
      return window.localStorage;
    } catch (err) {
      return null; // storage disabled: drafts are simply not kept
    }
  }

  function draftSave() {
    const store = storage();
    if (!store || !state.task) return;
    const j = judgement();
    const draft = {
      saved_at: Date.now(), ranking: [...state.rank.entries()].map(([id, rank]) => [id, rank, state.placedAt.get(id)]),
      ratings: j.ratings, flags: j.flags, comment: j.comment, time_ms: j.time_ms, judging: judging.snapshot(),
    };
    try {
      store.setItem(draftKey(), JSON.stringify(draft));
    } catch (err) {
      /* quota: the draft is best effort */
    }
  }

  function draftClear(task) {
    const store = storage();
    if (store && task) store.removeItem(draftKey(task));
    if (task === state.task) state.dirty = false;
  }

  function draftsPrune() {
    const store = storage();
    if (!store) return;
    const cutoff = Date.now() - DRAFT_DAYS * 864e5;
    for (const key of Object.keys(store)) {
      if (!key.startsWith("rankwise:draft:")) continue;
      try {
        if ((JSON.parse(store.getItem(key)).saved_at || 0) < cutoff) store.removeItem(key);
      } catch (err) {
        store.removeItem(key);
      }
    }
  }

  function draftRestore() {
    const store = storage();
    if (!store) return false;
    let draft;
    try {
      draft = JSON.parse(store.getItem(draftKey()) || "null");
    } catch (err) {
      draft = null;
    }
    if (!draft) return false;
    state.rank = new Map();
    state.placedAt = new Map();
    for (const [id, rank, seq] of draft.ranking || []) {
      if (!state.task.outputs.some((o) => o.id === id)) continue;
      state.rank.set(id, rank);
      state.placedAt.set(id, seq);
      state.seq = Math.max(state.seq, seq);
    }
    for (const input of el.outputs.querySelectorAll("input[type=radio], input[type=checkbox]")) input.checked = false;
    applyChoices(draft.ratings, draft.flags);
    el.comment.value = draft.comment || "";
    state.baseTimeMs = draft.time_ms || state.baseTimeMs;
    judging.restoreDraft(draft.judging);
    state.dirty = true;
    return true;
  }

  window.addEventListener("beforeunload", (event) => {
    if (!state.dirty || !state.task) return;
    draftSave();
    event.preventDefault();
    event.returnValue = ""; // the browser asks "Leave site? Changes you made may not be saved."
  });

  // ---- The reservation: a live countdown, a warning, an extension, plain words at expiry. ---------
  const WARN_MS = 2 * 60 * 1000;

  function setExpiry(iso) {
    state.expiresAt = iso ? new Date(iso) : null;
    state.warned = false;
    state.expiredSaid = false;
    tick();
  }

  function clockText(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    const m = Math.floor(s / 60);
    return m >= 60 ? `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min` : `${m}:${String(s % 60).padStart(2, "0")}`;
  }

  function tick() {
    if (!el.countdown) return;
    if (!state.expiresAt || !state.task || editing) {
      el.countdown.hidden = true;
      el.extend.hidden = true;
      el.claimInfo.textContent = "";
      return;
    }
    const left = state.expiresAt - Date.now();
    const until = state.expiresAt.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    el.countdown.hidden = false;
    el.claimInfo.textContent = `reserved for you until ${until}`;
    el.countdown.classList.toggle("warn", left <= WARN_MS && left > 0);
    el.countdown.classList.toggle("expired", left <= 0);
    if (left > 0) {
      el.countdown.textContent = `Reserved for you: ${clockText(left)} left`;
      el.extend.hidden = left > WARN_MS;
      if (left <= WARN_MS && !state.warned) {
        state.warned = true;
        showStatus(`Your reservation of this task runs out at ${until}. Extend it if you need more time; your work is kept either way.`);
      }
    } else {
      el.countdown.textContent = `Reservation ran out at ${until}`;
      el.extend.hidden = false;
      if (!state.expiredSaid) {
        state.expiredSaid = true;
        showError({ detail: `Your reservation ran out at ${until}. Others may now be given this prompt; if it fills up, submitting will be refused. Your work here is kept: extend to take the task back, or submit now.` });
      }
    }
  }

  async function extend() {
    if (!state.task || editing) return;
    const { ok, data } = await call("POST", taskUrl(urls.extend));
    if (!ok) {
      showError(data);
      return;
    }
    state.expiredSaid = false;
    setExpiry(data.expires_at);
    showStatus(`Reservation extended until ${state.expiresAt.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`);
  }

  function applyExisting(existing) {
    existing.ranking.forEach((group, i) => group.forEach((id) => place(id, i + 1, false)));
    applyChoices(existing.ratings, existing.flags);
    el.comment.value = existing.comment || "";
    state.baseTimeMs = existing.time_ms || 0;
    judging.restore(existing);
    if (existing.skipped) showStatus(`You skipped this prompt (${existing.skip_reason}). Rank it to turn the skip into a judgement.`);
  }

  function applyChoices(ratings, flags) {
    for (const [id, value] of Object.entries(ratings || {})) {
      const input = el.outputs.querySelector(`input[type=radio][data-output="${CSS.escape(id)}"][value="${value}"]`);
      if (input) input.checked = true;
    }
    for (const [id, keys] of Object.entries(flags || {})) {
      for (const key of keys) {
        const input = el.outputs.querySelector(`input[type=checkbox][data-output="${CSS.escape(id)}"][value="${CSS.escape(key)}"]`);
        if (input) {
          input.checked = true;
          input.dispatchEvent(new Event("change"));
        }
      }
    }
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

  function groups(ranks = state.rank, placedAt = state.placedAt) {
    const k = state.task.outputs.length;
    const out = [];
    for (let rank = 1; rank <= k; rank += 1) {
      const ids = [...ranks.entries()].filter(([, r]) => r === rank).map(([id]) => id);
      ids.sort((a, b) => placedAt.get(a) - placedAt.get(b));
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

  // ``changed``: the annotator changed something (the draft is saved, leaving asks first).
  function update(changed = true) {
    if (!state.task) return;
    if (changed && !state.busy) {
      state.dirty = true;
      draftSave();
    }
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
    judging.render();
    const why = problem() || judging.problem();
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
      ...judging.payload(), // the overall choice and the judging extras (static/annotate/judging.js)
    };
  }

  function taskUrl(template) {
    return template.replace("/tasks/0/", `/tasks/${state.task.prompt_id}/`);
  }

  const updateUrl = () => urls.update.replace(/\/0\/$/, `/${state.task.annotation_id}/`);

  // Submit and skip answer with the next task (?next=1): one round trip. Better still, the page
  // has already fetched a preview of that task (GET tasks/peek/) while the annotator worked on
  // this one: it shows it the moment Submit is pressed and the submit claims it (prefer=).
  const prefetch = { task: null, inflight: null };

  async function prefetchNext() {
    if (editing || !urls.peek || !state.task) return;
    const current = state.task.prompt_id;
    const { ok, status, data } = await call("GET", urls.peek);
    // Only keep it if the annotator is still on the task it was fetched for.
    prefetch.task = ok && status === 200 && state.task && state.task.prompt_id === current ? data : null;
  }

  function nextUrl(template) {
    const prefer = prefetch.task ? `&prefer=${prefetch.task.prompt_id}` : "";
    return `${taskUrl(template)}?next=1${prefer}`;
  }

  // Sends the judgement of the current task and moves on; ``body`` is the submit or skip body.
  async function finish(template, body, doneText) {
    const previous = state.task;
    const guess = prefetch.task;
    const url = nextUrl(template);
    prefetch.task = null;
    const started = performance.now();
    if (guess) {
      // Shown at once; the reservation arrives with the submit's answer.
      renderTask({ ...guess, expires_at: null });
      window.rankwiseTimings.push(performance.now() - started);
      showStatus("Sending your judgement… here is the next task.");
    }
    state.busy = !guess;
    update(false);
    await prefetch.inflight; // the previous task's submit lands first
    const request = call("POST", url, body);
    prefetch.inflight = request;
    const { ok, data } = await request;
    state.busy = false;
    if (!ok) {
      // Back to the task that was refused, with the annotator's work (its draft) restored.
      renderTask(previous);
      update(false);
      showError(data);
      return;
    }
    draftClear(previous);
    instructionsRead(); // read once a task was judged: collapsed from the next page load on
    const next = data.next;
    if (guess && next && next.prompt_id === guess.prompt_id && state.task && state.task.prompt_id === guess.prompt_id) {
      setExpiry(next.expires_at);
      state.task.shown_order = next.shown_order;
      if (el.error.hidden) showStatus(`${doneText} Here is the next task.`);
      refreshProgress(true);
      prefetchNext();
      return;
    }
    if (guess) draftClear(state.task); // the preview was taken meanwhile: what came instead
    showNext(next, true);
    if (!guess) window.rankwiseTimings.push(performance.now() - started);
    if (el.error.hidden) {
      const swapped = guess && next ? " (the one shown was taken meanwhile)" : "";
      showStatus(state.task ? `${doneText} Here is the next task${swapped}.` : doneText);
    }
  }
  window.rankwiseTimings = []; // click-to-next-task times (ms), read by the browser tests

  async function submit() {
    if (!state.task || state.busy || problem()) return;
    if (editing) {
      await saveEdit(judgement(), "Changes saved.");
      return;
    }
    await finish(urls.submit, judgement(), "Saved.");
  }

  // Editing an earlier judgement (submit or skip): one PATCH, then stay on the page.
  async function saveEdit(body, doneText) {
    state.busy = true;
    update(false);
    const { ok, data } = await call("PATCH", updateUrl(), body);
    state.busy = false;
    if (!ok) {
      update(false);
      showError(data);
      return;
    }
    draftClear(state.task);
    showStatus(doneText);
    update(false);
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
    const timeMs = state.baseTimeMs + clock.ms();
    if (!editing) {
      await finish(urls.skip, { reason, time_ms: timeMs }, "Skipped.");
      return;
    }
    await saveEdit({ skipped: true, skip_reason: reason, time_ms: timeMs }, "Marked as skipped.");
  }

  function showNext(task, taskDone) {
    el.status.hidden = true;
    el.error.hidden = true;
    refreshProgress(taskDone);
    if (!task) {
      state.task = null;
      state.dirty = false;
      setExpiry(null);
      el.task.hidden = true;
      el.bar.hidden = true;
      el.loading.hidden = true;
      el.done.hidden = false;
      return;
    }
    renderTask(task);
  }

  async function loadNext(taskDone = false) {
    el.status.hidden = true;
    el.error.hidden = true;
    const { ok, data } = await call("POST", urls.next);
    if (!ok) {
      el.loading.hidden = true;
      refreshProgress(taskDone);
      showError(data);
      return;
    }
    showNext(data, taskDone);
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
    if (el.helpDialog.open || el.compare.open || !state.task) return;
    const target = event.target;
    const typing = target instanceof Element && target.matches("textarea, select, input:not([type=radio]):not([type=checkbox])");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
      return;
    }
    if (typing || judging.onKey(event)) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
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
    if (key === "n" || key === "N") {
      if (el.instructions) {
        event.preventDefault();
        el.instructions.open = !el.instructions.open;
        if (el.instructions.open) el.instructions.scrollIntoView({ block: "nearest" });
      }
      return;
    }
    if (key === "v" || key === "V") {
      event.preventDefault();
      const card = currentCard(target);
      openCompare(card ? card.dataset.label : null);
      return;
    }
    if (key === "x" || key === "X") {
      const card = currentCard(target);
      if (card) {
        event.preventDefault();
        toggleExpand(card);
      }
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

  // ---- Instructions: open until first read, then collapsed (remembered per project) -----------
  const readKey = `rankwise:instructions-read:${slug}`;

  function instructionsInit() {
    if (!el.instructions) return;
    const store = storage();
    const read = store && store.getItem(readKey);
    el.instructions.open = editing ? false : !read;
    el.instructions.addEventListener("toggle", () => {
      if (!el.instructions.open && store) store.setItem(readKey, String(Date.now()));
    });
  }

  function instructionsRead() {
    const store = storage();
    if (store && el.instructions && !store.getItem(readKey)) store.setItem(readKey, String(Date.now()));
  }

  // ---- Wiring -----------------------------------------------------------------------------------
  const judging = window.RankwiseJudging.create(rules, { state, update, place, groups, labelOf });
  document.addEventListener("keydown", onKey);
  instructionsInit();
  draftsPrune();
  setInterval(tick, 1000);
  el.extend.addEventListener("click", () => extend());
  el.compareBtn.addEventListener("click", () => openCompare());
  $("compare-left").addEventListener("change", fillCompare);
  $("compare-right").addEventListener("change", fillCompare);
  el.outputs.addEventListener("change", () => update());
  el.comment.addEventListener("input", () => update());
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
