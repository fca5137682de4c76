/**
 * @file core/routes.c
 * @brief The route table. `tianxingd routes` prints it and tests/contract/routes.mjs compares it
 * with openapi.yaml both ways: a route added here must be added to the contract, and back.
 */
#include "core/routes.h"
#include "modules/auth/auth.h"
#include "modules/ops/ops.h"

const struct tx_route tx_routes[] = {
  /* Operations (G3 effectiveness: the service can be run and watched) */
  {"GET", "/healthz", tx_ops_healthz, "", "G3"},
  {"GET", "/readyz", tx_ops_readyz, "", "G3"},
  {"GET", "/metrics", tx_ops_metrics, "", "G3"},
  {"GET", "/openapi.yaml", tx_ops_openapi, "", "G1"},
  {"GET", "/v1/version", tx_ops_version, "", "G1"},

  /* Identity (G2: the regulations apply to every employee, so every employee signs in) */
  {"POST", "/v1/auth/login", tx_auth_login, "", "G2"},
  {"POST", "/v1/auth/refresh", tx_auth_refresh, "", "G2"},
  {"POST", "/v1/auth/logout", tx_auth_logout, "", "G2"},
  {"GET", "/v1/me", tx_auth_me, "*", "G2"},
  {"GET", "/.well-known/jwks.json", tx_auth_jwks, "", "G2"},
};
const size_t tx_routes_count = sizeof tx_routes / sizeof tx_routes[0];
