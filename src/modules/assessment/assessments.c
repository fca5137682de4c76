/**
 * @file modules/assessment/assessments.c
 * @brief Module Q, part B: the workflow of an assessment (Q2.1 monthly, Q2.2 annual, Q3 methods):
 * the list and document, self-assessment, supervisor evaluation, HR check or return,
 * publication, the employee's acknowledgement or appeal and HR's decision of it, corrections as
 * new revisions decided by a second person, the transition history. Every route is one SQL API
 * function of sql/code/assessment/040_workflow.sql (which holds the rules and why);
 * modules/modules.c registers tx_module_assessments.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "modules/assessment/assessment.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_sql sql_list = {
  "assessment_list",
  "SELECT api.assessment_list($1::int, $2, $3::uuid, $4::uuid, $5::uuid, $6)::text", 6};
static const struct tx_sql sql_get = {
  "assessment_get", TX_CALL_ROW "api.assessment_get($1::uuid) j", 1};
static const struct tx_sql sql_transitions = {
  "assessment_transitions",
  "SELECT api.assessment_transitions($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_self_assess = {
  "assessment_self_assess",
  TX_CALL_ROW "api.assessment_self_assess($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_evaluate = {
  "assessment_evaluate", TX_CALL_ROW "api.assessment_evaluate($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_check = {
  "assessment_check", TX_CALL_ROW "api.assessment_check($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_return = {
  "assessment_return", TX_CALL_ROW "api.assessment_return($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_publish = {
  "assessment_publish", TX_CALL_ROW "api.assessment_publish($1::uuid, $2::int) j", 2};
static const struct tx_sql sql_acknowledge = {
  "assessment_acknowledge", TX_CALL_ROW "api.assessment_acknowledge($1::uuid) j", 1};
static const struct tx_sql sql_appeal = {
  "assessment_appeal", TX_CALL_ROW "api.assessment_appeal($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_appeal_decide = {
  "assessment_appeal_decide",
  TX_CALL_ROW "api.assessment_appeal_decide($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_correction_propose = {
  "assessment_correction_propose",
  TX_CALL_ROW "api.assessment_correction_propose($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_correction_approve = {
  "assessment_correction_approve",
  TX_CALL_ROW "api.assessment_correction_approve($1::uuid, $2::int) j", 2};
static const struct tx_sql sql_correction_reject = {
  "assessment_correction_reject",
  TX_CALL_ROW "api.assessment_correction_reject($1::uuid, $2::int, $3::jsonb) j", 3};

/* The steps that act on what another person wrote, or on figures that may still be recomputed,
 * take If-Match (the row version): a check, a publication or a decision is about the version
 * the caller read. The employee's answer (acknowledge, appeal) is about a published revision,
 * whose content cannot change (the immutability trigger), so it needs none. */
#define STEP(sqlp) TX_CALL(.sql = (sqlp), .status = 200, \
                           .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}})

static const struct tx_route routes[] = {
  /* Who sees what (READINGS.md, Q): staff their own, supervisors their reports', hr all,
   * auditors read. */
  {"GET", "/v1/assessments", "staff,supervisor,hr,auditor", "Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"},
                            {TX_ARG_QUERY_UUID, "period_id"},
                            {TX_ARG_QUERY_UUID, "employee_id"},
                            {TX_ARG_QUERY_UUID, "department_id"},
                            {TX_ARG_QUERY_TEXT, "status"}}),
   /* Accept: text/csv gives HR the whole filtered list (core/formats.h): the indicator table's
    * results per person that Excel opens with its Chinese names (issue 12). */
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Assessment ID", "/id"}, {"Period", "/period_label"},
                                        {"Kind", "/period_kind"}, {"Employee", "/employee_name"},
                                        {"Employee ID", "/employee_id"},
                                        {"Department ID", "/department_id"},
                                        {"Revision", "/revision"}, {"Status", "/status"},
                                        {"Composite", "/composite"}, {"Grade", "/grade"},
                                        {"Monthly mean", "/monthly_mean"},
                                        {"Published at", "/published_at"},
                                        {"Updated at", "/updated_at"}))},
  {"GET", "/v1/assessments/{id}", "staff,supervisor,hr,auditor", "Q1,Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"GET", "/v1/assessments/{id}/transitions", "staff,supervisor,hr,auditor", "Q2.1",
   .call = TX_CALL(.sql = &sql_transitions, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* Q3 自我評估: the employee's own view (經驗, 不足, optional self-score). */
  {"POST", "/v1/assessments/{id}/self-assessment", "staff,supervisor", "Q2.1,Q3",
   .call = STEP(&sql_self_assess)},
  /* Q3 上級評價: the teamwork rating of a month (Q1), the supervisor score of a year (Q2.2). */
  {"POST", "/v1/assessments/{id}/evaluation", "supervisor", "Q1,Q2.1,Q2.2,Q3",
   .call = STEP(&sql_evaluate)},
  {"POST", "/v1/assessments/{id}/check", "hr", "Q2.1", .call = STEP(&sql_check)},
  {"POST", "/v1/assessments/{id}/return", "hr", "Q2.1", .call = STEP(&sql_return)},
  {"POST", "/v1/assessments/{id}/publish", "hr", "Q2.1",
   .call = TX_CALL(.sql = &sql_publish, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}})},
  {"POST", "/v1/assessments/{id}/acknowledge", "staff,supervisor", "Q2.1",
   .call = TX_CALL(.sql = &sql_acknowledge, .status = 200, .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/assessments/{id}/appeal", "staff,supervisor", "Q2.1",
   .call = TX_CALL(.sql = &sql_appeal, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/assessments/{id}/appeal-decision", "hr", "Q2.1",
   .call = STEP(&sql_appeal_decide)},
  /* Q2.1: a correction is a new revision with a reason, approved by a second person. */
  {"POST", "/v1/assessments/{id}/corrections", "hr", "Q2.1",
   .call = TX_CALL(.sql = &sql_correction_propose, .status = 201, .location = "/v1/assessments/",
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/assessments/{id}/approve", "hr", "Q2.1",
   .call = TX_CALL(.sql = &sql_correction_approve, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}})},
  {"POST", "/v1/assessments/{id}/reject", "hr", "Q2.1", .call = STEP(&sql_correction_reject)},
};

const struct tx_module tx_module_assessments = {
  .name = "assessments",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
