/**
 * @file modules/assessment/surveys.c
 * @brief Module Q, part C (tx_module_surveys): customer satisfaction questionnaires (Q3 客戶反饋),
 * their sends, the customer's answer through a one-time link, the response rates; and the job
 * kind 'assessment.surveys' (regular sends, reminders, expiry; schedule daily 09:00, 0022).
 *
 * The links are made as the case confirmation links (core/one_time_link.h): shown once, the
 * database keeps only the SHA-256 of the token. An unknown, malformed, replaced, answered,
 * revoked or expired token gets one answer, 404 without detail. The SQL is in
 * sql/code/assessment/050_surveys.sql.
 */
#include "core/call.h"
#include "core/json_spec.h"
#include "core/module.h"
#include "core/one_time_link.h"
#include "jobs/jobs.h"
#include "modules/assessment/assessment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct tx_sql sql_survey_link = {
  "survey_link_create", "SELECT api.survey_link_create($1::uuid, $2)::text", 2};

/* POST /v1/survey-sends/{id}/link: mints the one-time link and shows its token this once. */
static int survey_link_create(struct tx_req *r)
{
  return tx_link_mint(r, &sql_survey_link, "/v1/survey-answers/");
}

static const struct tx_sql sql_survey_view = {
  "survey_answer_view", "SELECT api.survey_answer_view($1)::text", 1};

/* GET /v1/survey-answers/{token} (public): the questions, without any customer data. */
static int survey_answer_view(struct tx_req *r)
{
  return tx_link_view(r, &sql_survey_view);
}

/* The answers' shape is checked by the SQL against the send's questionnaire (its codes and kinds
 * are data); here only that there is an object of answers. */
static const struct tx_field survey_answer_spec[] = {
  {.name = "answers", .type = TX_J_OBJECT, .required = true},
};
static const struct tx_sql sql_survey_answer = {
  "survey_answer_submit", "SELECT api.survey_answer_submit($1, $2::jsonb)::text", 2};

/* POST /v1/survey-answers/{token} (public): the customer answers, once. */
static int survey_answer_submit(struct tx_req *r)
{
  return tx_link_answer(r, survey_answer_spec, TX_COUNT(survey_answer_spec), &sql_survey_answer);
}

static const struct tx_sql sql_surveys_list = {
  "surveys_list", "SELECT api.survey_list($1, $2::boolean, $3::int, $4)::text", 4};
static const struct tx_sql sql_surveys_create = {
  "surveys_create", TX_CALL_ROW_UNVERSIONED "api.survey_create($1::jsonb) j", 1};
static const struct tx_sql sql_survey_get = {
  "survey_get", TX_CALL_ROW_UNVERSIONED "api.survey_get($1::uuid) j", 1};
static const struct tx_sql sql_survey_version_add = {
  "survey_version_add", TX_CALL_ROW_UNVERSIONED "api.survey_version_add($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_survey_sends_list = {
  "survey_sends_list",
  "SELECT api.survey_send_list($1::uuid, $2, $3, $4::uuid, $5::uuid, $6::timestamptz, "
  "$7::timestamptz, $8::int, $9)::text",
  9};
static const struct tx_sql sql_survey_send_create = {
  "survey_send_create", TX_CALL_ROW_UNVERSIONED "api.survey_send_create($1::jsonb) j", 1};
static const struct tx_sql sql_survey_response_rates = {
  "survey_response_rates", "SELECT api.survey_response_rates($1::uuid)::text", 1};

/* The rows: see src/modules/org/routes.c for the format. Who may read a send is row-level
 * security's (sql/code/assessment/000_access.sql). */
static const struct tx_route routes[] = {
  {"GET", "/v1/surveys", "*", "Q3",
   .call = TX_CALL(.sql = &sql_surveys_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "purpose"},
                            {TX_ARG_QUERY_BOOL, "active"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/surveys", "hr,admin", "Q3",
   .call = TX_CALL(.sql = &sql_surveys_create, .status = 201,
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/surveys/{id}", "*", "Q3",
   .call = TX_CALL(.sql = &sql_survey_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/surveys/{id}/versions", "hr,admin", "Q3",
   .call = TX_CALL(.sql = &sql_survey_version_add, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/survey-sends", "staff,supervisor,hr,admin,auditor", "Q3",
   .call = TX_CALL(.sql = &sql_survey_sends_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_UUID, "survey_id"},
                            {TX_ARG_QUERY_TEXT, "reason"},
                            {TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_UUID, "case_id"},
                            {TX_ARG_QUERY_UUID, "customer_id"},
                            {TX_ARG_QUERY_TIME, "from"},
                            {TX_ARG_QUERY_TIME, "to"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/survey-sends", "staff,supervisor,hr", "Q3,P3.4",
   .call = TX_CALL(.sql = &sql_survey_send_create, .status = 201,
                   .args = {{TX_ARG_BODY, NULL}})},
  {"POST", "/v1/survey-sends/{id}/link", "staff,supervisor,hr", "Q3",
   .handler = survey_link_create},
  {"GET", "/v1/survey-answers/{token}", "", "Q3", .handler = survey_answer_view},
  {"POST", "/v1/survey-answers/{token}", "", "Q3,Q1", .handler = survey_answer_submit,
   .body = true},
  /* Q3: response rates of a period, a report: on the read replica */
  {"GET", "/v1/survey-response-rates", "hr,admin,auditor", "Q3",
   .call = TX_CALL(.sql = &sql_survey_response_rates, .read_only = true, .replica = true,
                   .status = 200,
                   .args = {{TX_ARG_QUERY_UUID, "period_id"}})},
};

const struct tx_module tx_module_surveys = {
  .name = "surveys",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};

/* The job kind: one SQL pass (assessment.surveys_job), idempotent for a day, so a retry after a
 * failure or a second replica's claim changes nothing twice. */
static const struct tx_job_kind surveys_job = {
  .name = "assessment.surveys",
  .sql = "SELECT assessment.surveys_job($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 300,
};

int tx_surveys_job_register(void)
{
  return tx_jobs_register(&surveys_job) ? -1 : 0;
}
