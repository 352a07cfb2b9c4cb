// Cookie consent and analytics (docs/privacy.md). Until the person accepts analytics, nothing is
// loaded and nothing is sent: the PostHog script is only added to the page after "Accept analytics",
// and our own events endpoint is only called then. The choice lives in this browser's localStorage;
// "Cookie settings" in the footer reopens the banner, and "Essential cookies only" stops analytics at
// once (in every open tab: the storage event tells the others).
(() => {
  "use strict";
  const KEY = "cloustral.consent";
  const config = document.getElementById("privacy-config");
  const banner = document.getElementById("cookie-banner");
  if (!config || !banner) return;
  const cfg = config.dataset;
  const nonce = (document.currentScript && document.currentScript.nonce) || "";
  let analyticsOn = false;

  // --- the stored choice ----------------------------------------------------------------------
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function stored() {
    try {
      const value = JSON.parse(localStorage.getItem(KEY) || "null");
      return value && typeof value.analytics === "boolean" ? value : null;
    } catch (_) {
      return null;
    }
  }

  // A choice made under an older policy version does not count: the banner asks again.
  function current() {
    const value = stored();
    return value && value.version === cfg.policyVersion ? value : null;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": cfg.csrf },
      body: JSON.stringify(body),
    }).catch(() => {});
  }

  function choose(analytics) {
    const previous = stored();
    const choice = {
      analytics,
      version: cfg.policyVersion,
      at: new Date().toISOString(),
      id: (previous && previous.id) || newId(),
    };
    localStorage.setItem(KEY, JSON.stringify(choice));
    // The proof of the choice (not analytics): kept server-side as the consent history. Our endpoint
    // stores events only once it has it, so they wait for it.
    const recorded = post(cfg.consentUrl, { browser_id: choice.id, analytics });
    hideBanner();
    if (analytics) startAnalytics(choice, recorded);
    else stopAnalytics();
  }

  // --- the banner -----------------------------------------------------------------------------
  // In the flow at the top of the page, never over it: it covers no button and no field.
  document.body.prepend(banner);

  function showBanner({ focus = true } = {}) {
    const value = current();
    const status = banner.querySelector("[data-consent-status]");
    if (status) {
      status.hidden = !value;
      if (value) {
        const when = new Date(value.at).toLocaleString();
        status.textContent = value.analytics
          ? `Your choice: analytics accepted (${when}).`
          : `Your choice: essential cookies only (${when}).`;
      }
    }
    banner.hidden = false;
    if (focus) {
      banner.scrollIntoView({ block: "nearest" });
      const first = banner.querySelector("button");
      if (first) first.focus();
    }
  }

  function hideBanner() {
    banner.hidden = true;
  }

  // --- analytics --------------------------------------------------------------------------------
  // PostHog sees the URL pattern of the page (o/<slug:org_slug>/resources/<int:resource_id>/), never
  // the URL, its query, the page title or the referrer: they can carry names and filters.
  const safeUrl = `${location.origin}/${cfg.route || ""}`;
  function scrub(props) {
    if (!props || typeof props !== "object") return props;
    for (const key of Object.keys(props)) {
      const k = key.toLowerCase();
      if (k.includes("referr") || k.includes("title") || k.includes("search") || k.includes("hash")) delete props[key];
      else if (k.includes("url") || k.includes("href")) props[key] = safeUrl;
      else if (k.includes("pathname")) props[key] = `/${cfg.route || ""}`;
    }
    return props;
  }

  function pendingEvents() {
    const node = document.getElementById("privacy-pending-events");
    try {
      const list = JSON.parse((node && node.textContent) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (_) {
      return [];
    }
  }

  function withPostHog(callback) {
    if (!cfg.posthogKey) return;
    const ph = window.posthog;
    if (ph && ph.__loaded) {
      ph.opt_in_capturing({ captureEventName: false });
      callback(ph);
      return;
    }
    const script = document.createElement("script");
    script.src = cfg.posthogSrc;
    script.nonce = nonce;
    script.async = true;
    script.dataset.analytics = "posthog";
    script.onload = () => {
      if (!analyticsOn || !window.posthog) return; // withdrawn while the script was loading
      window.posthog.init(cfg.posthogKey, {
        api_host: cfg.posthogHost,
        persistence: "localStorage",
        autocapture: false,
        capture_pageview: false,
        capture_pageleave: false,
        capture_dead_clicks: false,
        capture_heatmaps: false,
        capture_exceptions: false,
        capture_performance: false,
        rageclick: false,
        disable_session_recording: true,
        disable_surveys: true,
        disable_conversations: true,
        disable_product_tours: true,
        disable_external_dependency_loading: true,
        advanced_disable_flags: true,
        advanced_disable_decide: true,
        advanced_disable_feature_flags: true,
        save_referrer: false,
        save_campaign_params: false,
        mask_all_text: true,
        mask_all_element_attributes: true,
        request_batching: false,
        ip: false,
        before_send: (event) => {
          if (!analyticsOn) return null;
          scrub(event.properties);
          scrub(event.$set);
          scrub(event.$set_once);
          return event;
        },
      });
      callback(window.posthog);
    };
    document.head.appendChild(script);
  }

  function startAnalytics(choice, recorded = Promise.resolve()) {
    if (analyticsOn) return;
    analyticsOn = true;
    const pending = pendingEvents();
    const events = [{ name: "pageview", page: cfg.page, properties: {} }].concat(
      pending.map((e) => ({ name: e.name, page: cfg.page, properties: e.properties || {} }))
    );
    recorded.then(() => {
      if (analyticsOn) post(cfg.eventsUrl, { browser_id: choice.id, events });
    });
    withPostHog((ph) => {
      ph.capture("$pageview", { page: cfg.page });
      pending.forEach((e) => ph.capture(e.name, e.properties || {}));
    });
  }

  function stopAnalytics() {
    analyticsOn = false;
    const ph = window.posthog;
    if (ph && ph.__loaded) {
      ph.opt_out_capturing();
      ph.reset();
    }
    // Whatever PostHog kept in this browser goes too.
    for (let i = localStorage.length - 1; i >= 0; i -= 1) {
      const key = localStorage.key(i);
      if (key && (key.startsWith("ph_") || key.startsWith("__ph"))) localStorage.removeItem(key);
    }
    for (const cookie of document.cookie.split(";")) {
      const name = cookie.split("=")[0].trim();
      if (name.startsWith("ph_")) document.cookie = `${name}=; Max-Age=0; path=/`;
    }
  }

  // --- wiring -------------------------------------------------------------------------------------
  banner.addEventListener("click", (event) => {
    const button = event.target.closest("[data-consent]");
    if (button) choose(button.dataset.consent === "accept");
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-cookie-settings]")) showBanner();
  });
  window.addEventListener("storage", (event) => {
    if (event.key !== KEY) return;
    const value = current();
    if (value && value.analytics) startAnalytics(value);
    else stopAnalytics();
  });

  const choice = current();
  if (!choice) showBanner({ focus: false });
  else if (choice.analytics) startAnalytics(choice);
})();
