/**
 * @file modules/auth/refresh.c
 * @brief POST /v1/auth/refresh: rotates the refresh token. Presenting a token that was already
 * used revokes its whole family (the database does it): a stolen token dies with the session.
 */
#include "core/app.h"
#include "core/json_spec.h"
#include "db/tx.h"
#include "modules/auth/auth.h"

#include <stdio.h>
#include <string.h>

static const struct tx_field spec[] = {
  {.name = "refresh_token", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = 256},
};

static const struct tx_sql sql_rotate = {
  "auth_refresh_rotate",
  "SELECT employee_id, outcome FROM auth.refresh_rotate(decode($1, 'hex'), decode($2, 'hex'), $3::int)",
  3};
static const struct tx_sql sql_me = {"auth_refresh_me", "SELECT api.me()::text", 0};

int tx_auth_refresh(struct tx_req *r)
{
  if (tx_req_body(r, spec, sizeof spec / sizeof spec[0]))
    return r->status;
  char old_hash[65], refresh[44], new_hash[65], ttl[16];
  if (tx_auth_refresh_hash(json_string_value(json_object_get(r->j_body, "refresh_token")), old_hash))
    return tx_reply_problem(r, TX_E_INVALID_REFRESH_TOKEN, NULL, NULL);
  tx_auth_new_refresh_token(refresh, new_hash);
  snprintf(ttl, sizeof ttl, "%d", tx_app.cfg->refresh_token_ttl);

  struct tx_claims anon = {.request_id = r->request_id};
  struct tx_query q = {&sql_rotate, (const char *[]){old_hash, new_hash, ttl}};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&anon, false, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  char employee_id[40] = "";
  bool rotated = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 1), "ok");
  if (rotated)
    snprintf(employee_id, sizeof employee_id, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  if (!rotated)
    return tx_reply_problem(r, TX_E_INVALID_REFRESH_TOKEN, NULL, NULL);

  struct tx_claims claims = {.sub = employee_id, .roles = TX_ALL_ROLES, .request_id = r->request_id};
  struct tx_query me = {&sql_me, NULL};
  if (tx_db_run(&claims, true, &me, 1, &res, &out)) {
    if (out.code != TX_E_UNAUTHORIZED)
      return tx_reply_db_error(r, &out);
    tx_db_outcome_free(&out);
    return tx_reply_problem(r, TX_E_INVALID_REFRESH_TOKEN, NULL, NULL);
  }
  tx_auth_reply_tokens(r, PQgetvalue(res, 0, 0), refresh);
  PQclear(res);
  return r->status;
}
