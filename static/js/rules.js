// Custom-rule editor and policy form. Loaded with the page's CSP nonce; no inline handlers.
(() => {
  "use strict";

  // Policy form: show only the resource types the chosen kind applies to (data-kinds on each checkbox).
  function filterTypes(form) {
    const checked = form.querySelector('input[name="kind"]:checked');
    const kind = checked ? checked.value : "";
    form.querySelectorAll('input[name="resource_types"]').forEach((box) => {
      const kinds = (box.dataset.kinds || "").split(" ");
      const applies = !kind || kinds.includes(kind);
      const item = box.closest("div") || box.parentElement;
      if (item) item.hidden = !applies;
      if (!applies) box.checked = false;
    });
  }

  function setUpPolicyForm() {
    const form = document.querySelector("[data-policy-form]");
    if (!form) return;
    document.documentElement.classList.add("has-js");
    form.addEventListener("change", (event) => {
      if (event.target.name === "kind") filterTypes(form);
    });
    filterTypes(form);
  }

  // Editor: Ctrl/Cmd+Enter in the rule text runs the preview.
  function setUpEditor() {
    const source = document.querySelector(".rule-editor-form textarea[name=source]");
    const button = document.querySelector('.rule-editor-form button[value="preview"]');
    if (!source || !button) return;
    source.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        button.click();
      }
    });
  }

  function init() {
    setUpPolicyForm();
    setUpEditor();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
