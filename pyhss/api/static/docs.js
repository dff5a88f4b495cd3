// Swagger UI on this server's OpenAPI document (no inline script: the CSP allows none).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
});
