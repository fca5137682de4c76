/**
 * @file modules/org/employee_actions.c
 * @brief POST /v1/employees/{id}/deactivate|activate and PUT /v1/employees/{id}/password.
 * Deactivation takes effect at once: every request re-checks the employee (tx.begin_request) and
 * the database revokes their refresh tokens.
 */
#include "core/app.h"
#include "core/call.h"
#include "crypto/password.h"
#include "modules/org/org.h"

#include <stdlib.h>

static const struct tx_sql sql_password = {
  "org_employee_password", "SELECT auth.set_password($1::uuid, $2)", 2};

static const struct tx_field password_spec[] = {
  {.name = "password", .type = TX_J_STRING, .required = true, .min_len = TX_PASSWORD_MIN,
   .max_len = TX_PASSWORD_MAX},
};

int tx_org_employee_password(struct tx_req *r)
{
  if (tx_req_body(r, password_spec, 1))
    return r->status;
  const char *id = tx_call_path_uuid(r, "id");
  if (!id)
    return r->status;
  /* Only the hash travels to the database; the password stays in this process. */
  char *hash = tx_password_hash(json_string_value(json_object_get(r->j_body, "password")),
                                tx_app.cfg->password_scrypt_ln);
  if (!hash)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_password, (const char *[]){id, hash}};
  PGresult *res;
  struct tx_db_outcome out;
  int failed = tx_db_run(&claims, false, &q, 1, &res, &out);
  free(hash);
  if (failed)
    return tx_reply_db_error(r, &out);
  PQclear(res);
  return tx_reply_raw(r, 204, NULL, NULL, 0);
}
