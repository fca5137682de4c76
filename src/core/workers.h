/**
 * @file core/workers.h
 * @brief The request workers: a fixed set of threads that run handlers, fed by a FIFO queue.
 *
 * Handlers call libpq synchronously. Run on a libmicrohttpd network thread, one waiting statement
 * stalled every connection that thread served (issue 14). The network threads therefore only
 * read requests and write answers; a request whose handler may wait is suspended, queued here,
 * run by a worker and resumed with its answer (core/server.c). A worker that waits for the
 * database holds only its own request.
 */
#ifndef TX_CORE_WORKERS_H
#define TX_CORE_WORKERS_H

#include <stdint.h>
#include <stdio.h>

#include <time.h>

/** One queued piece of work; embed it in what it belongs to. Exactly one of run and shed is
 * called, once, on a thread of the workers' own. */
struct tx_work {
  struct tx_work *next;
  struct timespec queued;
  void (*run)(struct tx_work *w);
  /* Called instead of run when the work waited longer than the queue's limit. */
  void (*shed)(struct tx_work *w);
};

struct tx_workers_stats {
  int threads, busy, queued;
  uint64_t run_total, shed_total;
};

/**
 * @brief Starts @p n worker threads, and a shedder that takes out of the queue what has waited
 * longer than @p max_wait_ms (overload: the answer is a quick refusal, not an ever longer wait).
 * @return 0, or -1 when they could not start (nothing left running)
 */
int tx_workers_start(int n, int max_wait_ms);

/** @brief Queues @p w (run later by a worker); -1 when the workers are stopping or stopped. */
int tx_workers_submit(struct tx_work *w);

/** @brief Stops taking work, lets the workers finish what is queued, joins them. */
void tx_workers_stop(void);

void tx_workers_stats(struct tx_workers_stats *s);

/** @brief The workers' lines of /metrics (a tx_metrics_add_source renderer). */
void tx_workers_metrics_render(FILE *f);

#endif
