/**
 * @file db/migrate.h
 * @brief The schema: numbered migrations (append-only, recorded with a SHA-256 checksum) and the
 * code files of sql/code (functions, policies, triggers), re-applied whenever they change.
 */
#ifndef TX_DB_MIGRATE_H
#define TX_DB_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct tx_migration {
  int version;      /* the NNNN prefix */
  char *name;       /* file name, e.g. 0012_baseline.sql */
  char *sql;        /* file content */
  char checksum[65];/* SHA-256, lower-case hex */
};

/** @brief A file of sql/code: one current definition per object, applied again when it changes. */
struct tx_code_file {
  char *path;       /* relative to sql/code, e.g. kit/010_errors.sql */
  char *sql;
  char checksum[65];
};

/** @brief One migration that a baseline replaced, as a database that applied it recorded it. */
struct tx_legacy_row {
  int version;
  char *name;
  char checksum[65];
};

struct tx_migration_set {
  struct tx_migration *items;
  size_t count;
  struct tx_code_file *code;  /* in the order of sql/code/ORDER */
  size_t code_count;
  /* The baseline (NNNN_x.sql with a NNNN_x.legacy beside it) and the rows it replaces. */
  int baseline_version;       /* 0: none */
  struct tx_legacy_row *legacy;
  size_t legacy_count;
};

/**
 * @brief Loads the migrations from @p dir and the code files from @p code_dir (each NULL: the
 * copy built into the binary). Migration names must be NNNN_name.sql with unique, increasing
 * numbers; code files are applied in the order of the ORDER file, which must list every one.
 */
int tx_migrations_load(const char *dir, const char *code_dir, struct tx_migration_set *set,
                       char *err, size_t errlen);
void tx_migrations_free(struct tx_migration_set *set);

/**
 * @brief Brings the database on @p pg (the owner connection) up to the set, in ONE transaction,
 * serialized across processes by an advisory lock: a database whose ledger holds exactly the
 * migrations the baseline replaced is moved onto the baseline (ledger only, data untouched);
 * then pending migrations are applied in order; then every code file whose checksum differs from
 * the one recorded, in order. Refuses (-1) when an applied migration's checksum differs from its
 * file, when the database has a migration this build does not know, or when its migrations
 * before the baseline are not exactly the ones the baseline replaced.
 * @param[out] applied how many migrations were applied now
 */
int tx_migrate(PGconn *pg, const struct tx_migration_set *set, int *applied, char *err, size_t errlen);

/**
 * @brief Compares the set with the ledger as seen by a JSON array of [version, checksum] pairs
 * (what /readyz reads). Returns 0 when current, 1 when pending, -1 when it differs (changed
 * or unknown migrations).
 */
int tx_migrations_compare(const struct tx_migration_set *set, const char *ledger_json,
                          size_t *applied);

/**
 * @brief Compares the set's code files with the code ledger as seen by a JSON array of
 * [path, checksum] pairs (what /readyz reads). Returns 0 when every file is applied as it is in
 * the set, 1 otherwise; @p current counts the files that are.
 */
int tx_code_compare(const struct tx_migration_set *set, const char *ledger_json, size_t *current);

/** @brief SHA-256 hex of @p data into @p hex (65 bytes). */
void tx_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
