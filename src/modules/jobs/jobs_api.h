/**
 * @file modules/jobs/jobs_api.h
 * @brief The jobs module: GET /v1/jobs and GET /v1/jobs/{id} for administrators, and the
 * housekeeping job kinds (expired data nothing else removes).
 */
#ifndef TX_MODULES_JOBS_API_H
#define TX_MODULES_JOBS_API_H

#include "core/http.h"

int tx_jobs_api_list(struct tx_req *r);
int tx_jobs_api_get(struct tx_req *r);

/**
 * @brief Registers the housekeeping kinds with the scheduler: idempotency.purge,
 * auth.refresh_tokens.purge and jobs.purge (their schedules are in 0013_jobs.sql).
 * @return 0, or -1 when one could not be registered.
 */
int tx_jobs_housekeeping_register(void);

#endif
