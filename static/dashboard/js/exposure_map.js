// "Show exposure path" on the architecture map: /map/?...&exposure=<resource id> fetches the resource's
// path (dashboard/exposure_views.py: Internet → gateway → route table → subnet → security group → resource,
// as the map's node ids) and highlights those nodes and the Internet edge, dimming the rest; a toolbar
// button toggles it. map.js exposes the Cytoscape instance as window.cloustralMap once drawn.
(function () {
  "use strict";

  const root = document.getElementById("map-root");
  const params = new URLSearchParams(window.location.search);
  const target = params.get("exposure") || "";
  if (!root || !root.dataset.exposureUrl || !/^\d{1,18}$/.test(target)) return;

  const PATH = "exposure-path";
  const DIM = "exposure-dim";
  let path = null;
  let shown = true;
  let boundTo = null;

  const toolbar = root.querySelector(".map-toolbar");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button small";
  button.dataset.testid = "map-exposure-toggle";
  button.textContent = "Hide exposure path";
  button.hidden = true;
  button.addEventListener("click", () => {
    shown = !shown;
    apply(true);
  });
  const summary = document.createElement("p");
  summary.className = "map-exposure help";
  summary.dataset.testid = "map-exposure-summary";
  summary.setAttribute("role", "status");
  summary.hidden = true;
  if (toolbar) {
    toolbar.insertBefore(button, toolbar.querySelector(".map-toolbar-gap"));
    toolbar.after(summary);
  }

  function styleOnce(cy) {
    if (boundTo === cy) return;
    boundTo = cy;
    const css = getComputedStyle(root);
    const colour = css.getPropertyValue("--map-exposed").trim() || "#dc2f3c";
    cy.style()
      .selector(`node.${PATH}`)
      .style({ "border-width": 6, "border-color": colour, "border-style": "double", opacity: 1 })
      .selector(`edge.${PATH}`)
      .style({ width: 4, "line-color": colour, "target-arrow-color": colour, "line-style": "solid", opacity: 1 })
      .selector(`.${DIM}`)
      .style({ opacity: 0.2 })
      .update();
    // A filter change or an expanded aggregate redraws the elements: highlight them again.
    let queued = false;
    cy.on("add", () => {
      if (queued) return;
      queued = true;
      window.requestAnimationFrame(() => {
        queued = false;
        apply(false);
      });
    });
  }

  function apply(fit) {
    const cy = window.cloustralMap;
    if (!cy || !path || root.dataset.state !== "ready") return;
    styleOnce(cy);
    const ids = [...path.nodes, ...path.edges];
    const on = cy.collection(ids.map((id) => cy.getElementById(id)).filter((el) => el.nonempty()));
    cy.batch(() => {
      cy.elements().removeClass(`${PATH} ${DIM}`);
      if (!shown || on.empty()) return;
      on.addClass(PATH);
      // Compound parents (region, VPC, subnet) stay legible: dim only what is neither on nor around the path.
      cy.elements().difference(on).difference(on.ancestors()).addClass(DIM);
    });
    button.hidden = path.state !== "exposed";
    button.textContent = shown ? "Hide exposure path" : "Show exposure path";
    summary.hidden = false;
    summary.textContent =
      path.state === "exposed"
        ? "Exposure path: " + path.steps.map((s) => (s.link ? `${s.name} (${s.link})` : s.name)).join(" → ")
        : `No exposure path: ${path.summary}.`;
    root.dataset.exposure = shown && on.nonempty() ? "shown" : "hidden";
    if (fit && shown && on.nonempty()) cy.animate({ fit: { eles: on, padding: 60 }, duration: 250 });
  }

  const url = root.dataset.exposureUrl.replace(/\/0\/exposure\.json$/, `/${target}/exposure.json`);
  fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((data) => {
      if (!data) return;
      path = data;
      // map.js may still be drawing: try now, then whenever it reports "ready".
      apply(true);
      new MutationObserver(() => apply(true)).observe(root, { attributes: true, attributeFilter: ["data-state"] });
    });
})();
