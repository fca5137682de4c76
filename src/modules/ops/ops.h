/**
 * @file modules/ops/ops.h
 * @brief Operational endpoints: liveness, readiness, metrics, the contract, version.
 */
#ifndef TX_MODULES_OPS_H
#define TX_MODULES_OPS_H

#include "core/http.h"
#include "core/module.h"
#include "db/tx.h"

#include <jansson.h>

int tx_ops_healthz(struct tx_req *r);
int tx_ops_readyz(struct tx_req *r);
int tx_ops_metrics(struct tx_req *r);
int tx_ops_openapi(struct tx_req *r);
int tx_ops_version(struct tx_req *r);

/**
 * @brief tx_meta.backup_status() as an object {last_label, last_kind, last_stopped_at,
 * age_seconds, max_age_seconds, stale} (backup_status.c); NULL when the database did not answer.
 */
json_t *tx_ops_backup_status(const struct tx_claims *claims);

/** @brief The module: its routes (routes.c); main.c registers it. */
extern const struct tx_module tx_module_ops;

#endif
