/**
 * @file modules/cases/work.c
 * @brief Module P, part C: the work on a case (P2.2-P2.4, P3.1, P3.3). Work records per key
 * milestone, escalations to the superior and their answers, submission for review. Every route
 * is one SQL API function of sql/code/cases/040_work.sql (which holds the rules and why);
 * modules/modules.c registers tx_module_case_work.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/cases/cases.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_sql sql_work_record_add = {
  "case_work_record_add", TX_CALL_ROW_UNVERSIONED "api.case_work_record_add($1::uuid, $2::jsonb) j",
  2};
static const struct tx_sql sql_work_record_list = {
  "case_work_record_list", "SELECT api.case_work_record_list($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_escalation_raise = {
  "case_escalation_raise",
  TX_CALL_ROW_UNVERSIONED "api.case_escalation_raise($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_escalation_list = {
  "case_escalation_list", "SELECT api.case_escalation_list($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_escalation_get = {
  "case_escalation_get", TX_CALL_ROW_UNVERSIONED "api.escalation_get($1::uuid) j", 1};
static const struct tx_sql sql_escalation_resolve = {
  "case_escalation_resolve",
  TX_CALL_ROW_UNVERSIONED "api.escalation_resolve($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_submit_review = {
  "case_submit_review", TX_CALL_ROW "api.case_submit_review($1::uuid, $2::jsonb) j", 2};

static const struct tx_route routes[] = {
  /* P2.4: a record per completed key milestone of the operating standard (P2.2), by a current
   * assignee while the case is in_progress or rectifying; corrections are new records. */
  {"POST", "/v1/cases/{id}/work-records", "staff,supervisor", "P2.2,P2.4",
   .call = TX_CALL(.sql = &sql_work_record_add, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/cases/{id}/work-records", "*", "P2.4",
   .call = TX_CALL(.sql = &sql_work_record_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* P2.3: problems met in the work go to the superior, who answers with a solution. */
  {"POST", "/v1/cases/{id}/escalations", "staff,supervisor", "P2.3",
   .call = TX_CALL(.sql = &sql_escalation_raise, .status = 201, .location = "/v1/escalations/",
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/cases/{id}/escalations", "*", "P2.3",
   .call = TX_CALL(.sql = &sql_escalation_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"GET", "/v1/escalations/{id}", "*", "P2.3",
   .call = TX_CALL(.sql = &sql_escalation_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/escalations/{id}/resolve", "*", "P2.3",
   .call = TX_CALL(.sql = &sql_escalation_resolve, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  /* P3.1 / P3.3: the work goes to review (round n); after a failed round, with what was
   * rectified. */
  {"POST", "/v1/cases/{id}/submit-review", "staff,supervisor", "P3.1,P3.3",
   .call = TX_CALL(.sql = &sql_submit_review, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
};

const struct tx_module tx_module_case_work = {
  .name = "case_work",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
