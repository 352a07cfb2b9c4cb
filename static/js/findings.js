// Findings pages: the bulk selection's count and "select all" (list), copy buttons (remediation snippets).
(function () {
  "use strict";

  function bulkForm(form) {
    const count = form.querySelector("[data-bulk-count]");
    const update = () => {
      if (count) count.textContent = String(form.querySelectorAll("[data-bulk-item]:checked").length);
    };
    form.addEventListener("change", (event) => {
      const all = event.target.closest("[data-bulk-all]");
      if (all) {
        const table = all.closest("table");
        table.querySelectorAll("[data-bulk-item]").forEach((box) => { box.checked = all.checked; });
      }
      if (event.target.matches("[data-bulk-item]")) {
        form.querySelector("input[name=scope][value=selected]").checked = true;
      }
      update();
    });
    update();
  }

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach((button) => {
      button.addEventListener("click", async () => {
        const source = document.getElementById(button.dataset.copy);
        const text = source ? source.textContent : "";
        try {
          await navigator.clipboard.writeText(text);
        } catch (_) {
          // Without clipboard permission: select the text so Ctrl+C copies it.
          const range = document.createRange();
          range.selectNodeContents(source);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
        const label = button.textContent;
        button.textContent = "Copied";
        button.dataset.copied = "true";
        setTimeout(() => { button.textContent = label; }, 1500);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("bulk-form");
    if (form) bulkForm(form);
    copyButtons(document);
  });
})();
