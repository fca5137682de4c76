/**
 * @file modules/jobs/jobs.h
 * @brief The jobs module: GET /v1/jobs and GET /v1/jobs/{id} for administrators, `tianxingd jobs`
 * for operators, and the housekeeping job kinds (expired data nothing else removes). The
 * scheduler itself is src/jobs/.
 */
#ifndef TX_MODULES_JOBS_H
#define TX_MODULES_JOBS_H

#include "core/config.h"
#include "core/module.h"

/** @brief The module: its routes and its command (routes.c); main.c registers it. */
extern const struct tx_module tx_module_jobs;

/** @brief `tianxingd jobs [--json] | jobs retry ID` (cli.c). */
int tx_jobs_cli(const struct tx_config *cfg, int argc, char **argv);

/**
 * @brief Registers the housekeeping kinds with the scheduler: idempotency.purge,
 * auth.refresh_tokens.purge and jobs.purge (their schedules are rows of 0013_jobs.sql).
 * @return 0, or -1 when one could not be registered.
 */
int tx_jobs_housekeeping_register(void);

#endif
