/**
 * @file modules/jobs/housekeeping.c
 * @brief Job kinds for data that expires and that nothing else removes. Each is one SQL function
 * (sql/code/jobs) that deletes at most a batch per run, so that a backlog never holds the audit
 * chain's lock for long; the hourly schedule works a backlog off.
 */
#include "jobs/jobs.h"
#include "modules/jobs/jobs.h"

/* Idempotency-Key records are answered for 24 hours (0009), then kept forever unless the same
 * employee reuses the same key. */
static const struct tx_job_kind idempotency_purge = {
  .name = "idempotency.purge",
  .sql = "SELECT jobs.idempotency_purge($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 120,
};

/* Refresh-token families whose every token expired more than a day ago: nothing in them can be
 * exchanged, and revoking them would change nothing. */
static const struct tx_job_kind refresh_tokens_purge = {
  .name = "auth.refresh_tokens.purge",
  .sql = "SELECT auth.refresh_tokens_purge($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 120,
};

/* Finished jobs and their runs after 30 days (dead ones stay for an operator). */
static const struct tx_job_kind jobs_purge = {
  .name = "jobs.purge",
  .sql = "SELECT jobs.purge($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 120,
};

int tx_jobs_housekeeping_register(void)
{
  return tx_jobs_register(&idempotency_purge) || tx_jobs_register(&refresh_tokens_purge) ||
                 tx_jobs_register(&jobs_purge)
             ? -1
             : 0;
}
