// Inventory explorer and resource page. Copy buttons ([data-copy]) are handled by app.js.
(() => {
  "use strict";

  // Shareable URLs: the filter form's htmx requests (and so the pushed URL) leave out empty fields.
  document.addEventListener("htmx:configRequest", (event) => {
    const form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-explorer-form")) return;
    const params = event.detail.parameters;
    const kept = [];
    for (const [name, value] of params.entries()) {
      if (typeof value !== "string" || value.trim() !== "") kept.push([name, value]);
    }
    for (const name of new Set([...params.keys()])) params.delete(name);
    for (const [name, value] of kept) params.append(name, value);
  });

  // The deferred count (data-count-pending): a request that fails would leave "Counting…" for good.
  // Say so instead, with a way to ask again; the rows above it are unaffected.
  const countFailed = (event) => {
    const pending = event.detail.elt;
    if (!(pending instanceof HTMLElement) || !pending.hasAttribute("data-count-pending")) return;
    const url = pending.getAttribute("hx-get");
    pending.textContent = "The matching resources could not be counted. ";
    const again = document.createElement("button");
    again.type = "button";
    again.className = "link";
    again.textContent = "Try again";
    again.addEventListener("click", () => {
      pending.textContent = "Counting the matching resources…";
      window.htmx.ajax("GET", url, { source: pending, target: pending, swap: "outerHTML" });
    });
    pending.append(again);
  };
  for (const name of ["htmx:responseError", "htmx:sendError", "htmx:timeout"]) {
    document.addEventListener(name, countFailed);
  }

  // Without htmx (or before it loads) a plain GET submit: drop the empty fields there too.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-explorer-form") || window.htmx) return;
    for (const field of form.elements) {
      if (field.name && field.value === "" && !field.disabled) field.disabled = true;
    }
  });

  // The number of chosen values next to each filter group's title.
  document.addEventListener("change", (event) => {
    const facet = event.target.closest && event.target.closest(".ex-facet");
    if (!facet) return;
    const counter = facet.querySelector("[data-facet-count]");
    if (counter) {
      const n = facet.querySelectorAll("input[type=checkbox]:checked").length;
      counter.textContent = n ? String(n) : "";
    }
  });

  // "/" jumps to the search field, as on most list pages.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    if (active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))) return;
    const search = document.getElementById("ex-q");
    if (!search) return;
    event.preventDefault();
    search.focus();
    search.select();
  });

  // "Expand all" / "Collapse all" for the <details> of a section (the configuration's long lists).
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-details-toggle]");
    if (!button) return;
    const scope = document.querySelector(button.dataset.detailsToggle);
    if (!scope) return;
    const all = scope.querySelectorAll(".cfg details, details.rs-raw");
    const open = button.getAttribute("aria-expanded") !== "true";
    all.forEach((d) => { d.open = open; });
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? "Collapse all" : "Expand all";
  });
})();
