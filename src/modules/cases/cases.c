/**
 * @file modules/cases/cases.c
 * @brief Module P, part B: a case from the customer's request to the start of work (P1.1-P2.1).
 * Every route is one SQL API function (sql/code/cases/030_cases.sql); the rules hold there and in
 * the triggers of sql/code/cases/035_intake_rules.sql. The row format is explained at the top of
 * src/modules/org/routes.c.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "modules/cases/cases.h"

static const struct tx_sql sql_cases_list = {
  "cases_list",
  "SELECT api.case_list($1, $2::uuid, $3::uuid, $4::uuid, $5::uuid, $6::timestamptz,"
  " $7::timestamptz, $8::int, $9)::text",
  9};
static const struct tx_sql sql_cases_create = {
  "cases_create", TX_CALL_ROW "api.case_create($1::jsonb) j", 1};
static const struct tx_sql sql_cases_get = {
  "cases_get", TX_CALL_ROW "api.case_get($1::uuid) j", 1};
static const struct tx_sql sql_cases_assess = {
  "cases_assess", TX_CALL_ROW "api.case_assess($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_cases_intake = {
  "cases_intake", TX_CALL_ROW "api.case_intake($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_cases_submit = {
  "cases_submit", TX_CALL_ROW "api.case_submit($1::uuid) j", 1};
static const struct tx_sql sql_cases_decide = {
  "cases_decide", TX_CALL_ROW "api.case_decide($1::uuid, $2, $3::jsonb) j", 3};
static const struct tx_sql sql_cases_assign = {
  "cases_assign", TX_CALL_ROW "api.case_assign($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_cases_cancel = {
  "cases_cancel", TX_CALL_ROW "api.case_cancel($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_cases_facts = {
  "cases_facts",
  "SELECT api.case_facts($1::timestamptz, $2::timestamptz, $3, $4::uuid, $5::uuid, $6::int, $7)::text",
  7};
static const struct tx_sql sql_cases_transitions = {
  "cases_transitions", "SELECT api.case_transitions($1::uuid, $2::int, $3)::text", 3};

static const struct tx_route routes[] = {
  /* P1.1: the request, received by staff of a department; the list of the cases one may see */
  {"GET", "/v1/cases", "*", "P1.1,P1.4,P2.1",
   .call = TX_CALL(.sql = &sql_cases_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_UUID, "customer_id"},
                            {TX_ARG_QUERY_UUID, "business_type_id"},
                            {TX_ARG_QUERY_UUID, "assigned_to"},
                            {TX_ARG_QUERY_UUID, "department_id"},
                            {TX_ARG_QUERY_TIME, "received_from"},
                            {TX_ARG_QUERY_TIME, "received_to"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}}),
   /* Accept: text/csv gives the whole filtered list (core/formats.h) */
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Case ID", "/id"}, {"Status", "/status"},
                                        {"Customer", "/customer_name"},
                                        {"Customer ID", "/customer_id"},
                                        {"Business type", "/business_type/name"},
                                        {"Department ID", "/department_id"},
                                        {"Received at", "/received_at"},
                                        {"Expected on", "/expected_on"},
                                        {"Next due at", "/next_due_at"},
                                        {"Updated at", "/updated_at"}))},
  {"POST", "/v1/cases", "staff,supervisor", "P1.1",
   .call = TX_CALL(.sql = &sql_cases_create, .status = 201, .location = "/v1/cases/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/cases/{id}", "*", "P1.1,P1.2,P1.3,P1.4,P2.1",
   .call = TX_CALL(.sql = &sql_cases_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* P1.2: in scope (to intake, the type's version fixed) or out of scope (terminal) */
  {"POST", "/v1/cases/{id}/assess", "staff,supervisor", "P1.2",
   .call = TX_CALL(.sql = &sql_cases_assess, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  /* P1.3: the intake form, with the customer's non-PII snapshot */
  {"PUT", "/v1/cases/{id}/intake", "staff,supervisor", "P1.3",
   .call = TX_CALL(.sql = &sql_cases_intake, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_IF_MATCH, NULL},
                            {TX_ARG_BODY, NULL}})},
  /* P1.4: to the supervisor, who approves, rejects or returns it (approver != preparer) */
  {"POST", "/v1/cases/{id}/submit", "staff,supervisor", "P1.4",
   .call = TX_CALL(.sql = &sql_cases_submit, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/cases/{id}/approve", "supervisor", "P1.4",
   .call = TX_CALL(.sql = &sql_cases_decide, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "approve"},
                            {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/cases/{id}/reject", "supervisor", "P1.4",
   .call = TX_CALL(.sql = &sql_cases_decide, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "reject"},
                            {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/cases/{id}/return", "supervisor", "P1.4",
   .call = TX_CALL(.sql = &sql_cases_decide, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "return"},
                            {TX_ARG_BODY, NULL}})},
  /* P2.1: a person or a team with a lead; on an approved case this starts the work */
  {"POST", "/v1/cases/{id}/assignments", "supervisor", "P1.4,P2.1",
   .call = TX_CALL(.sql = &sql_cases_assign, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  /* The customer withdraws: closed with the reason, from every open state before delivery */
  {"POST", "/v1/cases/{id}/cancel", "staff,supervisor", "P1.1,P1.4,P2.1",
   .call = TX_CALL(.sql = &sql_cases_cancel, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  /* HR (quality assessment) reads the facts of every case, not its free text: a bulk report, on
   * the read replica */
  {"GET", "/v1/case-facts", "hr,admin", "P1.1,P1.4,P2.1",
   .call = TX_CALL(.sql = &sql_cases_facts, .read_only = true, .replica = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TIME, "received_from"},
                            {TX_ARG_QUERY_TIME, "received_to"},
                            {TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_UUID, "department_id"},
                            {TX_ARG_QUERY_UUID, "employee_id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* Who moved the case, when and why: the state machine's log */
  {"GET", "/v1/cases/{id}/transitions", "*", "P1.4,P2.1",
   .call = TX_CALL(.sql = &sql_cases_transitions, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
};

const struct tx_module tx_module_cases = {
  .name = "cases",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
