/**
 * @file jobs/jobs.h
 * @brief The scheduler inside `tianxingd serve`: work that runs at a time, not on a request.
 *
 * Jobs live in the database (sql/migrations/0013_jobs.sql): one-off work enqueued by SQL
 * (`jobs.enqueue(kind, due_at, payload, max_attempts, dedupe_key)`, e.g. a deadline) and periodic
 * schedules (`jobs.schedule_set(name, kind, interval | calendar rule, ...)`, e.g. a monthly
 * cycle). Worker threads, each on a database connection of its own (not the request pool's), as
 * the runtime role with the claim role `system`, claim one due job at a time with
 * FOR UPDATE SKIP LOCKED and run it; any number of instances against one database run each job
 * once.
 *
 * A module adds a kind by registering it before the scheduler starts (main.c calls the module's
 * register function):
 *
 *   static const struct tx_job_kind k = {
 *     .name = "cases.deadline",                          // the kind in jobs.enqueue()
 *     .sql = "SELECT cases.deadline_passed($1::jsonb)",  // $1 = the payload
 *     .max_attempts = 5, .lease_s = 60,                  // 0: the defaults below
 *   };
 *   tx_jobs_register(&k);
 *
 * The statement (or the C handler) runs in the job's own transaction, between jobs.begin_run()
 * and jobs.finish(), with the claims of the system identity (tx.roles = 'system', tx.request_id =
 * 'job:<id>', no tx.user_id: the audit trail shows the job as the actor): its work commits together with "done", so a job's effect in the database
 * happens once even when an instance dies half-way (the job is then run again from scratch).
 * A failure rolls the work back and the job is due again after an exponential backoff
 * (backoff_s * 2^(attempt-1), at most backoff_max_s), or dead after max_attempts failures
 * (per job when enqueued with one, else the kind's).
 */
#ifndef TX_JOBS_JOBS_H
#define TX_JOBS_JOBS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define TX_JOB_DEFAULT_MAX_ATTEMPTS 5
#define TX_JOB_DEFAULT_LEASE_S 300
#define TX_JOB_DEFAULT_BACKOFF_S 30
#define TX_JOB_DEFAULT_BACKOFF_MAX_S 3600

/** @brief What a C handler gets: the open transaction's connection, the job and its payload. */
struct tx_job_ctx {
  PGconn *pg;
  const char *job_id;
  const char *kind;
  const char *payload; /* JSON object text */
  int attempt;
  char error[512]; /* a handler that fails says why here (kept as the job's last_error) */
  /* What run() hands to after() (owned by the handlers: after() releases it). */
  void *state;
  /* For after(): whether the run's transaction committed (false: it rolled back or its outcome
   * is unknown, and nothing run() did in the database holds). */
  bool committed;
};

struct tx_job_kind {
  const char *name; /* lower-case dotted, e.g. "auth.refresh_tokens.purge" */
  /* Either one statement ($1 = the payload, JSON object text; the job id is in the claims as
   * tx.request_id = 'job:<id>')... */
  const char *sql;
  /* ...or a C handler working on ctx->pg inside the transaction; 0 = success. */
  int (*run)(struct tx_job_ctx *ctx);
  /* Optional, with run: called once run() returned 0, after its transaction ended, with no
   * transaction open, so that slow work outside the database (a webhook's HTTP call) holds no
   * row lock, no snapshot and no open transaction while it waits. It records what it learnt
   * with tx_jobs_system_call() (short transactions of its own) and releases ctx->state. Its
   * failures are its own business: the job is already done (run() must leave a way to find
   * unfinished work again, e.g. a lease that runs out). */
  void (*after)(struct tx_job_ctx *ctx);
  int max_attempts;  /* 0: TX_JOB_DEFAULT_MAX_ATTEMPTS */
  int lease_s;       /* 0: TX_JOB_DEFAULT_LEASE_S; also the statement timeout of the run */
  int backoff_s;     /* 0: TX_JOB_DEFAULT_BACKOFF_S */
  int backoff_max_s; /* 0: TX_JOB_DEFAULT_BACKOFF_MAX_S */
};

struct tx_jobs_options {
  const char *database_url; /* the runtime role */
  int workers;              /* threads, each with its own connection */
  int poll_ms;              /* an idle worker looks for due work this often */
  int connect_timeout_s;
  int statement_timeout_ms; /* of the claims and bookkeeping; a run gets its kind's lease */
  const int *stop_flag;     /* read atomically; non-zero: stop claiming (SIGTERM) */
};

/**
 * @brief Adds a kind (the struct must outlive the scheduler). Call before tx_jobs_start().
 * @return 0; -1 when the name is malformed or taken, or the kind has neither or both of sql/run.
 */
int tx_jobs_register(const struct tx_job_kind *kind);

/** @brief The registered kind named @p name, or NULL. */
const struct tx_job_kind *tx_jobs_kind(const char *name);

/** @brief Number of registered kinds. */
size_t tx_jobs_kind_count(void);

/**
 * @brief From an after() hook: runs @p sql (parameters as text) in a short transaction of its
 * own with the system claims of the job (tx.request_id 'job:<id>'), and commits.
 * @param[out] out_text when non-NULL, the first column of the first row (malloc'd; NULL when
 *             the result is empty or SQL NULL)
 * @return 0, or -1 with ctx->error saying why (rolled back)
 */
int tx_jobs_system_call(struct tx_job_ctx *ctx, const char *sql, int nparams,
                        const char *const *params, char **out_text);

/** @brief Starts the worker threads. Connections open (and reopen) lazily. */
int tx_jobs_start(const struct tx_jobs_options *opt);

/**
 * @brief Stops: no new claims; running jobs get until @p grace_s seconds after the stop flag was
 * first seen (or now), then are cancelled and their claims released (the attempt does not count).
 */
void tx_jobs_stop(int grace_s);

/** @brief Appends the jobs metrics (Prometheus text) to @p f; a tx_metrics extra source. */
void tx_jobs_metrics_render(FILE *f);

/** @brief Unregisters every kind (tests). */
void tx_jobs_reset(void);

#endif
