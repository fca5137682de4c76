/**
 * @file modules/ops/ops.h
 * @brief Operational endpoints: liveness, readiness, metrics, the contract, version.
 */
#ifndef TX_MODULES_OPS_H
#define TX_MODULES_OPS_H

#include "core/http.h"
#include "core/module.h"

int tx_ops_healthz(struct tx_req *r);
int tx_ops_readyz(struct tx_req *r);
int tx_ops_metrics(struct tx_req *r);
int tx_ops_openapi(struct tx_req *r);
int tx_ops_version(struct tx_req *r);

/** @brief The module: its routes (routes.c); main.c registers it. */
extern const struct tx_module tx_module_ops;

#endif
