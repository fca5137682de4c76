/**
 * @file core/request_body.c
 * @brief Applying a handler's field spec to the request body (see tx_req_body in core/http.h).
 */
#include "core/http.h"
#include "core/json_spec.h"

int tx_req_body(struct tx_req *r, const struct tx_field *spec, size_t n)
{
  json_t *j_empty = NULL;
  const json_t *j_body = r->j_body;
  if (!j_body)
    j_body = j_empty = json_object();
  json_t *j_errors = tx_json_check(j_body, spec, n, false);
  json_decref(j_empty);
  if (!j_errors)
    return tx_reply_problem(r, TX_E_BAD_REQUEST, "The request body must be a JSON object.", NULL);
  if (json_array_size(j_errors) == 0) {
    json_decref(j_errors);
    return 0;
  }
  return tx_reply_problem(r, TX_E_VALIDATION_FAILED, "Some fields are missing or invalid.", j_errors);
}
