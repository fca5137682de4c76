/**
 * @file main.c
 * @brief tianxingd: configuration, then one subcommand (serve, migrate, routes, errors, version,
 * and the commands modules register). Adding a module is one line in src/modules/modules.c.
 */
#include "base/errors.h"
#include "base/log.h"
#include "core/app.h"
#include "core/call.h"
#include "core/formats.h"
#include "core/jwt.h"
#include "core/metrics.h"
#include "core/module.h"
#include "core/routes.h"
#include "crypto/envelope.h"
#include "crypto/password.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "db/tx.h"
#include "jobs/jobs.h"
#include "modules/assessment/assessment.h"
#include "modules/audit/audit.h"
#include "modules/cases/cases.h"
#include "modules/jobs/jobs.h"
#include "modules/events/events.h"
#include "modules/modules.h"
#include "modules/events/stream.h"
#include "modules/risk/risk.h"

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
        "  hash-password\n"
        "            read a password on stdin, print its scrypt hash (for seeding accounts)\n",
        f);
  tx_commands_usage(f);
  fputs("\n"
        "Settings come from TIANXING_* environment variables over the config file (--config,\n"
        "$TIANXING_CONFIG, or ./.local/tianxing.conf when present). See README.md.\n",
        f);
}

/* Registers every module (modules/modules.c); a malformed or clashing one keeps the process from
 * starting. */
static int register_modules(void)
{
  char err[512];
  if (tx_modules_register_all(err, sizeof err)) {
    fprintf(stderr, "tianxingd: %s\n", err);
    return -1;
  }
  return 0;
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
  for (size_t i = 0; i < tx_routes_count; i++) {
    const struct tx_route *rt = &tx_routes[i];
    json_t *j_r = json_pack("{sssssoso}", "method", rt->method, "path", rt->path, "roles",
                            split_csv(rt->roles), "clauses", split_csv(rt->clauses));
    /* Served by the read replica when one is configured (core/call.h, replica): may lag. */
    if (rt->call && rt->call->replica)
      json_object_set_new(j_r, "replica", json_true());
    /* What content negotiation can give (core/formats.h), for tests/contract/routes.mjs to
     * compare with the 200 response's media types and x-csv-columns. */
    if (rt->formats) {
      unsigned offered = tx_formats_offered(rt->formats);
      json_t *j_types = json_array();
      json_array_append_new(j_types, json_string("application/json"));
      if (offered & TX_FORMAT_CSV)
        json_array_append_new(j_types, json_string("text/csv"));
      if (offered & TX_FORMAT_SVG)
        json_array_append_new(j_types, json_string("image/svg+xml"));
      json_object_set_new(j_r, "media_types", j_types);
      json_t *j_cols = json_array();
      for (size_t c = 0; c < rt->formats->ncsv; c++)
        json_array_append_new(j_cols, json_string(rt->formats->csv[c].header));
      json_object_set_new(j_r, "csv_columns", j_cols);
    }
    json_array_append_new(j_all, j_r);
  }
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
  if (!sub || argc % 2 || ttl < 1 || ttl > cfg->jwt_max_ttl) {
    /* A longer token would be refused by every verifier (TIANXING_JWT_MAX_TTL). */
    fprintf(stderr, "usage: tianxingd token --sub ID --roles a,b [--ttl SECONDS, at most %d]\n",
            cfg->jwt_max_ttl);
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

static int cmd_serve(const struct tx_config *cfg)
{
  char err[512];
  tx_password_set_dummy_ln(cfg->password_scrypt_ln);
  tx_password_set_concurrency(cfg->password_hash_concurrency);
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
  struct tx_pool_options primary = {cfg->database_url, "tianxingd", cfg->db_pool_size,
                                     cfg->db_pool_timeout_ms, cfg->db_connect_timeout,
                                     cfg->db_statement_timeout_ms, 0, cfg->db_writers};
  /* The replica's pool: the same timeouts; a replica that is gone is skipped for a while
   * (db/pool.h, down_for_s) while its reports run on the primary. */
  struct tx_pool_options read = primary;
  read.url = cfg->read_database_url;
  read.application_name = "tianxingd-ro";
  read.size = cfg->read_db_pool_size ? cfg->read_db_pool_size : cfg->db_pool_size;
  read.down_for_s = TX_READ_DOWN_FOR_S;
  read.writers = 0; /* reports only read */
  tx_db_read_max_lag(cfg->read_max_lag_ms);
  if (tx_db_pools_init(&primary, cfg->read_database_url ? &read : NULL)) {
    tx_log(TX_LOG_ERROR, "cannot create the database pools");
    return 1;
  }
  if (cfg->read_database_url)
    tx_log(TX_LOG_INFO, "reports read from the replica of TIANXING_READ_DATABASE_URL (%d connections)",
           read.size);
  /* Jobs: registered always (GET /metrics says whether they run), started unless
   * TIANXING_JOBS=off. The workers must not take SIGTERM: block it before they start (the server
   * takes it with sigwait and sets tx_app.draining, which they watch). */
  if (tx_jobs_housekeeping_register() || tx_cases_deadlines_register() ||
      tx_assessment_periods_register() ||
      tx_surveys_job_register() ||
      tx_risk_rounds_register() ||
      tx_risk_kris_register() ||
      tx_risk_plans_register() ||
      tx_risk_reports_register() ||
      tx_audit_digest_register() ||
      tx_events_jobs_register(cfg->webhook_allow_http_loopback, cfg->webhook_allow_cidrs,
                              cfg->webhook_timeout_ms, cfg->webhook_max_attempts,
                              cfg->webhook_backoff_ms) ||
      tx_metrics_add_source(tx_jobs_metrics_render)) {
    tx_log(TX_LOG_ERROR, "cannot register the job kinds");
    tx_db_pools_shutdown();
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
      tx_db_pools_shutdown();
      return 1;
    }
  } else {
    tx_log(TX_LOG_INFO, "jobs: off (TIANXING_JOBS): this instance runs no jobs");
  }
  if (tx_events_stream_start(cfg->event_streams, cfg->event_heartbeat_s)) {
    tx_log(TX_LOG_ERROR, "cannot start the event streams' feeder");
    tx_db_pools_shutdown();
    return 1;
  }
  int rc = tx_server_run(cfg);
  tx_events_stream_stop();
  tx_jobs_stop(cfg->shutdown_grace);
  tx_db_pools_shutdown();
  tx_jwt_shutdown();
  tx_envelope_shutdown();
  return rc;
}

int main(int argc, char **argv)
{
  const char *config_file = NULL;
  int i = 1;
  int rc = 2;
  if (register_modules())
    goto out;
  if (i + 1 < argc && !strcmp(argv[i], "--config")) {
    config_file = argv[i + 1];
    i += 2;
  }
  if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
    usage(i >= argc ? stderr : stdout);
    rc = i >= argc ? 2 : 0;
    goto out;
  }
  const char *cmd = argv[i];
  const struct tx_command *module_cmd = tx_command_find(cmd);
  bool as_json = i + 1 < argc && !strcmp(argv[i + 1], "--json");
  /* token and the modules' commands read their own arguments. */
  bool takes_options = !strcmp(cmd, "token") || module_cmd;
  if (!takes_options && i + 1 + (as_json ? 1 : 0) < argc) {
    fprintf(stderr, "tianxingd: unexpected argument '%s'\n", argv[i + 1 + (as_json ? 1 : 0)]);
    goto out;
  }

  /* Commands that describe the build need no configuration. */
  if (!strcmp(cmd, "routes")) {
    rc = cmd_routes(as_json);
    goto out;
  }
  if (!strcmp(cmd, "errors")) {
    rc = cmd_errors(as_json);
    goto out;
  }
  if (!strcmp(cmd, "version")) {
    printf("tianxingd %s (api %s, %s, %s)\n", TX_VERSION, TX_API_VERSION, TX_COMMIT, TX_BUILD_TYPE);
    rc = 0;
    goto out;
  }
  if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 && strcmp(cmd, "token") != 0 &&
      strcmp(cmd, "hash-password") != 0 && strcmp(cmd, "audit-verify") != 0 && !module_cmd) {
    fprintf(stderr, "tianxingd: unknown command '%s'\n", cmd);
    usage(stderr);
    goto out;
  }

  struct tx_config cfg;
  char err[1024];
  if (tx_config_load(&cfg, config_file, environ, err, sizeof err)) {
    fprintf(stderr, "tianxingd: %s\n", err);
    tx_config_free(&cfg);
    goto out;
  }
  tx_log_set_level(cfg.log_level);
  if (module_cmd) {
    rc = module_cmd->run(&cfg, argc - i - 1, argv + i + 1);
    tx_config_free(&cfg);
    goto out;
  }
  if (!strcmp(cmd, "token") || !strcmp(cmd, "hash-password") || !strcmp(cmd, "audit-verify")) {
    rc = !strcmp(cmd, "token")           ? cmd_token(&cfg, argc - i - 1, argv + i + 1)
         : !strcmp(cmd, "hash-password") ? cmd_hash_password(&cfg)
                                         : cmd_audit_verify(&cfg);
    tx_config_free(&cfg);
    goto out;
  }
  tx_app.cfg = &cfg;
  if (tx_migrations_load(cfg.migrations_dir, cfg.code_dir, &tx_app.migrations, err,
                         sizeof err)) {
    fprintf(stderr, "tianxingd: %s\n", err);
    tx_config_free(&cfg);
    goto out;
  }

  rc = !strcmp(cmd, "migrate") ? run_migrations(&cfg) : cmd_serve(&cfg);
  tx_migrations_free(&tx_app.migrations);
  tx_config_free(&cfg);
out:
  tx_modules_reset();
  return rc;
}
