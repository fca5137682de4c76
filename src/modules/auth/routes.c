/**
 * @file modules/auth/routes.c
 * @brief Identity: sign-in, tokens, the caller, the public keys (G2).
 * main.c registers tx_module_auth.
 */
#include "core/module.h"
#include "modules/auth/auth.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_route routes[] = {
  /* Identity (G2: the regulations apply to every employee, so every employee signs in) */
  {"POST", "/v1/auth/login", "", "G2", .handler = tx_auth_login, .body = true},
  {"POST", "/v1/auth/refresh", "", "G2", .handler = tx_auth_refresh, .body = true},
  {"POST", "/v1/auth/logout", "", "G2", .handler = tx_auth_logout, .body = true},
  {"GET", "/v1/me", "*", "G2", .handler = tx_auth_me},
  {"GET", "/.well-known/jwks.json", "", "G2", .handler = tx_auth_jwks},
};

const struct tx_module tx_module_auth = {
  .name = "auth",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
