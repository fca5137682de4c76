/**
 * @file modules/customers/lifecycle.c
 * @brief The end of a customer relationship (C4.3): deactivation, legal holds, and disposal by
 * crypto-shredding, answered with a certificate signed by the service key.
 */
#include "core/call.h"
#include "core/jwt.h"
#include "db/tx.h"
#include "modules/customers/customers.h"

#include <stdlib.h>

static const struct tx_sql sql_deactivate = {
  "cust_deactivate", "SELECT j::text, j->>'version' FROM api.customer_deactivate($1::uuid) j", 1};
static const struct tx_sql sql_dispose = {"cust_dispose",
                                          "SELECT api.customer_dispose($1::uuid)::text", 1};

int tx_cust_deactivate(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id || tx_cust_require_keys(r))
    return r->status;
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_deactivate, (const char *[]){id}};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, false, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  /* The answer is the customer as a read gives it: opened for the caller, never sealed. */
  tx_cust_reply_document(r, res, 200);
  PQclear(res);
  return r->status;
}

int tx_cust_dispose(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id)
    return r->status;
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_dispose, (const char *[]){id}};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, false, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  json_t *j_cert = PQgetisnull(res, 0, 0) ? NULL : json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  PQclear(res);
  if (!j_cert)
    return tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
  /* The certificate is signed after the commit: the destruction it attests has happened. Anyone
   * can verify it with /.well-known/jwks.json; its payload is exactly the certificate shown (with
   * the issuer and signing time that tx_jwt_sign adds to both). Its header typ is not "JWT", so no
   * token verifier (ours refuses any other typ) takes it for an access token. */
  char *jws = tx_jwt_sign(j_cert, TX_JWT_TYP_DISPOSAL);
  json_t *j_body = json_pack("{sOss?}", "certificate", j_cert, "signature", jws);
  free(jws);
  json_decref(j_cert);
  tx_reply_json(r, 200, j_body);
  json_decref(j_body);
  return r->status;
}
