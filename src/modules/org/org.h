/**
 * @file modules/org/org.h
 * @brief Module G: the organization the regulations apply to (departments, employees), the
 * regulations themselves, and the policy parameters they leave to the company.
 */
#ifndef TX_MODULES_ORG_H
#define TX_MODULES_ORG_H

#include "core/http.h"
#include "core/module.h"

int tx_org_employee_password(struct tx_req *r);
int tx_org_own_password(struct tx_req *r);

/** @brief The module: its routes (routes.c); main.c registers it. */
extern const struct tx_module tx_module_org;

#endif
