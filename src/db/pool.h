/**
 * @file db/pool.h
 * @brief A fixed-size pool of libpq connections for request work.
 *
 * A connection is lent to one thread at a time (a PGconn is not thread-safe). Waiting for one is
 * bounded: past the configured timeout the caller gets TX_POOL_BUSY and answers 503 with
 * Retry-After instead of hanging. Broken connections are re-established on their next loan, so the
 * service recovers by itself when PostgreSQL restarts.
 */
#ifndef TX_DB_POOL_H
#define TX_DB_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct tx_sql;

struct tx_conn {
  PGconn *pg;
  /* Statements already prepared on this connection, an open-addressing set of pointers that grows
   * with the code (no fixed limit: a statement forgotten here would be prepared again and fail
   * with 42P05). Emptied when the connection is re-established. */
  const struct tx_sql **prepared;
  size_t nprepared, prepared_cap;
  bool in_use;
};

/** @brief Whether @p sql is prepared on @p c. */
bool tx_conn_is_prepared(const struct tx_conn *c, const struct tx_sql *sql);

/** @brief Records @p sql as prepared on @p c; -1 when memory ran out (then close @p c). */
int tx_conn_mark_prepared(struct tx_conn *c, const struct tx_sql *sql);

/** @brief Closes @p c's connection and forgets its prepared statements (keeps the memory). */
void tx_conn_reset(struct tx_conn *c);

/** @brief Releases everything @p c holds. */
void tx_conn_free(struct tx_conn *c);

enum tx_pool_rc { TX_POOL_OK, TX_POOL_BUSY, TX_POOL_UNAVAILABLE };

struct tx_pool_stats {
  int size, in_use, waiting;
  uint64_t timeouts, connects;
};

/**
 * @brief Creates the process-wide pool. Connections are opened lazily.
 * @param url  libpq connection URI or key=value string
 */
int tx_pool_init(const char *url, int size, int wait_ms, int connect_timeout_s,
                 int statement_timeout_ms);

/** @brief Borrows a connected connection; see enum tx_pool_rc. */
enum tx_pool_rc tx_pool_acquire(struct tx_conn **out);

/** @brief Returns @p c; @p broken closes it so the next loan reconnects. */
void tx_pool_release(struct tx_conn *c, bool broken);

void tx_pool_stats(struct tx_pool_stats *s);
void tx_pool_shutdown(void);

/**
 * @brief Opens a connection outside the pool (migrations, admin commands).
 * @return NULL with a message in @p err on failure.
 */
PGconn *tx_db_connect(const char *url, const char *application_name, int connect_timeout_s,
                      int statement_timeout_ms, char *err, size_t errlen);

#endif
