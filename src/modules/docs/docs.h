/**
 * @file modules/docs/docs.h
 * @brief GET /docs: the contract as a readable page with "Try it out" (Swagger UI, built in).
 */
#ifndef TX_MODULES_DOCS_H
#define TX_MODULES_DOCS_H

#include "core/http.h"
#include "core/module.h"

int tx_docs_page_get(struct tx_req *r);
int tx_docs_asset_get(struct tx_req *r);

/** @brief The module: its routes (routes.c); modules.c lists it. */
extern const struct tx_module tx_module_docs;

#endif
