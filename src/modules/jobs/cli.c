/**
 * @file modules/jobs/cli.c
 * @brief `tianxingd jobs`: the operators' view of the queue (due, running, dead) and `jobs retry`
 * for a dead job, on the owner connection.
 */
#include "db/pool.h"
#include "modules/jobs/jobs.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Operators' view of the queue, through the owner connection: it needs no token and sees every
 * job (the owner's policy), like audit-verify. */
int tx_jobs_cli(const struct tx_config *cfg, int argc, char **argv)
{
  bool as_json = argc == 1 && !strcmp(argv[0], "--json");
  bool retry = argc == 2 && !strcmp(argv[0], "retry");
  if (argc != 0 && !as_json && !retry) {
    fprintf(stderr, "usage: tianxingd jobs [--json] | tianxingd jobs retry ID\n");
    return 2;
  }
  char err[512];
  const char *url = cfg->migrate_database_url ? cfg->migrate_database_url : cfg->database_url;
  PGconn *pg = tx_db_connect(url, "tianxingd-jobs-cli", cfg->db_connect_timeout, 0, err, sizeof err);
  if (!pg) {
    fprintf(stderr, "tianxingd: jobs: cannot connect: %s\n", err);
    return 2;
  }
  int rc = 1;
  PGresult *res = NULL;
  if (retry) {
    /* The audit trail names the operation; the owner acts as an administrator would. */
    const char *p[] = {argv[1]};
    PQclear(PQexec(pg, "BEGIN; SELECT set_config('tx.roles', 'admin', true),"
                       " set_config('tx.request_id', 'tianxingd jobs retry', true)"));
    res = PQexecParams(pg,
                       "SELECT jobs.retry(id) FROM (SELECT CASE WHEN $1 ~* '^[0-9a-f]{8}-[0-9a-f]{4}-"
                       "[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN $1::uuid END AS id) x",
                       1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
      bool done = !strcmp(PQgetvalue(res, 0, 0), "t");
      PQclear(PQexec(pg, "COMMIT"));
      printf("{\"retried\":%s}\n", done ? "true" : "false");
      if (!done)
        fprintf(stderr, "tianxingd: jobs retry: %s is not a dead job\n", argv[1]);
      rc = done ? 0 : 1;
    } else {
      fprintf(stderr, "tianxingd: jobs retry: %s", PQresultErrorMessage(res));
      PQclear(PQexec(pg, "ROLLBACK"));
    }
    goto out;
  }
  res = PQexec(pg, "SELECT coalesce(json_agg(json_build_object('id', j.id, 'state', j.state,"
                   " 'kind', j.kind, 'due_at', j.due_at, 'attempts', j.attempts, 'max_attempts',"
                   " j.max_attempts, 'locked_by', j.locked_by, 'last_error', j.last_error)"
                   " ORDER BY j.state, j.due_at), '[]')::text,"
                   " string_agg(format('%s %-7s %-28s due %s attempts %s%s', j.id, j.state, j.kind,"
                   " to_char(j.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                   " j.attempts, coalesce(' last error: ' || j.last_error, '')),"
                   " E'\\n' ORDER BY j.state, j.due_at)"
                   " FROM jobs.jobs j WHERE j.state IN ('due', 'running', 'dead')");
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    fprintf(stderr, "tianxingd: jobs: %s", PQresultErrorMessage(res));
    goto out;
  }
  if (as_json)
    puts(PQgetvalue(res, 0, 0));
  else if (!PQgetisnull(res, 0, 1))
    puts(PQgetvalue(res, 0, 1));
  rc = 0;
out:
  PQclear(res);
  PQfinish(pg);
  return rc;
}
