/**
 * @file modules/customers/legacy_detail.c
 * @brief TEMPORARY (issue 9): reads the DETAIL forms the customer SQL raised before errors
 * carried a JSON object (core/reply_db.c) — TXINC with a JSON array of missing fields, TXDUP with
 * the existing customer's id alone — into that object, so that clients see the same answers
 * while sql/ moves to the object form. Once sql/ raises TXINC as
 * {"errors":[{"field":..,"code":"missing","message":..}]} and TXDUP as
 * {"existing_id":..,"errors":[{"field":..,"code":"duplicate","message":..}]} with MESSAGE
 * "A record with the same identifying data exists.", delete this file, its two declarations in
 * customers.h and `detail_forms` in routes.c.
 */
#include "db/tx.h"
#include "modules/customers/customers.h"

/* TXINC, DETAIL ["phone", "last_verified_at", ...] (C1.3: every missing field in one answer). */
json_t *tx_cust_legacy_incomplete(const struct tx_db_outcome *out, const char **detail)
{
  json_t *j_missing = json_loads(out->extra, 0, NULL);
  json_t *j_errors = json_array();
  size_t i;
  json_t *j_f;
  json_array_foreach(j_missing, i, j_f) if (json_is_string(j_f))
    json_array_append_new(j_errors, json_pack("{sOssss}", "field", j_f, "code", "missing", "message",
                                              "is missing or not verified"));
  json_decref(j_missing);
  return json_pack("{so}", "errors", j_errors);
}

/* TXDUP, DETAIL = the existing customer's id; MESSAGE "<field>: duplicate", COLUMN = field. */
json_t *tx_cust_legacy_duplicate(const struct tx_db_outcome *out, const char **detail)
{
  const char *message = *detail ? *detail : "duplicate";
  *detail = "A record with the same identifying data exists.";
  /* Points at the existing record (issue 4): the caller may not be allowed to read it. */
  return json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "existing_id", out->extra, "errors", "field",
                   out->field[0] ? out->field : "body", "code", "duplicate", "message", message);
}

