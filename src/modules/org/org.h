/**
 * @file modules/org/org.h
 * @brief Module G: the organization the regulations apply to (departments, employees), the
 * regulations themselves, and the policy parameters they leave to the company.
 */
#ifndef TX_MODULES_ORG_H
#define TX_MODULES_ORG_H

#include "core/http.h"

int tx_org_departments_list(struct tx_req *r);
int tx_org_departments_create(struct tx_req *r);
int tx_org_department_get(struct tx_req *r);
int tx_org_department_update(struct tx_req *r);

int tx_org_employees_list(struct tx_req *r);
int tx_org_employees_create(struct tx_req *r);
int tx_org_employee_get(struct tx_req *r);
int tx_org_employee_update(struct tx_req *r);
int tx_org_employee_deactivate(struct tx_req *r);
int tx_org_employee_activate(struct tx_req *r);
int tx_org_employee_password(struct tx_req *r);

int tx_org_regulations_list(struct tx_req *r);
int tx_org_regulations_create(struct tx_req *r);
int tx_org_regulation_current(struct tx_req *r);
int tx_org_regulation_get(struct tx_req *r);
int tx_org_regulation_publish(struct tx_req *r);
int tx_org_regulation_acknowledge(struct tx_req *r);
int tx_org_regulation_acknowledgements(struct tx_req *r);
int tx_org_regulation_transitions(struct tx_req *r);

int tx_org_policy_parameters_list(struct tx_req *r);
int tx_org_policy_parameter_get(struct tx_req *r);
int tx_org_policy_propose(struct tx_req *r);
int tx_org_policy_approve(struct tx_req *r);
int tx_org_policy_reject(struct tx_req *r);

#endif
