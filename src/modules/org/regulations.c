/**
 * @file modules/org/regulations.c
 * @brief /v1/regulations, /v1/regulations/current and /v1/regulations/{id}: the versioned
 * regulation text with its clauses. Every employee reads published versions (G2); HR writes
 * drafts (S1: HR interprets the regulations).
 */
#include "core/call.h"
#include "modules/org/org.h"

#define ROW "SELECT j::text, j->>'version', j->>'id' FROM "

static const struct tx_sql sql_list = {
  "org_regulations_list", "SELECT api.regulation_list($1::int, $2)::text", 2};
static const struct tx_sql sql_create = {
  "org_regulations_create", ROW "api.regulation_create($1::jsonb) j", 1};
static const struct tx_sql sql_current = {
  "org_regulation_current", ROW "api.regulation_current(coalesce($1, 'business-management')) j", 1};
static const struct tx_sql sql_get = {"org_regulation_get", ROW "api.regulation_get($1::uuid) j", 1};

int tx_org_regulations_list(struct tx_req *r)
{
  static const struct tx_call c = {&sql_list, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}

int tx_org_regulations_create(struct tx_req *r)
{
  static const struct tx_call c = {&sql_create, false, 201, "/v1/regulations/", NULL, 0,
                                   {{TX_ARG_BODY, NULL}}};
  return tx_call_run(r, &c);
}

int tx_org_regulation_current(struct tx_req *r)
{
  static const struct tx_call c = {&sql_current, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_QUERY_TEXT, "code"}}};
  return tx_call_run(r, &c);
}

int tx_org_regulation_get(struct tx_req *r)
{
  static const struct tx_call c = {&sql_get, true, 200, NULL, NULL, 0, {{TX_ARG_PATH_UUID, "id"}}};
  return tx_call_run(r, &c);
}
