/**
 * @file modules/org/employee_actions.c
 * @brief PUT /v1/employees/{id}/password (an administrator sets a password) and POST
 * /v1/me/password (an employee changes their own). A password set by somebody else must be
 * changed before anything else (tx.begin_request, issue 10 item 9).
 */
#include "core/app.h"
#include "core/call.h"
#include "crypto/password.h"
#include "modules/org/org.h"

#include <stdlib.h>
#include <string.h>

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

static const struct tx_sql sql_own_hash = {"org_own_password_hash",
                                           "SELECT auth.own_password_hash()", 0};
static const struct tx_sql sql_own_change = {
  "org_own_password_change",
  "SELECT auth.change_own_password($1, $2, $3::boolean, $4::boolean)", 4};

static const struct tx_field own_password_spec[] = {
  {.name = "current_password", .type = TX_J_STRING, .required = true, .min_len = 1,
   .max_len = TX_PASSWORD_MAX},
  {.name = "new_password", .type = TX_J_STRING, .required = true, .min_len = TX_PASSWORD_MIN,
   .max_len = TX_PASSWORD_MAX},
};

int tx_org_own_password(struct tx_req *r)
{
  char *old_hash = NULL, *new_hash = NULL;
  int status;
  if (tx_req_body(r, own_password_spec, 2))
    return r->status;
  const char *current = json_string_value(json_object_get(r->j_body, "current_password"));
  const char *wanted = json_string_value(json_object_get(r->j_body, "new_password"));
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_db_outcome out;
  PGresult *res;
  struct tx_query read = {&sql_own_hash, NULL};
  if (tx_db_run(&claims, true, &read, 1, &res, &out)) {
    status = tx_reply_db_error(r, &out);
    goto out;
  }
  old_hash = strdup(PQgetvalue(res, 0, 0));
  PQclear(res);
  new_hash = tx_password_hash(wanted, tx_app.cfg->password_scrypt_ln);
  if (!old_hash || !new_hash) {
    status = tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
    goto out;
  }
  /* The verdicts travel to the database, which refuses with the field named (as any validation
   * error); the passwords stay in this process. The old hash makes a concurrent reset a 409. */
  const char *current_ok = tx_password_verify(current, old_hash) ? "true" : "false";
  const char *same = tx_password_verify(wanted, old_hash) ? "true" : "false";
  struct tx_query change = {&sql_own_change, (const char *[]){old_hash, new_hash, current_ok, same}};
  if (tx_db_run(&claims, false, &change, 1, &res, &out)) {
    status = tx_reply_db_error(r, &out);
    goto out;
  }
  PQclear(res);
  status = tx_reply_raw(r, 204, NULL, NULL, 0);
out:
  free(old_hash);
  free(new_hash);
  return status;
}
