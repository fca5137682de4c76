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

#define ROW "SELECT j::text, j->>'version', j->>'id' FROM "

static const struct tx_sql sql_set_active = {
  "org_employee_set_active", ROW "api.employee_set_active($1::uuid, $2::boolean) j", 2};
static const struct tx_sql sql_password = {
  "org_employee_password", "SELECT auth.set_password($1::uuid, $2)", 2};

int tx_org_employee_deactivate(struct tx_req *r)
{
  static const struct tx_call c = {&sql_set_active, false, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "false"}}};
  return tx_call_run(r, &c);
}

int tx_org_employee_activate(struct tx_req *r)
{
  static const struct tx_call c = {&sql_set_active, false, 200, NULL, NULL, 0,
                                   {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_CONST, "true"}}};
  return tx_call_run(r, &c);
}

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
