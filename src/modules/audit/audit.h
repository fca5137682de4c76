/**
 * @file modules/audit/audit.h
 * @brief The audit trail: who did what, when (G3: effective, provable control).
 */
#ifndef TX_MODULES_AUDIT_H
#define TX_MODULES_AUDIT_H

#include "core/http.h"
#include "core/module.h"

/** @brief The module: its routes (routes.c); main.c registers it. */
extern const struct tx_module tx_module_audit;

/** @brief Registers the job kind 'audit.pii_reads.digest' (digest.c); main.c calls it. */
int tx_audit_digest_register(void);

#endif
