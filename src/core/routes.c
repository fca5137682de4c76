/**
 * @file core/routes.c
 * @brief The route table. `tianxingd routes` prints it and tests/contract/routes.mjs compares it
 * with openapi.yaml both ways: a route added here must be added to the contract, and back.
 */
#include "core/routes.h"
#include "modules/ops/ops.h"

const struct tx_route tx_routes[] = {
  /* Operations (G3 effectiveness: the service can be run and watched) */
  {"GET", "/healthz", tx_ops_healthz, "", "G3"},
  {"GET", "/readyz", tx_ops_readyz, "", "G3"},
  {"GET", "/metrics", tx_ops_metrics, "", "G3"},
  {"GET", "/openapi.yaml", tx_ops_openapi, "", "G1"},
  {"GET", "/v1/version", tx_ops_version, "", "G1"},
};
const size_t tx_routes_count = sizeof tx_routes / sizeof tx_routes[0];
