/**
 * @file modules/docs/routes.c
 * @brief The API reference for people (G1: the rules are published where everyone can read
 * them): the page and its files. modules.c lists tx_module_docs.
 */
#include "modules/docs/docs.h"

/* Row format: see src/modules/org/routes.c. Public like the contract it shows (/openapi.yaml). */
static const struct tx_route routes[] = {
  {"GET", "/docs", "", "G1", .handler = tx_docs_page_get},
  {"GET", "/docs/assets/{file}", "", "G1", .handler = tx_docs_asset_get},
};

const struct tx_module tx_module_docs = {
  .name = "docs",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
