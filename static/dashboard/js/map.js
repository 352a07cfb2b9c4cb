// The architecture map (templates/dashboard/map.html). Fetches the elements from data.json (positions are
// computed by the server: Cytoscape's "preset" layout renders thousands of nodes at once), then:
// click a resource → its page; click an aggregate → fetch it expanded (an overview's: open its connection
// and region); double-click a group → collapse or expand it here; type checkboxes → hide or show without a
// reload; Fit; PNG and SVG exports; a search box that finds a resource (inside an aggregate too) and
// centres it; wheel zoom in fixed steps; a canvas the visitor can resize. The first view is never zoomed
// out below a readable size: it opens on what matters (exposed resources and findings first), and Fit
// shows everything.
// No inline script or style: the CSP forbids both.
(function () {
  "use strict";

  const filters = document.getElementById("map-filters");
  if (filters) {
    // A new scope reloads the page; a narrower choice made for the old scope would no longer apply.
    filters.querySelectorAll("select[data-autosubmit]").forEach((select) => {
      select.addEventListener("change", () => {
        const network = filters.querySelector("#map-network");
        if (select.name !== "network" && network) network.value = "";
        if (select.name === "connection") {
          const region = filters.querySelector("#map-region");
          if (region) region.value = "";
        }
        filters.requestSubmit();
      });
    });
  }

  const root = document.getElementById("map-root");
  const container = document.getElementById("map-canvas");
  if (!root || !container || typeof window.cytoscape === "undefined") return;
  if (typeof window.cytoscapeSvg !== "undefined") window.cytoscape.use(window.cytoscapeSvg);

  const statusEl = root.querySelector("[data-testid=map-status]");
  const messageEl = root.querySelector("[data-testid=map-message]");
  const detailsEl = document.getElementById("map-details-body");
  const typeBoxes = filters ? Array.from(filters.querySelectorAll("input[name=type]")) : [];

  const state = {
    expand: new Set(),
    loadedTypes: new Set(), // types present in the last payload (toggled here); others need a fetch
    collapsed: new Map(), // group id → the elements removed while it is collapsed
    orphans: null, // removed edges whose other end is still inside a collapsed group
    focus: null, // the group to zoom to after the next render (an expanded aggregate's)
  };
  let cy = null;
  let loading = false;
  let zoomed = null; // whether the edges are in their zoomed-out style
  const READABLE_ZOOM = 0.8; // node labels (12px) stay at least ~10px on screen on the first view
  const WHEEL_STEP = 1.25; // one wheel notch zooms in or out by a quarter
  const searchInput = root.querySelector("[data-testid=map-search]");

  function onZoom() {
    const far = cy.zoom() < 0.45;
    if (far === zoomed) return;
    zoomed = far;
    cy.batch(() => cy.edges().toggleClass("far", far));
  }

  // --- Colours: the CSS variables of map.css, so the legend and the exports match. ---------------
  const css = getComputedStyle(root);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const C = {
    text: v("--text", "#1b2433"),
    muted: v("--muted", "#5d6882"),
    surface: v("--surface", "#ffffff"),
    border: v("--border", "#dfe4ee"),
    primary: v("--primary", "#2753d8"),
    font: v("--font", "sans-serif"),
    exposed: v("--map-exposed", "#dc2f3c"),
    traffic: v("--map-traffic", "#2f6fec"),
    regionBg: v("--map-region-bg", "#eef2f8"),
    networkBg: v("--map-network-bg", "#f5f8ff"),
    networkBorder: v("--map-network-border", "#7d9ce8"),
    subnetBg: v("--map-subnet-bg", "#ffffff"),
    subnetBorder: v("--map-subnet-border", "#b5c3dc"),
    servicesBorder: v("--map-services-border", "#b9a57a"),
    internet: v("--map-internet", "#1f2a44"),
    warn: v("--warn", "#a86400"),
  };
  const FAMILIES = {
    compute: { color: v("--map-compute", "#2f6fec"), shape: "round-rectangle" },
    database: { color: v("--map-database", "#7b4ce0"), shape: "barrel" },
    function: { color: v("--map-function", "#d98a0b"), shape: "round-hexagon" },
    balancer: { color: v("--map-balancer", "#0c97b3"), shape: "round-diamond" },
    gateway: { color: v("--map-gateway", "#139a6c"), shape: "round-octagon" },
    security: { color: v("--map-security", "#64748b"), shape: "round-pentagon" },
    storage: { color: v("--map-storage", "#0f9488"), shape: "round-rectangle" },
    vault: { color: v("--map-vault", "#a8741a"), shape: "round-pentagon" },
  };
  const SEVERITIES = {
    critical: v("--sev-critical", "#a3123a"),
    high: v("--sev-high", "#dc2f3c"),
    medium: v("--sev-medium", "#e0730f"),
    low: v("--sev-low", "#c99a06"),
    info: v("--sev-info", "#64748b"),
  };

  function stylesheet() {
    const group = {
      "text-valign": "top",
      "text-halign": "center",
      "text-margin-y": -4,
      "font-weight": 600,
      "text-wrap": "ellipsis",
      "text-max-width": 420,
      padding: 22,
      shape: "round-rectangle",
      "corner-radius": 10,
    };
    const styles = [
      {
        selector: "node",
        style: {
          label: "data(label)",
          "font-family": C.font,
          "font-size": 12,
          color: C.text,
          "text-wrap": "wrap",
          "text-max-width": 124,
          "text-overflow-wrap": "anywhere",
          "text-valign": "bottom",
          "text-margin-y": 5,
          "line-height": 1.25,
          width: 40,
          height: 40,
          "background-color": C.muted,
          "border-width": 0,
          "min-zoomed-font-size": 6,
          "overlay-padding": 4,
        },
      },
      { selector: "node[kind = 'region']", style: Object.assign({}, group, { "background-color": C.regionBg, "border-width": 1, "border-color": C.border, "font-size": 20, "font-weight": 700, padding: 28 }) },
      { selector: "node[kind = 'network']", style: Object.assign({}, group, { "background-color": C.networkBg, "border-width": 2, "border-color": C.networkBorder, "font-size": 16 }) },
      { selector: "node[kind = 'subnet']", style: Object.assign({}, group, { "background-color": C.subnetBg, "border-width": 1.5, "border-style": "dashed", "border-color": C.subnetBorder, "font-size": 13, color: C.muted }) },
      { selector: "node[kind = 'services']", style: Object.assign({}, group, { "background-color": C.subnetBg, "border-width": 2, "border-style": "dotted", "border-color": C.servicesBorder, "font-size": 13, color: C.muted }) },
      // A container with nothing inside is a small box of its own.
      { selector: "node.empty", style: { width: 118, height: 38, "text-valign": "center", "text-margin-y": 0, "font-size": 10, "font-weight": 400, "text-max-width": 108, "text-wrap": "ellipsis" } },
    ];
    Object.keys(FAMILIES).forEach((family) => {
      styles.push({ selector: `node.${family}`, style: { "background-color": FAMILIES[family].color, shape: FAMILIES[family].shape } });
    });
    // An aggregate: bigger, with a halo of its colour (many of a kind).
    styles.push({ selector: "node[kind = 'aggregate']", style: { width: 58, height: 58, "border-width": 7, "border-opacity": 0.3, "font-weight": 700, "font-size": 12 } });
    Object.keys(FAMILIES).forEach((family) => {
      styles.push({ selector: `node.aggregate.${family}`, style: { "border-color": FAMILIES[family].color } });
    });
    styles.push(
      { selector: "node.balancer", style: { width: 46, height: 46 } },
      { selector: "node.stopped", style: { "background-opacity": 0.4 } },
      { selector: "node.open", style: { "border-width": 3, "border-style": "dashed", "border-color": C.warn } },
      { selector: "node.exposed", style: { "border-width": 4, "border-style": "solid", "border-color": C.exposed, "border-opacity": 1 } },
      {
        selector: "node[kind = 'internet']",
        style: { shape: "ellipse", width: 84, height: 84, "background-color": C.internet, color: C.surface, "text-valign": "center", "text-margin-y": 0, "font-size": 13, "font-weight": 700 },
      },
      {
        selector: "node[kind = 'badge']",
        style: {
          width: 20, height: 20, shape: "ellipse", "text-valign": "center", "text-margin-y": 0, "font-size": 10, "font-weight": 700,
          color: "#ffffff", "border-width": 2, "border-color": C.surface, events: "no", "min-zoomed-font-size": 0,
        },
      }
    );
    Object.keys(SEVERITIES).forEach((sev) => {
      styles.push({ selector: `node.badge.sev-${sev}`, style: { "background-color": SEVERITIES[sev] } });
    });
    styles.push(
      {
        selector: "node.collapsed",
        style: { label: "data(collapsedLabel)", width: 170, height: 64, "text-valign": "center", "text-margin-y": 0, "text-wrap": "wrap", "text-max-width": 160, "font-size": 12 },
      },
      { selector: "node.filtered", style: { display: "none" } },
      {
        selector: "node[kind = 'empty_networks']",
        style: {
          shape: "round-rectangle", width: 210, height: 70, "background-color": C.networkBg, "border-width": 2,
          "border-style": "dashed", "border-color": C.networkBorder, "text-valign": "center", "text-margin-y": 0,
          "font-size": 15, "font-weight": 700, color: C.muted, "text-max-width": 200,
        },
      },
      { selector: "node.found", style: { "overlay-color": C.primary, "overlay-opacity": 0.35, "overlay-padding": 10 } },
      {
        selector: "edge",
        style: {
          "curve-style": "bezier", width: 1.5, "line-color": C.border, "target-arrow-shape": "triangle",
          "target-arrow-color": C.border, "arrow-scale": 0.8, opacity: 0.85,
        },
      },
      {
        selector: "edge.exposure",
        style: {
          "line-color": C.exposed, "target-arrow-color": C.exposed, "line-style": "dashed", width: 2, label: "data(label)",
          "font-family": C.font, "font-size": 10, "font-weight": 600, color: C.exposed, "text-background-color": C.surface,
          "text-background-opacity": 1, "text-background-padding": 2, "text-background-shape": "round-rectangle", "min-zoomed-font-size": 7,
        },
      },
      { selector: "edge.traffic", style: { "line-color": C.traffic, "target-arrow-color": C.traffic, width: 2, opacity: 0.6 } },
      { selector: "edge.guards", style: { "line-color": C.muted, "target-arrow-color": C.muted, "line-style": "dotted", width: 1 } },
      // Zoomed out, edges step back so the groups stay readable; pointing at a node brings its edges back.
      { selector: "edge.far", style: { opacity: 0.12 } },
      { selector: "edge.exposure.far", style: { opacity: 0.3 } },
      { selector: "edge.lit", style: { opacity: 1, width: 3, "z-index": 10 } },
      { selector: "node:selected", style: { "overlay-color": C.primary, "overlay-opacity": 0.18 } }
    );
    return styles;
  }

  // --- Data ------------------------------------------------------------------------------------
  function checkedTypes() {
    return typeBoxes.filter((box) => box.checked).map((box) => box.value);
  }

  function dataUrl() {
    const url = new URL(root.dataset.dataUrl, window.location.href);
    checkedTypes().forEach((type) => url.searchParams.append("type", type));
    state.expand.forEach((id) => url.searchParams.append("expand", id));
    return url;
  }

  function setStatus(text) {
    statusEl.textContent = text;
  }

  function load() {
    if (loading) return Promise.resolve();
    loading = true;
    setStatus("Loading the map…");
    return fetch(dataUrl(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) throw new Error(body.error || "The map could not be loaded.");
        render(body);
      })
      .catch((error) => {
        setStatus(error.message || "The map could not be loaded.");
        root.dataset.state = "error";
      })
      .finally(() => {
        loading = false;
      });
  }

  function render(payload) {
    const elements = payload.elements;
    const count = elements.nodes.length + elements.edges.length;
    const big = count > 800;
    if (!cy) {
      cy = window.cytoscape({
        container,
        elements,
        style: stylesheet(),
        layout: { name: "preset", fit: true, padding: 30 },
        minZoom: 0.03,
        maxZoom: 3,
        userZoomingEnabled: false, // the wheel zooms in fixed steps (below); the toolbar has + and −
        autoungrabify: true, // positions come from the server; dragging would only scramble the groups
        boxSelectionEnabled: false,
        textureOnViewport: big,
        hideEdgesOnViewport: big,
      });
      bindEvents();
      firstView();
    } else {
      const zoom = cy.zoom();
      const pan = cy.pan();
      cy.batch(() => {
        cy.elements().remove();
        cy.add(elements);
      });
      cy.viewport({ zoom, pan });
    }
    state.collapsed.clear();
    state.orphans = cy.collection();
    state.loadedTypes = new Set(payload.types.filter((t) => t.shown).map((t) => t.type));
    payload.types.forEach((t) => {
      const slot = filters && filters.querySelector(`[data-count-for="${CSS.escape(t.type)}"]`);
      if (slot) {
        slot.textContent = `(${t.count.toLocaleString()})`;
        slot.closest("label").classList.toggle("is-zero", t.count === 0);
      }
    });
    applyTypes();
    root.classList.toggle("is-empty", Boolean(payload.empty));
    messageEl.hidden = !payload.message;
    messageEl.textContent = payload.message || "";
    const stats = payload.stats || {};
    setStatus(
      payload.empty
        ? "Nothing to draw."
        : `${(payload.shown || 0).toLocaleString()} resources` +
            (stats.exposed ? ` · ${stats.exposed.toLocaleString()} exposed to the internet` : "") +
            (stats.aggregates ? ` · ${stats.aggregates} groups of many (click to expand)` : "")
    );
    const focus = state.focus && cy.$id(state.focus);
    state.focus = null;
    if (focus && focus.nonempty()) cy.animate({ fit: { eles: focus, padding: 40 }, duration: 250 });
    zoomed = null;
    onZoom();
    window.cloustralMap = cy;
    if (state.pendingSearch) {
      const text = state.pendingSearch;
      state.pendingSearch = null;
      search(text);
    }
    root.dataset.state = "ready";
  }

  // The fitted view of a big estate is too small to read: open at a readable zoom on what matters most
  // (an exposed resource, else one with findings, else the first network), and let Fit show the rest.
  function firstView() {
    cy.fit(undefined, 30);
    if (cy.zoom() >= READABLE_ZOOM) return;
    const leaves = cy.nodes("[kind = 'resource'], [kind = 'aggregate'], [kind = 'empty_networks']");
    const target =
      leaves.filter(".exposed").first().nonempty() ? leaves.filter(".exposed").first()
      : leaves.filter((n) => n.data("findings") > 0).first().nonempty() ? leaves.filter((n) => n.data("findings") > 0).first()
      : cy.nodes("[kind = 'network']").first().nonempty() ? cy.nodes("[kind = 'network']").first()
      : leaves.first();
    cy.zoom(READABLE_ZOOM);
    if (target && target.nonempty()) {
      // The target's group in view, from its top-left corner when the group is larger than the screen.
      const group = target.parent().nonempty() ? target.parent() : target;
      const box = group.boundingBox();
      const width = cy.width() / READABLE_ZOOM;
      const height = cy.height() / READABLE_ZOOM;
      const x = box.w < width ? (box.x1 + box.x2) / 2 : box.x1 + width / 2 - 20;
      const y = box.h < height ? (box.y1 + box.y2) / 2 : box.y1 + height / 2 - 20;
      cy.pan({ x: cy.width() / 2 - x * READABLE_ZOOM, y: cy.height() / 2 - y * READABLE_ZOOM });
    }
    setTimeout(() => setStatus(`${statusEl.textContent} · zoomed to a readable size: Fit shows everything`), 0);
  }

  // --- Search: a resource by name or id, on the map or inside an aggregate. ------------------------
  function matches(node, needle) {
    const d = node.data();
    return [d.name, d.label, d.resource_id && String(d.resource_id)].some(
      (value) => value && String(value).toLowerCase().includes(needle)
    );
  }

  function search(text) {
    const needle = String(text || "").trim().toLowerCase();
    cy.nodes(".found").removeClass("found");
    if (!needle) return;
    const candidates = cy.nodes("[kind = 'resource'], [kind = 'network'], [kind = 'subnet']").filter((n) => n.visible());
    const exact = candidates.filter((n) => String(n.data("name") || "").toLowerCase() === needle);
    const found = exact.nonempty() ? exact.first() : candidates.filter((n) => matches(n, needle)).first();
    if (found && found.nonempty()) {
      found.addClass("found");
      cy.animate({ zoom: Math.max(cy.zoom(), 1.1), center: { eles: found }, duration: 250 });
      showDetails(found);
      setStatus(`Found “${found.data("name") || found.data("label")}”.`);
      return;
    }
    // Inside an aggregate: expand it, then look again once the map is back.
    const holder = cy.nodes("[kind = 'aggregate']").filter((n) =>
      (n.data("names") || []).some((name) => String(name).toLowerCase().includes(needle))
    ).first();
    if (holder && holder.nonempty() && !state.expand.has(holder.id())) {
      state.expand.add(holder.id());
      state.pendingSearch = needle;
      load();
      return;
    }
    // Large groups carry their first names only (the download stays small): say so rather than "nothing".
    const partial = cy.nodes("[kind = 'aggregate']").some((n) => n.data("names_total") > (n.data("names") || []).length);
    setStatus(
      partial
        ? `Nothing named “${text}” among the names loaded: large groups list only their first names; expand a group to search all of it.`
        : `Nothing named “${text}” on this map.`
    );
  }

  if (searchInput) {
    searchInput.closest("form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (cy) search(searchInput.value);
    });
  }

  // --- Wheel: one notch, one step (Cytoscape's own wheel zoom creeps on most mice). ---------------
  function zoomBy(factor, at) {
    const level = Math.min(cy.maxZoom(), Math.max(cy.minZoom(), cy.zoom() * factor));
    cy.zoom({ level, renderedPosition: at || { x: cy.width() / 2, y: cy.height() / 2 } });
  }

  container.addEventListener(
    "wheel",
    (event) => {
      if (!cy) return;
      event.preventDefault();
      const box = container.getBoundingClientRect();
      zoomBy(event.deltaY < 0 ? WHEEL_STEP : 1 / WHEEL_STEP, { x: event.clientX - box.left, y: event.clientY - box.top });
    },
    { passive: false }
  );

  // The canvas can be resized by its corner (CSS resize): Cytoscape must hear about it.
  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver(() => { if (cy) cy.resize(); }).observe(container);
  }

  // --- Type filter: hide or show here; fetch only for a type the server has not sent. ------------
  function applyTypes() {
    const wanted = new Set(checkedTypes());
    cy.batch(() => {
      cy.nodes("[kind = 'resource'], [kind = 'aggregate'], [kind = 'badge']").forEach((node) => {
        node.toggleClass("filtered", !wanted.has(node.data("rtype")));
      });
    });
  }

  function syncUrl() {
    const url = new URL(window.location.href);
    url.searchParams.delete("type");
    checkedTypes().forEach((type) => url.searchParams.append("type", type));
    window.history.replaceState(null, "", url);
  }

  typeBoxes.forEach((box) => {
    box.addEventListener("change", () => {
      syncUrl();
      if (box.checked && !state.loadedTypes.has(box.value)) load();
      else if (cy) applyTypes();
    });
  });

  // --- Groups: collapse into one box, expand back. -------------------------------------------------
  const GROUPS = "[kind = 'region'], [kind = 'network'], [kind = 'subnet'], [kind = 'services']";

  function collapse(node) {
    if (state.collapsed.has(node.id()) || node.isChildless()) return;
    const box = node.boundingBox({ includeLabels: false });
    const inside = node.descendants();
    const resources = inside.filter("[kind = 'resource'], [kind = 'aggregate']");
    const hidden = resources.reduce((sum, n) => sum + (n.data("count") || 1), 0);
    const exposed = inside.filter(".exposed").reduce((sum, n) => sum + (n.data("exposed_count") || 1), 0);
    state.collapsed.set(node.id(), inside.union(inside.connectedEdges()).remove());
    node.addClass("collapsed");
    node.data("collapsedLabel", `${node.data("label")}\n${hidden.toLocaleString()} resource${hidden === 1 ? "" : "s"}`);
    node.position({ x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 });
    if (exposed && cy.$id("internet").nonempty()) {
      cy.add({
        group: "edges",
        data: { id: `collapsed:${node.id()}`, source: "internet", target: node.id(), label: `${exposed} exposed` },
        classes: "exposure",
      });
      zoomed = null;
      onZoom();
    }
  }

  function expand(node) {
    const removed = state.collapsed.get(node.id());
    if (!removed) return;
    state.collapsed.delete(node.id());
    cy.remove(cy.$id(`collapsed:${node.id()}`));
    node.removeClass("collapsed");
    removed.nodes().restore();
    // An edge comes back once both its ends are drawn (one may sit in another collapsed group).
    const edges = removed.edges().union(state.orphans);
    const ready = edges.filter((edge) => cy.hasElementWithId(edge.data("source")) && cy.hasElementWithId(edge.data("target")));
    ready.restore();
    state.orphans = edges.difference(ready);
    applyTypes();
    zoomed = null;
    onZoom();
  }

  // The Internet node stays above the top-left corner of whatever is drawn.
  function placeInternet() {
    const internet = cy.$id("internet");
    if (internet.empty()) return;
    const rest = cy.elements().not(internet).not(internet.connectedEdges());
    if (rest.empty()) return;
    const box = rest.boundingBox();
    internet.position({ x: box.x1 + 42, y: box.y1 - 90 });
  }

  function collapseAll() {
    cy.batch(() => cy.nodes("[kind = 'network'], [kind = 'services']").forEach(collapse));
    placeInternet();
    cy.fit(undefined, 30);
  }

  function expandAll() {
    cy.batch(() => {
      let progress = true;
      while (progress && state.collapsed.size) {
        progress = false;
        Array.from(state.collapsed.keys()).forEach((id) => {
          const node = cy.$id(id);
          if (node.nonempty() && node.inside()) {
            expand(node);
            progress = true;
          }
        });
      }
    });
    placeInternet();
    cy.fit(undefined, 30);
  }

  // --- Details panel (textContent only: names come from the cloud). --------------------------------
  function showDetails(node) {
    const d = node.data();
    const rows = [];
    const title = d.kind === "aggregate" ? d.label : d.name || d.label;
    if (d.rtype) rows.push(["Type", d.rtype]);
    if (d.region) rows.push(["Region", d.region]);
    if (d.state) rows.push(["State", d.state]);
    if (d.ports) rows.push(["Open from the internet", d.ports]);
    if (d.exposed_count) rows.push(["Exposed", `${d.exposed_count} of ${d.count}`]);
    if (d.open_ports) rows.push(["Rules open to the world", d.open_ports]);
    if (d.findings) rows.push(["Open findings", `${d.findings} (highest: ${d.severity})`]);
    const body = document.createDocumentFragment();
    const heading = document.createElement("p");
    heading.className = "map-details-title";
    heading.textContent = String(title || "").replace(/\n/g, " · ");
    body.appendChild(heading);
    if (rows.length) {
      const dl = document.createElement("dl");
      rows.forEach(([label, value]) => {
        const dt = document.createElement("dt");
        dt.textContent = label;
        const dd = document.createElement("dd");
        dd.textContent = value;
        if (label === "Open from the internet") dd.className = "ports";
        dl.append(dt, dd);
      });
      body.appendChild(dl);
    }
    const hint = document.createElement("p");
    hint.className = "help";
    if (d.kind === "empty_networks") {
      hint.textContent = "Networks with nothing in them and no findings (default VPCs, for example). Click to draw them.";
    } else if (d.url) {
      const link = document.createElement("a");
      link.href = d.url;
      link.textContent = d.kind === "resource" ? "Open this resource" : "Open this network";
      hint.appendChild(link);
    } else if (d.kind === "aggregate") {
      hint.textContent = "Click to show them one by one.";
    }
    body.appendChild(hint);
    detailsEl.replaceChildren(body);
  }

  function bindEvents() {
    cy.on("tap", "node", (event) => {
      const node = event.target;
      const kind = node.data("kind");
      if (kind === "resource" && node.data("url")) {
        window.location.assign(node.data("url"));
      } else if (kind === "aggregate" && node.data("scope")) {
        // An overview's aggregate: the map of its connection and region, as if chosen in the selectors.
        const url = new URL(window.location.href);
        ["network", "expand"].forEach((name) => url.searchParams.delete(name));
        Object.entries(node.data("scope")).forEach(([name, value]) => url.searchParams.set(name, value));
        window.location.assign(url.toString());
      } else if (kind === "aggregate") {
        state.expand.add(node.id());
        state.focus = node.data("parent") || null;
        load();
      } else if (kind === "empty_networks" && root.dataset.emptyUrl) {
        window.location.assign(root.dataset.emptyUrl);
      } else {
        showDetails(node);
      }
    });
    cy.on("dbltap", GROUPS, (event) => {
      const node = event.target;
      if (state.collapsed.has(node.id())) expand(node);
      else collapse(node);
    });
    cy.on("mouseover", "node", (event) => {
      const node = event.target;
      if (node.data("kind") === "badge") return;
      showDetails(node);
      if (["resource", "aggregate", "internet"].includes(node.data("kind"))) {
        node.connectedEdges().addClass("lit");
      }
    });
    cy.on("mouseout", "node", (event) => {
      event.target.connectedEdges().removeClass("lit");
    });
    cy.on("zoom", onZoom);
  }

  // --- Toolbar ----------------------------------------------------------------------------------
  function download(blob, extension) {
    const link = document.createElement("a");
    const day = new Date().toISOString().slice(0, 10);
    link.href = URL.createObjectURL(blob);
    link.download = `${root.dataset.exportName || "cloustral-map"}-${day}.${extension}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  // cytoscape-svg draws no "round-*" polygon (the node vanishes and it logs "Attempted to apply path command
  // to node text"): the export swaps each for its sharp twin, then puts the round ones back.
  const SVG_SHAPES = {
    "round-diamond": "diamond", "round-hexagon": "hexagon", "round-octagon": "octagon", "round-pentagon": "pentagon",
    "round-triangle": "triangle", "round-heptagon": "heptagon", "round-tag": "tag",
  };

  function svgText() {
    const swapped = [];
    cy.batch(() => {
      cy.nodes().forEach((node) => {
        const sharp = SVG_SHAPES[node.style("shape")];
        if (sharp) {
          swapped.push(node);
          node.style("shape", sharp);
        }
      });
    });
    try {
      return cy.svg({ full: true, bg: C.surface });
    } finally {
      cy.batch(() => swapped.forEach((node) => node.removeStyle("shape")));
    }
  }
  window.cloustralMapSvg = () => svgText();

  const actions = {
    fit: () => cy.fit(cy.elements(":visible"), 30),
    collapse: collapseAll,
    expand: expandAll,
    png: () => download(cy.png({ full: true, bg: C.surface, output: "blob", maxWidth: 8000, maxHeight: 8000 }), "png"),
    svg: () => {
      if (typeof cy.svg !== "function") {
        setStatus("SVG export is not available.");
        return;
      }
      download(new Blob([svgText()], { type: "image/svg+xml;charset=utf-8" }), "svg");
    },
    zoomIn: () => zoomBy(WHEEL_STEP),
    zoomOut: () => zoomBy(1 / WHEEL_STEP),
  };
  root.querySelectorAll("[data-action]").forEach((button) => {
    button.addEventListener("click", () => {
      if (cy && actions[button.dataset.action]) actions[button.dataset.action]();
    });
  });

  load();
})();
