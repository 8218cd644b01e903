// /docs: Swagger UI over the API's own schema, from the vendored files (no CDN, no inline script:
// the Content-Security-Policy allows scripts from this origin only).
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
