/**
 * @file modules/ops/routes.c
 * @brief Operations: health, readiness, metrics, the contract and the version (G1, G3).
 * main.c registers tx_module_ops.
 */
#include "core/module.h"
#include "modules/ops/ops.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_route routes[] = {
  /* Operations (G3 effectiveness: the service can be run and watched) */
  {"GET", "/healthz", "", "G3", .handler = tx_ops_healthz, .no_db = true},
  {"GET", "/readyz", "", "G3", .handler = tx_ops_readyz},
  {"GET", "/metrics", "", "G3", .handler = tx_ops_metrics},
  {"GET", "/openapi.yaml", "", "G1", .handler = tx_ops_openapi, .no_db = true},
  {"GET", "/v1/version", "", "G1", .handler = tx_ops_version, .no_db = true},
};

const struct tx_module tx_module_ops = {
  .name = "ops",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
