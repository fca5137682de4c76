/**
 * @file core/workers.c
 * @brief The request workers (see core/workers.h): a mutex, a condition variable and an intrusive
 * FIFO list, so queueing never allocates and never fails for lack of room (each connection has at
 * most one request queued, so the list is bounded by TIANXING_MAX_CONNECTIONS).
 */
#include "core/workers.h"
#include "base/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static struct {
  pthread_mutex_t lock;
  pthread_cond_t work;
  struct tx_work *head, *tail;
  pthread_cond_t stop;
  pthread_t *threads, shedder;
  int nthreads, busy, queued, max_wait_ms;
  uint64_t run_total, shed_total;
  bool accepting, shedding;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER};

#define SHED_TICK_MS 50

static long long ms_since(const struct timespec *t, const struct timespec *now)
{
  return (long long)(now->tv_sec - t->tv_sec) * 1000 + (now->tv_nsec - t->tv_nsec) / 1000000;
}

/* The queue is in arrival order, so what waited too long is at its head. */
static void *shedder(void *arg)
{
  (void)arg;
  pthread_mutex_lock(&q.lock);
  while (q.shedding) {
    struct timespec now, until;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct tx_work *late = NULL, **tail = &late;
    while (q.head && ms_since(&q.head->queued, &now) > q.max_wait_ms) {
      struct tx_work *w = q.head;
      q.head = w->next;
      if (!q.head)
        q.tail = NULL;
      q.queued--;
      q.shed_total++;
      w->next = NULL;
      *tail = w;
      tail = &w->next;
    }
    if (late) {
      pthread_mutex_unlock(&q.lock);
      while (late) {
        struct tx_work *w = late;
        late = w->next;
        w->shed(w); /* may free w */
      }
      pthread_mutex_lock(&q.lock);
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += SHED_TICK_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&q.stop, &q.lock, &until);
  }
  pthread_mutex_unlock(&q.lock);
  return NULL;
}

static void *worker(void *arg)
{
  (void)arg;
  pthread_mutex_lock(&q.lock);
  for (;;) {
    while (!q.head && q.accepting)
      pthread_cond_wait(&q.work, &q.lock);
    struct tx_work *w = q.head;
    if (!w)
      break; /* stopping, and nothing left */
    q.head = w->next;
    if (!q.head)
      q.tail = NULL;
    q.queued--;
    q.busy++;
    pthread_mutex_unlock(&q.lock);
    w->next = NULL;
    w->run(w); /* may free w: not touched after */
    pthread_mutex_lock(&q.lock);
    q.busy--;
    q.run_total++;
  }
  pthread_mutex_unlock(&q.lock);
  return NULL;
}

int tx_workers_start(int n, int max_wait_ms)
{
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&q.stop, &attr);
  pthread_condattr_destroy(&attr);
  q.threads = calloc((size_t)n, sizeof *q.threads);
  if (!q.threads)
    return -1;
  q.accepting = true;
  q.max_wait_ms = max_wait_ms;
  q.shedding = true;
  if (pthread_create(&q.shedder, NULL, shedder, NULL)) {
    q.shedding = false;
    tx_workers_stop();
    return -1;
  }
  for (int i = 0; i < n; i++) {
    if (pthread_create(&q.threads[i], NULL, worker, NULL)) {
      tx_log(TX_LOG_ERROR, "cannot start request worker %d of %d", i + 1, n);
      tx_workers_stop();
      return -1;
    }
    q.nthreads++;
  }
  return 0;
}

int tx_workers_submit(struct tx_work *w)
{
  int rc = -1;
  w->next = NULL;
  clock_gettime(CLOCK_MONOTONIC, &w->queued);
  pthread_mutex_lock(&q.lock);
  if (q.accepting) {
    if (q.tail)
      q.tail->next = w;
    else
      q.head = w;
    q.tail = w;
    q.queued++;
    pthread_cond_signal(&q.work);
    rc = 0;
  }
  pthread_mutex_unlock(&q.lock);
  return rc;
}

void tx_workers_stop(void)
{
  pthread_mutex_lock(&q.lock);
  bool shedding = q.shedding;
  q.accepting = false;
  q.shedding = false;
  pthread_cond_broadcast(&q.work);
  pthread_cond_signal(&q.stop);
  pthread_mutex_unlock(&q.lock);
  if (shedding)
    pthread_join(q.shedder, NULL);
  for (int i = 0; i < q.nthreads; i++)
    pthread_join(q.threads[i], NULL);
  free(q.threads);
  q.threads = NULL;
  q.nthreads = 0;
}

void tx_workers_stats(struct tx_workers_stats *s)
{
  pthread_mutex_lock(&q.lock);
  s->threads = q.nthreads;
  s->busy = q.busy;
  s->queued = q.queued;
  s->run_total = q.run_total;
  s->shed_total = q.shed_total;
  pthread_mutex_unlock(&q.lock);
}

void tx_workers_metrics_render(FILE *f)
{
  struct tx_workers_stats st;
  tx_workers_stats(&st);
  fprintf(f,
          "# HELP tianxing_request_workers Threads that run request handlers.\n"
          "# TYPE tianxing_request_workers gauge\ntianxing_request_workers %d\n"
          "# HELP tianxing_request_workers_busy Request workers running a handler now.\n"
          "# TYPE tianxing_request_workers_busy gauge\ntianxing_request_workers_busy %d\n"
          "# HELP tianxing_request_queue_length Requests waiting for a request worker now.\n"
          "# TYPE tianxing_request_queue_length gauge\ntianxing_request_queue_length %d\n"
          "# HELP tianxing_request_workers_runs_total Requests the workers have run.\n"
          "# TYPE tianxing_request_workers_runs_total counter\n"
          "tianxing_request_workers_runs_total %lu\n"
          "# HELP tianxing_request_queue_shed_total Requests answered 503 after waiting too long "
          "for a worker.\n"
          "# TYPE tianxing_request_queue_shed_total counter\ntianxing_request_queue_shed_total %lu\n",
          st.threads, st.busy, st.queued, (unsigned long)st.run_total,
          (unsigned long)st.shed_total);
}
