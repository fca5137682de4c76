/**
 * @file core/reply_db.c
 * @brief From a failed transaction to the problem document the client gets, and from a request
 * to its transaction claims.
 *
 * Errors our SQL raises (SQLSTATE TX*) carry their data for the client as a DETAIL that is a
 * JSON object; core renders it without knowing any module's codes: its `errors` join the problem's
 * `errors[]`, its other members become extension members (e.g. `existing_id`). A DETAIL in any
 * other form is never shown, since it was not written for clients.
 */
#include "core/http.h"
#include "db/tx.h"

#include <string.h>

/* The DETAIL of @p out as an object for the client (new reference), or NULL. */
static json_t *detail_data(const struct tx_db_outcome *out)
{
  if (strncmp(out->sqlstate, "TX", 2) != 0 || !out->extra)
    return NULL;
  json_t *j_data = json_loads(out->extra, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(j_data)) {
    json_decref(j_data);
    j_data = NULL;
  }
  return j_data;
}

/* Appends the well-formed {field, code, message} entries of @p j_list to @p j_errors. */
static void add_errors(json_t *j_errors, const json_t *j_list)
{
  size_t i;
  json_t *j_e;
  json_array_foreach(j_list, i, j_e)
  {
    const char *field = json_string_value(json_object_get(j_e, "field"));
    const char *code = json_string_value(json_object_get(j_e, "code"));
    const char *message = json_string_value(json_object_get(j_e, "message"));
    if (field && code && message)
      tx_problem_add_field(j_errors, field, code, message);
  }
}

json_t *tx_problem_from_db(const struct tx_db_outcome *out, int zh, const char *request_id,
                           const char *instance)
{
  /* Messages of our own SQL errors (TX*) are written for clients; nothing else is shown. */
  const char *detail = out->detail[0] ? out->detail : NULL;
  json_t *j_data = detail_data(out);
  json_t *j_errors = json_array();
  if (out->code == TX_E_VALIDATION_FAILED && detail)
    tx_problem_add_field(j_errors, out->field[0] ? out->field : "body", "invalid", detail);
  add_errors(j_errors, json_object_get(j_data, "errors"));
  if (!json_array_size(j_errors)) {
    json_decref(j_errors);
    j_errors = NULL;
  }
  json_t *j_p = tx_problem_new(out->code, zh, detail, request_id, instance, j_errors);
  tx_problem_extend(j_p, j_data);
  json_decref(j_data);
  return j_p;
}

int tx_reply_db_error(struct tx_req *r, struct tx_db_outcome *out)
{
  if (out->code == TX_E_UNAUTHORIZED)
    tx_reply_header(r, "WWW-Authenticate",
                    "Bearer realm=\"tianxing\", error=\"invalid_token\", "
                    "error_description=\"unknown or deactivated employee\"");
  tx_reply_problem_doc(r, tx_problem_from_db(out, r->zh, r->request_id, r->path));
  tx_db_outcome_free(out);
  return r->status;
}

void tx_req_claims(const struct tx_req *r, struct tx_claims *c)
{
  c->sub = r->user ? r->principal.sub : NULL;
  c->roles = r->user ? r->principal.roles : NULL;
  c->request_id = r->request_id;
}
