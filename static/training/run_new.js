// The "New run" form: shows the fields of the chosen kind and keeps the request JSON (the
// API's body) in step with the form as it is edited, for copy-paste. Values are typed as the
// API would get them; one that does not parse is sent as typed, and the server's answer
// names the field (the same message the API gives).
(function () {
  "use strict";
  const form = document.getElementById("run-form");
  const out = document.getElementById("config-json");
  if (!form || !out) return;

  function kind() {
    const checked = form.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : "reward_model";
  }

  function promptSource() {
    const checked = form.querySelector('input[name="prompt_source"]:checked');
    return checked ? checked.value : "project";
  }

  function typed(input) {
    const type = input.dataset.type;
    if (type === "bool") return input.checked;
    const raw = input.value.trim();
    if (raw === "") return undefined;
    if (type === "int" && /^-?\d+$/.test(raw)) return parseInt(raw, 10);
    if (type === "float" && raw !== "" && !isNaN(Number(raw))) return Number(raw);
    return raw;
  }

  function intOrNull(name) {
    const el = form.elements[name];
    const value = el ? el.value.trim() : "";
    return /^\d+$/.test(value) ? parseInt(value, 10) : null;
  }

  function showFor(k) {
    const tags = [k];
    if (k === "ppo" && promptSource() === "snapshot") tags.push("ppo-snapshot");
    form.querySelectorAll("[data-kinds]").forEach((el) => {
      const kinds = el.dataset.kinds.split(" ");
      const visible = kinds.some((t) => tags.includes(t));
      el.hidden = !visible;
      el.querySelectorAll("input, select").forEach((i) => { i.disabled = !visible; });
    });
  }

  function update() {
    const k = kind();
    showFor(k);
    const body = { kind: k, name: form.elements.name.value, base_model: form.elements.base_model.value };
    if (k === "reward_model" || promptSource() === "snapshot") {
      const snapshot = intOrNull("snapshot");
      if (snapshot !== null) body.snapshot = snapshot;
    }
    if (k === "ppo") {
      const rm = intOrNull("reward_model");
      if (rm !== null) body.reward_model = rm;
      if (promptSource() === "project") body.prompt_project = parseInt(form.dataset.projectId, 10);
    }
    const config = {};
    form.querySelectorAll(`fieldset.options[data-kinds="${k}"] [data-key]`).forEach((input) => {
      const value = typed(input);
      if (value !== undefined) config[input.dataset.key] = value;
    });
    body.config = config;
    out.textContent = JSON.stringify(body, null, 2);
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
