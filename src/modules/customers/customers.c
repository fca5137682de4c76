/**
 * @file modules/customers/customers.c
 * @brief GET /v1/customers (find: filters, search, keyset pages) and POST /v1/customers (collect:
 * C1.1, C1.2, C2.1), and GET /v1/customers/review-queue (C4.1).
 */
#include "core/call.h"
#include "core/idempotency.h"
#include "core/request.h"
#include "db/tx.h"
#include "modules/customers/customers.h"
#include "modules/customers/normalize.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

static const struct tx_sql sql_list = {
  "cust_list",
  "SELECT api.customer_list($1::int, $2, $3::uuid, $4::uuid, $5, $6, $7::boolean, $8,"
  " decode(substr($9, 3), 'hex'), decode(substr($10, 3), 'hex'), $11)::text",
  11};
static const struct tx_sql sql_by_credit_code = {
  "cust_by_credit_code",
  "SELECT api.customer_find_by_credit_code(decode(substr($1, 3), 'hex'))::text", 1};
static const struct tx_sql sql_create = {
  "cust_create", "SELECT j::text, j->>'version', j->>'id' FROM api.customer_create($1::jsonb) j", 1};

/* ?phone= / ?email= / ?credit_code=: normalized like stored values, then searched by blind index
 * only. */
static int search_index(struct tx_req *r, const char *name, char **hex_out)
{
  const char *q = u_map_get(r->u->map_url, name);
  char norm[255];
  unsigned char bidx[32];
  *hex_out = NULL;
  if (!q)
    return 0;
  int rc = !strcmp(name, "phone")         ? tx_cust_phone_e164(q, norm)
           : !strcmp(name, "credit_code") ? tx_cust_credit_code(q, norm)
                                          : tx_cust_email(q, norm);
  if (rc) {
    json_t *j_errors = json_array();
    char msg[160];
    snprintf(msg, sizeof msg, "%s %s", name, tx_cust_err_message(rc));
    tx_problem_add_field(j_errors, name, tx_cust_err_code(rc), msg);
    return tx_reply_problem(r, TX_E_VALIDATION_FAILED, "A query parameter is invalid.", j_errors);
  }
  if (tx_blind_index(name, norm, bidx))
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  json_t *j_hex = tx_cust_hex(bidx, sizeof bidx);
  *hex_out = j_hex ? strdup(json_string_value(j_hex)) : NULL;
  json_decref(j_hex);
  /* Never run the list without the filter asked for. */
  return *hex_out ? 0 : tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
}

/* ?credit_code=: a lookup of the one customer holding the code, not a filter of the list; with
 * anything but limit beside it, the caller meant something else: 422 rather than a guess. */
static int list_by_credit_code(struct tx_req *r, const char *bidx_hex)
{
  const char **keys = u_map_enum_keys(r->u->map_url);
  for (size_t i = 0; keys && keys[i]; i++)
    if (strcmp(keys[i], "credit_code") && strcmp(keys[i], "limit")) {
      json_t *j_errors = json_array();
      tx_problem_add_field(j_errors, "credit_code", "not_allowed",
                           "credit_code finds one customer and takes no other filter, cursor or sort");
      return tx_reply_problem(r, TX_E_VALIDATION_FAILED, "A query parameter is invalid.", j_errors);
    }
  struct tx_call c = {.sql = &sql_by_credit_code, .read_only = true, .status = 200,
                      .args = {{TX_ARG_CONST, bidx_hex}}};
  return tx_call_run(r, &c);
}

int tx_cust_list(struct tx_req *r)
{
  char *phone = NULL, *email = NULL, *credit = NULL;
  if (tx_cust_require_keys(r) || search_index(r, "phone", &phone) || search_index(r, "email", &email) ||
      search_index(r, "credit_code", &credit))
    goto out;
  if (credit) {
    list_by_credit_code(r, credit);
    goto out;
  }
  const char *sort = u_map_get(r->u->map_url, "sort");
  if (sort && strcmp(sort, "name") && strcmp(sort, "updated_at") && strcmp(sort, "-updated_at")) {
    json_t *j_errors = json_array();
    tx_problem_add_field(j_errors, "sort", "not_allowed", "sort must be name, updated_at or -updated_at");
    tx_reply_problem(r, TX_E_VALIDATION_FAILED, "A query parameter is invalid.", j_errors);
    goto out;
  }
  struct tx_call c = {.sql = &sql_list, .read_only = true, .status = 200,
                      .args = {{TX_ARG_QUERY_INT, "limit"},
                       {TX_ARG_QUERY_TEXT, "cursor"},
                       {TX_ARG_QUERY_UUID, "owner_id"},
                       {TX_ARG_QUERY_UUID, "department_id"},
                       {TX_ARG_QUERY_TEXT, "tag"},
                       {TX_ARG_QUERY_TEXT, "status"},
                       {TX_ARG_QUERY_BOOL, "stale"},
                       {TX_ARG_QUERY_TEXT, "q"},
                       {TX_ARG_CONST, phone},
                       {TX_ARG_CONST, email},
                       {TX_ARG_QUERY_TEXT, "sort"}}};
  tx_call_run(r, &c);
out:
  free(phone);
  free(email);
  free(credit);
  return r->status;
}

int tx_cust_create(struct tx_req *r)
{
  struct tx_idem idem;
  if (tx_cust_require_keys(r) || tx_idem_begin(r, &idem, "/v1/customers/", tx_cust_reply_created))
    return r->status;
  char id[37], key_id[TX_KEY_ID_MAX];
  unsigned char dek[TX_DEK_LEN], *wrapped = NULL;
  size_t wlen;
  tx_uuid_v4(id);
  if (tx_dek_create(id, dek, key_id, &wrapped, &wlen))
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  json_t *j_in = tx_cust_prepare(r, id, dek, true);
  OPENSSL_cleanse(dek, sizeof dek);
  if (!j_in) {
    free(wrapped);
    return r->status;
  }
  json_object_set_new(j_in, "dek", json_pack("{ssso}", "key_id", key_id, "wrapped",
                                             tx_cust_hex(wrapped, wlen)));
  free(wrapped);
  char *payload = json_dumps(j_in, JSON_COMPACT);
  json_decref(j_in);

  struct tx_claims claims;
  tx_req_claims(r, &claims);
  /* With a key, the answer is not stored (it holds the wrapped data key and sealed PII, which
   * must die with the customer); a replay reads the customer again. */
  const char *params[] = {payload, idem.key, idem.route, idem.hash};
  struct tx_query q = {idem.key ? tx_idem_sql(&sql_create, false) : &sql_create, params};
  if (!q.sql) {
    free(payload);
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  }
  PGresult *res;
  struct tx_db_outcome out;
  int failed = tx_db_run(&claims, false, &q, 1, &res, &out);
  free(payload);
  if (failed) {
    if (!tx_idem_lost_race(r, &idem, &out, "/v1/customers/", tx_cust_reply_created))
      tx_reply_db_error(r, &out);
    tx_db_outcome_free(&out);
    return r->status;
  }
  char location[80];
  snprintf(location, sizeof location, "/v1/customers/%s", id);
  tx_reply_header(r, "Location", location);
  tx_cust_reply_document(r, res, 201);
  PQclear(res);
  return r->status;
}

