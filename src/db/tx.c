/**
 * @file db/tx.c
 * @brief The pipelined transaction runner (see db/tx.h for the shape and the guarantees).
 */
#include "db/tx.h"
#include "base/log.h"
#include "db/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct tx_sql sql_begin_rw = {"tx_begin", "BEGIN ISOLATION LEVEL READ COMMITTED", 0};
static const struct tx_sql sql_begin_ro = {"tx_begin_ro",
                                           "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY", 0};
static const struct tx_sql sql_commit = {"tx_commit", "COMMIT", 0};
/* Anonymous requests: empty claims, and the request id for the audit trail. */
static const struct tx_sql sql_claims = {
  "tx_claims",
  "SELECT set_config('tx.user_id', '', true), set_config('tx.roles', '', true),"
  " set_config('tx.department_id', '', true), set_config('tx.request_id', coalesce($1, ''), true)",
  1};
/* Authenticated requests: the employee is resolved and checked inside the same round trip. */
static const struct tx_sql sql_begin_request = {"tx_begin_request",
                                                "SELECT tx.begin_request($1, $2, $3)", 3};

#define MAX_ATTEMPTS 3

enum slot_kind { SLOT_PREPARE, SLOT_EXEC };
struct slot {
  enum slot_kind kind;
  const struct tx_sql *sql;
  int query_index; /* -1 for BEGIN, claims, COMMIT */
};

void tx_db_outcome_free(struct tx_db_outcome *out)
{
  free(out->extra);
  out->extra = NULL;
}

/* Starts @p out afresh: nothing from an earlier attempt may leak or be reported. */
static void outcome_reset(struct tx_db_outcome *out)
{
  tx_db_outcome_free(out);
  memset(out, 0, sizeof *out);
  out->failed_index = -1;
}

/* Queues (prepare if needed and) execute; returns 0 or -1 when libpq could not queue it. */
static int queue(struct tx_conn *c, struct slot *slots, size_t *nslots, const struct tx_sql *sql,
                 const char *const *params, int query_index)
{
  /* Prepared already, or earlier in this very pipeline (a statement used twice in one run). */
  bool pending = false;
  for (size_t i = 0; i < *nslots && !pending; i++)
    pending = slots[i].kind == SLOT_PREPARE && slots[i].sql == sql;
  if (!pending && !tx_conn_is_prepared(c, sql)) {
    if (!PQsendPrepare(c->pg, sql->name, sql->text, sql->nparams, NULL))
      return -1;
    slots[(*nslots)++] = (struct slot){SLOT_PREPARE, sql, query_index};
  }
  if (!PQsendQueryPrepared(c->pg, sql->name, sql->nparams, params, NULL, NULL, 0))
    return -1;
  slots[(*nslots)++] = (struct slot){SLOT_EXEC, sql, query_index};
  return 0;
}

static void record_error(struct tx_db_outcome *out, const PGresult *res, const struct slot *s)
{
  if (out->sqlstate[0])
    return; /* the first error is the cause; later ones are consequences */
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
  snprintf(out->sqlstate, sizeof out->sqlstate, "%s", state ? state : "08006");
  snprintf(out->constraint, sizeof out->constraint, "%s", constraint ? constraint : "");
  out->failed_index = s ? s->query_index : -1;
  out->code = tx_db_map_sqlstate(out->sqlstate);
  if (!strncmp(out->sqlstate, "TX", 2)) {
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *col = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
    const char *extra = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    snprintf(out->detail, sizeof out->detail, "%s", msg ? msg : "");
    snprintf(out->field, sizeof out->field, "%s", col ? col : "");
    out->extra = extra && *extra ? strdup(extra) : NULL;
  }
  if (out->code == TX_E_INTERNAL_ERROR) {
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    tx_log(TX_LOG_ERROR, "sql error %s in %s: %s", out->sqlstate, s ? s->sql->name : "?",
           msg ? msg : "(no message)");
  }
}

/* One attempt on one connection. Returns 0 on success; sets *broken when the connection died. */
static int attempt(struct tx_conn *c, const struct tx_claims *claims, bool read_only,
                   const struct tx_query *queries, size_t n, PGresult **results,
                   struct tx_db_outcome *out, bool *broken)
{
  struct slot slots[(TX_DB_MAX_QUERIES + 3) * 2];
  size_t nslots = 0;
  const char *claim_params[3] = {claims->sub, claims->roles ? claims->roles : "",
                                 claims->request_id};
  int rc = -1;

  outcome_reset(out);
  for (size_t i = 0; i < n; i++)
    results[i] = NULL;

  if (!PQenterPipelineMode(c->pg))
    goto lost;
  if (queue(c, slots, &nslots, read_only ? &sql_begin_ro : &sql_begin_rw, NULL, -1) ||
      queue(c, slots, &nslots, claims->sub ? &sql_begin_request : &sql_claims,
            claims->sub ? claim_params : claim_params + 2, -1))
    goto lost;
  for (size_t i = 0; i < n; i++)
    if (queue(c, slots, &nslots, queries[i].sql, queries[i].params, (int)i))
      goto lost;
  if (queue(c, slots, &nslots, &sql_commit, NULL, -1) || !PQpipelineSync(c->pg))
    goto lost;

  /* Results arrive in order; a NULL ends each command's results, PIPELINE_SYNC ends them all. */
  size_t cur = 0;
  for (;;) {
    PGresult *res = PQgetResult(c->pg);
    if (!res) {
      if (PQstatus(c->pg) != CONNECTION_OK || ++cur > nslots)
        goto lost;
      continue;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      break;
    }
    const struct slot *s = cur < nslots ? &slots[cur] : NULL;
    if (st == PGRES_FATAL_ERROR) {
      record_error(out, res, s);
    } else if (st == PGRES_PIPELINE_ABORTED || !s) {
      /* skipped after an earlier error */
    } else if (s->kind == SLOT_PREPARE) {
      /* Unrecorded, the statement would be prepared again on its next use and fail (42P05):
       * a connection that cannot remember is closed instead. */
      if (tx_conn_mark_prepared(c, s->sql))
        *broken = true;
    } else if (s->query_index >= 0) {
      PQclear(results[s->query_index]);
      results[s->query_index] = res;
      continue;
    }
    PQclear(res);
  }
  if (!PQexitPipelineMode(c->pg))
    goto lost;

  if (out->sqlstate[0]) {
    /* An error inside BEGIN..COMMIT leaves the transaction aborted after the sync. */
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
      PGresult *rb = PQexec(c->pg, "ROLLBACK");
      PQclear(rb);
    }
    if (PQstatus(c->pg) != CONNECTION_OK)
      *broken = true;
    goto fail;
  }
  return 0;

lost:
  *broken = true;
  out->code = TX_E_DATABASE_UNAVAILABLE;
  if (!out->sqlstate[0])
    snprintf(out->sqlstate, sizeof out->sqlstate, "08006");
  tx_log(TX_LOG_WARN, "database connection lost: %s", PQerrorMessage(c->pg));
fail:
  for (size_t i = 0; i < n; i++) {
    PQclear(results[i]);
    results[i] = NULL;
  }
  return rc;
}

static void backoff(int attempt_no)
{
  /* 2..10 ms, jittered, so that two conflicting transactions do not collide again in lockstep. */
  struct timespec ts = {0, (long)(2 + (rand() % 8) * attempt_no) * 1000000L};
  nanosleep(&ts, NULL);
}

static struct tx_pool *pools[2];
static uint64_t read_transactions, read_fallbacks, read_lag_fallbacks;

/*
 * The replica's lag. A hot standby can fall minutes behind (a long query holding replay back, a
 * slow disk, a broken link): reports that tolerate "a moment" of lag must not show the state of
 * an hour ago. The lag is sampled on the replica itself, at most once per TX_READ_LAG_PROBE_MS,
 * by whichever report finds the sample old (one at a time; the others use the last sample).
 *
 * The lag is 0 while the standby has replayed all it received from a connected WAL receiver
 * (an idle primary writes nothing, so the last replayed commit's age would call a standby that is
 * up to date "late"); otherwise it is the age of the last replayed commit. A standby with no WAL
 * receiver (cut off from its primary) therefore ages with the primary's last commit it has seen:
 * it cannot know what it misses, so it is not trusted past the limit. Just after an idle spell
 * the first new commit may briefly read as a large lag (received, not yet replayed): at worst one
 * probe interval of reports runs on the primary, which is always current.
 */
static const char lag_sql[] =
  "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
  " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
  " AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0"
  " ELSE coalesce(floor(1000 * extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())),"
  " 0)::bigint END";
static int read_max_lag_ms;
static int64_t lag_ms = -1, lag_sampled_at_ms = INT64_MIN / 2;
static int lag_probing;

void tx_db_read_max_lag(int max_lag_ms)
{
  read_max_lag_ms = max_lag_ms;
}

static int64_t monotonic_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Takes a new lag sample when the last one is old and no other thread is taking one. A replica
 * that cannot be borrowed from or does not answer keeps the last sample: an unreachable replica
 * is the fallback's business (TX_POOL_UNAVAILABLE), not the lag's. */
static void lag_sample(struct tx_pool *pool)
{
  int64_t now = monotonic_ms();
  if (now - __atomic_load_n(&lag_sampled_at_ms, __ATOMIC_ACQUIRE) < TX_READ_LAG_PROBE_MS)
    return;
  int idle = 0;
  if (!__atomic_compare_exchange_n(&lag_probing, &idle, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return;
  struct tx_conn *c;
  if (tx_pool_acquire(pool, false, &c) == TX_POOL_OK) {
    PGresult *res = PQexec(c->pg, lag_sql);
    bool good = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (good)
      __atomic_store_n(&lag_ms, strtoll(PQgetvalue(res, 0, 0), NULL, 10), __ATOMIC_RELEASE);
    else
      tx_log(TX_LOG_WARN, "read replica lag sample failed: %s", PQerrorMessage(c->pg));
    PQclear(res);
    tx_pool_release(c, !good && PQstatus(c->pg) != CONNECTION_OK);
  }
  __atomic_store_n(&lag_sampled_at_ms, monotonic_ms(), __ATOMIC_RELEASE);
  __atomic_store_n(&lag_probing, 0, __ATOMIC_RELEASE);
}

int tx_db_pools_init(const struct tx_pool_options *primary, const struct tx_pool_options *read)
{
  pools[TX_DB_PRIMARY] = tx_pool_create(primary);
  pools[TX_DB_READ] = read ? tx_pool_create(read) : NULL;
  if (!pools[TX_DB_PRIMARY] || (read && !pools[TX_DB_READ])) {
    tx_db_pools_shutdown();
    return -1;
  }
  return 0;
}

void tx_db_pools_shutdown(void)
{
  for (size_t i = 0; i < sizeof pools / sizeof *pools; i++) {
    tx_pool_destroy(pools[i]);
    pools[i] = NULL;
  }
}

bool tx_db_pool_stats(enum tx_db_pool which, struct tx_pool_stats *s)
{
  if (!pools[which])
    return false;
  tx_pool_stats(pools[which], s);
  return true;
}

void tx_db_read_stats(struct tx_db_read_stats *s)
{
  s->transactions = __atomic_load_n(&read_transactions, __ATOMIC_RELAXED);
  s->fallbacks = __atomic_load_n(&read_fallbacks, __ATOMIC_RELAXED);
  s->lag_fallbacks = __atomic_load_n(&read_lag_fallbacks, __ATOMIC_RELAXED);
  s->max_lag_ms = read_max_lag_ms;
  s->lag_ms = read_max_lag_ms ? __atomic_load_n(&lag_ms, __ATOMIC_ACQUIRE) : -1;
}

/* What a transaction does, for the pool: reads, or writes that take a writer's turn. */
enum access { READ_ONLY, LOGGED_READ, WRITE };

static int run_on(struct tx_pool *pool, const struct tx_claims *claims, enum access access,
                  const struct tx_query *queries, size_t n, PGresult **results,
                  struct tx_db_outcome *out)
{
  bool read_only = access == READ_ONLY;
  bool retried_connection = false;
  memset(out, 0, sizeof *out);
  out->failed_index = -1;
  if (n > TX_DB_MAX_QUERIES) {
    out->code = TX_E_INTERNAL_ERROR;
    return -1;
  }
  for (int a = 1; a <= MAX_ATTEMPTS; a++) {
    struct tx_conn *c;
    switch (tx_pool_acquire(pool, access == WRITE, &c)) {
    case TX_POOL_OK:
      break;
    case TX_POOL_BUSY:
      outcome_reset(out);
      out->code = TX_E_SERVICE_BUSY;
      return -1;
    case TX_POOL_UNAVAILABLE:
      outcome_reset(out);
      out->code = TX_E_DATABASE_UNAVAILABLE;
      return -1;
    }
    bool broken = false;
    int rc = attempt(c, claims, read_only, queries, n, results, out, &broken);
    tx_pool_release(c, broken);
    if (rc == 0)
      return 0;
    /* A dead pooled connection (e.g. the server restarted since it was opened) is discovered only
     * by using it. A read-only transaction has no effect to lose: try once more on a new one. A
     * write may have committed before the connection died, so its outcome is unknown: no retry. */
    if (broken && read_only && !retried_connection) {
      retried_connection = true;
      a--;
      continue;
    }
    if (strcmp(out->sqlstate, "40001") != 0 && strcmp(out->sqlstate, "40P01") != 0)
      return -1;
    if (a < MAX_ATTEMPTS)
      backoff(a);
  }
  return -1;
}

static enum access access_of(bool read_only) { return read_only ? READ_ONLY : WRITE; }

int tx_db_run(const struct tx_claims *claims, bool read_only, const struct tx_query *queries,
              size_t n, PGresult **results, struct tx_db_outcome *out)
{
  return run_on(pools[TX_DB_PRIMARY], claims, access_of(read_only), queries, n, results, out);
}

int tx_db_run_logged_read(const struct tx_claims *claims, const struct tx_query *queries, size_t n,
                          PGresult **results, struct tx_db_outcome *out)
{
  return run_on(pools[TX_DB_PRIMARY], claims, LOGGED_READ, queries, n, results, out);
}

int tx_db_run_on(enum tx_db_pool pool, const struct tx_claims *claims, bool read_only,
                 const struct tx_query *queries, size_t n, PGresult **results,
                 struct tx_db_outcome *out)
{
  if (!pools[pool]) {
    memset(out, 0, sizeof *out);
    out->failed_index = -1;
    out->code = TX_E_DATABASE_UNAVAILABLE;
    return -1;
  }
  return run_on(pools[pool], claims, access_of(read_only), queries, n, results, out);
}

int tx_db_run_replica(const struct tx_claims *claims, const struct tx_query *queries, size_t n,
                      PGresult **results, struct tx_db_outcome *out)
{
  if (!pools[TX_DB_READ])
    return run_on(pools[TX_DB_PRIMARY], claims, READ_ONLY, queries, n, results, out);
  if (read_max_lag_ms > 0) {
    lag_sample(pools[TX_DB_READ]);
    if (__atomic_load_n(&lag_ms, __ATOMIC_ACQUIRE) > read_max_lag_ms) {
      __atomic_add_fetch(&read_fallbacks, 1, __ATOMIC_RELAXED);
      __atomic_add_fetch(&read_lag_fallbacks, 1, __ATOMIC_RELAXED);
      return run_on(pools[TX_DB_PRIMARY], claims, READ_ONLY, queries, n, results, out);
    }
  }
  int rc = run_on(pools[TX_DB_READ], claims, READ_ONLY, queries, n, results, out);
  if (rc == 0 || out->code != TX_E_DATABASE_UNAVAILABLE) {
    __atomic_add_fetch(&read_transactions, 1, __ATOMIC_RELAXED);
    return rc;
  }
  /* The replica is gone (a standby restarting, the -ro service without endpoints during a
   * failover): the report is read-only, so running it again on the primary cannot do anything
   * twice. The pool logs the failed connect; its down_for keeps the next requests from waiting
   * for the replica's connect timeout each. */
  __atomic_add_fetch(&read_fallbacks, 1, __ATOMIC_RELAXED);
  tx_db_outcome_free(out);
  return run_on(pools[TX_DB_PRIMARY], claims, READ_ONLY, queries, n, results, out);
}
