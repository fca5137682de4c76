/**
 * @file modules/auth/me.c
 * @brief GET /v1/me: the caller as the database sees them now (effective roles, department).
 */
#include "db/tx.h"
#include "modules/auth/auth.h"

#include <string.h>

static const struct tx_sql sql_me = {"auth_me_get", "SELECT api.me()::text", 0};

int tx_auth_me(struct tx_req *r)
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_me, NULL};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, true, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  const char *body = PQgetvalue(res, 0, 0);
  tx_reply_json_text(r, 200, body, strlen(body));
  PQclear(res);
  return r->status;
}
