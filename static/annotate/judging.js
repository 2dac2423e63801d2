// The judging extras of the ranking page (docs/judging.md): pairwise strength, gaps between
// rank groups, named dimensions and the rationale box. ranking.js owns the board and the
// ranking; this module keeps one board state per dimension and swaps it in, and adds its own
// keys and fields to the submitted judgement. Loaded before ranking.js, which calls
// window.RankwiseJudging.create(). No build step, no dependencies.
(function () {
  "use strict";

  // Number-row keys, left to right: "A much better" ... ties ... "B much better".
  const ROW_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "-", "="];
  const TIE_LABELS = { both_good: "tie: both good", both_bad: "tie: both bad" };

  function create(rules, deps) {
    const judging = rules.judging || { mode: "ranking", strength_levels: [], gap_levels: [], dimensions: [], rationale: "off" };
    const pairwise = judging.mode === "pairwise_strength";
    const levels = judging.strength_levels || [];
    const gapLevels = judging.gap_levels || [];
    const dimensions = judging.dimensions || [];
    const views = [{ key: "overall", name: "Overall", instructions_html: "" }, ...dimensions];
    const active = () => views[my.index].key;
    const $ = (id) => document.getElementById(id);
    const panel = $("judging-panel");
    const my = { index: 0, choices: {} }; // view key -> {rank, placedAt, strength, tie_kind, gaps}
    const enabled = pairwise || gapLevels.length > 0 || dimensions.length > 0 || judging.rationale !== "off";

    // Positions of the pairwise scale, as the number row lays them out.
    function positions() {
      const out = [];
      for (let s = levels.length; s >= 1; s -= 1) out.push({ winner: 0, strength: s, label: `A ${levels[s - 1]}` });
      if (rules.ties_allowed) {
        for (const kind of ["both_good", "both_bad"]) out.push({ winner: null, strength: 0, tie_kind: kind, label: TIE_LABELS[kind] });
      }
      for (let s = 1; s <= levels.length; s += 1) out.push({ winner: 1, strength: s, label: `B ${levels[s - 1]}` });
      return out.map((p, i) => ({ ...p, key: ROW_KEYS[i] }));
    }

    function fresh() {
      return { rank: new Map(), placedAt: new Map(), strength: null, tie_kind: "", gaps: [] };
    }

    // ---- The active view's board lives in ranking.js's state; the others are kept here. -------
    function stash() {
      const choice = my.choices[active()];
      choice.rank = deps.state.rank;
      choice.placedAt = deps.state.placedAt;
    }

    function show(index) {
      stash();
      my.index = (index + views.length) % views.length;
      const choice = my.choices[active()];
      deps.state.rank = choice.rank;
      deps.state.placedAt = choice.placedAt;
      render();
      deps.update(false);
    }

    function choose(position) {
      const outputs = deps.state.task.outputs;
      const choice = my.choices[active()];
      choice.strength = position.strength;
      choice.tie_kind = position.tie_kind || "";
      if (position.winner === null) {
        deps.place(outputs[0].id, 1, false);
        deps.place(outputs[1].id, 1, false);
      } else {
        deps.place(outputs[position.winner].id, 1, false);
        deps.place(outputs[1 - position.winner].id, 2, false);
      }
      render();
      deps.update();
    }

    function cycleGap(index) {
      const choice = my.choices[active()];
      const boundaries = deps.groups().length - 1;
      if (index >= boundaries) return false;
      while (choice.gaps.length < boundaries) choice.gaps.push(null);
      const now = choice.gaps[index] || 0;
      choice.gaps[index] = now >= gapLevels.length ? null : now + 1;
      render();
      deps.update();
      return true;
    }

    // The selected position, read back from the board (a drag may have changed the ranking).
    function selected(choice, rank) {
      const outputs = deps.state.task.outputs;
      const a = rank.get(outputs[0].id);
      const b = rank.get(outputs[1].id);
      if (!a || !b) return null;
      if (a === b) return positions().find((p) => p.winner === null && p.tie_kind === choice.tie_kind) || null;
      const winner = a < b ? 0 : 1;
      return positions().find((p) => p.winner === winner && p.strength === choice.strength) || null;
    }

    // ---- Rendering ----------------------------------------------------------------------------
    function node(tag, attrs = {}, text) {
      const n = document.createElement(tag);
      Object.assign(n, attrs);
      if (text !== undefined) n.textContent = text;
      return n;
    }

    function render() {
      if (!enabled || !panel || !deps.state.task) return;
      panel.hidden = false;
      const tabs = $("judging-tabs");
      tabs.replaceChildren();
      tabs.hidden = views.length < 2;
      views.forEach((view, i) => {
        const done = i === my.index ? null : missing(view.key) === null;
        const tab = node("button", { type: "button", className: `dimension-tab${i === my.index ? " active" : ""}` },
          `${view.name}${done ? " ✓" : ""}`);
        tab.setAttribute("aria-pressed", String(i === my.index));
        tab.dataset.dimension = view.key;
        tab.addEventListener("click", () => show(i));
        tabs.append(tab);
      });
      $("dimension-instructions").innerHTML = views[my.index].instructions_html || ""; // sanitised by the server
      renderScale();
      renderGaps();
    }

    function renderScale() {
      const scale = $("strength-scale");
      scale.hidden = !pairwise;
      if (!pairwise) return;
      scale.replaceChildren();
      const choice = my.choices[active()];
      const current = selected(choice, deps.state.rank);
      for (const p of positions()) {
        const button = node("button", { type: "button", className: `strength-choice${p === current || (current && p.key === current.key) ? " chosen" : ""}` });
        button.dataset.key = p.key;
        button.setAttribute("aria-pressed", String(Boolean(current && p.key === current.key)));
        button.append(node("kbd", {}, p.key), node("span", {}, ` ${p.label}`));
        button.addEventListener("click", () => choose(p));
        scale.append(button);
      }
    }

    function renderGaps() {
      const box = $("rank-gaps");
      box.hidden = pairwise || !gapLevels.length;
      if (box.hidden) return;
      box.replaceChildren();
      const choice = my.choices[active()];
      const groups = deps.groups();
      groups.slice(0, -1).forEach((group, i) => {
        const label = node("label", { className: "gap" });
        const select = node("select");
        select.dataset.gap = String(i);
        select.append(node("option", { value: "" }, "—"));
        gapLevels.forEach((name, level) => select.append(node("option", { value: String(level + 1) }, name)));
        select.value = choice.gaps[i] ? String(choice.gaps[i]) : "";
        select.addEventListener("change", () => {
          while (choice.gaps.length < groups.length - 1) choice.gaps.push(null);
          choice.gaps[i] = select.value ? Number(select.value) : null;
          deps.update();
        });
        const after = groups[i + 1].map(deps.labelOf).join(" = ");
        label.append(node("kbd", {}, `⇧${i + 1}`), ` ${group.map(deps.labelOf).join(" = ")} › `, select, ` › ${after}`);
        box.append(label);
      });
      if (groups.length < 2) box.append(node("span", { className: "muted" }, "Rank the outputs to mark how far apart the ranks are."));
    }

    // ---- Checks and payload -------------------------------------------------------------------
    function rankOf(key) {
      return key === active() ? { rank: deps.state.rank, placedAt: deps.state.placedAt } : my.choices[key];
    }

    // Why the view ``key`` is not judged yet, or null.
    function missing(key) {
      const choice = my.choices[key];
      const { rank } = rankOf(key);
      const name = views.find((v) => v.key === key).name;
      if (key !== active()) {
        const placed = deps.groups(rank, rankOf(key).placedAt).flat().length;
        if (placed < (rules.require_all_placed ? deps.state.task.outputs.length : 2)) return `${name}: not judged yet.`;
      }
      if (pairwise && !selected(choice, rank)) return `${name}: choose how much better (keys ${positions()[0].key}…${positions().at(-1).key}).`;
      return null;
    }

    function problem() {
      if (!enabled || !deps.state.task) return null;
      for (const view of views) {
        const why = missing(view.key);
        if (why) return why;
      }
      const rationale = $("rationale");
      if (judging.rationale === "required" && !rationale.value.trim()) return "Say briefly why (rationale).";
      return null;
    }

    function choicePayload(key) {
      const choice = my.choices[key];
      const { rank, placedAt } = rankOf(key);
      const out = { ranking: deps.groups(rank, placedAt) };
      if (pairwise) {
        out.strength = out.ranking.length === 1 ? 0 : choice.strength;
        out.tie_kind = out.ranking.length === 1 ? choice.tie_kind : "";
      } else if (gapLevels.length && choice.gaps.some((g) => g)) {
        out.gaps = out.ranking.slice(0, -1).map((_, i) => choice.gaps[i] || null);
      }
      return out;
    }

    // Fields added to the submitted judgement; the overall ranking replaces ranking.js's.
    function payload() {
      if (!enabled) return {};
      const out = choicePayload("overall");
      if (dimensions.length) {
        out.dimensions = {};
        for (const d of dimensions) out.dimensions[d.key] = choicePayload(d.key);
      }
      if (judging.rationale !== "off") out.rationale = $("rationale").value;
      return out;
    }

    // ---- Task lifecycle, drafts -----------------------------------------------------------------
    function start() {
      my.index = 0;
      my.choices = {};
      for (const view of views) my.choices[view.key] = fresh();
      my.choices.overall.rank = deps.state.rank;
      my.choices.overall.placedAt = deps.state.placedAt;
      const rationale = $("rationale-box");
      if (rationale) {
        rationale.hidden = judging.rationale === "off";
        $("rationale").value = "";
        $("rationale-label").textContent = judging.rationale === "required" ? "Rationale (required)" : "Rationale (optional)";
      }
      render();
    }

    function fill(key, data) {
      const choice = my.choices[key];
      if (!choice || !data) return;
      choice.rank = new Map();
      choice.placedAt = new Map();
      let seq = 0;
      (data.ranking || []).forEach((group, i) => group.forEach((id) => {
        choice.rank.set(id, i + 1);
        choice.placedAt.set(id, (seq += 1));
      }));
      choice.strength = data.strength ?? null;
      choice.tie_kind = data.tie_kind || "";
      choice.gaps = [...(data.gaps || [])];
    }

    // An existing annotation (edit page) or a draft: {strength, tie_kind, gaps, dimensions, rationale}.
    function restore(saved) {
      if (!enabled || !saved) return;
      const overall = my.choices.overall;
      overall.strength = saved.strength ?? null;
      overall.tie_kind = saved.tie_kind || "";
      overall.gaps = [...(saved.gaps || [])];
      for (const [key, data] of Object.entries(saved.dimensions || {})) fill(key, data);
      if ($("rationale")) $("rationale").value = saved.rationale || "";
      render();
    }

    function snapshot() {
      if (!enabled) return null;
      stash();
      const out = payload();
      out.active = my.index;
      return out;
    }

    // A draft holds every view's board (ranking.js's own holds only the one on screen).
    function restoreDraft(saved) {
      if (!enabled || !saved) return;
      my.index = 0;
      fill("overall", saved);
      restore(saved);
      deps.state.rank = my.choices.overall.rank;
      deps.state.placedAt = my.choices.overall.placedAt;
      deps.state.seq = Math.max(deps.state.seq, 1000); // after the restored placements
      if (saved.active) show(saved.active);
      else render();
    }

    // ---- Keys: the number row (pairwise), Shift+1..9 (gaps), [ and ] (dimensions) -------------
    function onKey(event) {
      if (!enabled || event.altKey || event.ctrlKey || event.metaKey) return false;
      if (views.length > 1 && (event.key === "]" || event.key === "[")) {
        event.preventDefault();
        show(my.index + (event.key === "]" ? 1 : -1));
        return true;
      }
      if (pairwise && !event.shiftKey) {
        const position = positions().find((p) => p.key === event.key);
        if (position) {
          event.preventDefault();
          choose(position);
          return true;
        }
      }
      const digit = /^Digit([1-9])$/.exec(event.code || "");
      if (!pairwise && gapLevels.length && event.shiftKey && digit) {
        event.preventDefault();
        cycleGap(Number(digit[1]) - 1);
        return true;
      }
      return false;
    }

    if (panel) $("rationale").addEventListener("input", () => deps.update());
    return { enabled, start, restore, restoreDraft, snapshot, payload, problem, render, onKey };
  }

  window.RankwiseJudging = { create };
})();
