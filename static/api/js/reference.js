// The API reference: Swagger UI over the schema named by the page (no inline script: the CSP forbids it).
(() => {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle !== "function") return;
  SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    persistAuthorization: false,
    // The schema is same-origin; never send the session cookie with "Try it out" (keys only).
    requestInterceptor: (request) => { request.credentials = "omit"; return request; },
  });
})();
