/**
 * @file db/migrate.h
 * @brief Numbered, immutable SQL migrations applied in order and recorded with a SHA-256 checksum.
 */
#ifndef TX_DB_MIGRATE_H
#define TX_DB_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

struct tx_migration {
  int version;      /* the NNNN prefix */
  char *name;       /* file name, e.g. 0001_foundation.sql */
  char *sql;        /* file content */
  char checksum[65];/* SHA-256, lower-case hex */
};

struct tx_migration_set {
  struct tx_migration *items;
  size_t count;
};

/**
 * @brief Loads the migrations from @p dir, or the ones built into the binary when @p dir is NULL.
 * Names must be NNNN_name.sql with unique, increasing numbers.
 */
int tx_migrations_load(const char *dir, struct tx_migration_set *set, char *err, size_t errlen);
void tx_migrations_free(struct tx_migration_set *set);

/**
 * @brief Applies pending migrations on @p pg (the owner connection), serialized across processes
 * by an advisory lock. Refuses (-1) when an applied migration's checksum differs from its file, or
 * when the database has a migration this build does not know.
 * @param[out] applied how many were applied now
 */
int tx_migrate(PGconn *pg, const struct tx_migration_set *set, int *applied, char *err, size_t errlen);

/**
 * @brief Compares the set with the ledger as seen by a JSON array of [version, checksum] pairs
 * (what /readyz reads). Returns 0 when current, 1 when pending, -1 when it differs (changed
 * or unknown migrations).
 */
int tx_migrations_compare(const struct tx_migration_set *set, const char *ledger_json,
                          size_t *applied);

/** @brief SHA-256 hex of @p data into @p hex (65 bytes). */
void tx_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
