// Starts Swagger UI on GET /docs (src/modules/docs/page.html), with the contract this service
// serves (openapi.yaml, relative to the page). Served as a file of its own because the page's
// Content-Security-Policy allows no inline script.
(function () {
  'use strict';

  // Where "Try it out" sends requests: the service that served this page, wherever it runs. The
  // contract's `servers` name only the default local address (127.0.0.1:8080), so a service on
  // another port or host would otherwise be called at an address that is not it; they stay
  // listed after this one.
  var base = window.location.pathname.replace(/\/docs$/, '');
  var here = { url: window.location.origin + base, description: 'This service (the one serving this page)' };

  // A plugin: every time the contract is parsed, this service becomes its first server.
  function ThisServer() {
    return {
      statePlugins: {
        spec: {
          wrapActions: {
            updateJsonSpec: function (orig) {
              return function (json) {
                var listed = (json && Array.isArray(json.servers)) ? json.servers : [];
                var others = listed.filter(function (s) { return s && s.url !== here.url; });
                return orig(Object.assign({}, json, { servers: [here].concat(others) }));
              };
            },
          },
        },
      },
    };
  }

  window.ui = SwaggerUIBundle({
    url: 'openapi.yaml',
    dom_id: '#swagger-ui',
    plugins: [ThisServer],
    deepLinking: true,
    // The token given to Authorize stays in this page's memory: nothing in localStorage, so a
    // shared computer does not keep an employee's token (Swagger UI's default, stated here).
    persistAuthorization: false,
    // No call to the public validator service: the service runs without internet, and the
    // Content-Security-Policy allows no other origin anyway.
    validatorUrl: null,
    displayRequestDuration: true,
    filter: true,
    tryItOutEnabled: false,
    // Operations sorted within their tag as the contract lists them; tags alphabetically.
    tagsSorter: 'alpha',
  });
}());
