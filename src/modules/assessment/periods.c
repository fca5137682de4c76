/**
 * @file modules/assessment/periods.c
 * @brief Module Q, part A: the assessment periods (Q2.1 monthly, Q2.2 annual) and the job kind
 * 'assessment.periods'. Every route is one SQL API function (sql/code/assessment/020_periods.sql);
 * the indicators a period's computation writes are in 030_indicators.sql (Q1, formula version 1,
 * docs/assessment.md). The row format is explained at the top of src/modules/org/routes.c.
 *
 * The job (schedule daily 01:00 company time, migration 0022) runs assessment.periods_job: on the
 * first working day of a month it opens and computes the month before, in January also the year
 * before. A period opens once (its label is unique and the function finds it), so a retried or
 * repeated run opens and computes nothing twice. Its payload may name {"today": "YYYY-MM-DD"} for
 * a catch-up run.
 */
#include "core/call.h"
#include "core/module.h"
#include "jobs/jobs.h"
#include "modules/assessment/assessment.h"

static const struct tx_sql sql_periods_list = {
  "assessment_periods_list", "SELECT api.period_list($1, $2, $3::int, $4)::text", 4};
static const struct tx_sql sql_periods_get = {
  "assessment_periods_get", TX_CALL_ROW "api.period_get($1::uuid) j", 1};
static const struct tx_sql sql_periods_open = {
  "assessment_periods_open", TX_CALL_ROW "api.period_open($1::jsonb) j", 1};
/* Computing a period writes every staff member's assessment in one transaction: seconds of SQL
 * for 1 000 people over 100 000 cases, and then a commit that links its 7 000 audited rows into
 * the audit chain (tests/bench, assessment_month; docs/performance.md, "Issue 15: the assessment
 * month at scale"), past the requests' 5 s default. These two HR routes (rare, by few people)
 * get a minute; the monthly job does the same work under its own lease. */
#define TX_ASSESSMENT_COMPUTE_TIMEOUT_MS 60000

static const struct tx_sql sql_periods_compute = {
  "assessment_periods_compute", TX_CALL_ROW "api.period_compute($1::uuid) j", 1};
static const struct tx_sql sql_periods_close = {
  "assessment_periods_close", TX_CALL_ROW "api.period_close($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_periods_transitions = {
  "assessment_periods_transitions", "SELECT api.period_transitions($1::uuid, $2::int, $3)::text",
  3};

static const struct tx_route routes[] = {
  /* Every signed-in employee sees which periods exist and where they stand. */
  {"GET", "/v1/assessment-periods", "*", "Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_periods_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "kind"},
                            {TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* HR opens a month or a year that has ended (the job does it on schedule) and computes it. */
  {"POST", "/v1/assessment-periods", "hr", "Q1,Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_periods_open, .status = 201, .location = "/v1/assessment-periods/",
                   .timeout_ms = TX_ASSESSMENT_COMPUTE_TIMEOUT_MS,
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/assessment-periods/{id}", "*", "Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_periods_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* HR recomputes an open period: new assessments for the people missing, fresh figures for
   * those still computed (Q1). */
  {"POST", "/v1/assessment-periods/{id}/compute", "hr", "Q1,Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_periods_compute, .status = 200,
                   .timeout_ms = TX_ASSESSMENT_COMPUTE_TIMEOUT_MS, .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* HR closes a period whose assessments are all published and answered. */
  {"POST", "/v1/assessment-periods/{id}/close", "hr", "Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_periods_close, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/assessment-periods/{id}/transitions", "*", "Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_periods_transitions, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
};

const struct tx_module tx_module_assessment_periods = {
  .name = "assessment_periods",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};

/* Opening and computing a month of a few hundred people takes seconds, not minutes: a lease of
 * 10 minutes leaves room; a failed run is retried (the function is idempotent). */
static const struct tx_job_kind assessment_periods = {
  .name = "assessment.periods",
  .sql = "SELECT assessment.periods_job($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 600,
};

int tx_assessment_periods_register(void)
{
  return tx_jobs_register(&assessment_periods) ? -1 : 0;
}
