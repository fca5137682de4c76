/**
 * @file modules/ops/backup_status.c
 * @brief The state of the backups (tx_meta.backup_status(), migration 0040) for /readyz and
 * /metrics (issue 14, C2.2): how old the newest backup is and whether that is past the policy.
 */
#include "db/tx.h"
#include "modules/ops/ops.h"

#include <string.h>

static const struct tx_sql sql_backup_status = {
  "ops_backup_status", "SELECT tx_meta.backup_status()::text", 0};

json_t *tx_ops_backup_status(const struct tx_claims *claims)
{
  struct tx_query q = {&sql_backup_status, NULL};
  PGresult *res;
  struct tx_db_outcome out;
  if (tx_db_run(claims, true, &q, 1, &res, &out)) {
    tx_db_outcome_free(&out);
    return NULL;
  }
  json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  PQclear(res);
  if (j && !json_is_object(j)) {
    json_decref(j);
    j = NULL;
  }
  return j;
}
