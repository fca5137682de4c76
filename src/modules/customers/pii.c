/**
 * @file modules/customers/pii.c
 * @brief From a request body to sealed values for SQL, and from SQL back to what the caller may
 * see (C2.1 one uniform format; C2.3 encrypted, visible only to authorized people).
 */
#include "core/json_spec.h"
#include "core/request.h"
#include "crypto/encoding.h"
#include "modules/customers/customers.h"
#include "modules/customers/normalize.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONTACTS 20
#define MAX_TAGS 20

int tx_cust_require_keys(struct tx_req *r)
{
  if (tx_envelope_ready())
    return 0;
  return tx_reply_problem(r, TX_E_ENCRYPTION_UNAVAILABLE,
                          "Customer data cannot be stored or read without the encryption keys.",
                          NULL);
}

json_t *tx_cust_hex(const unsigned char *data, size_t len)
{
  char *hex = malloc(2 * len + 3);
  if (!hex)
    return NULL;
  hex[0] = '\\';
  hex[1] = 'x';
  tx_hex(data, len, hex + 2);
  json_t *j_s = json_string(hex);
  free(hex);
  return j_s;
}

/* bytea as PostgreSQL's JSON gives it: "\\x<hex>". */
static unsigned char *unhex(const char *s, size_t *len)
{
  if (!s || strncmp(s, "\\x", 2) != 0)
    return NULL;
  return tx_unhex(s + 2, strlen(s + 2), len);
}

int tx_cust_unwrap(const json_t *j_dek, const char *customer_id, unsigned char dek[TX_DEK_LEN])
{
  size_t len = 0;
  const char *kid = json_string_value(json_object_get(j_dek, "key_id"));
  unsigned char *wrapped = unhex(json_string_value(json_object_get(j_dek, "wrapped")), &len);
  int rc = wrapped && kid && tx_dek_unwrap(kid, wrapped, len, customer_id, dek) == 0 ? 0 : -1;
  free(wrapped);
  return rc;
}

static void field_error(json_t *j_errors, const char *field, int err)
{
  char msg[160];
  snprintf(msg, sizeof msg, "%s %s", field, tx_cust_err_message(err));
  tx_problem_add_field(j_errors, field, tx_cust_err_code(err), msg);
}

/* One free-text member: normalized into j_out, or an error; JSON null passes as null (clears). */
static void text_member(const json_t *j_in, json_t *j_out, json_t *j_errors, const char *name,
                        size_t max, bool multiline)
{
  const json_t *j_v = json_object_get(j_in, name);
  if (!j_v)
    return;
  if (json_is_null(j_v)) {
    json_object_set_new(j_out, name, json_null());
    return;
  }
  char *norm = NULL;
  int rc = tx_cust_text(json_string_value(j_v), max, multiline, &norm);
  if (rc)
    field_error(j_errors, name, rc);
  else
    json_object_set_new(j_out, name, json_string(norm));
  free(norm);
}

int tx_cust_seal_field(json_t *j_out, const char *key, const char *bidx_key, const char *kind,
                     const char *plain, const unsigned char *dek, const char *customer_id,
                     const char *field)
{
  unsigned char *sealed = NULL, bidx[32];
  size_t len;
  if (tx_field_seal(dek, customer_id, field, plain, &sealed, &len))
    return -1;
  json_object_set_new(j_out, key, tx_cust_hex(sealed, len));
  free(sealed);
  if (kind) {
    if (tx_blind_index(kind, plain, bidx))
      return -1;
    json_object_set_new(j_out, bidx_key, tx_cust_hex(bidx, sizeof bidx));
  }
  return 0;
}

static const struct tx_field contact_spec[] = {
  {.name = "name", .type = TX_J_STRING, .required = true},
  {.name = "position", .type = TX_J_STRING, .nullable = true},
  {.name = "phone", .type = TX_J_STRING, .nullable = true},
  {.name = "email", .type = TX_J_STRING, .nullable = true},
};

/* contacts[i]: names checked, phone/email normalized then sealed and indexed. */
static json_t *prepare_contacts(const json_t *j_list, json_t *j_errors, const char *customer_id,
                                const unsigned char *dek, int *internal)
{
  json_t *j_out = json_array();
  size_t i;
  const json_t *j_c;
  json_array_foreach(j_list, i, j_c)
  {
    char prefix[32], field[64];
    snprintf(prefix, sizeof prefix, "contacts[%zu]", i);
    json_t *j_spec_errors = tx_json_check(j_c, contact_spec, 4, false);
    if (!j_spec_errors) {
      tx_problem_add_field(j_errors, prefix, "type", "each contact must be an object");
      continue;
    }
    size_t k;
    json_t *j_e;
    json_array_foreach(j_spec_errors, k, j_e)
    {
      snprintf(field, sizeof field, "%s.%s", prefix, json_string_value(json_object_get(j_e, "field")));
      tx_problem_add_field(j_errors, field, json_string_value(json_object_get(j_e, "code")),
                           json_string_value(json_object_get(j_e, "message")));
    }
    bool ok = json_array_size(j_spec_errors) == 0;
    json_decref(j_spec_errors);
    if (!ok)
      continue;

    char id[37], seal_field[96];
    tx_uuid_v4(id);
    json_t *j_o = json_pack("{ss}", "id", id);
    json_t *j_tmp_errors = json_array();
    text_member(j_c, j_o, j_tmp_errors, "name", 100, false);
    text_member(j_c, j_o, j_tmp_errors, "position", 100, false);
    const char *phone = json_string_value(json_object_get(j_c, "phone"));
    const char *email = json_string_value(json_object_get(j_c, "email"));
    char e164[17], mail[255];
    int rc;
    if (phone && (rc = tx_cust_phone_e164(phone, e164)) != 0) {
      snprintf(field, sizeof field, "%s.phone", prefix);
      field_error(j_errors, field, rc);
    } else if (phone) {
      snprintf(seal_field, sizeof seal_field, "contact:%s:phone", id);
      *internal |= tx_cust_seal_field(j_o, "phone_enc", "phone_bidx", "phone", e164, dek, customer_id, seal_field);
    }
    if (email && (rc = tx_cust_email(email, mail)) != 0) {
      snprintf(field, sizeof field, "%s.email", prefix);
      field_error(j_errors, field, rc);
    } else if (email) {
      snprintf(seal_field, sizeof seal_field, "contact:%s:email", id);
      *internal |= tx_cust_seal_field(j_o, "email_enc", "email_bidx", "email", mail, dek, customer_id, seal_field);
    }
    json_array_foreach(j_tmp_errors, k, j_e)
    {
      snprintf(field, sizeof field, "%s.%s", prefix, json_string_value(json_object_get(j_e, "field")));
      tx_problem_add_field(j_errors, field, json_string_value(json_object_get(j_e, "code")),
                           json_string_value(json_object_get(j_e, "message")));
    }
    json_decref(j_tmp_errors);
    json_array_append_new(j_out, j_o);
  }
  return j_out;
}

static const char *const statuses[] = {"prospect", "active", "inactive", NULL};
static const struct tx_field customer_spec[] = {
  {.name = "name", .type = TX_J_STRING},
  {.name = "company_name", .type = TX_J_STRING, .nullable = true},
  {.name = "business_scope", .type = TX_J_STRING, .nullable = true, .multiline = true},
  {.name = "address", .type = TX_J_STRING, .nullable = true, .multiline = true},
  {.name = "credit_code", .type = TX_J_STRING, .nullable = true},
  {.name = "contacts", .type = TX_J_ARRAY, .max_len = MAX_CONTACTS},
  {.name = "tags", .type = TX_J_ARRAY, .max_len = MAX_TAGS},
  {.name = "source", .type = TX_J_STRING, .nullable = true, .max_len = 200},
  {.name = "status", .type = TX_J_STRING, .one_of = statuses},
  {.name = "needs", .type = TX_J_STRING, .nullable = true, .multiline = true},
  {.name = "concerns", .type = TX_J_STRING, .nullable = true, .multiline = true},
  {.name = "owner_id", .type = TX_J_UUID},
  {.name = "verified", .type = TX_J_BOOLEAN},
};

json_t *tx_cust_prepare(struct tx_req *r, const char *customer_id,
                        const unsigned char dek[TX_DEK_LEN], bool create)
{
  json_t *j_empty = NULL;
  const json_t *j_in = r->j_body ? r->j_body : (j_empty = json_object());
  json_t *j_errors = tx_json_check(j_in, customer_spec, sizeof customer_spec / sizeof customer_spec[0],
                                   false);
  json_t *j_out = NULL;
  int internal = 0;
  if (!j_errors) {
    tx_reply_problem(r, TX_E_BAD_REQUEST, "The request body must be a JSON object.", NULL);
    goto out;
  }
  if (create && !json_object_get(j_in, "name"))
    tx_problem_add_field(j_errors, "name", "required", "name is required");
  if (create && json_object_get(j_in, "verified"))
    tx_problem_add_field(j_errors, "verified", "unknown_field", "verified is set by updates only");
  if (json_array_size(j_errors))
    goto answer;

  j_out = json_pack("{ss}", "id", customer_id);
  text_member(j_in, j_out, j_errors, "name", 100, false);
  text_member(j_in, j_out, j_errors, "company_name", 200, false);
  text_member(j_in, j_out, j_errors, "business_scope", 2000, true);
  text_member(j_in, j_out, j_errors, "source", 200, false);
  text_member(j_in, j_out, j_errors, "needs", 2000, true);
  text_member(j_in, j_out, j_errors, "concerns", 2000, true);
  json_t *j_v;
  if ((j_v = json_object_get(j_in, "status")))
    json_object_set(j_out, "status", j_v);
  if ((j_v = json_object_get(j_in, "owner_id")))
    json_object_set(j_out, "owner_id", j_v);
  if ((j_v = json_object_get(j_in, "verified")))
    json_object_set(j_out, "verified", j_v);

  if ((j_v = json_object_get(j_in, "tags"))) {
    json_t *j_tags = json_array();
    size_t i;
    json_t *j_t;
    json_array_foreach(j_v, i, j_t)
    {
      char *norm = NULL, field[32];
      snprintf(field, sizeof field, "tags[%zu]", i);
      int rc = json_is_string(j_t) ? tx_cust_text(json_string_value(j_t), 50, false, &norm) : TX_CUST_FORMAT;
      if (rc)
        field_error(j_errors, field, rc);
      else
        json_array_append_new(j_tags, json_string(norm));
      free(norm);
    }
    json_object_set_new(j_out, "tags", j_tags);
  }

  /* PII: sealed here, so SQL, its logs, the audit trail and backups only ever hold ciphertext. */
  j_v = json_object_get(j_in, "address");
  if (json_is_null(j_v)) {
    json_object_set_new(j_out, "address_enc", json_null());
  } else if (j_v) {
    char *norm = NULL;
    int rc = tx_cust_text(json_string_value(j_v), 500, true, &norm);
    if (rc)
      field_error(j_errors, "address", rc);
    else
      internal |= tx_cust_seal_field(j_out, "address_enc", NULL, NULL, norm, dek, customer_id, "address");
    free(norm);
  }
  j_v = json_object_get(j_in, "credit_code");
  if (json_is_null(j_v)) {
    json_object_set_new(j_out, "credit_code_enc", json_null());
    json_object_set_new(j_out, "credit_code_bidx", json_null());
  } else if (j_v) {
    char code[19];
    int rc = tx_cust_credit_code(json_string_value(j_v), code);
    if (rc)
      field_error(j_errors, "credit_code", rc);
    else
      internal |= tx_cust_seal_field(j_out, "credit_code_enc", "credit_code_bidx", "credit_code", code, dek,
                            customer_id, "credit_code");
  }
  if ((j_v = json_object_get(j_in, "contacts")))
    json_object_set_new(j_out, "contacts", prepare_contacts(j_v, j_errors, customer_id, dek, &internal));

answer:
  if (internal) {
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
    json_decref(j_out);
    j_out = NULL;
  } else if (json_array_size(j_errors)) {
    tx_reply_problem(r, TX_E_VALIDATION_FAILED, "Some fields are missing or invalid.", j_errors);
    j_errors = NULL; /* stolen */
    json_decref(j_out);
    j_out = NULL;
  }
out:
  json_decref(j_errors);
  json_decref(j_empty);
  return j_out;
}

int tx_cust_open_field(const json_t *j_obj, const char *enc_key, const char *customer_id,
                       const unsigned char *dek, const char *field, char **plain)
{
  size_t len;
  unsigned char *sealed = unhex(json_string_value(json_object_get(j_obj, enc_key)), &len);
  int rc = sealed ? tx_field_open(dek, customer_id, field, sealed, len, plain) : -1;
  free(sealed);
  return rc;
}

/* Replaces <name>_enc by <name>: opened, masked or null, per pii_access. */
static void open_member(json_t *j_obj, const char *enc_key, const char *key, const char *access,
                        const unsigned char *dek, const char *customer_id, const char *field,
                        void (*mask)(const char *, char *, size_t))
{
  const char *hex = json_string_value(json_object_get(j_obj, enc_key));
  json_t *j_value = json_null();
  size_t len;
  unsigned char *sealed = hex && dek && strcmp(access, "none") ? unhex(hex, &len) : NULL;
  char *plain = NULL;
  if (sealed && tx_field_open(dek, customer_id, field, sealed, len, &plain) == 0) {
    if (!strcmp(access, "masked")) {
      char masked[512];
      mask(plain, masked, sizeof masked);
      j_value = json_string(masked);
    } else {
      j_value = json_string(plain);
    }
    OPENSSL_cleanse(plain, strlen(plain));
  }
  free(plain);
  free(sealed);
  json_object_del(j_obj, enc_key);
  json_object_set_new(j_obj, key, j_value ? j_value : json_null());
}

static void mask_address(const char *s, char *out, size_t len) { tx_cust_mask_text(s, 6, out, len); }

void tx_cust_open(json_t *j_cust)
{
  const char *access = json_string_value(json_object_get(j_cust, "pii_access"));
  const char *customer_id = json_string_value(json_object_get(j_cust, "id"));
  json_t *j_dek = json_object_get(j_cust, "dek");
  unsigned char dek[TX_DEK_LEN];
  bool have_dek = false;
  if (!access)
    access = "none";
  /* A destroyed or unknown key leaves every sealed field null: that is crypto-shredding. */
  if (customer_id && strcmp(access, "none") != 0)
    have_dek = tx_cust_unwrap(j_dek, customer_id, dek) == 0;
  const unsigned char *key = have_dek ? dek : NULL;
  const char *id = customer_id ? customer_id : "";

  open_member(j_cust, "address_enc", "address", access, key, id, "address", mask_address);
  open_member(j_cust, "credit_code_enc", "credit_code", access, key, id, "credit_code",
              tx_cust_mask_credit_code);
  json_object_del(j_cust, "credit_code_bidx");
  size_t i;
  json_t *j_c;
  json_array_foreach(json_object_get(j_cust, "contacts"), i, j_c)
  {
    const char *cid = json_string_value(json_object_get(j_c, "id"));
    char field[96];
    snprintf(field, sizeof field, "contact:%s:phone", cid ? cid : "");
    open_member(j_c, "phone_enc", "phone", access, key, id, field, tx_cust_mask_phone);
    snprintf(field, sizeof field, "contact:%s:email", cid ? cid : "");
    open_member(j_c, "email_enc", "email", access, key, id, field, tx_cust_mask_email);
    json_object_del(j_c, "phone_bidx");
    json_object_del(j_c, "email_bidx");
  }
  json_object_del(j_cust, "dek");
  OPENSSL_cleanse(dek, sizeof dek);
}
