/**
 * @file modules/jobs/routes.c
 * @brief GET /v1/jobs (filters state and kind, keyset pages) and GET /v1/jobs/{id} (the job with
 * its runs). Administrators only (G3: the company can see that its scheduled controls ran).
 */
#include "core/call.h"
#include "modules/jobs/jobs_api.h"

static const struct tx_sql sql_list = {
  "jobs_list", "SELECT api.job_list($1, $2, $3::int, $4)::text", 4};
static const struct tx_sql sql_get = {
  "jobs_get", "SELECT api.job_get($1::uuid)::text", 1};

int tx_jobs_api_list(struct tx_req *r)
{
  static const struct tx_call c = {&sql_list, true, 200, NULL, NULL, 0,
                                   {{TX_ARG_QUERY_TEXT, "state"},
                                    {TX_ARG_QUERY_TEXT, "kind"},
                                    {TX_ARG_QUERY_INT, "limit"},
                                    {TX_ARG_QUERY_TEXT, "cursor"}}};
  return tx_call_run(r, &c);
}

int tx_jobs_api_get(struct tx_req *r)
{
  static const struct tx_call c = {&sql_get, true, 200, NULL, NULL, 0, {{TX_ARG_PATH_UUID, "id"}}};
  return tx_call_run(r, &c);
}
