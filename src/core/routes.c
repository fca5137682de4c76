/**
 * @file core/routes.c
 * @brief The route table. `tianxingd routes` prints it and tests/contract/routes.mjs compares it
 * with openapi.yaml both ways: a route added here must be added to the contract, and back.
 */
#include "core/routes.h"
#include "modules/audit/audit.h"
#include "modules/auth/auth.h"
#include "modules/customers/customers.h"
#include "modules/jobs/jobs_api.h"
#include "modules/org/org.h"
#include "modules/ops/ops.h"

const struct tx_route tx_routes[] = {
  /* Operations (G3 effectiveness: the service can be run and watched) */
  {"GET", "/healthz", tx_ops_healthz, "", "G3"},
  {"GET", "/readyz", tx_ops_readyz, "", "G3"},
  {"GET", "/metrics", tx_ops_metrics, "", "G3"},
  {"GET", "/openapi.yaml", tx_ops_openapi, "", "G1"},
  {"GET", "/v1/version", tx_ops_version, "", "G1"},

  /* Identity (G2: the regulations apply to every employee, so every employee signs in) */
  {"POST", "/v1/auth/login", tx_auth_login, "", "G2"},
  {"POST", "/v1/auth/refresh", tx_auth_refresh, "", "G2"},
  {"POST", "/v1/auth/logout", tx_auth_logout, "", "G2"},
  {"GET", "/v1/me", tx_auth_me, "*", "G2"},
  {"GET", "/.well-known/jwks.json", tx_auth_jwks, "", "G2"},

  /* Module G: the organization (G2: applies to all employees and departments) */
  {"GET", "/v1/departments", tx_org_departments_list, "*", "G2"},
  {"POST", "/v1/departments", tx_org_departments_create, "admin", "G2"},
  {"GET", "/v1/departments/{id}", tx_org_department_get, "*", "G2"},
  {"PATCH", "/v1/departments/{id}", tx_org_department_update, "admin", "G2"},
  {"GET", "/v1/employees", tx_org_employees_list, "*", "G2"},
  {"POST", "/v1/employees", tx_org_employees_create, "admin", "G2"},
  {"GET", "/v1/employees/{id}", tx_org_employee_get, "*", "G2"},
  {"PATCH", "/v1/employees/{id}", tx_org_employee_update, "admin", "G2"},
  {"POST", "/v1/employees/{id}/deactivate", tx_org_employee_deactivate, "admin", "G2"},
  {"POST", "/v1/employees/{id}/activate", tx_org_employee_activate, "admin", "G2"},
  {"PUT", "/v1/employees/{id}/password", tx_org_employee_password, "admin", "G2"},

  /* Module G: the regulations (S1: HR interprets and publishes; G2: everyone acknowledges) */
  {"GET", "/v1/regulations", tx_org_regulations_list, "*", "G1,G2"},
  {"POST", "/v1/regulations", tx_org_regulations_create, "hr", "S1"},
  {"GET", "/v1/regulations/current", tx_org_regulation_current, "*", "G1,G2"},
  {"GET", "/v1/regulations/{id}", tx_org_regulation_get, "*", "G1,G2"},
  {"POST", "/v1/regulations/{id}/publish", tx_org_regulation_publish, "hr", "S1"},
  {"POST", "/v1/regulations/{id}/acknowledge", tx_org_regulation_acknowledge, "*", "G2"},
  {"GET", "/v1/regulations/{id}/acknowledgements", tx_org_regulation_acknowledgements,
   "hr,admin,auditor", "G2,S1"},

  /* Module G: policy parameters the regulations leave to the company (G3: reasonable, effective) */
  {"GET", "/v1/policy-parameters", tx_org_policy_parameters_list, "*", "G3"},
  {"GET", "/v1/policy-parameters/{name}", tx_org_policy_parameter_get, "*", "G3"},
  {"POST", "/v1/policy-parameters/{name}/proposals", tx_org_policy_propose, "hr", "G3,S1"},
  {"POST", "/v1/policy-proposals/{id}/approve", tx_org_policy_approve, "admin", "G3"},
  {"POST", "/v1/policy-proposals/{id}/reject", tx_org_policy_reject, "admin", "G3"},

  /* Module C: customer information (docs/customers.md) */
  {"GET", "/v1/customers", tx_cust_list, "staff,supervisor,admin,auditor,hr,risk_officer", "C2.1,C2.3"},
  {"POST", "/v1/customers", tx_cust_create, "staff,supervisor,admin", "C1.1,C1.2,C2.1,C2.3"},
  {"GET", "/v1/customers/review-queue", tx_cust_review_queue, "staff,supervisor,admin", "C4.1"},
  {"GET", "/v1/customers/{id}", tx_cust_get, "staff,supervisor,admin,auditor,hr,risk_officer", "C2.3"},
  {"PATCH", "/v1/customers/{id}", tx_cust_update, "staff,supervisor,admin", "C2.1,C2.3,C4.1,C4.2"},
  {"GET", "/v1/customers/{id}/history", tx_cust_history, "staff,supervisor,admin,auditor", "C4.2"},
  {"GET", "/v1/customers/{id}/team", tx_cust_team, "staff,supervisor,admin,auditor", "C2.3"},
  {"PUT", "/v1/customers/{id}/team", tx_cust_team_set, "staff,supervisor,admin", "C2.3"},
  {"POST", "/v1/customers/{id}/merge", tx_cust_merge, "staff,supervisor,admin", "C2.1"},
  {"GET", "/v1/customers/{id}/completeness", tx_cust_completeness, "staff,supervisor,admin,auditor",
   "C1.3"},
  {"GET", "/v1/customers/{id}/follow-ups", tx_cust_follow_ups_list, "staff,supervisor,admin,auditor",
   "C1.2"},
  {"POST", "/v1/customers/{id}/follow-ups", tx_cust_follow_ups_create, "staff,supervisor,admin", "C1.2"},
  {"POST", "/v1/customers/{id}/contracts", tx_cust_contracts_create, "staff,supervisor,admin", "C1.3"},
  {"GET", "/v1/customers/{id}/consents", tx_cust_consents_list, "staff,supervisor,admin,auditor", "C3.2"},
  {"POST", "/v1/customers/{id}/consents", tx_cust_consents_create, "staff,supervisor,admin", "C3.2"},
  {"POST", "/v1/consents/{id}/revoke", tx_cust_consent_revoke, "staff,supervisor,admin", "C3.2"},
  {"GET", "/v1/customers/{id}/disclosures", tx_cust_disclosures_list, "staff,supervisor,admin,auditor",
   "C3.1"},
  {"POST", "/v1/customers/{id}/disclosures", tx_cust_disclose, "staff,supervisor,admin",
   "C3.1,C3.2,C3.3"},
  {"GET", "/v1/recipients", tx_cust_recipients_list, "*", "C3.3"},
  {"POST", "/v1/recipients", tx_cust_recipients_create, "supervisor,admin", "C3.3"},
  {"POST", "/v1/recipients/{id}/ndas", tx_cust_ndas_create, "supervisor,admin", "C3.3"},
  {"POST", "/v1/customers/{id}/deactivate", tx_cust_deactivate, "staff,supervisor,admin", "C4.3"},
  {"PUT", "/v1/customers/{id}/legal-hold", tx_cust_legal_hold, "admin,risk_officer", "C4.3"},
  {"POST", "/v1/customers/{id}/dispose", tx_cust_dispose, "admin", "C4.3"},
  {"POST", "/v1/contracts/{id}/close", tx_cust_contract_close, "staff,supervisor,admin", "C4.3"},

  /* Audit trail (G3: effective control the company can prove) */
  {"GET", "/v1/audit", tx_audit_list, "auditor,admin", "G3"},
  {"GET", "/v1/audit/verify", tx_audit_verify, "auditor,admin", "G3"},

  /* Scheduled work (G3: the company can see that its scheduled controls ran) */
  {"GET", "/v1/jobs", tx_jobs_api_list, "admin", "G3"},
  {"GET", "/v1/jobs/{id}", tx_jobs_api_get, "admin", "G3"},
};
const size_t tx_routes_count = sizeof tx_routes / sizeof tx_routes[0];
