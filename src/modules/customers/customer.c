/**
 * @file modules/customers/customer.c
 * @brief GET and PATCH /v1/customers/{id}. Reads open the sealed fields per the caller's access
 * (full, masked for auditors, none for HR and risk officers) and a full read is logged in the
 * database (C2.3). Updates need If-Match (no lost update) and may confirm the data (C4.1, C4.2).
 */
#include "core/call.h"
#include "db/tx.h"
#include "modules/customers/customers.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

static const struct tx_sql sql_get = {
  "cust_get", "SELECT j::text, j->>'version' FROM api.customer_get($1::uuid) j", 1};
static const struct tx_sql sql_dek = {"cust_dek", "SELECT api.customer_dek($1::uuid)::text", 1};
static const struct tx_sql sql_update = {
  "cust_update", "SELECT j::text, j->>'version' FROM api.customer_update($1::uuid, $2::int, $3::jsonb) j",
  3};

int tx_cust_reply_document(struct tx_req *r, PGresult *res, int status)
{
  if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
    return tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
  json_t *j_cust = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  if (!j_cust)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  char etag[24];
  snprintf(etag, sizeof etag, "\"%s\"", PQgetvalue(res, 0, 1));
  tx_cust_open(j_cust);
  tx_reply_header(r, "ETag", etag);
  tx_reply_json(r, status, j_cust);
  json_decref(j_cust);
  return r->status;
}

/* Reads customer @p id and answers @p status with it (GET, and replays of creates). */
static int read_customer(struct tx_req *r, const char *id, int status)
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_get, (const char *[]){id}};
  PGresult *res;
  struct tx_db_outcome out;
  /* Read-write: reading full PII writes its own log row in the same transaction (C2.3). */
  if (tx_db_run_logged_read(&claims, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  tx_cust_reply_document(r, res, status);
  PQclear(res);
  return r->status;
}

int tx_cust_get(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id || tx_cust_require_keys(r))
    return r->status;
  return read_customer(r, id, 200);
}

int tx_cust_reply_created(struct tx_req *r, const char *id) { return read_customer(r, id, 201); }

/* The customer's data key, if the caller may write to it; answered when it returns -1. */
static int fetch_dek(struct tx_req *r, const char *id, unsigned char dek[TX_DEK_LEN])
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_dek, (const char *[]){id}};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, true, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out), -1;
  json_t *j_dek = PQgetisnull(res, 0, 0) ? NULL : json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  PQclear(res);
  int rc = j_dek ? tx_cust_unwrap(j_dek, id, dek) : -1;
  if (rc)
    tx_reply_problem(r, j_dek ? TX_E_INTERNAL_ERROR : TX_E_NOT_FOUND, j_dek ? NULL : "No such resource.",
                     NULL);
  json_decref(j_dek);
  return rc;
}

int tx_cust_update(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id || tx_cust_require_keys(r))
    return r->status;
  struct tx_if_match im;
  if (tx_call_if_match(r, &im))
    return r->status;

  unsigned char dek[TX_DEK_LEN];
  if (fetch_dek(r, id, dek))
    return r->status;
  json_t *j_in = tx_cust_prepare(r, id, dek, false);
  OPENSSL_cleanse(dek, sizeof dek);
  if (!j_in)
    return r->status;
  json_object_del(j_in, "id");
  char *payload = json_dumps(j_in, JSON_COMPACT);
  json_decref(j_in);

  struct tx_claims claims;
  tx_req_claims(r, &claims);
  const char *params[] = {id, im.version[0], payload};
  struct tx_query q = {&sql_update, params};
  PGresult *res;
  struct tx_db_outcome out;
  int failed = tx_db_run(&claims, false, &q, 1, &res, &out);
  /* An If-Match list: the next version when this one was stale (nothing was written then). */
  for (size_t v = 1; failed && v < im.n && out.code == TX_E_PRECONDITION_FAILED; v++) {
    tx_db_outcome_free(&out);
    params[1] = im.version[v];
    failed = tx_db_run(&claims, false, &q, 1, &res, &out);
  }
  free(payload);
  if (failed)
    return tx_reply_db_error(r, &out);
  tx_cust_reply_document(r, res, 200);
  PQclear(res);
  return r->status;
}
