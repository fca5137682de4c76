/**
 * @file modules/customers/routes.c
 * @brief Module C: customer information (docs/customers.md).
 * main.c registers tx_module_customers.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "modules/customers/customers.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_sql sql_cust_completeness = {
  "cust_completeness", "SELECT api.customer_completeness($1::uuid)::text", 1};
static const struct tx_sql sql_cust_follow_ups = {
  "cust_follow_ups", "SELECT api.follow_up_list($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_cust_follow_up_create = {
  "cust_follow_up_create",
  "SELECT j::text, NULL, j->>'id' FROM api.follow_up_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_cust_contract_create = {
  "cust_contract_create",
  "SELECT j::text, NULL, j->>'id' FROM api.contract_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_cust_contract_close = {
  "cust_contract_close",
  "SELECT j::text, j->>'version', j->>'id' FROM api.contract_close($1::uuid) j", 1};
static const struct tx_sql sql_cust_history = {
  "cust_history", "SELECT api.customer_history($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_cust_review_queue = {
  "cust_review_queue", "SELECT api.customer_review_queue($1::int, $2)::text", 2};
static const struct tx_sql sql_cust_legal_hold = {
  "cust_legal_hold",
  "SELECT j::text, j->>'version' FROM api.customer_set_legal_hold($1::uuid, $2) j", 2};
static const struct tx_field hold_spec[] = {
  {.name = "reason", .type = TX_J_STRING, .required = true, .nullable = true, .min_len = 1,
   .max_len = 2000, .multiline = true},
};
static const struct tx_sql sql_cust_team = {
  "cust_team",
  "SELECT api.customer_team($1::uuid)::text", 1};
static const struct tx_sql sql_cust_team_set = {
  "cust_team_set", "SELECT api.customer_team_set($1::uuid, $2::jsonb)::text", 2};
static const struct tx_sql sql_cust_recipients = {
  "cust_recipients", "SELECT api.recipient_list($1::int, $2)::text", 2};
static const struct tx_sql sql_cust_recipient_create = {
  "cust_recipient_create", TX_CALL_ROW_UNVERSIONED "api.recipient_create($1::jsonb) j", 1};
static const struct tx_sql sql_cust_nda_create = {
  "cust_nda_create", TX_CALL_ROW_UNVERSIONED "api.nda_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_cust_nda_revoke = {
  "cust_nda_revoke", "SELECT api.nda_revoke($1::uuid)::text", 1};
static const struct tx_sql sql_cust_follow_ups_due = {
  "cust_follow_ups_due", "SELECT api.follow_up_due($1::date, $2::int, $3)::text", 3};
static const struct tx_sql sql_cust_consents = {
  "cust_consents", "SELECT api.consent_list($1::uuid)::text", 1};
static const struct tx_sql sql_cust_consent_create = {
  "cust_consent_create", TX_CALL_ROW_UNVERSIONED "api.consent_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_cust_consent_revoke = {
  "cust_consent_revoke", "SELECT api.consent_revoke($1::uuid)::text", 1};
static const struct tx_sql sql_cust_disclosures = {
  "cust_disclosures", "SELECT api.disclosure_list($1::uuid, $2::int, $3)::text", 3};

static const struct tx_route routes[] = {
  /* Module C: customer information (docs/customers.md) */
  {"GET", "/v1/customers", "staff,supervisor,admin,auditor,hr,risk_officer", "C2.1,C2.3",
   .handler = tx_cust_list,
   .query = "limit,cursor,owner_id,department_id,tag,status,stale,q,phone,email,credit_code,sort",
   /* Accept: text/csv gives the whole filtered list (core/formats.h; tx_cust_list answers through
    * tx_call_run). The columns are the list's items, which hold no personal data (C3.1: no
    * contact, address or credit code; those are sealed and only the document carries them). */
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Customer ID", "/id"}, {"Name", "/name"},
                                        {"Company", "/company_name"}, {"Status", "/status"},
                                        {"Tags", "/tags"}, {"Source", "/source"},
                                        {"Owner ID", "/owner_id"},
                                        {"Department ID", "/department_id"},
                                        {"Last verified at", "/last_verified_at"},
                                        {"Stale", "/stale"}, {"Review due at", "/review_due_at"},
                                        {"Updated at", "/updated_at"}))},
  {"POST", "/v1/customers", "staff,supervisor,admin", "C1.1,C1.2,C2.1,C2.3",
   .handler = tx_cust_create, .body = true},
  {"GET", "/v1/customers/review-queue", "staff,supervisor,admin", "C4.1",
   .call = TX_CALL(.sql = &sql_cust_review_queue, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"GET", "/v1/customers/{id}", "staff,supervisor,admin,auditor,hr,risk_officer", "C2.3",
   .handler = tx_cust_get},
  {"PATCH", "/v1/customers/{id}", "staff,supervisor,admin", "C2.1,C2.3,C4.1,C4.2",
   .handler = tx_cust_update, .body = true},
  /* GET /v1/customers/{id}/history (C4.2): who changed what and when, PII never shown. */
  {"GET", "/v1/customers/{id}/history", "staff,supervisor,admin,auditor", "C4.2",
   .call = TX_CALL(.sql = &sql_cust_history, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"GET", "/v1/customers/{id}/team", "staff,supervisor,admin,auditor", "C2.3",
   .call = TX_CALL(.sql = &sql_cust_team, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PUT", "/v1/customers/{id}/team", "staff,supervisor,admin", "C2.3",
   .call = TX_CALL(.sql = &sql_cust_team_set, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/customers/{id}/merge", "staff,supervisor,admin", "C2.1", .handler = tx_cust_merge,
   .body = true},
  {"GET", "/v1/customers/{id}/completeness", "staff,supervisor,admin,auditor", "C1.3",
   .call = TX_CALL(.sql = &sql_cust_completeness, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"GET", "/v1/customers/{id}/follow-ups", "staff,supervisor,admin,auditor", "C1.2",
   .call = TX_CALL(.sql = &sql_cust_follow_ups, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/customers/{id}/follow-ups", "staff,supervisor,admin", "C1.2",
   .call = TX_CALL(.sql = &sql_cust_follow_up_create, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  /* GET /v1/follow-ups/due (C1.2): the caller's queue of follow-ups due by a date. */
  {"GET", "/v1/follow-ups/due", "staff,supervisor,admin", "C1.2",
   .call = TX_CALL(.sql = &sql_cust_follow_ups_due, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_DATE, "by"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/customers/{id}/contracts", "staff,supervisor,admin", "C1.3,R2.3",
   .call = TX_CALL(.sql = &sql_cust_contract_create, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/customers/{id}/consents", "staff,supervisor,admin,auditor", "C3.2",
   .call = TX_CALL(.sql = &sql_cust_consents, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/customers/{id}/consents", "staff,supervisor,admin", "C3.2",
   .call = TX_CALL(.sql = &sql_cust_consent_create, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/consents/{id}/revoke", "staff,supervisor,admin", "C3.2",
   .call = TX_CALL(.sql = &sql_cust_consent_revoke, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"GET", "/v1/customers/{id}/disclosures", "staff,supervisor,admin,auditor", "C3.1",
   .call = TX_CALL(.sql = &sql_cust_disclosures, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/customers/{id}/disclosures", "staff,supervisor,admin", "C3.1,C3.2,C3.3",
   .handler = tx_cust_disclose, .body = true},
  {"GET", "/v1/recipients", "*", "C3.3",
   .call = TX_CALL(.sql = &sql_cust_recipients, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/recipients", "supervisor,admin", "C3.3",
   .call = TX_CALL(.sql = &sql_cust_recipient_create, .status = 201, .location = "/v1/recipients/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"POST", "/v1/recipients/{id}/ndas", "supervisor,admin", "C3.3",
   .call = TX_CALL(.sql = &sql_cust_nda_create, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/ndas/{id}/revoke", "supervisor,admin", "C3.3",
   .call = TX_CALL(.sql = &sql_cust_nda_revoke, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/customers/{id}/deactivate", "staff,supervisor,admin", "C4.3",
   .handler = tx_cust_deactivate},
  {"PUT", "/v1/customers/{id}/legal-hold", "admin,risk_officer", "C4.3",
   .call = TX_CALL(.sql = &sql_cust_legal_hold,
                   .status = 200,
                   .body_spec = hold_spec,
                   .body_nspec = 1,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_MEMBER, "reason"}})},
  {"POST", "/v1/customers/{id}/dispose", "admin", "C4.3", .handler = tx_cust_dispose},
  {"POST", "/v1/contracts/{id}/close", "staff,supervisor,admin", "C4.3",
   .call = TX_CALL(.sql = &sql_cust_contract_close, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
};

static const struct tx_command commands[] = {
  {"rotate-master-key",
   "  rotate-master-key\n"
   "            re-wrap every customer data key with the current (last) master key\n",
   tx_cust_rotate_master_key},
};

const struct tx_module tx_module_customers = {
  .name = "customers",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
  .commands = commands,
  .ncommands = TX_COUNT(commands),
};
