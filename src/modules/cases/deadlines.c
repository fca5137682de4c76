/**
 * @file modules/cases/deadlines.c
 * @brief Module P, part F: the job kind 'cases.deadlines' (schedule every 5 minutes, migration
 * 0021). One SQL function (cases.deadlines_job, sql/code/cases/080_deadlines.sql) marks the due
 * open deadlines overdue (a stored fact, with an event each) and climbs the unanswered
 * escalations among them one level up (P2.2, P2.3). It takes at most a batch per run, skipping
 * rows another replica's run holds (FOR UPDATE SKIP LOCKED), so two replicas never mark or climb
 * the same row twice and a backlog is worked off by the next runs.
 */
#include "jobs/jobs.h"
#include "modules/cases/cases.h"

static const struct tx_job_kind case_deadlines = {
  .name = "cases.deadlines",
  .sql = "SELECT cases.deadlines_job($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 120,
};

int tx_cases_deadlines_register(void)
{
  return tx_jobs_register(&case_deadlines) ? -1 : 0;
}
