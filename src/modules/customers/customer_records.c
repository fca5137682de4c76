/**
 * @file modules/customers/customer_records.c
 * @brief What hangs off one customer: GET /v1/customers/{id}/completeness (C1.3),
 * GET/POST /v1/customers/{id}/follow-ups (C1.2: prospects' follow-up log) and
 * POST /v1/customers/{id}/contracts (C1.3: refused while the customer is incomplete) and
 * POST /v1/contracts/{id}/close (C4.3: no open business before deactivation).
 */
#include "core/call.h"
#include "modules/customers/customers.h"

static const struct tx_sql sql_completeness = {
  "cust_completeness", "SELECT api.customer_completeness($1::uuid)::text", 1};
static const struct tx_sql sql_follow_ups = {
  "cust_follow_ups", "SELECT api.follow_up_list($1::uuid, $2::int, $3)::text", 3};
static const struct tx_sql sql_follow_up_create = {
  "cust_follow_up_create", "SELECT j::text, NULL, j->>'id' FROM api.follow_up_create($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_contract_create = {
  "cust_contract_create", "SELECT j::text, NULL, j->>'id' FROM api.contract_create($1::uuid, $2::jsonb) j", 2};

static const struct tx_sql sql_contract_close = {
  "cust_contract_close", "SELECT j::text, j->>'version', j->>'id' FROM api.contract_close($1::uuid) j", 1};

int tx_cust_contract_close(struct tx_req *r)
{
  static const struct tx_call c = {&sql_contract_close, false, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"}}};
  return tx_call_run(r, &c);
}

static const struct tx_sql sql_history = {
  "cust_history", "SELECT api.customer_history($1::uuid, $2::int, $3)::text", 3};

/* GET /v1/customers/{id}/history (C4.2): who changed what and when, PII never shown. */
int tx_cust_history(struct tx_req *r)
{
  static const struct tx_call c = {&sql_history, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"},
                                    {TX_ARG_QUERY_INT, "limit"},
                                    {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}

int tx_cust_completeness(struct tx_req *r)
{
  static const struct tx_call c = {&sql_completeness, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"}}};
  return tx_call_run(r, &c);
}

int tx_cust_follow_ups_list(struct tx_req *r)
{
  static const struct tx_call c = {&sql_follow_ups, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"},
                                    {TX_ARG_QUERY_INT, "limit"},
                                    {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}

int tx_cust_follow_ups_create(struct tx_req *r)
{
  static const struct tx_call c = {&sql_follow_up_create, false, 201, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}

int tx_cust_contracts_create(struct tx_req *r)
{
  static const struct tx_call c = {&sql_contract_create, false, 201, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}
