/**
 * @file modules/assessment/outputs.c
 * @brief Module Q, part D: the use of results (Q4 結果應用). Salary bases (HR only), the bonus
 * list of a period, the promotion and salary candidates of a year, training plans (Q4 培訓與發展,
 * shared with R2.4). Every route is one SQL API function of sql/code/assessment/060_outputs.sql
 * (which holds the rules and why); modules/modules.c registers tx_module_assessment_outputs.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "modules/assessment/assessment.h"

/* Row format: see src/modules/org/routes.c. */

static const struct tx_sql sql_salary_base_list = {
  "assessment_salary_base_list", "SELECT api.salary_base_list($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_salary_base_add = {
  "assessment_salary_base_add", TX_CALL_ROW_UNVERSIONED "api.salary_base_add($1::jsonb) j", 1};
static const struct tx_sql sql_bonus_list = {
  "assessment_bonus_list", "SELECT api.bonus_list($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_promotion_candidates = {
  "assessment_promotion_candidates",
  "SELECT api.promotion_candidates($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_training_plan_list = {
  "assessment_training_plan_list",
  "SELECT api.training_plan_list($1::uuid, $2, $3, $4::int, $5)::text", 5};
static const struct tx_sql sql_training_plan_get = {
  "assessment_training_plan_get", TX_CALL_ROW "api.training_plan_get($1::uuid) j", 1};
static const struct tx_sql sql_training_plan_create = {
  "assessment_training_plan_create", TX_CALL_ROW "api.training_plan_create($1::jsonb) j", 1};
static const struct tx_sql sql_training_move = {
  "assessment_training_move", TX_CALL_ROW "api.training_move($1::uuid, $2, $3::jsonb) j", 3};
static const struct tx_sql sql_training_propose = {
  "assessment_training_propose", "SELECT api.training_propose($1::uuid)::text", 1};

static const struct tx_route routes[] = {
  /* Q4 績效獎金: the base of the bonus, HR's alone; effective-dated rows, never overwritten. */
  {"GET", "/v1/salary-bases", "hr", "Q4",
   .call = TX_CALL(.sql = &sql_salary_base_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_UUID, "employee_id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/salary-bases", "hr", "Q4",
   .call = TX_CALL(.sql = &sql_salary_base_add, .status = 201,
                   .args = {{TX_ARG_BODY, NULL}})},
  /* Q4 績效獎金: grade coefficient x the base in force at the period's end; nobody dropped.
   * With the promotion candidates, a report over a published period: on the read replica. */
  {"GET", "/v1/assessment-periods/{id}/bonus-list", "hr", "Q4",
   .call = TX_CALL(.sql = &sql_bonus_list, .read_only = true, .replica = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}}),
   /* Accept: text/csv gives the whole list for HR's spreadsheet (core/formats.h) */
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Employee ID", "/employee_id"},
                                        {"Employee", "/employee_name"},
                                        {"Department ID", "/department_id"},
                                        {"Assessment ID", "/assessment_id"},
                                        {"Status", "/status"}, {"Grade", "/grade"},
                                        {"Composite", "/composite"},
                                        {"Coefficient", "/coefficient"},
                                        {"Salary base", "/salary_base/amount"},
                                        {"Base from", "/salary_base/effective_from"},
                                        {"Bonus", "/bonus"}, {"Currency", "/currency"},
                                        {"Reason", "/reason"}))},
  /* Q4 晉升與調薪 from the year's grade (Q2.2) and the rule in the period's parameters. */
  {"GET", "/v1/assessment-periods/{id}/promotion-candidates", "hr", "Q2.2,Q4",
   .call = TX_CALL(.sql = &sql_promotion_candidates, .read_only = true, .replica = true,
                   .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}}),
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Employee ID", "/employee_id"},
                                        {"Employee", "/employee_name"},
                                        {"Department ID", "/department_id"},
                                        {"Assessment ID", "/assessment_id"},
                                        {"Status", "/status"}, {"Grade", "/grade"},
                                        {"Composite", "/composite"},
                                        {"Months assessed", "/months_assessed"},
                                        {"Monthly mean", "/monthly_mean"},
                                        {"Supervisor score", "/supervisor_score"}))},
  /* Q4 培訓與發展, R2.4 (staff training): the plans the caller may read. */
  {"GET", "/v1/training-plans", "*", "Q4,R2.4",
   .call = TX_CALL(.sql = &sql_training_plan_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_UUID, "employee_id"},
                            {TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_TEXT, "source"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/training-plans", "hr,supervisor", "Q4,R2.4",
   .call = TX_CALL(.sql = &sql_training_plan_create, .status = 201,
                   .location = "/v1/training-plans/", .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/training-plans/{id}", "*", "Q4,R2.4",
   .call = TX_CALL(.sql = &sql_training_plan_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/training-plans/{id}/agree", "hr,supervisor", "Q4",
   .call = TX_CALL(.sql = &sql_training_move, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "agree"},
                            {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/training-plans/{id}/start", "staff,hr,supervisor", "Q4",
   .call = TX_CALL(.sql = &sql_training_move, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "start"},
                            {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/training-plans/{id}/complete", "hr,supervisor", "Q4",
   .call = TX_CALL(.sql = &sql_training_move, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "complete"},
                            {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/training-plans/{id}/cancel", "hr,supervisor", "Q4",
   .call = TX_CALL(.sql = &sql_training_move, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "cancel"},
                            {TX_ARG_BODY, NULL}})},
  /* Q4 培訓與發展: plans for the indicators under their thresholds and the named shortcomings;
   * idempotent (asking twice creates nothing more). */
  {"POST", "/v1/assessments/{id}/training-proposals", "hr,supervisor", "Q4",
   .call = TX_CALL(.sql = &sql_training_propose, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
};

const struct tx_module tx_module_assessment_outputs = {
  .name = "assessment_outputs",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
