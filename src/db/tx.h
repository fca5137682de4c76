/**
 * @file db/tx.h
 * @brief The transaction runner: a request's whole transaction in one pipelined round trip.
 *
 *   BEGIN [READ ONLY]; SELECT set_config(claims...); <statements>; COMMIT; Sync
 *
 * Statements are prepared once per connection (the first use on a connection prepares it inside the
 * same pipeline). Serialization failures and deadlocks are retried; a read-only transaction that
 * finds its connection dead is retried once on a fresh connection. Errors come back as problem
 * codes: SQL text never leaves this layer.
 *
 * Two pools (db/pool.h): the primary's, for everything, and optionally a read replica's
 * (TIANXING_READ_DATABASE_URL, e.g. CloudNativePG's -ro service) for report routes that accept
 * data a moment old (tx_db_run_replica).
 */
#ifndef TX_DB_TX_H
#define TX_DB_TX_H

#include "base/errors.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** @brief A statement; define one static instance per query, near the code that uses it. */
struct tx_sql {
  const char *name; /* unique prepared-statement name */
  const char *text; /* parameterized SQL ($1...) */
  int nparams;
};

struct tx_query {
  const struct tx_sql *sql;
  const char *const *params; /* nparams text values (NULL = SQL NULL) */
};

/**
 * @brief Who is asking. With a @p sub, the transaction starts with tx.begin_request(), which
 * resolves the employee (unknown or deactivated: 401), intersects the token's roles with theirs
 * and sets the transaction-local settings RLS policies read. Without, the claims are empty.
 */
struct tx_claims {
  const char *sub;   /* token subject (employee id or username) or NULL */
  const char *roles; /* token roles, comma-separated, or NULL */
  const char *request_id;
};

#define TX_DB_MAX_QUERIES 16

struct tx_db_outcome {
  enum tx_code code;  /* meaningful when the run failed */
  char sqlstate[6];   /* for logs and tests; never sent to clients */
  char constraint[64];/* violated constraint name, when the server said which */
  int failed_index;   /* which query failed, -1 for BEGIN/claims/COMMIT or the connection */
  /* For errors our own SQL raises (SQLSTATE TX*): the message, written to be shown, and the
   * field it is about (RAISE ... USING COLUMN = 'field'). Empty otherwise. */
  char detail[256];
  char field[64];
  /* Their DETAIL, whole (allocated; NULL when there is none): data for the client, a JSON object
   * by convention (core/reply_db.c). tx_db_outcome_free releases it. */
  char *extra;
};

/** @brief Releases what @p out holds; it may be called again, and on a zeroed outcome. */
void tx_db_outcome_free(struct tx_db_outcome *out);

/**
 * @brief Runs @p n queries in one transaction. A read-write one is a writer: it waits for one of
 * the primary pool's writer turns (db/pool.h, TIANXING_DB_WRITERS), then for a connection.
 * @param[out] results n results (caller PQclear()s each) on success
 * @param[out] out     filled on failure; the caller releases it with tx_db_outcome_free (after
 *                     success too: it is then empty)
 * @return 0 on success; -1 with @p out filled
 */
int tx_db_run(const struct tx_claims *claims, bool read_only, const struct tx_query *queries,
              size_t n, PGresult **results, struct tx_db_outcome *out);

/**
 * @brief tx_db_run for a read that writes only its own trace, the PII read log (cust.pii_reads):
 * read-write, but it links nothing into the audit chain at commit (that log enters the chain by
 * a digest job), so it does not wait for a writer's turn (db/pool.h, TIANXING_DB_WRITERS) and
 * reads of full records keep the whole pool while writes queue.
 */
int tx_db_run_logged_read(const struct tx_claims *claims, const struct tx_query *queries, size_t n,
                          PGresult **results, struct tx_db_outcome *out);

/**
 * @brief Runs @p n queries in one read-only transaction on the read replica when one is
 * configured, else on the primary. For reports only: the replica may lag the primary, so a write
 * acknowledged a moment ago may be missing. When the replica cannot be reached (no connection, or
 * it died under the transaction) the transaction runs on the primary instead and is counted as a
 * fallback: reports must not go down with a replica. A busy replica pool still answers 503
 * (service_busy): moving an overload of reports onto the primary is what the replica is there to
 * prevent. Same contract as tx_db_run otherwise.
 */
int tx_db_run_replica(const struct tx_claims *claims, const struct tx_query *queries, size_t n,
                      PGresult **results, struct tx_db_outcome *out);

/** Seconds a read replica that could not be connected to is left alone (its reports run on the
 * primary meanwhile): long enough that a replica whose address swallows packets costs one connect
 * timeout per ten seconds, not one per report, and that /readyz (probed every 5 s by
 * deploy/k8s) never waits for it twice in a row; short enough that a restarted standby is used
 * again at once. */
#define TX_READ_DOWN_FOR_S 10

/** How old the replica's lag sample may be before a report takes a new one (milliseconds). */
#define TX_READ_LAG_PROBE_MS 1000

/**
 * @brief The replica's lag limit (TIANXING_READ_MAX_LAG_MS; 0: none). While the replica's last
 * lag sample exceeds it, reports run on the primary (counted as lag fallbacks). Call before the
 * first request.
 */
void tx_db_read_max_lag(int max_lag_ms);

enum tx_db_pool { TX_DB_PRIMARY, TX_DB_READ };

/**
 * @brief tx_db_run on one pool, without falling back (/readyz checks each database).
 * TX_DB_READ without a read replica configured fails with TX_E_DATABASE_UNAVAILABLE.
 */
int tx_db_run_on(enum tx_db_pool pool, const struct tx_claims *claims, bool read_only,
                 const struct tx_query *queries, size_t n, PGresult **results,
                 struct tx_db_outcome *out);

struct tx_pool_options;
struct tx_pool_stats;

/**
 * @brief Creates the process's pools: the primary's and, when @p read is not NULL, the read
 * replica's. -1 when memory ran out (nothing is left created).
 */
int tx_db_pools_init(const struct tx_pool_options *primary, const struct tx_pool_options *read);

/** @brief Closes both pools. */
void tx_db_pools_shutdown(void);

/** The read replica's use, for /metrics. */
struct tx_db_read_stats {
  uint64_t transactions; /* transactions run on the replica */
  uint64_t fallbacks;    /* reports run on the primary: the replica was not there or lagged */
  uint64_t lag_fallbacks; /* of those, the ones for lag beyond the limit */
  int64_t lag_ms;         /* the last lag sample; -1 before the first or without a limit */
  int max_lag_ms;         /* the limit; 0: none */
};

/**
 * @brief The state of pool @p which into @p s; false (and @p s untouched) when that pool is not
 * configured.
 */
bool tx_db_pool_stats(enum tx_db_pool which, struct tx_pool_stats *s);

/** @brief Counts of the replica's use (zero without one). */
void tx_db_read_stats(struct tx_db_read_stats *s);

/** @brief Maps a SQLSTATE to the problem code a client sees (pure; unit-tested). */
enum tx_code tx_db_map_sqlstate(const char *sqlstate);

#endif
