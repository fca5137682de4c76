/**
 * @file db/pool.h
 * @brief Fixed-size pools of libpq connections for request work.
 *
 * A connection is lent to one thread at a time (a PGconn is not thread-safe). Waiting for one is
 * bounded: past the configured timeout the caller gets TX_POOL_BUSY and answers 503 with
 * Retry-After instead of hanging. Broken connections are re-established on their next loan, so the
 * service recovers by itself when PostgreSQL restarts.
 *
 * A process has one pool per database it sends requests to (db/tx.h: the primary, and optionally
 * a read replica for reports); each is an instance of this type with its own size, URL and
 * application_name.
 *
 * Writers are limited apart from the size (tx_pool_options.writers): every audited write links its
 * entries into the audit chain at commit under one lock, which PostgreSQL releases only after the
 * commit's WAL flush. More writers at once than that lock lets through only queue inside the
 * database, each holding a connection and a backend, while reads could have used them. So a
 * writer waits here for its turn, without a connection, and reads keep the whole pool.
 */
#ifndef TX_DB_POOL_H
#define TX_DB_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct tx_sql;
struct tx_pool;

struct tx_conn {
  PGconn *pg;
  /* Statements already prepared on this connection, an open-addressing set of pointers that grows
   * with the code (no fixed limit: a statement forgotten here would be prepared again and fail
   * with 42P05). Emptied when the connection is re-established. */
  const struct tx_sql **prepared;
  size_t nprepared, prepared_cap;
  bool in_use;
  bool writer;          /* lent to a writer: counts against the pool's writers */
  struct tx_pool *pool; /* the pool that lends it */
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

struct tx_pool_options {
  const char *url;              /* libpq connection URI or key=value string */
  const char *application_name; /* what pg_stat_activity shows, e.g. "tianxingd" */
  int size, wait_ms, connect_timeout_s, statement_timeout_ms;
  /* 0: every loan that needs a connection tries to open one (the primary: without it nothing
   * works, so each request must try). N: after a failed connect, loans that need a new connection
   * answer TX_POOL_UNAVAILABLE at once for N seconds; for a pool whose callers have somewhere else
   * to go (the read replica), so that a replica that is gone costs one connect timeout per N
   * seconds instead of one per request. */
  int down_for_s;
  /* Connections lent to writers at once, at most (see above); 0, or more than size: size. */
  int writers;
};

struct tx_pool_stats {
  int size, in_use, waiting;
  int writers, writers_in_use, writers_waiting; /* the writers' limit, and its use; of waiting */
  uint64_t timeouts, connects, connect_failures;
  bool down; /* within down_for_s of a failed connect */
};

/** @brief Creates a pool; connections are opened lazily. NULL when memory ran out. */
struct tx_pool *tx_pool_create(const struct tx_pool_options *o);

/**
 * @brief Borrows a connected connection from @p p; see enum tx_pool_rc. A @p writer also waits
 * for one of the pool's writer turns (tx_pool_options.writers), within the same timeout.
 */
enum tx_pool_rc tx_pool_acquire(struct tx_pool *p, bool writer, struct tx_conn **out);

/** @brief Returns @p c to its pool; @p broken closes it so the next loan reconnects. */
void tx_pool_release(struct tx_conn *c, bool broken);

void tx_pool_stats(struct tx_pool *p, struct tx_pool_stats *s);

/** @brief Closes the idle connections and frees @p p (NULL is fine). No loan may be out. */
void tx_pool_destroy(struct tx_pool *p);

/**
 * @brief Opens a connection outside the pool (migrations, admin commands).
 * @return NULL with a message in @p err on failure.
 */
PGconn *tx_db_connect(const char *url, const char *application_name, int connect_timeout_s,
                      int statement_timeout_ms, char *err, size_t errlen);

#endif
