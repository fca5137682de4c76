/**
 * @file modules/assessment/surveys.c
 * @brief Module Q, part C (tx_module_surveys): customer satisfaction questionnaires (Q3 客戶反饋),
 * their sends, the customer's answer through a one-time link, the response rates; and the job
 * kind 'assessment.surveys' (regular sends, reminders, expiry; schedule daily 09:00, 0022).
 *
 * The links are made as the case confirmation links (modules/cases/delivery.c): 256 random bits
 * drawn here with OpenSSL RAND_bytes, shown once as base64url; the database keeps only the
 * SHA-256 of the token and never sees the token. An unknown, malformed, replaced, answered,
 * revoked or expired token gets one answer, 404 without detail. The SQL is in
 * sql/code/assessment/050_surveys.sql.
 */
#include "core/call.h"
#include "core/json_spec.h"
#include "core/module.h"
#include "crypto/encoding.h"
#include "jobs/jobs.h"
#include "modules/assessment/assessment.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SURVEY_TOKEN_LEN 43 /* base64url of 32 bytes, unpadded */

/* SHA-256 of the token's text, as 64 lower-case hex digits. */
static void survey_token_hash(const char *token, char hex[65])
{
  unsigned char md[32];
  unsigned int len;
  EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
  tx_hex(md, 32, hex);
}

/* The path's token hashed into @p hex; a token of the wrong shape answers the one 404 (-1). */
static int survey_path_token(struct tx_req *r, char hex[65])
{
  const char *token = tx_req_param(r, "token");
  size_t len = 0;
  unsigned char *raw = token && strlen(token) == SURVEY_TOKEN_LEN
                         ? tx_b64_decode(token, SURVEY_TOKEN_LEN, true, &len)
                         : NULL;
  free(raw);
  if (!raw || len != 32) {
    tx_reply_problem(r, TX_E_NOT_FOUND, NULL, NULL);
    return -1;
  }
  survey_token_hash(token, hex);
  return 0;
}

/* One statement whose single column is the answer's JSON, sent with @p status. */
static int survey_run_json(struct tx_req *r, const struct tx_sql *sql, const char *const *params,
                           bool read_only, int status)
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {sql, params};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, read_only, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
    status = tx_reply_problem(r, TX_E_NOT_FOUND, NULL, NULL);
  else
    status = tx_reply_json_text(r, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
  PQclear(res);
  return status;
}

static const struct tx_sql sql_survey_link = {
  "survey_link_create", "SELECT api.survey_link_create($1::uuid, $2)::text", 2};

/* POST /v1/survey-sends/{id}/link: mints the one-time link and shows its token this once. */
static int survey_link_create(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id)
    return r->status;
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    abort(); /* a predictable link would let anyone answer for the customer: fail closed */
  char *token = tx_b64_encode(raw, sizeof raw, true);
  OPENSSL_cleanse(raw, sizeof raw);
  if (!token)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  char hex[65];
  survey_token_hash(token, hex);
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_survey_link, (const char *[]){id, hex}};
  PGresult *res;
  struct tx_db_outcome out;
  int status;
  if (tx_db_run(&claims, false, &q, 1, &res, &out)) {
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    return tx_reply_db_error(r, &out);
  }
  json_t *j_link = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  PQclear(res);
  if (!json_is_object(j_link)) {
    status = tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  } else {
    /* The only time the token is shown: the database keeps its hash alone. */
    char url[80];
    snprintf(url, sizeof url, "/v1/survey-answers/%s", token);
    json_object_set_new(j_link, "token", json_string(token));
    json_object_set_new(j_link, "url", json_string(url));
    status = tx_reply_json(r, 201, j_link);
  }
  json_decref(j_link);
  OPENSSL_cleanse(token, strlen(token));
  free(token);
  return status;
}

static const struct tx_sql sql_survey_view = {
  "survey_answer_view", "SELECT api.survey_answer_view($1)::text", 1};

/* GET /v1/survey-answers/{token} (public): the questions, without any customer data. */
static int survey_answer_view(struct tx_req *r)
{
  char hex[65];
  if (survey_path_token(r, hex))
    return r->status;
  return survey_run_json(r, &sql_survey_view, (const char *[]){hex}, true, 200);
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
  char hex[65];
  if (survey_path_token(r, hex))
    return r->status;
  if (tx_req_body(r, survey_answer_spec, TX_COUNT(survey_answer_spec)))
    return r->status;
  char *body = json_dumps(r->j_body, JSON_COMPACT);
  if (!body)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  int status = survey_run_json(r, &sql_survey_answer, (const char *[]){hex, body}, false, 201);
  free(body);
  return status;
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
  {"GET", "/v1/survey-response-rates", "hr,admin,auditor", "Q3",
   .call = TX_CALL(.sql = &sql_survey_response_rates, .read_only = true, .status = 200,
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
