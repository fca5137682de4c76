/**
 * @file modules/auth/login.c
 * @brief POST /v1/auth/login: username + password -> access token (ES256, short-lived) and an
 * opaque refresh token.
 *
 * Failures never say whether the username exists (docs/identity.md, "Sign-in throttling and
 * usernames"):
 *   - every attempt that is not refused by the throttle costs one scrypt (a dummy one for an
 *     unknown name) and one write of the failure;
 *   - failures are counted per (username as typed, source address), known name or not: from the
 *     third a short wait (login_throttled), at login_lock_threshold the lock for
 *     login_lock_seconds (account_locked), both policy parameters. So an unknown name is throttled
 *     exactly like a real one, and an attacker elsewhere cannot lock the owner out. Both answer
 *     429 with Retry-After before any hashing, so an attacker cannot buy CPU with them;
 *   - at most TIANXING_PASSWORD_HASH_CONCURRENCY hashes run at once: one more is answered 503
 *     service_busy with Retry-After at once, so a sign-in storm leaves cores to the other routes.
 */
#include "core/app.h"
#include "core/json_spec.h"
#include "crypto/password.h"
#include "db/tx.h"
#include "modules/auth/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <ulfius.h>

static const struct tx_field spec[] = {
  {.name = "username", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = 64},
  {.name = "password", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = TX_PASSWORD_MAX},
};

static const struct tx_sql sql_lookup = {
  "auth_login_lookup",
  "SELECT employee_id, password_hash, active, failed_count,"
  " coalesce(ceil(extract(epoch FROM locked_until))::bigint, 0)"
  " FROM auth.login_lookup($1, $2::inet)",
  2};
/* The lockout parameters in force, read in the same round trip as the account. */
static const struct tx_sql sql_policy = {
  "auth_login_policy", "SELECT lock_threshold, lock_seconds FROM auth.login_policy()", 0};
static const struct tx_sql sql_failed = {
  "auth_login_failed", "SELECT failed_count FROM auth.login_failed($1, $2::inet, $3::int, $4::int)",
  4};
static const struct tx_sql sql_succeeded = {"auth_login_succeeded",
                                            "SELECT auth.login_succeeded($1, $2::inet)", 2};
static const struct tx_sql sql_issue = {
  "auth_refresh_issue", "SELECT auth.refresh_issue($1, NULL, decode($2, 'hex'), $3::int)", 3};
static const struct tx_sql sql_me = {"auth_me", "SELECT api.me()::text", 0};

/* The caller's address as text for the throttle (an IPv4-mapped IPv6 address as IPv4, so one
 * client counts once whichever socket family accepted it). -1 when there is none to read. */
static int source_address(const struct tx_req *r, char out[INET6_ADDRSTRLEN])
{
  const struct sockaddr *sa = r->u ? r->u->client_address : NULL;
  if (!sa)
    return -1;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return inet_ntop(AF_INET, &in->sin_addr, out, INET6_ADDRSTRLEN) ? 0 : -1;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
      return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out, INET6_ADDRSTRLEN) ? 0 : -1;
    return inet_ntop(AF_INET6, &in6->sin6_addr, out, INET6_ADDRSTRLEN) ? 0 : -1;
  }
  return -1;
}

/* Counts a failure of (username, source), whether the name exists or not, and answers 401. */
static int record_failure(struct tx_req *r, const char *username, const char *source,
                          const char *threshold, const char *seconds)
{
  const char *params[] = {username, source, threshold, seconds};
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

  char source[INET6_ADDRSTRLEN];
  if (source_address(r, source))
    snprintf(source, sizeof source, "0.0.0.0"); /* no address (not TCP): one shared count */

  struct tx_claims anon = {.request_id = r->request_id};
  struct tx_query lookup[] = {{&sql_lookup, (const char *[]){username, source}},
                              {&sql_policy, NULL}};
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

  /* One row always; a NULL id or hash is an unknown name or one without a password. */
  bool found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1);
  char employee_id[40] = "";
  char *stored = NULL;
  bool active = false;
  int failed = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 3)) : 0;
  long long locked_until = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 4)) : 0;
  if (found) {
    snprintf(employee_id, sizeof employee_id, "%s", PQgetvalue(res, 0, 0));
    stored = strdup(PQgetvalue(res, 0, 1));
    active = !strcmp(PQgetvalue(res, 0, 2), "t");
  }
  PQclear(res);
  int rc;
  long long now = (long long)time(NULL);
  if (locked_until > now) {
    char retry[24];
    snprintf(retry, sizeof retry, "%lld", locked_until - now);
    tx_reply_header(r, "Retry-After", retry);
    /* The database resets the count when it locks: a zero count with a lock is the long lock. */
    rc = tx_reply_problem(r, failed == 0 ? TX_E_ACCOUNT_LOCKED : TX_E_LOGIN_THROTTLED, NULL, NULL);
    goto out;
  }
  if (found && !stored) {
    rc = tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
    goto out;
  }
  if (!tx_password_slot_take()) {
    /* Not counted as a failure: the password was not checked. One second is about the time a
     * few hashes take; the client's retry then finds a slot. */
    tx_reply_header(r, "Retry-After", "1");
    rc = tx_reply_problem(r, TX_E_SERVICE_BUSY, NULL, NULL);
    goto out;
  }
  bool ok = tx_password_verify(password, stored);
  tx_password_slot_give();
  if (!found || !ok || !active) {
    rc = record_failure(r, username, source, threshold, seconds);
    goto out;
  }

  char refresh[44], refresh_hash[65], ttl[16];
  tx_auth_new_refresh_token(refresh, refresh_hash);
  snprintf(ttl, sizeof ttl, "%d", tx_app.cfg->refresh_token_ttl);
  struct tx_claims claims = {.sub = employee_id, .roles = TX_ALL_ROLES, .request_id = r->request_id};
  struct tx_query qs[] = {
    {&sql_succeeded, (const char *[]){username, source}},
    {&sql_issue, (const char *[]){employee_id, refresh_hash, ttl}},
    {&sql_me, NULL},
  };
  PGresult *results[3];
  if (tx_db_run(&claims, false, qs, 3, results, &out)) {
    rc = tx_reply_db_error(r, &out);
    goto out;
  }
  rc = tx_auth_reply_tokens(r, PQgetvalue(results[2], 0, 0), refresh);
  for (int i = 0; i < 3; i++)
    PQclear(results[i]);
out:
  free(stored);
  return rc;
}
