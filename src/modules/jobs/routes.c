/**
 * @file modules/jobs/routes.c
 * @brief The jobs module's routes, GET /v1/jobs (filters state and kind, keyset pages) and
 * GET /v1/jobs/{id} (the job with its runs), administrators only (G3: the company can see that
 * its scheduled controls ran); and its command, `tianxingd jobs`. main.c registers tx_module_jobs.
 * Row format: see src/modules/org/routes.c.
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/jobs/jobs.h"

static const struct tx_sql sql_jobs_list = {
  "jobs_list", "SELECT api.job_list($1, $2, $3::int, $4)::text", 4};
static const struct tx_sql sql_jobs_get = {
  "jobs_get", "SELECT api.job_get($1::uuid)::text", 1};

static const struct tx_route routes[] = {
  /* Scheduled work (G3: the company can see that its scheduled controls ran) */
  {"GET", "/v1/jobs", "admin", "G3",
   .call = TX_CALL(.sql = &sql_jobs_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "state"},
                            {TX_ARG_QUERY_TEXT, "kind"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"GET", "/v1/jobs/{id}", "admin", "G3",
   .call = TX_CALL(.sql = &sql_jobs_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
};

static const struct tx_command commands[] = {
  {"jobs",
   "  jobs [--json]\n"
   "            list the jobs that are due, running or dead (owner connection)\n"
   "  jobs retry ID\n"
   "            give a dead job its attempts back and make it due now\n",
   tx_jobs_cli},
};

const struct tx_module tx_module_jobs = {
  .name = "jobs",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
  .commands = commands,
  .ncommands = TX_COUNT(commands),
};
