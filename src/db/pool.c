/**
 * @file db/pool.c
 * @brief Connection pool: a mutex and a condition variable around a fixed array of slots.
 */
#include "db/pool.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
  pthread_mutex_t lock;
  pthread_cond_t freed;
  struct tx_conn *conns;
  int size, in_use, waiting, wait_ms, connect_timeout, statement_timeout;
  uint64_t timeouts, connects;
  char *url;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

PGconn *tx_db_connect(const char *url, const char *application_name, int connect_timeout_s,
                      int statement_timeout_ms, char *err, size_t errlen)
{
  char timeout[16], options[128];
  snprintf(timeout, sizeof timeout, "%d", connect_timeout_s);
  /* Server-side limits travel with the connection so that no code path can forget them. */
  snprintf(options, sizeof options, "-c statement_timeout=%d -c idle_in_transaction_session_timeout=%d",
           statement_timeout_ms, statement_timeout_ms * 2);
  /* With expand_dbname the URL's own parameters apply first; the ones after it override. */
  const char *keys[] = {"dbname", "application_name", "connect_timeout", "options", "client_encoding",
                        NULL};
  const char *vals[] = {url, application_name, timeout, options, "UTF8", NULL};
  PGconn *pg = PQconnectdbParams(keys, vals, 1);
  if (!pg) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (PQstatus(pg) != CONNECTION_OK) {
    snprintf(err, errlen, "%s", PQerrorMessage(pg));
    /* libpq messages end with a newline; keep log lines single. */
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
      err[--n] = '\0';
    PQfinish(pg);
    return NULL;
  }
  return pg;
}

int tx_pool_init(const char *url, int size, int wait_ms, int connect_timeout_s,
                 int statement_timeout_ms)
{
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&pool.freed, &attr);
  pthread_condattr_destroy(&attr);
  pool.conns = calloc((size_t)size, sizeof *pool.conns);
  pool.url = strdup(url);
  if (!pool.conns || !pool.url)
    return -1;
  pool.size = size;
  pool.wait_ms = wait_ms;
  pool.connect_timeout = connect_timeout_s;
  pool.statement_timeout = statement_timeout_ms;
  return 0;
}

/* Slot of @p sql in a set of @p cap (a power of two) slots: where it is, or the empty one where
 * it belongs. Pointers are 8-aligned, so the low bits carry no information. */
static size_t slot_of(const struct tx_sql **set, size_t cap, const struct tx_sql *sql)
{
  size_t i = (size_t)(((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ull) & (cap - 1);
  while (set[i] && set[i] != sql)
    i = (i + 1) & (cap - 1);
  return i;
}

bool tx_conn_is_prepared(const struct tx_conn *c, const struct tx_sql *sql)
{
  return c->prepared_cap && c->prepared[slot_of(c->prepared, c->prepared_cap, sql)] == sql;
}

int tx_conn_mark_prepared(struct tx_conn *c, const struct tx_sql *sql)
{
  if (tx_conn_is_prepared(c, sql))
    return 0;
  /* At most half full, so that probes stay short and always end at an empty slot. */
  if (2 * (c->nprepared + 1) > c->prepared_cap) {
    size_t cap = c->prepared_cap ? 2 * c->prepared_cap : 256;
    const struct tx_sql **set = calloc(cap, sizeof *set);
    if (!set)
      return -1;
    for (size_t i = 0; i < c->prepared_cap; i++)
      if (c->prepared[i])
        set[slot_of(set, cap, c->prepared[i])] = c->prepared[i];
    free(c->prepared);
    c->prepared = set;
    c->prepared_cap = cap;
  }
  c->prepared[slot_of(c->prepared, c->prepared_cap, sql)] = sql;
  c->nprepared++;
  return 0;
}

void tx_conn_reset(struct tx_conn *c)
{
  if (c->pg)
    PQfinish(c->pg);
  c->pg = NULL;
  if (c->prepared_cap)
    memset(c->prepared, 0, c->prepared_cap * sizeof *c->prepared);
  c->nprepared = 0;
}

void tx_conn_free(struct tx_conn *c)
{
  tx_conn_reset(c);
  free(c->prepared);
  c->prepared = NULL;
  c->prepared_cap = 0;
}

enum tx_pool_rc tx_pool_acquire(struct tx_conn **out)
{
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += pool.wait_ms / 1000;
  deadline.tv_nsec += (long)(pool.wait_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }

  struct tx_conn *c = NULL;
  pthread_mutex_lock(&pool.lock);
  pool.waiting++;
  for (;;) {
    /* Prefer a slot that is already connected: it has its statements prepared. */
    for (int i = 0; i < pool.size && !c; i++)
      if (!pool.conns[i].in_use && pool.conns[i].pg)
        c = &pool.conns[i];
    for (int i = 0; i < pool.size && !c; i++)
      if (!pool.conns[i].in_use)
        c = &pool.conns[i];
    if (c)
      break;
    if (pthread_cond_timedwait(&pool.freed, &pool.lock, &deadline) == ETIMEDOUT) {
      pool.waiting--;
      pool.timeouts++;
      pthread_mutex_unlock(&pool.lock);
      return TX_POOL_BUSY;
    }
  }
  pool.waiting--;
  c->in_use = true;
  pool.in_use++;
  pthread_mutex_unlock(&pool.lock);

  /* Connecting happens outside the lock: it can take up to connect_timeout. */
  if (c->pg && PQstatus(c->pg) != CONNECTION_OK)
    tx_conn_reset(c);
  if (!c->pg) {
    char err[512];
    c->pg = tx_db_connect(pool.url, "tianxingd", pool.connect_timeout, pool.statement_timeout, err,
                          sizeof err);
    if (!c->pg) {
      tx_log(TX_LOG_WARN, "database connection failed: %s", err);
      tx_pool_release(c, true);
      return TX_POOL_UNAVAILABLE;
    }
    __atomic_add_fetch(&pool.connects, 1, __ATOMIC_RELAXED);
  }
  *out = c;
  return TX_POOL_OK;
}

void tx_pool_release(struct tx_conn *c, bool broken)
{
  if (broken)
    tx_conn_reset(c);
  pthread_mutex_lock(&pool.lock);
  c->in_use = false;
  pool.in_use--;
  pthread_cond_signal(&pool.freed);
  pthread_mutex_unlock(&pool.lock);
}

void tx_pool_stats(struct tx_pool_stats *s)
{
  pthread_mutex_lock(&pool.lock);
  s->size = pool.size;
  s->in_use = pool.in_use;
  s->waiting = pool.waiting;
  s->timeouts = pool.timeouts;
  s->connects = __atomic_load_n(&pool.connects, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&pool.lock);
}

void tx_pool_shutdown(void)
{
  pthread_mutex_lock(&pool.lock);
  for (int i = 0; i < pool.size; i++)
    if (!pool.conns[i].in_use)
      tx_conn_free(&pool.conns[i]);
  pthread_mutex_unlock(&pool.lock);
  free(pool.conns);
  free(pool.url);
  pool.conns = NULL;
  pool.url = NULL;
  pool.size = 0;
}
