/**
 * @file modules/risk/register.c
 * @brief Module R, part A: the risk register (R1.1-R1.3, R2.2): risks, their assessments (both
 * halves, history), identification rounds and market research and trend records; the job kind
 * 'risk.rounds'. Every route is one SQL API function of sql/code/risk/020_register.sql (which
 * holds the rules and why); responses (R2.1, R2.4) are in responses.c. Row format: see
 * src/modules/org/routes.c.
 *
 * The job (schedule daily 02:00 company time, migration 0029) runs risk.rounds_job: it opens the
 * regular identification round when risk_schedules.identification_every_months have passed,
 * flags open rounds and undone responses past their due dates. Idempotent; its payload may name
 * {"today": "YYYY-MM-DD"} for a catch-up run.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "jobs/jobs.h"
#include "modules/risk/risk.h"

static const struct tx_sql sql_risk_list = {
  "risk_list",
  "SELECT api.risk_list($1, $2, $3, $4::uuid, $5::uuid, $6::uuid, $7::uuid, $8::uuid, $9::int, $10)::text",
  10};
static const struct tx_sql sql_risk_create = {
  "risk_create", TX_CALL_ROW "api.risk_create($1::jsonb) j", 1};
static const struct tx_sql sql_risk_get = {"risk_get", TX_CALL_ROW "api.risk_get($1::uuid) j", 1};
static const struct tx_sql sql_risk_update = {
  "risk_update", TX_CALL_ROW "api.risk_update($1::uuid, $2::int, $3::jsonb) j", 3};
static const struct tx_sql sql_risk_move = {
  "risk_move", TX_CALL_ROW "api.risk_move($1::uuid, $2, $3::jsonb) j", 3};
static const struct tx_sql sql_risk_transitions = {
  "risk_transitions", "SELECT api.risk_transitions($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_risk_assessments = {
  "risk_assessments", "SELECT api.risk_assessments($1::uuid)::text", 1};
static const struct tx_sql sql_risk_assess = {
  "risk_assess", TX_CALL_ROW_UNVERSIONED "api.risk_assess($1::uuid, $2::jsonb) j", 2};

static const struct tx_sql sql_round_list = {
  "risk_round_list", "SELECT api.risk_round_list($1, $2, $3::int, $4)::text", 4};
static const struct tx_sql sql_round_create = {
  "risk_round_create", TX_CALL_ROW "api.risk_round_create($1::jsonb) j", 1};
static const struct tx_sql sql_round_get = {
  "risk_round_get", TX_CALL_ROW "api.risk_round_get($1::uuid) j", 1};
static const struct tx_sql sql_round_move = {
  "risk_round_move", TX_CALL_ROW "api.risk_round_move($1::uuid, $2, $3::jsonb) j", 3};

static const struct tx_sql sql_market_list = {
  "market_record_list", "SELECT api.market_record_list($1, $2::uuid, $3::int, $4)::text", 4};
static const struct tx_sql sql_market_create = {
  "market_record_create", TX_CALL_ROW_UNVERSIONED "api.market_record_create($1::jsonb) j", 1};
static const struct tx_sql sql_market_get = {
  "market_record_get", TX_CALL_ROW_UNVERSIONED "api.market_record_get($1::uuid) j", 1};

/* A move of a risk: the action is the route's, the body says why. */
#define RISK_MOVE(action) TX_CALL(.sql = &sql_risk_move, .status = 200, \
                                  .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, action}, \
                                           {TX_ARG_BODY, NULL}})
#define ROUND_MOVE(action) TX_CALL(.sql = &sql_round_move, .status = 200, \
                                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, action}, \
                                            {TX_ARG_BODY, NULL}})

/* Who reads the register: the policy risks_read decides which rows (risk officers, admin and
 * auditors all; supervisors their department's; staff what they reported or own). */
#define RISK_READERS "staff,supervisor,risk_officer,admin,auditor"

static const struct tx_route routes[] = {
  {"GET", "/v1/risks", RISK_READERS, "R1.1,R1.3,R2.1",
   .call = TX_CALL(.sql = &sql_risk_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "category"},
                            {TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_TEXT, "level"},
                            {TX_ARG_QUERY_UUID, "owner_id"},
                            {TX_ARG_QUERY_UUID, "department_id"},
                            {TX_ARG_QUERY_UUID, "customer_id"},
                            {TX_ARG_QUERY_UUID, "case_id"},
                            {TX_ARG_QUERY_UUID, "round_id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}}),
   /* R1.3 風險數據庫: the register as a spreadsheet for later risk work. */
   .formats = TX_FORMATS(TX_CSV_COLUMNS({"Risk ID", "/id"}, {"Code", "/code"},
                                        {"Category", "/category"}, {"Title", "/title"},
                                        {"Status", "/status"}, {"Likelihood", "/likelihood"},
                                        {"Impact", "/impact"}, {"Level", "/level"},
                                        {"Residual level", "/residual_level"},
                                        {"Response missing", "/response_missing"},
                                        {"Owner ID", "/owner_id"},
                                        {"Department ID", "/department_id"},
                                        {"Customer ID", "/customer_id"}, {"Case ID", "/case_id"},
                                        {"Assessed at", "/assessed_at"},
                                        {"Created at", "/created_at"}))},
  /* R1.1: everyone identifies risks; staff report what they see. */
  {"POST", "/v1/risks", "staff,supervisor,risk_officer,admin", "R1.1,R1.3",
   .call = TX_CALL(.sql = &sql_risk_create, .status = 201, .location = "/v1/risks/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/risks/{id}", RISK_READERS, "R1.3,R2.1",
   .call = TX_CALL(.sql = &sql_risk_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/risks/{id}", "staff,supervisor,risk_officer,admin", "R1.3",
   .call = TX_CALL(.sql = &sql_risk_update, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL},
                            {TX_ARG_BODY, NULL}})},
  {"POST", "/v1/risks/{id}/dismiss", "risk_officer,admin", "R1.1", .call = RISK_MOVE("dismiss")},
  {"POST", "/v1/risks/{id}/treat", "supervisor,risk_officer,admin", "R2.1",
   .call = RISK_MOVE("treat")},
  {"POST", "/v1/risks/{id}/close", "risk_officer,admin", "R2.1", .call = RISK_MOVE("close")},
  {"POST", "/v1/risks/{id}/reopen", "risk_officer,admin", "R1.3", .call = RISK_MOVE("reopen")},
  {"GET", "/v1/risks/{id}/transitions", RISK_READERS, "R1.3",
   .call = TX_CALL(.sql = &sql_risk_transitions, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* R1.2: qualitative and quantitative together; the history is never overwritten. */
  {"GET", "/v1/risks/{id}/assessments", RISK_READERS, "R1.2",
   .call = TX_CALL(.sql = &sql_risk_assessments, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/risks/{id}/assessments", "supervisor,risk_officer,admin", "R1.2,R2.1",
   .call = TX_CALL(.sql = &sql_risk_assess, .status = 201,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  /* R1.1 定期: regular rounds are the job's; risk officers open ad hoc ones. */
  {"GET", "/v1/risk-rounds", "*", "R1.1",
   .call = TX_CALL(.sql = &sql_round_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "status"},
                            {TX_ARG_QUERY_TEXT, "kind"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/risk-rounds", "risk_officer,admin", "R1.1",
   .call = TX_CALL(.sql = &sql_round_create, .status = 201, .location = "/v1/risk-rounds/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/risk-rounds/{id}", "*", "R1.1",
   .call = TX_CALL(.sql = &sql_round_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"POST", "/v1/risk-rounds/{id}/complete", "risk_officer,admin", "R1.1",
   .call = ROUND_MOVE("complete")},
  {"POST", "/v1/risk-rounds/{id}/cancel", "risk_officer,admin", "R1.1",
   .call = ROUND_MOVE("cancel")},
  /* R2.2 市場調研和趨勢分析: the people who plan for market risks. */
  {"GET", "/v1/market-records", "supervisor,risk_officer,admin,auditor", "R2.2",
   .call = TX_CALL(.sql = &sql_market_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "kind"},
                            {TX_ARG_QUERY_UUID, "risk_id"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/market-records", "supervisor,risk_officer,admin", "R2.2",
   .call = TX_CALL(.sql = &sql_market_create, .status = 201, .location = "/v1/market-records/",
                   .args = {{TX_ARG_BODY, NULL}})},
  {"GET", "/v1/market-records/{id}", "supervisor,risk_officer,admin,auditor", "R2.2",
   .call = TX_CALL(.sql = &sql_market_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
};

const struct tx_module tx_module_risks = {
  .name = "risks",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};

/* Opening a round and flagging what is overdue are a few statements: a short lease; a failed
 * run is retried (the function is idempotent). */
static const struct tx_job_kind risk_rounds = {
  .name = "risk.rounds",
  .sql = "SELECT risk.rounds_job($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 300,
};

int tx_risk_rounds_register(void)
{
  return tx_jobs_register(&risk_rounds) ? -1 : 0;
}
