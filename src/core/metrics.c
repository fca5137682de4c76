/**
 * @file core/metrics.c
 * @brief Lock-free counters: the route table is fixed once the modules are registered, so every
 * series is a slot in an array sized then, and recording a request is a handful of relaxed atomic
 * adds on the hot path.
 */
#include "core/metrics.h"
#include "core/routes.h"
#include "db/pool.h"
#include "db/tx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int statuses[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413,
                               414, 415, 422, 428, 429, 431, 500, 501, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0])
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5, 10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* The series of one route. */
struct series {
  uint64_t requests[NSTATUS + 1]; /* one more status: any other */
  uint64_t hist[NBUCKETS + 1];
  uint64_t sum_us;
};
/* One per route of the merged table, and one more for requests that matched no route; sized at
 * start-up from the table, so that every route has its own series however many there are. */
static struct series *series;
static size_t nroutes;

int tx_metrics_init(size_t routes)
{
  struct series *s = calloc(routes + 1, sizeof *s);
  if (!s)
    return -1;
  free(series);
  series = s;
  nroutes = routes;
  return 0;
}

void tx_metrics_shutdown(void)
{
  free(series);
  series = NULL;
  nroutes = 0;
}

/* Other layers' series (registered before the server starts, read-only afterwards). */
#define MAX_SOURCES 8
static void (*sources[MAX_SOURCES])(FILE *f);
static size_t nsources;

int tx_metrics_add_source(void (*render)(FILE *f))
{
  if (nsources == MAX_SOURCES)
    return -1;
  sources[nsources++] = render;
  return 0;
}

void tx_metrics_observe(size_t route_index, int status, double seconds)
{
  if (!series)
    return;
  if (route_index > nroutes)
    route_index = nroutes; /* the "unmatched" series */
  struct series *sr = &series[route_index];
  size_t s = 0;
  while (s < NSTATUS && statuses[s] != status)
    s++;
  __atomic_add_fetch(&sr->requests[s], 1, __ATOMIC_RELAXED);
  size_t b = 0;
  while (b < NBUCKETS && seconds > buckets[b])
    b++;
  __atomic_add_fetch(&sr->hist[b], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&sr->sum_us, (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
}

static const char *route_label(size_t i, char *buf, size_t len)
{
  if (i >= nroutes || i >= tx_routes_count)
    return "unmatched";
  snprintf(buf, len, "%s %s", tx_routes[i].method, tx_routes[i].path);
  return buf;
}

char *tx_metrics_render(size_t *len)
{
  char *out = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&out, &size);
  if (!f)
    return NULL;
  char label[256];
  /* Before tx_metrics_init there is nothing counted: no series to render. */
  size_t nseries = series ? nroutes + 1 : 0;

  fputs("# HELP tianxing_http_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE tianxing_http_requests_total counter\n", f);
  for (size_t r = 0; r < nseries; r++) {
    for (size_t s = 0; s <= NSTATUS; s++) {
      uint64_t n = __atomic_load_n(&series[r].requests[s], __ATOMIC_RELAXED);
      if (!n)
        continue;
      char status[8];
      if (s < NSTATUS)
        snprintf(status, sizeof status, "%d", statuses[s]);
      else
        strcpy(status, "other");
      fprintf(f, "tianxing_http_requests_total{route=\"%s\",status=\"%s\"} %lu\n",
              route_label(r, label, sizeof label), status, (unsigned long)n);
    }
  }

  fputs("# HELP tianxing_http_request_duration_seconds Time from request start to answer.\n"
        "# TYPE tianxing_http_request_duration_seconds histogram\n", f);
  for (size_t r = 0; r < nseries; r++) {
    uint64_t cum = 0;
    const char *lbl = route_label(r, label, sizeof label);
    uint64_t total = 0;
    for (size_t b = 0; b <= NBUCKETS; b++)
      total += __atomic_load_n(&series[r].hist[b], __ATOMIC_RELAXED);
    if (!total)
      continue;
    for (size_t b = 0; b <= NBUCKETS; b++) {
      cum += __atomic_load_n(&series[r].hist[b], __ATOMIC_RELAXED);
      if (b < NBUCKETS)
        fprintf(f, "tianxing_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n", lbl,
                buckets[b], (unsigned long)cum);
      else
        fprintf(f, "tianxing_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n", lbl,
                (unsigned long)cum);
    }
    fprintf(f, "tianxing_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", lbl,
            (double)__atomic_load_n(&series[r].sum_us, __ATOMIC_RELAXED) / 1e6);
    fprintf(f, "tianxing_http_request_duration_seconds_count{route=\"%s\"} %lu\n", lbl,
            (unsigned long)cum);
  }

  struct tx_pool_stats ps = {0};
  tx_db_pool_stats(TX_DB_PRIMARY, &ps);
  fprintf(f,
          "# HELP tianxing_db_pool_size Database connections the pool may hold.\n"
          "# TYPE tianxing_db_pool_size gauge\ntianxing_db_pool_size %d\n"
          "# HELP tianxing_db_pool_in_use Database connections lent to requests now.\n"
          "# TYPE tianxing_db_pool_in_use gauge\ntianxing_db_pool_in_use %d\n"
          "# HELP tianxing_db_pool_waiting Requests waiting for a database connection now.\n"
          "# TYPE tianxing_db_pool_waiting gauge\ntianxing_db_pool_waiting %d\n"
          "# HELP tianxing_db_pool_timeouts_total Waits for a connection that timed out (503).\n"
          "# TYPE tianxing_db_pool_timeouts_total counter\ntianxing_db_pool_timeouts_total %lu\n"
          "# HELP tianxing_db_reconnects_total Connections (re)established by the pool.\n"
          "# TYPE tianxing_db_reconnects_total counter\ntianxing_db_reconnects_total %lu\n"
          "# HELP tianxing_db_pool_writers Connections the pool lends to writers at once, at most "
          "(TIANXING_DB_WRITERS).\n"
          "# TYPE tianxing_db_pool_writers gauge\ntianxing_db_pool_writers %d\n"
          "# HELP tianxing_db_pool_writers_in_use Database connections lent to writers now.\n"
          "# TYPE tianxing_db_pool_writers_in_use gauge\ntianxing_db_pool_writers_in_use %d\n"
          "# HELP tianxing_db_pool_writers_waiting Writers waiting for their turn or a connection "
          "now (of tianxing_db_pool_waiting).\n"
          "# TYPE tianxing_db_pool_writers_waiting gauge\ntianxing_db_pool_writers_waiting %d\n",
          ps.size, ps.in_use, ps.waiting, (unsigned long)ps.timeouts, (unsigned long)ps.connects,
          ps.writers, ps.writers_in_use, ps.writers_waiting);
  /* The read replica's pool (TIANXING_READ_DATABASE_URL), only when there is one. */
  struct tx_pool_stats rs;
  if (tx_db_pool_stats(TX_DB_READ, &rs)) {
    struct tx_db_read_stats use;
    tx_db_read_stats(&use);
    fprintf(f,
            "# HELP tianxing_db_read_pool_size Read replica connections the pool may hold.\n"
            "# TYPE tianxing_db_read_pool_size gauge\ntianxing_db_read_pool_size %d\n"
            "# HELP tianxing_db_read_pool_in_use Read replica connections lent to reports now.\n"
            "# TYPE tianxing_db_read_pool_in_use gauge\ntianxing_db_read_pool_in_use %d\n"
            "# HELP tianxing_db_read_pool_waiting Reports waiting for a read replica connection now.\n"
            "# TYPE tianxing_db_read_pool_waiting gauge\ntianxing_db_read_pool_waiting %d\n"
            "# HELP tianxing_db_read_pool_timeouts_total Waits for a read replica connection that "
            "timed out (503).\n"
            "# TYPE tianxing_db_read_pool_timeouts_total counter\n"
            "tianxing_db_read_pool_timeouts_total %lu\n"
            "# HELP tianxing_db_read_reconnects_total Read replica connections (re)established.\n"
            "# TYPE tianxing_db_read_reconnects_total counter\ntianxing_db_read_reconnects_total %lu\n"
            "# HELP tianxing_db_read_connect_failures_total Failed connects to the read replica.\n"
            "# TYPE tianxing_db_read_connect_failures_total counter\n"
            "tianxing_db_read_connect_failures_total %lu\n"
            "# HELP tianxing_db_read_up 0 for a while after a failed connect to the read replica "
            "(reports go to the primary), else 1.\n"
            "# TYPE tianxing_db_read_up gauge\ntianxing_db_read_up %d\n"
            "# HELP tianxing_db_read_transactions_total Report transactions run on the read replica.\n"
            "# TYPE tianxing_db_read_transactions_total counter\n"
            "tianxing_db_read_transactions_total %lu\n"
            "# HELP tianxing_db_read_fallbacks_total Report transactions run on the primary because "
            "the read replica could not be reached or lagged too far.\n"
            "# TYPE tianxing_db_read_fallbacks_total counter\ntianxing_db_read_fallbacks_total %lu\n"
            "# HELP tianxing_db_read_lag_fallbacks_total Of those, the ones for a lag beyond "
            "TIANXING_READ_MAX_LAG_MS.\n"
            "# TYPE tianxing_db_read_lag_fallbacks_total counter\n"
            "tianxing_db_read_lag_fallbacks_total %lu\n",
            rs.size, rs.in_use, rs.waiting, (unsigned long)rs.timeouts, (unsigned long)rs.connects,
            (unsigned long)rs.connect_failures, !rs.down, (unsigned long)use.transactions,
            (unsigned long)use.fallbacks, (unsigned long)use.lag_fallbacks);
    /* Only once sampled: a made-up 0 would read as "up to date". */
    if (use.lag_ms >= 0)
      fprintf(f,
              "# HELP tianxing_db_read_lag_seconds The read replica's lag at its last sample (at "
              "most a second old while reports run).\n"
              "# TYPE tianxing_db_read_lag_seconds gauge\ntianxing_db_read_lag_seconds %.3f\n",
              (double)use.lag_ms / 1000.0);
  }
  for (size_t i = 0; i < nsources; i++)
    sources[i](f);
  fclose(f);
  *len = size;
  return out;
}
