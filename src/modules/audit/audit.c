/**
 * @file modules/audit/audit.c
 * @brief GET /v1/audit (filters, keyset pages) and GET /v1/audit/verify (walk the hash chain).
 * Auditors and admins only; the rows are written by database triggers, never by this code.
 */
#include "core/call.h"
#include "modules/audit/audit.h"

static const struct tx_sql sql_list = {
  "audit_list",
  "SELECT api.audit_list($1, $2, $3::uuid, $4::timestamptz, $5::timestamptz, $6::int, $7)::text", 7};
static const struct tx_sql sql_verify = {"audit_verify", "SELECT api.audit_verify()::text", 0};

int tx_audit_list(struct tx_req *r)
{
  static const struct tx_call c = {&sql_list, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_QUERY_TEXT, "table"},
                                    {TX_ARG_QUERY_TEXT, "row_key"},
                                    {TX_ARG_QUERY_UUID, "actor_id"},
                                    {TX_ARG_QUERY_TIME, "from"},
                                    {TX_ARG_QUERY_TIME, "to"},
                                    {TX_ARG_QUERY_INT, "limit"},
                                    {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}

int tx_audit_verify(struct tx_req *r)
{
  static const struct tx_call c = {&sql_verify, true, 200, NULL, NULL, 0, {{0, NULL}}};
  return tx_call_run(r, &c);
}
