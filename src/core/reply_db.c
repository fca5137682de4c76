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
  json_t *j_errors = NULL;
  if (out->code == TX_E_VALIDATION_FAILED && detail) {
    j_errors = json_array();
    tx_problem_add_field(j_errors, out->field[0] ? out->field : "body", "invalid", detail);
  } else if (out->code == TX_E_CUSTOMER_INCOMPLETE) {
    /* C1.3: every missing field, so that one answer says everything still to collect. */
    j_errors = json_array();
    json_t *j_missing = json_loads(out->extra, 0, NULL);
    size_t i;
    json_t *j_f;
    json_array_foreach(j_missing, i, j_f) if (json_is_string(j_f))
      tx_problem_add_field(j_errors, json_string_value(j_f), "missing", "is missing or not verified");
    json_decref(j_missing);
  } else if (out->code == TX_E_INVALID_TRANSITION) {
    /* Stopgap until core renders JSON DETAIL objects generically (issue 9): the state machine's
     * DETAIL {state, allowed_actions, guard?} becomes members of the problem. */
    json_t *j_p = tx_problem_new(out->code, r->zh, detail, r->request_id, r->path, NULL);
    json_t *j_extra = json_loads(out->extra, 0, NULL);
    static const char *const members[] = {"state", "allowed_actions", "guard"};
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
      json_t *j_v = json_object_get(j_extra, members[i]);
      if (j_v)
        json_object_set(j_p, members[i], j_v);
    }
    json_decref(j_extra);
    tx_reply_json(r, 409, j_p);
    tx_reply_header(r, "Content-Type", "application/problem+json");
    json_decref(j_p);
    return r->status;
  } else if (!strcmp(out->sqlstate, "TXDUP")) {
    j_errors = json_array();
    tx_problem_add_field(j_errors, out->field[0] ? out->field : "body", "duplicate", detail ? detail : "duplicate");
    json_t *j_p = tx_problem_new(out->code, r->zh, "A record with the same identifying data exists.",
                                 r->request_id, r->path, j_errors);
    /* Points at the existing record (issue 4): the caller may not be allowed to read it. */
    if (out->extra[0])
      json_object_set_new(j_p, "existing_id", json_string(out->extra));
    tx_reply_json(r, 409, j_p);
    tx_reply_header(r, "Content-Type", "application/problem+json");
    json_decref(j_p);
    return r->status;
  }
  if (out->code == TX_E_UNAUTHORIZED)
    tx_reply_header(r, "WWW-Authenticate",
                    "Bearer realm=\"tianxing\", error=\"invalid_token\", "
                    "error_description=\"unknown or deactivated employee\"");
  return tx_reply_problem(r, out->code, detail, j_errors);
}

void tx_req_claims(const struct tx_req *r, struct tx_claims *c)
{
  c->sub = r->user ? r->principal.sub : NULL;
  c->roles = r->user ? r->principal.roles : NULL;
  c->request_id = r->request_id;
}
