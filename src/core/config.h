/**
 * @file core/config.h
 * @brief Settings from TIANXING_* environment variables over an optional KEY=VALUE file.
 */
#ifndef TX_CORE_CONFIG_H
#define TX_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct tx_config {
  char *bind_address;
  int port;
  int threads;         /* network threads: read requests, write answers */
  int request_workers; /* threads that run handlers (core/workers.h) */
  int connection_timeout;
  int header_timeout; /* seconds to receive a whole request header; activity does not extend it */
  int max_connections;
  int max_connections_per_ip;
  long body_limit;
  char *cors_origins; /* comma-separated, exact match */
  char *database_url;
  char *migrate_database_url; /* NULL: same as database_url */
  int db_pool_size;
  int db_writers; /* of db_pool_size, lent to read-write transactions at once; 0: no own limit */
  /* A read replica for report routes (db/tx.h, tx_db_run_replica); NULL: none, reports read the
   * primary. Its pool size 0 means db_pool_size. */
  char *read_database_url;
  int read_db_pool_size;
  int read_max_lag_ms; /* reports leave a replica lagging more than this (0: never) */
  int db_pool_timeout_ms;
  int db_connect_timeout;
  int db_statement_timeout_ms;
  bool migrate_on_start;
  char *migrations_dir; /* NULL: the migrations built into the binary */
  char *code_dir;       /* NULL: the SQL code (sql/code) built into the binary */
  int shutdown_grace;
  int log_level; /* TX_LOG_* */
  bool access_log;
  /* Authentication (docs/identity.md) */
  char *jwt_keys;             /* ALG[:KID]=PATH,...,jwks=PATH: keys trusted to verify tokens */
  char *jwt_issuer;           /* iss of the tokens this service signs */
  char *jwt_accepted_issuers; /* comma list; empty: iss of other issuers' tokens not checked */
  char *jwt_audience;         /* required in aud when set; put in aud of own tokens */
  int jwt_leeway;
  char *jwt_roles_claim; /* dotted path, e.g. roles or realm_access.roles */
  int jwt_max_bytes;
  int jwt_max_ttl; /* longest lifetime (exp - iat, or exp - now) of any accepted token */
  int token_cache_size;
  char *signing_key_file; /* PEM EC P-256 private key; NULL: an ephemeral key per process */
  int access_token_ttl;
  int refresh_token_ttl;
  int password_scrypt_ln;
  int password_hash_concurrency; /* hashes at once; 0: half the CPUs, at least 1 */
  /* Customer PII encryption (docs/customers.md) */
  char *master_keys_file;      /* lines KEYID=base64; the last one wraps new data keys */
  char *blind_index_key_file;  /* one base64 line */
  /* The job scheduler inside serve (src/jobs/jobs.h) */
  bool jobs;          /* TIANXING_JOBS=on|off */
  int job_workers;    /* threads, each with its own database connection */
  int job_poll_ms;    /* an idle worker looks for due work this often */
  /* Server-Sent Events (GET /v1/events, modules/events/stream.c) */
  int event_streams;     /* open at once, at most; 0: the route answers 503 */
  int event_heartbeat_s; /* a comment line after this long without an event */
  /* CSV exports of lists (core/csv_export.h, docs/charts.md) */
  long csv_max_rows; /* rows in one export, at most; a longer list is refused or cut */
  int csv_exports;   /* streamed at once, at most; more get 503 */
  /* Webhook delivery (src/modules/events, docs/events.md) */
  bool webhook_allow_http_loopback; /* http:// to a loopback host (tests); else https only */
  char *webhook_allow_cidrs;        /* non-public ranges deliveries may connect to, or NULL */
  int webhook_timeout_ms;           /* whole HTTP exchange of one attempt */
  int webhook_max_attempts;         /* then the delivery is dead (dead-lettered) */
  int webhook_backoff_ms;           /* first retry after this; doubles per attempt */
};

/** @brief Fills @p c with defaults (the values for a local run). */
void tx_config_defaults(struct tx_config *c);

/**
 * @brief Sets one setting by its TIANXING_* name after validating the value.
 * @return 0, or -1 with a message naming the setting in @p err.
 */
int tx_config_set(struct tx_config *c, const char *key, const char *value, char *err, size_t errlen);

/** @brief Applies a KEY=VALUE file; -1 with "file:line: ..." in @p err on the first bad line. */
int tx_config_load_file(struct tx_config *c, const char *path, char *err, size_t errlen);

/** @brief Applies every TIANXING_* variable of @p envp (unknown names are errors). */
int tx_config_load_env(struct tx_config *c, char *const *envp, char *err, size_t errlen);

/** @brief Checks settings that depend on each other; -1 with a message on failure. */
int tx_config_validate(const struct tx_config *c, char *err, size_t errlen);

/**
 * @brief Full start-up sequence: defaults, file (explicit, $TIANXING_CONFIG or
 * ./.local/tianxing.conf), environment, validation.
 */
int tx_config_load(struct tx_config *c, const char *explicit_file, char *const *envp, char *err,
                   size_t errlen);

void tx_config_free(struct tx_config *c);

#endif
