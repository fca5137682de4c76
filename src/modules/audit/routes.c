/**
 * @file modules/audit/routes.c
 * @brief The audit trail (G3): reading it and verifying its hash chain.
 * main.c registers tx_module_audit.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/audit/audit.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_sql sql_audit_list = {
  "audit_list",
  "SELECT api.audit_list($1, $2, $3::uuid, $4::timestamptz, $5::timestamptz, $6::int, $7)::text", 7};
static const struct tx_sql sql_audit_verify = {
  "audit_verify",
  "SELECT api.audit_verify()::text", 0};

static const struct tx_route routes[] = {
  /* Audit trail (G3: effective control the company can prove) */
  {"GET", "/v1/audit", "auditor,admin", "G3",
   .call = TX_CALL(.sql = &sql_audit_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "table"},
                            {TX_ARG_QUERY_TEXT, "row_key"},
                            {TX_ARG_QUERY_UUID, "actor_id"},
                            {TX_ARG_QUERY_TIME, "from"},
                            {TX_ARG_QUERY_TIME, "to"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"GET", "/v1/audit/verify", "auditor,admin", "G3",
   .call = TX_CALL(.sql = &sql_audit_verify, .read_only = true, .status = 200)},
};

const struct tx_module tx_module_audit = {
  .name = "audit",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
