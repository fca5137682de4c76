/**
 * @file modules/ops/readyz.c
 * @brief GET /readyz: ready means the database answers through the request pool (as the runtime
 * role, in the same pipelined transaction every request uses) and has exactly the migrations this
 * build expects. The state of the backups rides along (issue 14, C2.2): a missing or too old
 * backup is a warning in the answer, never a 503, since traffic must not stop for it. So does the
 * read replica's (TIANXING_READ_DATABASE_URL): when it is gone its reports run on the primary, so
 * that is a warning too.
 */
#include "core/app.h"
#include "db/pool.h"
#include "db/tx.h"
#include "modules/ops/ops.h"

#include <stdio.h>
#include <string.h>

static const struct tx_sql sql_ledger = {
  "ops_readyz_ledger",
  "SELECT (SELECT coalesce(json_agg(json_build_array(version, checksum) ORDER BY version), '[]')"
  "          FROM tx_meta.schema_migrations)::text,"
  "       (SELECT coalesce(json_agg(json_build_array(path, checksum)), '[]')"
  "          FROM tx_meta.schema_code)::text",
  0};

static const struct tx_sql sql_replica = {
  "ops_readyz_replica", "SELECT pg_is_in_recovery()::text", 0};

/* Appends a warning {code, detail} to the body's "warnings". */
static void warn(json_t *j_body, const char *code, const char *detail)
{
  json_t *j_w = json_object_get(j_body, "warnings");
  if (!j_w) {
    j_w = json_array();
    json_object_set_new(j_body, "warnings", j_w);
  }
  json_array_append_new(j_w, json_pack("{ssss}", "code", code, "detail", detail));
}

/*
 * Adds "read_database" when a read replica is configured: "ok" when it answers through its pool
 * (no fallback here), else "unavailable" and a warning. A replica the pool has just failed to
 * reach is not tried again before its time (db/pool.h, down_for_s), so this probe never waits for
 * a connect timeout twice in a row.
 */
static void add_replica(json_t *j_body, const struct tx_claims *claims)
{
  struct tx_pool_stats st;
  if (!tx_db_pool_stats(TX_DB_READ, &st))
    return;
  struct tx_query q = {&sql_replica, NULL};
  PGresult *res;
  struct tx_db_outcome out;
  bool ok = !tx_db_run_on(TX_DB_READ, claims, true, &q, 1, &res, &out);
  tx_db_outcome_free(&out);
  if (ok)
    PQclear(res);
  json_object_set_new(j_body, "read_database", json_string(ok ? "ok" : "unavailable"));
  if (!ok)
    warn(j_body, "read_database_unavailable",
         "The read replica (TIANXING_READ_DATABASE_URL) does not answer: reports read the "
         "primary meanwhile.");
  struct tx_db_read_stats use;
  tx_db_read_stats(&use);
  if (ok && use.max_lag_ms > 0 && use.lag_ms > use.max_lag_ms)
    warn(j_body, "read_database_lagging",
         "The read replica lags more than TIANXING_READ_MAX_LAG_MS: reports read the primary "
         "meanwhile.");
}

/*
 * Adds "backup" (the newest backup's time and age, the policy's limit) and, when it is missing or
 * older than the limit, a warning. The ledger matched this build, so the function exists: when it
 * still does not answer (the database went away in between), the next probe will say so.
 */
static void add_backup(json_t *j_body, const struct tx_claims *claims)
{
  json_t *j_st = tx_ops_backup_status(claims);
  if (!j_st)
    return;
  json_t *j_backup = json_object();
  const char *keep[] = {"last_stopped_at", "age_seconds", "max_age_seconds"};
  for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
    json_t *j_v = json_object_get(j_st, keep[i]);
    if (j_v && !json_is_null(j_v))
      json_object_set(j_backup, keep[i], j_v);
  }
  json_object_set_new(j_body, "backup", j_backup);
  if (json_is_true(json_object_get(j_st, "stale"))) {
    bool none = json_is_null(json_object_get(j_st, "last_stopped_at"));
    json_t *j_age = json_object_get(j_st, "age_seconds");
    json_t *j_max = json_object_get(j_st, "max_age_seconds");
    char detail[200];
    if (none)
      snprintf(detail, sizeof detail, "No backup is recorded (deploy/local/run backup).");
    else
      snprintf(detail, sizeof detail, "The newest backup is %lld s old; the policy allows %lld s.",
               (long long)json_integer_value(j_age), (long long)json_integer_value(j_max));
    warn(j_body, none ? "backup_missing" : "backup_stale", detail);
  }
  json_decref(j_st);
}

int tx_ops_readyz(struct tx_req *r)
{
  if (__atomic_load_n(&tx_app.draining, __ATOMIC_RELAXED))
    return tx_reply_problem(r, TX_E_SHUTTING_DOWN, "The service is shutting down.", NULL);

  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_ledger, NULL};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(&claims, true, &q, 1, &res, &out)) {
    tx_db_outcome_free(&out);
    return tx_reply_problem(r, out.code == TX_E_INTERNAL_ERROR ? TX_E_DATABASE_UNAVAILABLE : out.code,
                            NULL, NULL); /* e.g. a schema too old to have the ledger */
  }

  size_t applied;
  int cmp = tx_migrations_compare(&tx_app.migrations, PQgetvalue(res, 0, 0), &applied);
  /* sql/code too: functions, policies and triggers of another build are not this build's rules. */
  size_t code_current;
  int code_cmp = tx_code_compare(&tx_app.migrations, PQgetvalue(res, 0, 1), &code_current);
  PQclear(res);
  if (cmp != 0) {
    char detail[160];
    snprintf(detail, sizeof detail,
             cmp > 0 ? "%zu of %zu migrations applied." : "The applied migrations differ from "
                                                         "this build's (%zu matched of %zu).",
             applied, tx_app.migrations.count);
    return tx_reply_problem(r, TX_E_MIGRATIONS_PENDING, detail, NULL);
  }
  if (code_cmp != 0) {
    char detail[160];
    snprintf(detail, sizeof detail, "%zu of %zu SQL code files applied as this build has them.",
             code_current, tx_app.migrations.code_count);
    return tx_reply_problem(r, TX_E_MIGRATIONS_PENDING, detail, NULL);
  }
  json_t *j_body = json_pack("{sssss{sIsI}}", "status", "ready", "database", "ok", "migrations",
                             "applied", (json_int_t)applied, "expected",
                             (json_int_t)tx_app.migrations.count);
  add_backup(j_body, &claims);
  add_replica(j_body, &claims);
  tx_reply_json(r, 200, j_body);
  json_decref(j_body);
  return r->status;
}
