/**
 * @file modules/org/policy_parameters.c
 * @brief /v1/policy-parameters: the numbers the regulations leave to the company (review period
 * C4.1, required fields C1.3, assessment weights Q1 and grades Q2.2, risk thresholds R3.2) as
 * effective-dated values. HR proposes, an admin approves (never their own proposal).
 */
#include "core/call.h"
#include "modules/org/org.h"

#define ROW "SELECT j::text, j->>'version', j->>'id' FROM "

static const struct tx_sql sql_list = {
  "org_policy_parameters_list", "SELECT api.policy_parameter_list($1::date)::text", 1};
static const struct tx_sql sql_get = {
  "org_policy_parameter_get", "SELECT api.policy_parameter_get($1, $2::date)::text", 2};
static const struct tx_sql sql_propose = {
  "org_policy_propose", ROW "api.policy_propose($1, $2::jsonb) j", 2};
static const struct tx_sql sql_decide = {
  "org_policy_decide", ROW "api.policy_decide($1::uuid, $2::boolean, $3) j", 3};

static const struct tx_field decide_spec[] = {
  {.name = "reason", .type = TX_J_STRING, .min_len = 1, .max_len = 1000, .multiline = true},
};

int tx_org_policy_parameters_list(struct tx_req *r)
{
  static const struct tx_call c = {&sql_list, true, 200, NULL, NULL, 0, {{TX_ARG_QUERY_DATE, "at"}}};
  return tx_call_run(r, &c);
}

int tx_org_policy_parameter_get(struct tx_req *r)
{
  static const struct tx_call c = {&sql_get, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_TEXT, "name"}, {TX_ARG_QUERY_DATE, "at"}}};
  return tx_call_run(r, &c);
}

int tx_org_policy_propose(struct tx_req *r)
{
  static const struct tx_call c = {&sql_propose, false, 201, NULL, NULL, 0,
                                   {{TX_ARG_PATH_TEXT, "name"}, {TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}

int tx_org_policy_approve(struct tx_req *r)
{
  static const struct tx_call c = {&sql_decide, false, 200, NULL, decide_spec, 1,
                                   {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "true"},
                                    {TX_ARG_MEMBER, "reason"}}};
  return tx_call_run(r, &c);
}

int tx_org_policy_reject(struct tx_req *r)
{
  static const struct tx_call c = {&sql_decide, false, 200, NULL, decide_spec, 1,
                                   {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "false"},
                                    {TX_ARG_MEMBER, "reason"}}};
  return tx_call_run(r, &c);
}
