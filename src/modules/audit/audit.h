/**
 * @file modules/audit/audit.h
 * @brief The audit trail: who did what, when (G3: effective, provable control).
 */
#ifndef TX_MODULES_AUDIT_H
#define TX_MODULES_AUDIT_H

#include "core/http.h"

int tx_audit_list(struct tx_req *r);
int tx_audit_verify(struct tx_req *r);

#endif
