/**
 * @file core/config.c
 * @brief Settings: one table of names, parsers and ranges, so that every setting is validated the
 * same way and a bad one is named in the message that stops start-up.
 */
#include "core/config.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TX_LOCAL_CONFIG ".local/tianxing.conf"

enum kind { K_INT, K_LONG, K_BOOL, K_STR, K_STR_OPT, K_LOG_LEVEL, K_ADDR, K_NONE };

struct setting {
  const char *name;
  enum kind kind;
  size_t offset;
  long min, max;
};

#define OFF(f) offsetof(struct tx_config, f)
static const struct setting settings[] = {
  {"TIANXING_BIND_ADDRESS", K_ADDR, OFF(bind_address), 0, 0},
  {"TIANXING_PORT", K_INT, OFF(port), 1, 65535},
  {"TIANXING_THREADS", K_INT, OFF(threads), 1, 256},
  {"TIANXING_REQUEST_WORKERS", K_INT, OFF(request_workers), 1, 1024},
  {"TIANXING_CONNECTION_TIMEOUT", K_INT, OFF(connection_timeout), 1, 3600},
  {"TIANXING_HEADER_TIMEOUT", K_INT, OFF(header_timeout), 1, 3600},
  {"TIANXING_MAX_CONNECTIONS", K_INT, OFF(max_connections), 1, 100000},
  {"TIANXING_MAX_CONNECTIONS_PER_IP", K_INT, OFF(max_connections_per_ip), 0, 100000},
  {"TIANXING_BODY_LIMIT", K_LONG, OFF(body_limit), 1024, 64L * 1024 * 1024},
  {"TIANXING_CORS_ORIGINS", K_STR, OFF(cors_origins), 0, 0},
  {"TIANXING_DATABASE_URL", K_STR, OFF(database_url), 0, 0},
  {"TIANXING_MIGRATE_DATABASE_URL", K_STR_OPT, OFF(migrate_database_url), 0, 0},
  {"TIANXING_DB_POOL_SIZE", K_INT, OFF(db_pool_size), 1, 256},
  {"TIANXING_DB_WRITERS", K_INT, OFF(db_writers), 0, 256},
  {"TIANXING_READ_DATABASE_URL", K_STR_OPT, OFF(read_database_url), 0, 0},
  {"TIANXING_READ_DB_POOL_SIZE", K_INT, OFF(read_db_pool_size), 0, 256},
  {"TIANXING_READ_MAX_LAG_MS", K_INT, OFF(read_max_lag_ms), 0, 86400000},
  {"TIANXING_DB_POOL_TIMEOUT_MS", K_INT, OFF(db_pool_timeout_ms), 1, 600000},
  {"TIANXING_DB_CONNECT_TIMEOUT", K_INT, OFF(db_connect_timeout), 1, 600},
  {"TIANXING_DB_STATEMENT_TIMEOUT_MS", K_INT, OFF(db_statement_timeout_ms), 1, 3600000},
  {"TIANXING_MIGRATE_ON_START", K_BOOL, OFF(migrate_on_start), 0, 0},
  {"TIANXING_MIGRATIONS_DIR", K_STR_OPT, OFF(migrations_dir), 0, 0},
  {"TIANXING_CODE_DIR", K_STR_OPT, OFF(code_dir), 0, 0},
  {"TIANXING_SHUTDOWN_GRACE", K_INT, OFF(shutdown_grace), 0, 3600},
  {"TIANXING_LOG_LEVEL", K_LOG_LEVEL, OFF(log_level), 0, 0},
  {"TIANXING_ACCESS_LOG", K_BOOL, OFF(access_log), 0, 0},
  {"TIANXING_JWT_KEYS", K_STR, OFF(jwt_keys), 0, 0},
  {"TIANXING_JWT_ISSUER", K_STR, OFF(jwt_issuer), 0, 0},
  {"TIANXING_JWT_ACCEPTED_ISSUERS", K_STR, OFF(jwt_accepted_issuers), 0, 0},
  {"TIANXING_JWT_AUDIENCE", K_STR, OFF(jwt_audience), 0, 0},
  {"TIANXING_JWT_LEEWAY", K_INT, OFF(jwt_leeway), 0, 300},
  {"TIANXING_JWT_ROLES_CLAIM", K_STR, OFF(jwt_roles_claim), 0, 0},
  {"TIANXING_JWT_MAX_BYTES", K_INT, OFF(jwt_max_bytes), 512, 65536},
  {"TIANXING_JWT_MAX_TTL", K_INT, OFF(jwt_max_ttl), 60, 31 * 86400},
  {"TIANXING_TOKEN_CACHE_SIZE", K_INT, OFF(token_cache_size), 0, 1000000},
  {"TIANXING_SIGNING_KEY_FILE", K_STR_OPT, OFF(signing_key_file), 0, 0},
  {"TIANXING_ACCESS_TOKEN_TTL", K_INT, OFF(access_token_ttl), 30, 86400},
  {"TIANXING_REFRESH_TOKEN_TTL", K_INT, OFF(refresh_token_ttl), 60, 90 * 86400},
  {"TIANXING_PASSWORD_SCRYPT_LN", K_INT, OFF(password_scrypt_ln), 10, 20},
  {"TIANXING_PASSWORD_HASH_CONCURRENCY", K_INT, OFF(password_hash_concurrency), 0, 256},
  {"TIANXING_MASTER_KEYS_FILE", K_STR_OPT, OFF(master_keys_file), 0, 0},
  {"TIANXING_BLIND_INDEX_KEY_FILE", K_STR_OPT, OFF(blind_index_key_file), 0, 0},
  {"TIANXING_JOBS", K_BOOL, OFF(jobs), 0, 0},
  {"TIANXING_JOB_WORKERS", K_INT, OFF(job_workers), 1, 64},
  {"TIANXING_JOB_POLL_MS", K_INT, OFF(job_poll_ms), 50, 600000},
  {"TIANXING_EVENT_STREAMS", K_INT, OFF(event_streams), 0, 100000},
  {"TIANXING_EVENT_HEARTBEAT", K_INT, OFF(event_heartbeat_s), 1, 300},
  {"TIANXING_CSV_MAX_ROWS", K_LONG, OFF(csv_max_rows), 1, 100000000},
  {"TIANXING_CSV_EXPORTS", K_INT, OFF(csv_exports), 1, 10000},
  {"TIANXING_WEBHOOK_ALLOW_HTTP_LOOPBACK", K_BOOL, OFF(webhook_allow_http_loopback), 0, 0},
  {"TIANXING_WEBHOOK_ALLOW_CIDRS", K_STR_OPT, OFF(webhook_allow_cidrs), 0, 0},
  {"TIANXING_WEBHOOK_TIMEOUT_MS", K_INT, OFF(webhook_timeout_ms), 100, 60000},
  {"TIANXING_WEBHOOK_MAX_ATTEMPTS", K_INT, OFF(webhook_max_attempts), 1, 50},
  {"TIANXING_WEBHOOK_BACKOFF_MS", K_INT, OFF(webhook_backoff_ms), 10, 3600000},
  /* Read before the others to find the file; accepted here so it is not "unknown". */
  {"TIANXING_CONFIG", K_NONE, 0, 0, 0},
};
#undef OFF

static const struct setting *find_setting(const char *name, size_t len)
{
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
      return &settings[i];
  return NULL;
}

static void set_str(char **slot, const char *value)
{
  free(*slot);
  *slot = strdup(value);
}

void tx_config_defaults(struct tx_config *c)
{
  memset(c, 0, sizeof *c);
  set_str(&c->bind_address, "127.0.0.1");
  c->port = 8080;
  c->threads = 4;
  /* Enough that requests waiting for the database (at most the pool's size run at once, the
   * rest wait at most TIANXING_DB_POOL_TIMEOUT_MS) leave workers free for those that need none. */
  c->request_workers = 16;
  c->connection_timeout = 30;
  c->header_timeout = 10;
  c->max_connections = 1024;
  c->max_connections_per_ip = 256;
  c->body_limit = 1048576;
  set_str(&c->cors_origins, "");
  set_str(&c->database_url, "postgresql:///tianxing?user=tianxing_app");
  c->db_pool_size = 4;
  /* Writers at once (db/pool.h): one commits under the audit chain's lock while the next runs its
   * statements; more only queue for that lock inside the database. Measured by hand on a million
   * customers, durable settings, 32 clients, a pool of 4 (docs/performance.md, issue 15): creates
   * 468-496/s with 2 writers, 362-371/s with 3 or 4, 296/s with 1. */
  c->db_writers = 2;
  c->db_pool_timeout_ms = 2000;
  c->read_max_lag_ms = 30000;
  c->db_connect_timeout = 3;
  c->db_statement_timeout_ms = 5000;
  c->migrate_on_start = true;
  c->shutdown_grace = 10;
  c->log_level = TX_LOG_INFO;
  c->access_log = true;
  set_str(&c->jwt_keys, "");
  set_str(&c->jwt_issuer, "tianxingd");
  set_str(&c->jwt_accepted_issuers, "");
  set_str(&c->jwt_audience, "");
  c->jwt_leeway = 30;
  set_str(&c->jwt_roles_claim, "roles");
  c->jwt_max_bytes = 8192;
  c->jwt_max_ttl = 86400;
  c->token_cache_size = 4096;
  c->access_token_ttl = 900;
  c->refresh_token_ttl = 14 * 86400;
  c->password_scrypt_ln = 15;
  c->password_hash_concurrency = 0; /* half the CPUs (crypto/password.c) */
  c->jobs = true;
  c->job_workers = 2;
  c->event_streams = 256;
  c->event_heartbeat_s = 15;
  c->job_poll_ms = 1000;
  /* Under Excel's 1 048 576 rows a sheet, header included: an export that opens whole. */
  c->csv_max_rows = 1000000;
  c->csv_exports = 16;
  c->webhook_allow_http_loopback = false;
  c->webhook_timeout_ms = 10000;
  c->webhook_max_attempts = 8;
  c->webhook_backoff_ms = 30000;
}

static int parse_long(const char *v, long *out)
{
  char *end;
  if (!*v || isspace((unsigned char)*v))
    return -1;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end)
    return -1;
  *out = n;
  return 0;
}

int tx_config_set(struct tx_config *c, const char *key, const char *value, char *err, size_t errlen)
{
  const struct setting *s = find_setting(key, strlen(key));
  if (!s) {
    snprintf(err, errlen, "config: %s: unknown setting", key);
    return -1;
  }
  void *slot = (char *)c + s->offset;
  long n;
  switch (s->kind) {
  case K_NONE:
    return 0;
  case K_INT:
  case K_LONG:
    if (parse_long(value, &n) || n < s->min || n > s->max) {
      snprintf(err, errlen, "config: %s: must be an integer in %ld..%ld (got \"%s\")", key, s->min,
               s->max, value);
      return -1;
    }
    if (s->kind == K_INT)
      *(int *)slot = (int)n;
    else
      *(long *)slot = n;
    return 0;
  case K_BOOL:
    if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "on"))
      *(bool *)slot = true;
    else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") ||
             !strcmp(value, "off"))
      *(bool *)slot = false;
    else {
      snprintf(err, errlen, "config: %s: must be true or false, on or off (got \"%s\")", key, value);
      return -1;
    }
    return 0;
  case K_LOG_LEVEL: {
    int lvl = tx_log_level_parse(value);
    if (lvl < 0) {
      snprintf(err, errlen, "config: %s: must be one of error, warn, info, debug (got \"%s\")", key,
               value);
      return -1;
    }
    *(int *)slot = lvl;
    return 0;
  }
  case K_ADDR: {
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, value, buf) != 1 && inet_pton(AF_INET6, value, buf) != 1) {
      snprintf(err, errlen, "config: %s: must be an IPv4 or IPv6 address (got \"%s\")", key, value);
      return -1;
    }
    set_str(slot, value);
    return 0;
  }
  case K_STR_OPT:
    if (!*value) {
      free(*(char **)slot);
      *(char **)slot = NULL;
      return 0;
    }
    /* fall through */
  case K_STR:
    set_str(slot, value);
    return 0;
  }
  return 0;
}

static char *trim(char *s)
{
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

int tx_config_load_file(struct tx_config *c, const char *path, char *err, size_t errlen)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "config: %s: %s", path, strerror(errno));
    return -1;
  }
  char line[4096], msg[512];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *l = trim(line);
    if (!*l || *l == '#')
      continue;
    char *eq = strchr(l, '=');
    if (!eq) {
      snprintf(err, errlen, "config: %s:%d: expected KEY=VALUE", path, lineno);
      rc = -1;
      break;
    }
    *eq = '\0';
    if (tx_config_set(c, trim(l), trim(eq + 1), msg, sizeof msg)) {
      snprintf(err, errlen, "%s (in %s:%d)", msg, path, lineno);
      rc = -1;
      break;
    }
  }
  fclose(f);
  return rc;
}

int tx_config_load_env(struct tx_config *c, char *const *envp, char *err, size_t errlen)
{
  for (; envp && *envp; envp++) {
    if (strncmp(*envp, "TIANXING_", 9) != 0)
      continue;
    const char *eq = strchr(*envp, '=');
    if (!eq)
      continue;
    char key[128];
    size_t klen = (size_t)(eq - *envp);
    if (klen >= sizeof key) {
      snprintf(err, errlen, "config: %.40s...: unknown setting", *envp);
      return -1;
    }
    memcpy(key, *envp, klen);
    key[klen] = '\0';
    if (tx_config_set(c, key, eq + 1, err, errlen))
      return -1;
  }
  return 0;
}

int tx_config_validate(const struct tx_config *c, char *err, size_t errlen)
{
  if (!*c->database_url) {
    snprintf(err, errlen, "config: TIANXING_DATABASE_URL: must not be empty");
    return -1;
  }
  if (c->max_connections_per_ip > c->max_connections) {
    snprintf(err, errlen,
             "config: TIANXING_MAX_CONNECTIONS_PER_IP: must not exceed TIANXING_MAX_CONNECTIONS (%d)",
             c->max_connections);
    return -1;
  }
  if (!*c->jwt_issuer || !*c->jwt_roles_claim) {
    snprintf(err, errlen, "config: %s: must not be empty",
             *c->jwt_issuer ? "TIANXING_JWT_ROLES_CLAIM" : "TIANXING_JWT_ISSUER");
    return -1;
  }
  /* The service's own tokens are checked against the same ceiling as everyone else's. */
  if (c->access_token_ttl > c->jwt_max_ttl) {
    snprintf(err, errlen, "config: TIANXING_ACCESS_TOKEN_TTL: must not exceed TIANXING_JWT_MAX_TTL (%d)",
             c->jwt_max_ttl);
    return -1;
  }
  if (!c->master_keys_file != !c->blind_index_key_file) {
    snprintf(err, errlen, "config: %s: set it too (customer encryption needs both key files)",
             c->master_keys_file ? "TIANXING_BLIND_INDEX_KEY_FILE" : "TIANXING_MASTER_KEYS_FILE");
    return -1;
  }
  /* Every origin must be an exact scheme://host[:port] without a path: a trailing slash or a
   * wildcard would never match a browser's Origin header and hide a mistake. */
  const char *p = c->cors_origins;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *scheme_end = memmem(p, len, "://", 3);
    if (!len || !scheme_end || memchr(scheme_end + 3, '/', len - (size_t)(scheme_end + 3 - p)) ||
        memchr(p, '*', len) || memchr(p, ' ', len)) {
      snprintf(err, errlen,
               "config: TIANXING_CORS_ORIGINS: \"%.*s\" is not an origin like https://app.example.com",
               (int)len, p);
      return -1;
    }
    p = end ? end + 1 : p + len;
  }
  return 0;
}

int tx_config_load(struct tx_config *c, const char *explicit_file, char *const *envp, char *err,
                   size_t errlen)
{
  tx_config_defaults(c);
  const char *file = explicit_file;
  if (!file) {
    for (char *const *e = envp; e && *e; e++)
      if (!strncmp(*e, "TIANXING_CONFIG=", 16) && (*e)[16])
        file = *e + 16;
  }
  if (!file && access(TX_LOCAL_CONFIG, R_OK) == 0)
    file = TX_LOCAL_CONFIG;
  if (file && tx_config_load_file(c, file, err, errlen))
    return -1;
  if (tx_config_load_env(c, envp, err, errlen))
    return -1;
  return tx_config_validate(c, err, errlen);
}

void tx_config_free(struct tx_config *c)
{
  free(c->bind_address);
  free(c->cors_origins);
  free(c->database_url);
  free(c->migrate_database_url);
  free(c->read_database_url);
  free(c->migrations_dir);
  free(c->code_dir);
  free(c->jwt_keys);
  free(c->jwt_issuer);
  free(c->jwt_accepted_issuers);
  free(c->jwt_audience);
  free(c->jwt_roles_claim);
  free(c->signing_key_file);
  free(c->master_keys_file);
  free(c->webhook_allow_cidrs);
  free(c->blind_index_key_file);
  memset(c, 0, sizeof *c);
}
