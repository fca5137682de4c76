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
