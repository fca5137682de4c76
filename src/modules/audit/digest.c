/**
 * @file modules/audit/digest.c
 * @brief The job kind 'audit.pii_reads.digest' (migration 0043, schedule every minute): a digest
 * of the PII read log's new rows enters the audit chain, so that audit-verify reports a row of
 * the log deleted or altered behind the service's back. All the work and the reasons are in
 * sql/code/audit/040_pii_digest.sql.
 */
#include "jobs/jobs.h"
#include "modules/audit/audit.h"

static const struct tx_job_kind pii_reads_digest = {
  .name = "audit.pii_reads.digest",
  /* Each run starts where the last digest in the chain ends; payload {"max_rows": N} caps it. */
  .sql = "SELECT audit.pii_reads_digest($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 120,
};

int tx_audit_digest_register(void)
{
  return tx_jobs_register(&pii_reads_digest) ? -1 : 0;
}
