/**
 * @file modules/auth/login.c
 * @brief POST /v1/auth/login: username + password -> access token (ES256, short-lived) and an
 * opaque refresh token.
 *
 * Failures never say whether the username exists: unknown users cost one dummy scrypt, like a
 * wrong password. Repeated failures first throttle (the database sets a short locked_until after
 * each failure past the second) and then lock the account; how many failures and for how long are
 * the policy parameters login_lock_threshold and login_lock_seconds (HR proposes, an admin
 * approves, audited). Both answer 429 with Retry-After before any hashing, so an attacker cannot
 * buy CPU with them.
 */
#include "core/app.h"
#include "core/json_spec.h"
#include "crypto/password.h"
#include "db/tx.h"
#include "modules/auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct tx_field spec[] = {
  {.name = "username", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = 64},
  {.name = "password", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = TX_PASSWORD_MAX},
};

static const struct tx_sql sql_lookup = {
  "auth_login_lookup",
  "SELECT employee_id, password_hash, failed_count,"
  " coalesce(ceil(extract(epoch FROM locked_until))::bigint, 0), active"
  " FROM auth.login_lookup(lower($1))",
  1};
/* The lockout parameters in force, read in the same round trip as the account. */
static const struct tx_sql sql_policy = {
  "auth_login_policy", "SELECT lock_threshold, lock_seconds FROM auth.login_policy()", 0};
static const struct tx_sql sql_failed = {
  "auth_login_failed", "SELECT failed_count FROM auth.login_failed($1, $2::int, $3::int)", 3};
static const struct tx_sql sql_succeeded = {"auth_login_succeeded",
                                            "SELECT auth.login_succeeded($1)", 1};
static const struct tx_sql sql_issue = {
  "auth_refresh_issue", "SELECT auth.refresh_issue($1, NULL, decode($2, 'hex'), $3::int)", 3};
static const struct tx_sql sql_me = {"auth_me", "SELECT api.me()::text", 0};

static int record_failure(struct tx_req *r, const char *employee_id, const char *threshold,
                          const char *seconds)
{
  const char *params[] = {employee_id, threshold, seconds};
  struct tx_query q = {&sql_failed, params};
  struct tx_claims claims = {.request_id = r->request_id};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, false, &q, 1, &res, &out))
    return tx_reply_db_error(r, &out);
  PQclear(res);
  return tx_reply_problem(r, TX_E_INVALID_CREDENTIALS, NULL, NULL);
}

int tx_auth_login(struct tx_req *r)
{
  if (tx_req_body(r, spec, sizeof spec / sizeof spec[0]))
    return r->status;
  const char *username = json_string_value(json_object_get(r->j_body, "username"));
  const char *password = json_string_value(json_object_get(r->j_body, "password"));

  struct tx_claims anon = {.request_id = r->request_id};
  struct tx_query lookup[] = {{&sql_lookup, (const char *[]){username}}, {&sql_policy, NULL}};
  PGresult *found_res[2];
  struct tx_db_outcome out;
  if (tx_db_run(&anon, true, lookup, 2, found_res, &out))
    return tx_reply_db_error(r, &out);
  PGresult *res = found_res[0];
  char threshold[16] = "5", seconds[16] = "900"; /* the seeded values, should the row be gone */
  if (PQntuples(found_res[1]) == 1 && !PQgetisnull(found_res[1], 0, 0)) {
    snprintf(threshold, sizeof threshold, "%s", PQgetvalue(found_res[1], 0, 0));
    snprintf(seconds, sizeof seconds, "%s", PQgetvalue(found_res[1], 0, 1));
  }
  PQclear(found_res[1]);

  bool found = PQntuples(res) == 1;
  char employee_id[40] = "";
  long long locked_until = 0;
  int failed = 0;
  bool active = false;
  if (found) {
    snprintf(employee_id, sizeof employee_id, "%s", PQgetvalue(res, 0, 0));
    failed = atoi(PQgetvalue(res, 0, 2));
    locked_until = atoll(PQgetvalue(res, 0, 3));
    active = !strcmp(PQgetvalue(res, 0, 4), "t");
  }
  long long now = (long long)time(NULL);
  if (found && locked_until > now) {
    PQclear(res);
    char retry[24];
    snprintf(retry, sizeof retry, "%lld", locked_until - now);
    tx_reply_header(r, "Retry-After", retry);
    /* The database resets the count when it locks: a zero count with a lock is the long lock. */
    return tx_reply_problem(r, failed == 0 ? TX_E_ACCOUNT_LOCKED : TX_E_LOGIN_THROTTLED, NULL, NULL);
  }
  bool ok = tx_password_verify(password, found ? PQgetvalue(res, 0, 1) : NULL);
  PQclear(res);
  if (!found)
    return tx_reply_problem(r, TX_E_INVALID_CREDENTIALS, NULL, NULL);
  if (!ok || !active)
    return record_failure(r, employee_id, threshold, seconds);

  char refresh[44], refresh_hash[65], ttl[16];
  tx_auth_new_refresh_token(refresh, refresh_hash);
  snprintf(ttl, sizeof ttl, "%d", tx_app.cfg->refresh_token_ttl);
  struct tx_claims claims = {.sub = employee_id, .roles = TX_ALL_ROLES, .request_id = r->request_id};
  struct tx_query qs[] = {
    {&sql_succeeded, (const char *[]){employee_id}},
    {&sql_issue, (const char *[]){employee_id, refresh_hash, ttl}},
    {&sql_me, NULL},
  };
  PGresult *results[3];
  if (tx_db_run(&claims, false, qs, 3, results, &out))
    return tx_reply_db_error(r, &out);
  tx_auth_reply_tokens(r, PQgetvalue(results[2], 0, 0), refresh);
  for (int i = 0; i < 3; i++)
    PQclear(results[i]);
  return r->status;
}
