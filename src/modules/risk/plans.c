/**
 * @file modules/risk/plans.c
 * @brief Module R, part E: emergency plans (R4.1), their versions draft -> effective ->
 * superseded approved by a second person, drills (R4.2) and real events with step timings and
 * findings, lessons and revisions citing them (R4.3), the diff between two versions; and the job
 * kind 'risk.plans'. Every route is one SQL API function (sql/code/risk/080_plans.sql,
 * 090_exercises.sql); docs/emergency-plans.md explains the rules. The row format is explained at
 * the top of src/modules/org/routes.c.
 *
 * The job (schedule daily 02:30 company time, migration 0029) runs risk.plans_job: it schedules
 * each plan's next drill, flags drills not held by their due date and lessons not written up by
 * theirs. Idempotent (one scheduled drill per plan; flags set once); its payload may name
 * {"today": "YYYY-MM-DD"} for a catch-up run.
 */
#include "core/call.h"
#include "core/module.h"
#include "jobs/jobs.h"
#include "modules/risk/risk.h"

static const struct tx_sql sql_plan_list = {
  "risk_plan_list", "SELECT api.plan_list($1, $2::int, $3)::text", 3};
static const struct tx_sql sql_plan_create = {
  "risk_plan_create", TX_CALL_ROW "api.plan_create($1::jsonb) j", 1};
static const struct tx_sql sql_plan_get = {
  "risk_plan_get", TX_CALL_ROW "api.plan_get($1::uuid) j", 1};
static const struct tx_sql sql_plan_revise = {
  "risk_plan_revise", TX_CALL_ROW "api.plan_revise($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_version_get = {
  "risk_plan_version_get", TX_CALL_ROW "api.plan_version_get($1::uuid) j", 1};
static const struct tx_sql sql_version_update = {
  "risk_plan_version_update", TX_CALL_ROW "api.plan_version_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_version_approve = {
  "risk_plan_version_approve", TX_CALL_ROW "api.plan_version_approve($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_version_discard = {
  "risk_plan_version_discard", TX_CALL_ROW "api.plan_version_discard($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_version_diff = {
  "risk_plan_version_diff", TX_CALL_ROW_UNVERSIONED "api.plan_version_diff($1::uuid, $2::uuid) j", 2};
static const struct tx_sql sql_exercise_list = {
  "risk_plan_exercises", "SELECT api.plan_exercises($1::uuid, $2, $3, $4::int, $5)::text", 5};
static const struct tx_sql sql_event = {
  "risk_plan_event", TX_CALL_ROW "api.plan_event($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_exercise_get = {
  "risk_exercise_get", TX_CALL_ROW "api.exercise_get($1::uuid) j", 1};
static const struct tx_sql sql_exercise_hold = {
  "risk_exercise_hold", TX_CALL_ROW "api.exercise_hold($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_exercise_cancel = {
  "risk_exercise_cancel", TX_CALL_ROW "api.exercise_cancel($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_exercise_lesson = {
  "risk_exercise_lesson", TX_CALL_ROW "api.exercise_lesson($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_exercise_close = {
  "risk_exercise_close_lessons", TX_CALL_ROW "api.exercise_close_lessons($1::uuid, $2::jsonb) j", 2};

/* A move of a version or an exercise: the path's id and the (optional) body. */
#define MOVE(sqlp) TX_CALL(.sql = (sqlp), .status = 200, \
                           .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})

static const struct tx_route routes[] = {
  /* R4.1: every signed-in employee reads the plans (each must know their part). */
  {"GET", "/v1/emergency-plans", "*", "R4.1,R4.2",
   .call = TX_CALL(.sql = &sql_plan_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "category"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* R4.1: a plan and its first version, a draft (scenarios, procedure, steps). */
  {"POST", "/v1/emergency-plans", "risk_officer,admin", "R4.1",
   .call = TX_CALL(.sql = &sql_plan_create, .status = 201, .location = "/v1/emergency-plans/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/emergency-plans/{id}", "*", "R4.1,R4.2,R4.3",
   .call = TX_CALL(.sql = &sql_plan_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* R4.3: a revision, based on the effective version and citing the lessons it applies. */
  {"POST", "/v1/emergency-plans/{id}/versions", "risk_officer,admin", "R4.1,R4.3",
   .call = TX_CALL(.sql = &sql_plan_revise, .status = 201, .location = "/v1/plan-versions/",
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/plan-versions/{id}", "*", "R4.1,R4.3",
   .call = TX_CALL(.sql = &sql_version_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/plan-versions/{id}", "risk_officer,admin", "R4.1,R4.3",
   .call = TX_CALL(.sql = &sql_version_update, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL}})},
  /* R4.1: a second person makes a draft effective; the version in force is superseded. */
  {"POST", "/v1/plan-versions/{id}/approve", "risk_officer,admin", "R4.1,R4.3",
   .call = MOVE(&sql_version_approve)},
  {"POST", "/v1/plan-versions/{id}/discard", "risk_officer,admin", "R4.1",
   .call = MOVE(&sql_version_discard)},
  /* R4.3: what a revision changed, readable. */
  {"GET", "/v1/plan-versions/{id}/diff", "*", "R4.3",
   .call = TX_CALL(.sql = &sql_version_diff, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_QUERY_UUID, "against"}})},
  /* R4.2, R4.3: the plan's drills (scheduled by the job, overdue flagged) and real events. */
  {"GET", "/v1/emergency-plans/{id}/exercises", "*", "R4.2,R4.3",
   .call = TX_CALL(.sql = &sql_exercise_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_TEXT, "kind"},
                            {TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/emergency-plans/{id}/events", "risk_officer,admin", "R4.3",
   .call = TX_CALL(.sql = &sql_event, .status = 201, .location = "/v1/exercises/",
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/exercises/{id}", "*", "R4.2,R4.3",
   .call = TX_CALL(.sql = &sql_exercise_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* R4.2: a drill held, each step's timing against its target, findings. */
  {"POST", "/v1/exercises/{id}/hold", "risk_officer,admin", "R4.2", .call = MOVE(&sql_exercise_hold)},
  {"POST", "/v1/exercises/{id}/cancel", "risk_officer,admin", "R4.2", .call = MOVE(&sql_exercise_cancel)},
  /* R4.3: the lessons of a drill or event, written up by lessons_due_on. */
  {"POST", "/v1/exercises/{id}/lessons", "risk_officer,admin", "R4.3",
   .call = TX_CALL(.sql = &sql_exercise_lesson, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/exercises/{id}/close-lessons", "risk_officer,admin", "R4.3",
   .call = MOVE(&sql_exercise_close)},
};

const struct tx_module tx_module_emergency_plans = {
  .name = "emergency_plans",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};

/* A few rows per plan: seconds at most. A failed run is retried (the function is idempotent). */
static const struct tx_job_kind risk_plans = {
  .name = "risk.plans",
  .sql = "SELECT risk.plans_job($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 300,
};

int tx_risk_plans_register(void)
{
  return tx_jobs_register(&risk_plans) ? -1 : 0;
}
