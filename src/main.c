/**
 * @file main.c
 * @brief tianxingd: configuration, then one subcommand (serve, migrate, routes, errors, version).
 */
#include "core/app.h"
#include "core/errors.h"
#include "core/jwt.h"
#include "crypto/envelope.h"
#include "modules/customers/customers.h"
#include "crypto/password.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/routes.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "jobs/jobs.h"
#include "modules/jobs/jobs_api.h"

#include <pthread.h>
#include <signal.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void usage(FILE *f)
{
  fputs("usage: tianxingd [--config FILE] COMMAND [--json]\n"
        "\n"
        "commands:\n"
        "  serve     apply pending migrations (unless TIANXING_MIGRATE_ON_START=false), then serve\n"
        "  migrate   apply pending migrations with the owner connection and exit\n"
        "  routes    print the route table (--json for machines)\n"
        "  errors    print the error-code registry (--json for machines)\n"
        "  version   print the build and API versions\n"
        "  token --sub ID --roles a,b [--ttl SECONDS]\n"
        "            mint an access token with the configured signing key\n"
        "  audit-verify\n"
        "            walk the audit hash chain (owner connection); exit 1 at the first broken row\n"
        "  rotate-master-key\n"
        "            re-wrap every customer data key with the current (last) master key\n"
        "  hash-password\n"
        "            read a password on stdin, print its scrypt hash (for seeding accounts)\n"
        "  jobs [--json]\n"
        "            list the jobs that are due, running or dead (owner connection)\n"
        "  jobs retry ID\n"
        "            give a dead job its attempts back and make it due now\n"
        "\n"
        "Settings come from TIANXING_* environment variables over the config file (--config,\n"
        "$TIANXING_CONFIG, or ./.local/tianxing.conf when present). See README.md.\n",
        f);
}

static int print_json(json_t *j_doc)
{
  char *s = json_dumps(j_doc, JSON_INDENT(2));
  json_decref(j_doc);
  if (!s)
    return 1;
  puts(s);
  free(s);
  return 0;
}

static json_t *split_csv(const char *csv)
{
  json_t *j_list = json_array();
  const char *p = csv;
  while (*p) {
    size_t len = strcspn(p, ",");
    json_array_append_new(j_list, json_stringn(p, len));
    p += len + (p[len] == ',');
  }
  return j_list;
}

static int cmd_routes(bool as_json)
{
  if (!as_json) {
    for (size_t i = 0; i < tx_routes_count; i++)
      printf("%-6s %-40s roles=%s clauses=%s\n", tx_routes[i].method, tx_routes[i].path,
             *tx_routes[i].roles ? tx_routes[i].roles : "(public)", tx_routes[i].clauses);
    return 0;
  }
  json_t *j_all = json_array();
  for (size_t i = 0; i < tx_routes_count; i++)
    json_array_append_new(j_all, json_pack("{sssssoso}", "method", tx_routes[i].method, "path",
                                           tx_routes[i].path, "roles", split_csv(tx_routes[i].roles),
                                           "clauses", split_csv(tx_routes[i].clauses)));
  return print_json(j_all);
}

static int cmd_errors(bool as_json)
{
  if (as_json)
    return print_json(tx_errors_json());
  for (int i = 0; i < TX_E__COUNT; i++) {
    const struct tx_error_info *e = tx_error_info((enum tx_code)i);
    printf("%d %-24s %s / %s\n", e->status, e->code, e->title_en, e->title_zh);
  }
  return 0;
}

/* Applies migrations on a dedicated owner connection; returns 0 when the schema is current. */
static int run_migrations(const struct tx_config *cfg)
{
  char err[1024];
  const char *url = cfg->migrate_database_url ? cfg->migrate_database_url : cfg->database_url;
  PGconn *pg = tx_db_connect(url, "tianxingd-migrate", cfg->db_connect_timeout,
                             /* migrations may rewrite big tables: no statement timeout */ 0, err,
                             sizeof err);
  if (!pg) {
    tx_log(TX_LOG_ERROR, "migrate: cannot connect: %s", err);
    return 1;
  }
  int applied = 0;
  int rc = tx_migrate(pg, &tx_app.migrations, &applied, err, sizeof err);
  PQfinish(pg);
  if (rc) {
    tx_log(TX_LOG_ERROR, "migrate: %s", err);
    fprintf(stderr, "tianxingd: migrate: %s\n", err);
    return 1;
  }
  tx_log(TX_LOG_INFO, "migrate: %d applied, %zu in total, schema current", applied,
         tx_app.migrations.count);
  return 0;
}

static int cmd_token(const struct tx_config *cfg, int argc, char **argv)
{
  const char *sub = NULL, *roles = "";
  int ttl = cfg->access_token_ttl;
  for (int i = 0; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--sub"))
      sub = argv[i + 1];
    else if (!strcmp(argv[i], "--roles"))
      roles = argv[i + 1];
    else if (!strcmp(argv[i], "--ttl"))
      ttl = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "tianxingd: token: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (!sub || argc % 2 || ttl < 1 || ttl > 366 * 86400) {
    fprintf(stderr, "usage: tianxingd token --sub ID --roles a,b [--ttl SECONDS]\n");
    return 2;
  }
  if (!cfg->signing_key_file) {
    fprintf(stderr, "tianxingd: token: set TIANXING_SIGNING_KEY_FILE (the key the service signs "
                    "with), or the token could not be verified by any running service\n");
    return 2;
  }
  char err[512];
  if (tx_jwt_load(cfg, err, sizeof err)) {
    fprintf(stderr, "tianxingd: %s\n", err);
    return 2;
  }
  char *token = tx_jwt_mint(sub, roles, ttl, NULL);
  tx_jwt_shutdown();
  if (!token)
    return 1;
  puts(token);
  free(token);
  return 0;
}

static int cmd_hash_password(const struct tx_config *cfg)
{
  char line[TX_PASSWORD_MAX + 2];
  if (!fgets(line, sizeof line, stdin)) {
    fprintf(stderr, "tianxingd: hash-password: no password on stdin\n");
    return 2;
  }
  line[strcspn(line, "\r\n")] = '\0';
  if (strlen(line) < TX_PASSWORD_MIN) {
    fprintf(stderr, "tianxingd: hash-password: at least %d characters\n", TX_PASSWORD_MIN);
    return 2;
  }
  char *hash = tx_password_hash(line, cfg->password_scrypt_ln);
  if (!hash)
    return 1;
  puts(hash);
  free(hash);
  return 0;
}

/* Reads through the owner connection: verification must not depend on a token, and the owner is
 * a member of the audit role, whose policies let it read the whole chain. */
static int cmd_audit_verify(const struct tx_config *cfg)
{
  char err[512];
  const char *url = cfg->migrate_database_url ? cfg->migrate_database_url : cfg->database_url;
  PGconn *pg = tx_db_connect(url, "tianxingd-audit-verify", cfg->db_connect_timeout, 0, err,
                             sizeof err);
  if (!pg) {
    fprintf(stderr, "tianxingd: audit-verify: cannot connect: %s\n", err);
    return 2;
  }
  PGresult *res = PQexec(pg, "SELECT json_build_object('checked', checked, 'intact',"
                             " first_broken_id IS NULL, 'first_broken_id', first_broken_id,"
                             " 'reason', reason)::text, first_broken_id IS NULL"
                             " FROM audit.verify()");
  int rc = 2;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    puts(PQgetvalue(res, 0, 0));
    rc = !strcmp(PQgetvalue(res, 0, 1), "t") ? 0 : 1;
  } else {
    fprintf(stderr, "tianxingd: audit-verify: %s", PQresultErrorMessage(res));
  }
  PQclear(res);
  PQfinish(pg);
  return rc;
}

/* Re-wraps data keys in batches, each its own transaction: a crash leaves every key wrapped by
 * one master key or the other, both still listed in the key file, so nothing is ever unreadable.
 * The data itself is untouched (C2.3): only the 60-byte wrapped keys change. */
static int cmd_rotate_master_key(const struct tx_config *cfg)
{
  char err[512];
  if (!cfg->master_keys_file ||
      tx_envelope_load(cfg->master_keys_file, cfg->blind_index_key_file, err, sizeof err)) {
    fprintf(stderr, "tianxingd: rotate-master-key: %s\n",
            cfg->master_keys_file ? err : "TIANXING_MASTER_KEYS_FILE is not set");
    return 2;
  }
  const char *url = cfg->migrate_database_url ? cfg->migrate_database_url : cfg->database_url;
  PGconn *pg = tx_db_connect(url, "tianxingd-rotate", cfg->db_connect_timeout, 0, err, sizeof err);
  if (!pg) {
    fprintf(stderr, "tianxingd: rotate-master-key: cannot connect: %s\n", err);
    return 2;
  }
  long total = 0;
  int rc = 0;
  for (;;) {
    /* Row-level security applies to the owner too: act as an administrator, and name the
     * operation in the audit trail's request id. */
    PGresult *res = PQexec(pg, "BEGIN; SELECT set_config('tx.roles', 'admin', true),"
                               " set_config('tx.request_id', 'rotate-master-key', true)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      fprintf(stderr, "tianxingd: rotate-master-key: %s", PQresultErrorMessage(res));
      PQclear(res);
      rc = 1;
      break;
    }
    PQclear(res);
    char current[TX_KEY_ID_MAX];
    tx_envelope_current_key_id(current);
    const char *p1[] = {current};
    /* The rows FOR UPDATE can lock must be every row that needs it, or a policy hides some. */
    PGresult *all = PQexecParams(pg, "SELECT count(*) FROM cust.data_keys WHERE key_id <> $1", 1, NULL,
                                 p1, NULL, NULL, 0);
    long pending = PQresultStatus(all) == PGRES_TUPLES_OK ? atol(PQgetvalue(all, 0, 0)) : -1;
    PQclear(all);
    res = PQexecParams(pg,
                       "SELECT customer_id::text, key_id, encode(wrapped, 'hex') FROM cust.data_keys"
                       " WHERE key_id <> $1 ORDER BY customer_id LIMIT 500 FOR UPDATE",
                       1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      fprintf(stderr, "tianxingd: rotate-master-key: %s", PQresultErrorMessage(res));
      PQclear(res);
      rc = 1;
      break;
    }
    int n = PQntuples(res);
    if (pending < 0 || (n == 0 && pending > 0)) {
      fprintf(stderr, "tianxingd: rotate-master-key: %ld data keys need re-wrapping but cannot be "
                      "locked for update (row-level security?)\n", pending);
      PQclear(res);
      PQclear(PQexec(pg, "ROLLBACK"));
      rc = 1;
      break;
    }
    for (int i = 0; i < n && rc == 0; i++) {
      const char *id = PQgetvalue(res, i, 0);
      json_t *j_dek = json_pack("{ss ss+}", "key_id", PQgetvalue(res, i, 1), "wrapped", "\\x",
                                PQgetvalue(res, i, 2));
      unsigned char dek[TX_DEK_LEN], *nw = NULL;
      size_t nlen;
      char kid[TX_KEY_ID_MAX];
      rc = tx_cust_unwrap(j_dek, id, dek) || tx_dek_rewrap(dek, id, kid, &nw, &nlen) ? 1 : 0;
      json_decref(j_dek);
      if (rc) {
        fprintf(stderr, "tianxingd: rotate-master-key: data key of customer %s cannot be unwrapped "
                        "with the keys in TIANXING_MASTER_KEYS_FILE\n", id);
        break;
      }
      json_t *j_hex = tx_cust_hex(nw, nlen);
      free(nw);
      const char *p2[] = {id, kid, json_string_value(j_hex) + 2};
      PGresult *u = PQexecParams(pg, "UPDATE cust.data_keys SET key_id = $2, wrapped = decode($3, 'hex')"
                                     " WHERE customer_id = $1::uuid", 3, NULL, p2, NULL, NULL, 0);
      if (PQresultStatus(u) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(u), "1") != 0) {
        /* Zero rows would mean a policy hid the key: never report a rotation that did not happen. */
        fprintf(stderr, "tianxingd: rotate-master-key: data key of customer %s not updated%s%s\n", id,
                PQresultStatus(u) == PGRES_COMMAND_OK ? "" : ": ", PQresultErrorMessage(u));
        rc = 1;
      }
      PQclear(u);
      json_decref(j_hex);
    }
    PQclear(res);
    res = PQexec(pg, rc ? "ROLLBACK" : "COMMIT");
    PQclear(res);
    total += rc ? 0 : n;
    if (rc || n == 0)
      break;
  }
  PQfinish(pg);
  tx_envelope_shutdown();
  if (rc == 0)
    printf("{\"rewrapped\":%ld}\n", total);
  return rc;
}

/* Operators' view of the queue, through the owner connection: it needs no token and sees every
 * job (the owner's policy), like audit-verify. */
static int cmd_jobs(const struct tx_config *cfg, int argc, char **argv)
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

static int cmd_serve(const struct tx_config *cfg)
{
  char err[512];
  tx_password_set_dummy_ln(cfg->password_scrypt_ln);
  if (tx_jwt_load(cfg, err, sizeof err)) {
    fprintf(stderr, "tianxingd: %s\n", err);
    return 2;
  }
  if (cfg->master_keys_file &&
      tx_envelope_load(cfg->master_keys_file, cfg->blind_index_key_file, err, sizeof err)) {
    fprintf(stderr, "tianxingd: config: %s\n", err);
    return 2;
  }
  if (!cfg->master_keys_file)
    tx_log(TX_LOG_WARN, "TIANXING_MASTER_KEYS_FILE not set: customer routes answer 503 "
                        "encryption_unavailable");
  if (cfg->migrate_on_start && run_migrations(cfg))
    return 1;
  if (tx_pool_init(cfg->database_url, cfg->db_pool_size, cfg->db_pool_timeout_ms,
                   cfg->db_connect_timeout, cfg->db_statement_timeout_ms)) {
    tx_log(TX_LOG_ERROR, "cannot create the database pool");
    return 1;
  }
  /* Jobs: registered always (GET /metrics says whether they run), started unless
   * TIANXING_JOBS=off. The workers must not take SIGTERM: block it before they start (the server
   * takes it with sigwait and sets tx_app.draining, which they watch). */
  if (tx_jobs_housekeeping_register() || tx_metrics_add_source(tx_jobs_metrics_render)) {
    tx_log(TX_LOG_ERROR, "cannot register the job kinds");
    tx_pool_shutdown();
    return 1;
  }
  if (cfg->jobs) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct tx_jobs_options jo = {cfg->database_url, cfg->job_workers, cfg->job_poll_ms,
                                 cfg->db_connect_timeout, cfg->db_statement_timeout_ms,
                                 &tx_app.draining};
    if (tx_jobs_start(&jo)) {
      tx_log(TX_LOG_ERROR, "cannot start the job scheduler");
      tx_pool_shutdown();
      return 1;
    }
  } else {
    tx_log(TX_LOG_INFO, "jobs: off (TIANXING_JOBS): this instance runs no jobs");
  }
  int rc = tx_server_run(cfg);
  tx_jobs_stop(cfg->shutdown_grace);
  tx_pool_shutdown();
  tx_jwt_shutdown();
  tx_envelope_shutdown();
  return rc;
}

int main(int argc, char **argv)
{
  const char *config_file = NULL;
  int i = 1;
  if (i + 1 < argc && !strcmp(argv[i], "--config")) {
    config_file = argv[i + 1];
    i += 2;
  }
  if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
    usage(i >= argc ? stderr : stdout);
    return i >= argc ? 2 : 0;
  }
  const char *cmd = argv[i];
  bool as_json = i + 1 < argc && !strcmp(argv[i + 1], "--json");
  bool takes_options = !strcmp(cmd, "token") || !strcmp(cmd, "jobs");
  if (!takes_options && i + 1 + (as_json ? 1 : 0) < argc) {
    fprintf(stderr, "tianxingd: unexpected argument '%s'\n", argv[i + 1 + (as_json ? 1 : 0)]);
    return 2;
  }

  /* Commands that describe the build need no configuration. */
  if (!strcmp(cmd, "routes"))
    return cmd_routes(as_json);
  if (!strcmp(cmd, "errors"))
    return cmd_errors(as_json);
  if (!strcmp(cmd, "version")) {
    printf("tianxingd %s (api %s, %s, %s)\n", TX_VERSION, TX_API_VERSION, TX_COMMIT, TX_BUILD_TYPE);
    return 0;
  }
  if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 && strcmp(cmd, "token") != 0 &&
      strcmp(cmd, "hash-password") != 0 && strcmp(cmd, "audit-verify") != 0 &&
      strcmp(cmd, "rotate-master-key") != 0 && strcmp(cmd, "jobs") != 0) {
    fprintf(stderr, "tianxingd: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
  }

  struct tx_config cfg;
  char err[1024];
  if (tx_config_load(&cfg, config_file, environ, err, sizeof err)) {
    fprintf(stderr, "tianxingd: %s\n", err);
    tx_config_free(&cfg);
    return 2;
  }
  tx_log_set_level(cfg.log_level);
  if (!strcmp(cmd, "token") || !strcmp(cmd, "hash-password") || !strcmp(cmd, "audit-verify") ||
      !strcmp(cmd, "rotate-master-key") || !strcmp(cmd, "jobs")) {
    int rc = !strcmp(cmd, "token")           ? cmd_token(&cfg, argc - i - 1, argv + i + 1)
             : !strcmp(cmd, "jobs")          ? cmd_jobs(&cfg, argc - i - 1, argv + i + 1)
             : !strcmp(cmd, "hash-password") ? cmd_hash_password(&cfg)
             : !strcmp(cmd, "audit-verify")  ? cmd_audit_verify(&cfg)
                                             : cmd_rotate_master_key(&cfg);
    tx_config_free(&cfg);
    return rc;
  }
  tx_app.cfg = &cfg;
  if (tx_migrations_load(cfg.migrations_dir, &tx_app.migrations, err, sizeof err)) {
    fprintf(stderr, "tianxingd: %s\n", err);
    tx_config_free(&cfg);
    return 2;
  }

  int rc = !strcmp(cmd, "migrate") ? run_migrations(&cfg) : cmd_serve(&cfg);
  tx_migrations_free(&tx_app.migrations);
  tx_config_free(&cfg);
  return rc;
}
