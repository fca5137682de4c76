/**
 * @file modules/risk/responses.c
 * @brief Module R, part A: risk responses (R2.1) and operational measures (R2.4): a risk's
 * responses, each one's moves (an acceptance approved by a second person, the owner's start and
 * completion, the effectiveness review), and training plans made for a risk. Every route is one
 * SQL API function of sql/code/risk/030_responses.sql. Row format: see src/modules/org/routes.c.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/risk/risk.h"

static const struct tx_sql sql_responses = {
  "risk_responses", "SELECT api.risk_responses($1::uuid)::text", 1};
static const struct tx_sql sql_response_create = {
  "risk_response_create", TX_CALL_ROW "api.risk_response_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_response_get = {
  "risk_response_get", TX_CALL_ROW "api.risk_response_get($1::uuid) j", 1};
static const struct tx_sql sql_response_move = {
  "risk_response_move", TX_CALL_ROW "api.risk_response_move($1::uuid, $2, $3::jsonb) j", 3};
static const struct tx_sql sql_training_plan = {
  "risk_training_plan_create",
  TX_CALL_ROW "api.risk_training_plan_create($1::uuid, $2::jsonb) j", 2};

#define RESPONSE_MOVE(action) TX_CALL(.sql = &sql_response_move, .status = 200, \
                                      .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, action}, \
                                               {TX_ARG_BODY, NULL}})

static const struct tx_route routes[] = {
  {"GET", "/v1/risks/{id}/responses", "staff,supervisor,risk_officer,admin,auditor", "R2.1",
   .call = TX_CALL(.sql = &sql_responses, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* R2.1: a manager of the risk plans it (a level at or above the parameter must have one). */
  {"POST", "/v1/risks/{id}/responses", "supervisor,risk_officer,admin", "R2.1,R2.4",
   .call = TX_CALL(.sql = &sql_response_create, .status = 201, .location = "/v1/risk-responses/",
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/risk-responses/{id}", "staff,supervisor,risk_officer,admin,auditor", "R2.1",
   .call = TX_CALL(.sql = &sql_response_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* 接受: accepting a risk needs a second person. */
  {"POST", "/v1/risk-responses/{id}/approve", "supervisor,risk_officer,admin", "R2.1",
   .call = RESPONSE_MOVE("approve")},
  {"POST", "/v1/risk-responses/{id}/start", "staff,supervisor,risk_officer,admin", "R2.1",
   .call = RESPONSE_MOVE("start")},
  {"POST", "/v1/risk-responses/{id}/complete", "staff,supervisor,risk_officer,admin", "R2.1",
   .call = RESPONSE_MOVE("complete")},
  /* The effectiveness review (效果評估) by a manager who is not the owner. */
  {"POST", "/v1/risk-responses/{id}/review", "supervisor,risk_officer,admin", "R2.1",
   .call = RESPONSE_MOVE("review")},
  {"POST", "/v1/risk-responses/{id}/cancel", "supervisor,risk_officer,admin", "R2.1",
   .call = RESPONSE_MOVE("cancel")},
  /* R2.4 提高員工風險意識和操作技能: training made for the risk (Q4's training plans). */
  {"POST", "/v1/risks/{id}/training-plans", "supervisor,risk_officer,admin", "R2.4,Q4",
   .call = TX_CALL(.sql = &sql_training_plan, .status = 201, .location = "/v1/training-plans/",
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
};

const struct tx_module tx_module_risk_responses = {
  .name = "risk_responses",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
