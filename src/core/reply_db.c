/**
 * @file core/reply_db.c
 * @brief From a failed transaction to the problem document the client gets, and from a request
 * to its transaction claims.
 */
#include "core/http.h"
#include "db/tx.h"

#include <string.h>

int tx_reply_db_error(struct tx_req *r, const struct tx_db_outcome *out)
{
  /* Messages of our own SQL errors (TXxxx) are written for clients; nothing else is shown. */
  const char *detail = out->detail[0] ? out->detail : NULL;
  json_t *j_errors = NULL, *j_more = NULL;
  /* Our own errors may say more in DETAIL, as a JSON object (api.field_error, sql/code/kit):
   * its "errors" are the field errors, every other member goes into the problem document as is
   * (e.g. existing_id of a duplicate). Core knows none of the codes that do it. */
  if (!strncmp(out->sqlstate, "TX", 2) && out->extra[0] == '{')
    j_more = json_loads(out->extra, 0, NULL);
  if (json_is_object(j_more)) {
    size_t i;
    json_t *j_e;
    j_errors = json_array();
    json_array_foreach(json_object_get(j_more, "errors"), i, j_e)
    {
      const char *field = json_string_value(json_object_get(j_e, "field"));
      const char *code = json_string_value(json_object_get(j_e, "code"));
      const char *message = json_string_value(json_object_get(j_e, "message"));
      if (field && code && message)
        tx_problem_add_field(j_errors, field, code, message);
    }
    json_object_del(j_more, "errors");
  } else if (out->code == TX_E_VALIDATION_FAILED && detail) {
    j_errors = json_array();
    tx_problem_add_field(j_errors, out->field[0] ? out->field : "body", "invalid", detail);
  }
  if (out->code == TX_E_UNAUTHORIZED)
    tx_reply_header(r, "WWW-Authenticate",
                    "Bearer realm=\"tianxing\", error=\"invalid_token\", "
                    "error_description=\"unknown or deactivated employee\"");
  if (!json_is_object(j_more) || json_object_size(j_more) == 0) {
    json_decref(j_more);
    return tx_reply_problem(r, out->code, detail, j_errors);
  }
  json_t *j_p = tx_problem_new(out->code, r->zh, detail, r->request_id, r->path, j_errors);
  const char *key;
  json_t *j_v;
  json_object_foreach(j_more, key, j_v) if (!json_object_get(j_p, key)) /* never a standard member */
    json_object_set(j_p, key, j_v);
  tx_reply_json(r, tx_error_info(out->code)->status, j_p);
  tx_reply_header(r, "Content-Type", "application/problem+json");
  json_decref(j_p);
  json_decref(j_more);
  return r->status;
}

void tx_req_claims(const struct tx_req *r, struct tx_claims *c)
{
  c->sub = r->user ? r->principal.sub : NULL;
  c->roles = r->user ? r->principal.roles : NULL;
  c->request_id = r->request_id;
}
