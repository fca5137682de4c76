/**
 * @file db/pool.c
 * @brief Connection pools: each a mutex and a condition variable around a fixed array of slots.
 */
#include "db/pool.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tx_pool {
  pthread_mutex_t lock;
  /* Two queues, so that a returned connection wakes one waiter who can take it: a writer when
   * one waits and a writer turn is free (writer_turn), else a reader (freed). */
  pthread_cond_t freed, writer_turn;
  struct tx_conn *conns;
  int size, in_use, waiting, wait_ms, connect_timeout, statement_timeout, down_for;
  int writers, writers_in_use, writers_waiting;
  uint64_t timeouts, connects, connect_failures;
  struct timespec down_until; /* CLOCK_MONOTONIC; zero: not down */
  char *url, *application_name;
};

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

struct tx_pool *tx_pool_create(const struct tx_pool_options *o)
{
  struct tx_pool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  pthread_mutex_init(&p->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&p->freed, &attr);
  pthread_cond_init(&p->writer_turn, &attr);
  pthread_condattr_destroy(&attr);
  p->conns = calloc((size_t)o->size, sizeof *p->conns);
  p->url = strdup(o->url);
  p->application_name = strdup(o->application_name);
  if (!p->conns || !p->url || !p->application_name) {
    tx_pool_destroy(p);
    return NULL;
  }
  for (int i = 0; i < o->size; i++)
    p->conns[i].pool = p;
  p->size = o->size;
  p->writers = o->writers > 0 && o->writers < o->size ? o->writers : o->size;
  p->wait_ms = o->wait_ms;
  p->connect_timeout = o->connect_timeout_s;
  p->statement_timeout = o->statement_timeout_ms;
  p->down_for = o->down_for_s;
  return p;
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

static bool before(const struct timespec *a, const struct timespec *b)
{
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Whether @p p is within down_for of a failed connect; with its lock held. */
static bool is_down(const struct tx_pool *p)
{
  if (!p->down_until.tv_sec)
    return false;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return before(&now, &p->down_until);
}

/* A slot @p writer may take now, or NULL; with the lock held. A connected one first: it has its
 * statements prepared. */
static struct tx_conn *free_slot(struct tx_pool *p, bool writer)
{
  if (writer && p->writers_in_use >= p->writers)
    return NULL;
  struct tx_conn *c = NULL;
  for (int i = 0; i < p->size && !c; i++)
    if (!p->conns[i].in_use && p->conns[i].pg)
      c = &p->conns[i];
  for (int i = 0; i < p->size && !c; i++)
    if (!p->conns[i].in_use)
      c = &p->conns[i];
  return c;
}

/* Wakes one waiter who can take a free slot now; with the lock held. */
static void wake(struct tx_pool *p)
{
  if (p->writers_waiting && p->writers_in_use < p->writers)
    pthread_cond_signal(&p->writer_turn);
  else
    pthread_cond_signal(&p->freed);
}

enum tx_pool_rc tx_pool_acquire(struct tx_pool *p, bool writer, struct tx_conn **out)
{
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += p->wait_ms / 1000;
  deadline.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }

  struct tx_conn *c;
  pthread_mutex_lock(&p->lock);
  p->waiting++;
  p->writers_waiting += writer;
  while (!(c = free_slot(p, writer))) {
    /* Woken for a slot someone else took, or a writer woken when readers could use it (two
     * connections came back before the first woken writer ran): pass the slot on, or it idles
     * until the next return while a waiter who could take it sleeps. */
    if (free_slot(p, false))
      wake(p);
    if (pthread_cond_timedwait(writer ? &p->writer_turn : &p->freed, &p->lock, &deadline) ==
        ETIMEDOUT) {
      /* A wake-up can cross the timeout: one last look before giving up. */
      if ((c = free_slot(p, writer)))
        break;
      p->waiting--;
      p->writers_waiting -= writer;
      p->timeouts++;
      pthread_mutex_unlock(&p->lock);
      return TX_POOL_BUSY;
    }
  }
  p->waiting--;
  p->writers_waiting -= writer;
  /* A pool that may be down (down_for) does not try again before its time: see pool.h. The slot
   * stays free for a waiter who may find it connected. */
  if (!c->pg && p->down_for && is_down(p)) {
    wake(p);
    pthread_mutex_unlock(&p->lock);
    return TX_POOL_UNAVAILABLE;
  }
  c->in_use = true;
  c->writer = writer;
  p->in_use++;
  p->writers_in_use += writer;
  pthread_mutex_unlock(&p->lock);

  /* Connecting happens outside the lock: it can take up to connect_timeout. */
  if (c->pg && PQstatus(c->pg) != CONNECTION_OK)
    tx_conn_reset(c);
  if (!c->pg) {
    char err[512];
    c->pg = tx_db_connect(p->url, p->application_name, p->connect_timeout, p->statement_timeout,
                          err, sizeof err);
    if (!c->pg) {
      tx_log(TX_LOG_WARN, "database connection failed (%s): %s", p->application_name, err);
      pthread_mutex_lock(&p->lock);
      p->connect_failures++;
      if (p->down_for) {
        clock_gettime(CLOCK_MONOTONIC, &p->down_until);
        p->down_until.tv_sec += p->down_for;
      }
      pthread_mutex_unlock(&p->lock);
      tx_pool_release(c, true);
      return TX_POOL_UNAVAILABLE;
    }
    pthread_mutex_lock(&p->lock);
    p->connects++;
    p->down_until = (struct timespec){0, 0};
    pthread_mutex_unlock(&p->lock);
  }
  *out = c;
  return TX_POOL_OK;
}

void tx_pool_release(struct tx_conn *c, bool broken)
{
  struct tx_pool *p = c->pool;
  if (broken)
    tx_conn_reset(c);
  pthread_mutex_lock(&p->lock);
  c->in_use = false;
  p->in_use--;
  p->writers_in_use -= c->writer;
  c->writer = false;
  wake(p);
  pthread_mutex_unlock(&p->lock);
}

void tx_pool_stats(struct tx_pool *p, struct tx_pool_stats *s)
{
  pthread_mutex_lock(&p->lock);
  s->size = p->size;
  s->in_use = p->in_use;
  s->waiting = p->waiting;
  s->writers = p->writers;
  s->writers_in_use = p->writers_in_use;
  s->writers_waiting = p->writers_waiting;
  s->timeouts = p->timeouts;
  s->connects = p->connects;
  s->connect_failures = p->connect_failures;
  s->down = p->down_for && is_down(p);
  pthread_mutex_unlock(&p->lock);
}

void tx_pool_destroy(struct tx_pool *p)
{
  if (!p)
    return;
  pthread_mutex_lock(&p->lock);
  for (int i = 0; p->conns && i < p->size; i++)
    if (!p->conns[i].in_use)
      tx_conn_free(&p->conns[i]);
  pthread_mutex_unlock(&p->lock);
  pthread_cond_destroy(&p->freed);
  pthread_cond_destroy(&p->writer_turn);
  pthread_mutex_destroy(&p->lock);
  free(p->conns);
  free(p->url);
  free(p->application_name);
  free(p);
}
