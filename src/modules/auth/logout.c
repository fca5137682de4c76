/**
 * @file modules/auth/logout.c
 * @brief POST /v1/auth/logout: revokes the refresh token's family. Answers 204 whether or not
 * the token was known, so it cannot be used to probe tokens.
 */
#include "core/json_spec.h"
#include "db/tx.h"
#include "modules/auth/auth.h"

static const struct tx_field spec[] = {
  {.name = "refresh_token", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = 256},
};

static const struct tx_sql sql_revoke = {"auth_refresh_revoke",
                                         "SELECT auth.refresh_revoke(decode($1, 'hex'))", 1};

int tx_auth_logout(struct tx_req *r)
{
  if (tx_req_body(r, spec, sizeof spec / sizeof spec[0]))
    return r->status;
  char hash[65];
  if (tx_auth_refresh_hash(json_string_value(json_object_get(r->j_body, "refresh_token")), hash) == 0) {
    struct tx_claims anon = {.request_id = r->request_id};
    struct tx_query q = {&sql_revoke, (const char *[]){hash}};
    PGresult *res;
    struct tx_db_outcome out;
    if (tx_db_run(&anon, false, &q, 1, &res, &out))
      return tx_reply_db_error(r, &out);
    PQclear(res);
  }
  return tx_reply_raw(r, 204, NULL, NULL, 0);
}
