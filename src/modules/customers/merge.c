/**
 * @file modules/customers/merge.c
 * @brief POST /v1/customers/{id}/merge (one record per customer, C2.1) and the team that works on
 * a customer, GET/PUT /v1/customers/{id}/team (C2.3: staff see what they own or work on).
 *
 * A merge re-seals the source's PII under the target's data key here (every sealed field is bound
 * to its customer and key), then one SQL call moves everything in one transaction, provided
 * neither record changed since it was read (versions).
 */
#include "core/call.h"
#include "core/json_spec.h"
#include "core/request.h"
#include "db/tx.h"
#include "modules/customers/customers.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct tx_sql sql_read = {
  "cust_merge_read", "SELECT j::text, j->>'version' FROM api.customer_get($1::uuid) j", 1};
static const struct tx_sql sql_merge = {
  "cust_merge",
  "SELECT j::text, j->>'version' FROM api.customer_merge($1::uuid, $2::uuid, $3::jsonb) j", 3};

/* Opens a sealed hex field of @p from and seals it for @p to_id under @p to_dek into @p j_out. */
static int reseal(json_t *j_out, const char *key, const json_t *j_from, const char *from_id,
                  const unsigned char *from_dek, const char *from_field, const char *to_id,
                  const unsigned char *to_dek, const char *to_field, const char *bidx_key,
                  const char *kind)
{
  const char *hex = json_string_value(json_object_get(j_from, key));
  if (!hex)
    return 0;
  json_t *j_tmp = json_pack("{ss}", key, hex);
  char *plain = NULL;
  int rc = tx_cust_open_field(j_tmp, key, from_id, from_dek, from_field, &plain);
  json_decref(j_tmp);
  if (rc)
    return -1;
  rc = tx_cust_seal_field(j_out, key, bidx_key, kind, plain, to_dek, to_id, to_field);
  OPENSSL_cleanse(plain, strlen(plain));
  free(plain);
  return rc;
}

static const struct tx_field merge_spec[] = {
  {.name = "source_id", .type = TX_J_UUID, .required = true},
};

int tx_cust_merge(struct tx_req *r)
{
  const char *target = tx_call_path_uuid(r, "id");
  if (!target || tx_cust_require_keys(r) || tx_req_body(r, merge_spec, 1))
    return r->status;
  const char *source = json_string_value(json_object_get(r->j_body, "source_id"));

  /* Both records as the caller may see them: sealed values, data keys, versions. A read of full
   * records, logged as such (C2.3); the merge's writes come in their own transaction below. */
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query reads[] = {{&sql_read, (const char *[]){target}}, {&sql_read, (const char *[]){source}}};
  PGresult *res[2];
  struct tx_db_outcome out;
  if (tx_db_run_logged_read(&claims, reads, 2, res, &out))
    return tx_reply_db_error(r, &out);
  json_t *j_t = PQgetisnull(res[0], 0, 0) ? NULL : json_loads(PQgetvalue(res[0], 0, 0), 0, NULL);
  json_t *j_s = PQgetisnull(res[1], 0, 0) ? NULL : json_loads(PQgetvalue(res[1], 0, 0), 0, NULL);
  PQclear(res[0]);
  PQclear(res[1]);
  json_t *j_in = NULL;
  unsigned char tdek[TX_DEK_LEN], sdek[TX_DEK_LEN];
  if (!j_t || !j_s) {
    tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
    goto out;
  }
  const char *access_t = json_string_value(json_object_get(j_t, "pii_access"));
  const char *access_s = json_string_value(json_object_get(j_s, "pii_access"));
  if (!access_t || !access_s || strcmp(access_t, "full") || strcmp(access_s, "full")) {
    tx_reply_problem(r, TX_E_FORBIDDEN, "Merging needs full access to both customers.", NULL);
    goto out;
  }
  const char *states[] = {json_string_value(json_object_get(j_t, "status")),
                          json_string_value(json_object_get(j_s, "status"))};
  for (int k = 0; k < 2; k++)
    if (states[k] && (!strcmp(states[k], "merged") || !strcmp(states[k], "disposed"))) {
      char detail[120];
      snprintf(detail, sizeof detail, "The %s customer is %s already.", k ? "source" : "target",
               !strcmp(states[k], "merged") ? "merged into another record" : "disposed of");
      tx_reply_problem(r, TX_E_CONFLICT, detail, NULL);
      goto out;
    }
  if (tx_cust_unwrap(json_object_get(j_t, "dek"), target, tdek) ||
      tx_cust_unwrap(json_object_get(j_s, "dek"), source, sdek)) {
    tx_reply_problem(r, TX_E_CONFLICT, "A customer's data key is gone (disposed of).", NULL);
    goto out;
  }

  j_in = json_pack("{sOsO}", "target_version", json_object_get(j_t, "version"), "source_version",
                   json_object_get(j_s, "version"));
  int failed = 0;
  json_t *j_contacts = json_array();
  size_t i;
  json_t *j_c;
  json_array_foreach(json_object_get(j_s, "contacts"), i, j_c)
  {
    char id[37], from[96], to[96];
    const char *old = json_string_value(json_object_get(j_c, "id"));
    tx_uuid_v4(id);
    json_t *j_o = json_pack("{sssOsO}", "id", id, "name", json_object_get(j_c, "name"), "position",
                            json_object_get(j_c, "position"));
    snprintf(from, sizeof from, "contact:%s:phone", old ? old : "");
    snprintf(to, sizeof to, "contact:%s:phone", id);
    failed |= reseal(j_o, "phone_enc", j_c, source, sdek, from, target, tdek, to, "phone_bidx", "phone");
    snprintf(from, sizeof from, "contact:%s:email", old ? old : "");
    snprintf(to, sizeof to, "contact:%s:email", id);
    failed |= reseal(j_o, "email_enc", j_c, source, sdek, from, target, tdek, to, "email_bidx", "email");
    json_array_append_new(j_contacts, j_o);
  }
  json_object_set_new(j_in, "contacts", j_contacts);
  /* The target keeps what it has; it takes the source's address and credit code only if not. */
  if (json_is_null(json_object_get(j_t, "address_enc")))
    failed |= reseal(j_in, "address_enc", j_s, source, sdek, "address", target, tdek, "address", NULL, NULL);
  if (json_is_null(json_object_get(j_t, "credit_code_enc")))
    failed |= reseal(j_in, "credit_code_enc", j_s, source, sdek, "credit_code", target, tdek,
                     "credit_code", "credit_code_bidx", "credit_code");
  if (failed) {
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
    goto out;
  }

  char *payload = json_dumps(j_in, JSON_COMPACT);
  struct tx_query q = {&sql_merge, (const char *[]){target, source, payload}};
  PGresult *m;
  int rc = tx_db_run(&claims, false, &q, 1, &m, &out);
  free(payload);
  if (rc) {
    tx_reply_db_error(r, &out);
    goto out;
  }
  tx_cust_reply_document(r, m, 200);
  PQclear(m);
out:
  OPENSSL_cleanse(tdek, sizeof tdek);
  OPENSSL_cleanse(sdek, sizeof sdek);
  json_decref(j_in);
  json_decref(j_t);
  json_decref(j_s);
  return r->status;
}
