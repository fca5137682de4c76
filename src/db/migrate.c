/**
 * @file db/migrate.c
 * @brief Migrations: loading, checksums, and applying them under an advisory lock.
 */
#include "db/migrate.h"
#include "base/embedded.h"
#include "base/files.h"
#include "base/log.h"

#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant works as long as every tianxingd uses the same one: it serializes migrators. */
#define MIGRATE_LOCK_KEY "7354010472261181441"

void tx_sha256_hex(const void *data, size_t len, char hex[65])
{
  unsigned char md[32];
  unsigned int mdlen = 0;
  EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
  for (unsigned int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int parse_version(const char *name)
{
  /* NNNN_something.sql: four digits, an underscore, a .sql suffix. */
  size_t len = strlen(name);
  if (len < 10 || strcmp(name + len - 4, ".sql") != 0 || name[4] != '_')
    return -1;
  for (int i = 0; i < 4; i++)
    if (!isdigit((unsigned char)name[i]))
      return -1;
  return atoi(name);
}

static int add(struct tx_migration_set *set, const char *name, const char *data, size_t len,
               char *err, size_t errlen)
{
  int v = parse_version(name);
  if (v <= 0) {
    snprintf(err, errlen, "migration %s: name must be NNNN_name.sql with NNNN > 0", name);
    return -1;
  }
  if (set->count && set->items[set->count - 1].version >= v) {
    snprintf(err, errlen, "migration %s: number %04d is not greater than that of %s", name, v,
             set->items[set->count - 1].name);
    return -1;
  }
  struct tx_migration *items = realloc(set->items, (set->count + 1) * sizeof *items);
  if (!items) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  set->items = items;
  struct tx_migration *m = &items[set->count++];
  m->version = v;
  m->name = strdup(name);
  m->sql = strndup(data, len);
  tx_sha256_hex(data, len, m->checksum);
  return 0;
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *dir, struct tx_migration_set *set, char *err, size_t errlen)
{
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(err, errlen, "migrations dir %s: %s", dir, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".sql")) {
      names = realloc(names, (n + 1) * sizeof *names);
      names[n++] = strdup(e->d_name);
    }
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n && rc == 0; i++) {
    char path[4096], *buf = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    rc = tx_read_file(path, 16 << 20, &buf, &size, err, errlen);
    if (rc == 0)
      rc = add(set, names[i], buf, size, err, errlen);
    free(buf);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc;
}

int tx_migrations_load(const char *dir, struct tx_migration_set *set, char *err, size_t errlen)
{
  set->items = NULL;
  set->count = 0;
  if (dir)
    return load_dir(dir, set, err, errlen);
  for (size_t i = 0; i < tx_embedded_migrations_count; i++) {
    const struct tx_embedded_file *f = &tx_embedded_migrations[i];
    if (add(set, f->name, (const char *)f->data, f->len, err, errlen))
      return -1;
  }
  return 0;
}

void tx_migrations_free(struct tx_migration_set *set)
{
  for (size_t i = 0; i < set->count; i++) {
    free(set->items[i].name);
    free(set->items[i].sql);
  }
  free(set->items);
  set->items = NULL;
  set->count = 0;
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen, const char *what)
{
  PGresult *res = PQexec(pg, sql);
  ExecStatusType st = PQresultStatus(res);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok)
    snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
  PQclear(res);
  return ok ? 0 : -1;
}

static const struct tx_migration *find(const struct tx_migration_set *set, int version)
{
  for (size_t i = 0; i < set->count; i++)
    if (set->items[i].version == version)
      return &set->items[i];
  return NULL;
}

/* Applies one migration and records it, in one transaction: a failure leaves no trace. */
static int apply_one(PGconn *pg, const struct tx_migration *m, char *err, size_t errlen)
{
  char what[300];
  snprintf(what, sizeof what, "migration %s failed", m->name);
  if (exec_ok(pg, "BEGIN", err, errlen, what))
    return -1;
  if (exec_ok(pg, m->sql, err, errlen, what))
    goto rollback;
  char version[16];
  snprintf(version, sizeof version, "%d", m->version);
  const char *params[] = {version, m->name, m->checksum};
  PGresult *res = PQexecParams(pg,
                               "INSERT INTO tx_meta.schema_migrations (version, name, checksum)"
                               " VALUES ($1, $2, $3)",
                               3, NULL, params, NULL, NULL, 0);
  int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok)
    snprintf(err, errlen, "%s: recording it: %s", what, PQresultErrorMessage(res));
  PQclear(res);
  if (!ok || exec_ok(pg, "COMMIT", err, errlen, what))
    goto rollback;
  return 0;
rollback:
  PQclear(PQexec(pg, "ROLLBACK"));
  return -1;
}

int tx_migrate(PGconn *pg, const struct tx_migration_set *set, int *applied, char *err, size_t errlen)
{
  int rc = -1;
  PGresult *res = NULL;
  *applied = 0;

  if (exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen, "advisory lock"))
    return -1;
  if (exec_ok(pg,
              "SET client_min_messages = warning;"
              "CREATE SCHEMA IF NOT EXISTS tx_meta;"
              "CREATE TABLE IF NOT EXISTS tx_meta.schema_migrations ("
              " version integer PRIMARY KEY,"
              " name text NOT NULL,"
              " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
              " applied_at timestamptz NOT NULL DEFAULT now(),"
              " applied_by text NOT NULL DEFAULT current_user)",
              err, errlen, "creating the migration ledger"))
    goto out;

  res = PQexec(pg, "SELECT version, name, checksum FROM tx_meta.schema_migrations ORDER BY version");
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    snprintf(err, errlen, "reading the migration ledger: %s", PQresultErrorMessage(res));
    goto out;
  }
  int nrows = PQntuples(res);
  for (int i = 0; i < nrows; i++) {
    int v = atoi(PQgetvalue(res, i, 0));
    const struct tx_migration *m = find(set, v);
    if (!m) {
      snprintf(err, errlen,
               "the database has migration %s which this build does not know: is the binary older "
               "than the database?",
               PQgetvalue(res, i, 1));
      goto out;
    }
    if (strcmp(m->checksum, PQgetvalue(res, i, 2)) != 0) {
      snprintf(err, errlen,
               "migration %s was changed after it was applied (checksum recorded %.12s..., file "
               "%.12s...): applied migrations are immutable, add a new migration instead",
               m->name, PQgetvalue(res, i, 2), m->checksum);
      goto out;
    }
  }
  for (size_t i = 0; i < set->count; i++) {
    const struct tx_migration *m = &set->items[i];
    bool done = false;
    for (int r = 0; r < nrows && !done; r++)
      done = atoi(PQgetvalue(res, r, 0)) == m->version;
    if (done)
      continue;
    if (apply_one(pg, m, err, errlen))
      goto out;
    tx_log(TX_LOG_INFO, "applied migration %s", m->name);
    (*applied)++;
  }
  rc = 0;
out:
  PQclear(res);
  PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
  return rc;
}

int tx_migrations_compare(const struct tx_migration_set *set, const char *ledger_json,
                          size_t *applied)
{
  json_error_t jerr;
  json_t *j_ledger = json_loads(ledger_json, 0, &jerr);
  int rc = -1;
  *applied = 0;
  if (!json_is_array(j_ledger))
    goto out;
  size_t i;
  json_t *j_row;
  json_array_foreach(j_ledger, i, j_row)
  {
    const struct tx_migration *m = find(set, (int)json_integer_value(json_array_get(j_row, 0)));
    const char *sum = json_string_value(json_array_get(j_row, 1));
    if (!m || !sum || strcmp(sum, m->checksum) != 0)
      goto out;
    (*applied)++;
  }
  rc = *applied == set->count ? 0 : 1;
out:
  json_decref(j_ledger);
  return rc;
}
