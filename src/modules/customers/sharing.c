/**
 * @file modules/customers/sharing.c
 * @brief Sharing customer information only with consent and an NDA (C3.1–C3.3): recipients and
 * their NDAs, consents per customer, and disclosures — every one recorded in a ledger.
 */
#include "core/call.h"
#include "db/tx.h"
#include "modules/customers/customers.h"

#include <string.h>

static const struct tx_sql sql_disclose = {
  "cust_disclose", "SELECT api.disclosure_create($1::uuid, $2::uuid, $3)::text", 3};

/* Keeps, of the opened customer, only the fields the consent allows (C3.2: explicit scope). */
static json_t *allowed_view(const json_t *j_cust, const json_t *j_allowed)
{
  json_t *j_out = json_object(), *j_contacts = NULL;
  size_t i;
  const json_t *j_f;
  json_array_foreach(j_allowed, i, j_f)
  {
    const char *f = json_string_value(j_f);
    if (!f)
      continue;
    if (strncmp(f, "contacts.", 9) != 0) {
      json_t *j_v = json_object_get(j_cust, f);
      if (j_v)
        json_object_set(j_out, f, j_v);
      continue;
    }
    if (!j_contacts) {
      j_contacts = json_array();
      for (size_t k = 0; k < json_array_size(json_object_get(j_cust, "contacts")); k++)
        json_array_append_new(j_contacts, json_object());
    }
    size_t k;
    const json_t *j_c;
    json_array_foreach(json_object_get(j_cust, "contacts"), k, j_c)
    {
      json_t *j_v = json_object_get(j_c, f + 9);
      if (j_v)
        json_object_set(json_array_get(j_contacts, k), f + 9, j_v);
    }
  }
  if (j_contacts)
    json_object_set_new(j_out, "contacts", j_contacts);
  return j_out;
}

static const struct tx_field disclose_spec[] = {
  {.name = "recipient_id", .type = TX_J_UUID, .required = true},
  {.name = "purpose", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = 500},
};

int tx_cust_disclose(struct tx_req *r)
{
  const char *id = tx_call_path_uuid(r, "id");
  if (!id || tx_cust_require_keys(r) || tx_req_body(r, disclose_spec, 2))
    return r->status;
  const char *recipient = json_string_value(json_object_get(r->j_body, "recipient_id"));
  const char *purpose = json_string_value(json_object_get(r->j_body, "purpose"));
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_disclose, (const char *[]){id, recipient, purpose}};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, false, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  json_t *j_d = PQgetisnull(res, 0, 0) ? NULL : json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  PQclear(res);
  json_t *j_cust = json_object_get(j_d, "customer");
  if (!j_cust) {
    json_decref(j_d);
    return tx_reply_problem(r, TX_E_NOT_FOUND, "No such resource.", NULL);
  }
  tx_cust_open(j_cust);
  json_object_set_new(j_d, "data", allowed_view(j_cust, json_object_get(j_d, "allowed_fields")));
  json_object_del(j_d, "customer");
  tx_reply_json(r, 201, j_d);
  json_decref(j_d);
  return r->status;
}
