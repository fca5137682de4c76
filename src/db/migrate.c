/**
 * @file db/migrate.c
 * @brief Migrations and code files: loading, checksums, the move of a pre-baseline database onto
 * the baseline, and applying them in one transaction under an advisory lock.
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
#include <sys/stat.h>

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

static int add_migration(struct tx_migration_set *set, const char *name, const char *data,
                         size_t len, char *err, size_t errlen)
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

static const struct tx_migration *find_by_name(const struct tx_migration_set *set, const char *name)
{
  for (size_t i = 0; i < set->count; i++)
    if (!strcmp(set->items[i].name, name))
      return &set->items[i];
  return NULL;
}

/* A file read from a directory or from the copy built into the binary. */
struct src_file {
  char *name;
  char *data;
  size_t len;
};

struct src_list {
  struct src_file *items;
  size_t count;
};

static void src_free(struct src_list *l)
{
  for (size_t i = 0; i < l->count; i++) {
    free(l->items[i].name);
    free(l->items[i].data);
  }
  free(l->items);
  l->items = NULL;
  l->count = 0;
}

static int src_add(struct src_list *l, const char *name, const char *data, size_t len, char *err,
                   size_t errlen)
{
  struct src_file *items = realloc(l->items, (l->count + 1) * sizeof *items);
  if (!items) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  l->items = items;
  struct src_file *f = &items[l->count];
  f->name = strdup(name);
  f->data = strndup(data, len);
  f->len = len;
  if (!f->name || !f->data) {
    free(f->name);
    free(f->data);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  l->count++;
  return 0;
}

static int cmp_src(const void *a, const void *b)
{
  return strcmp(((const struct src_file *)a)->name, ((const struct src_file *)b)->name);
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && !strcmp(s + n - m, suffix);
}

/* Reads the files of @p dir that @p want accepts; with @p subdirs, also those one directory down
 * (named "sub/file"). Hidden entries are skipped. */
static int read_dir(const char *dir, const char *prefix, bool subdirs, bool (*want)(const char *),
                    struct src_list *out, char *err, size_t errlen)
{
  char path[4096];
  snprintf(path, sizeof path, "%s%s%s", dir, *prefix ? "/" : "", prefix);
  DIR *d = opendir(path);
  if (!d) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char rel[1024], full[4096];
    snprintf(rel, sizeof rel, "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
    snprintf(full, sizeof full, "%s/%s", dir, rel);
    struct stat st;
    if (stat(full, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode)) {
      if (subdirs)
        rc = read_dir(dir, rel, false, want, out, err, errlen);
      continue;
    }
    if (!want(e->d_name))
      continue;
    char *buf = NULL;
    size_t size = 0;
    rc = tx_read_file(full, 16 << 20, &buf, &size, err, errlen);
    if (rc == 0)
      rc = src_add(out, rel, buf, size, err, errlen);
    free(buf);
  }
  closedir(d);
  if (rc == 0 && out->count)
    qsort(out->items, out->count, sizeof *out->items, cmp_src);
  return rc;
}

static bool want_migration(const char *name)
{
  return ends_with(name, ".sql") || ends_with(name, ".legacy");
}

static bool want_code(const char *name)
{
  return ends_with(name, ".sql") || !strcmp(name, "ORDER");
}

static int from_embedded(const struct tx_embedded_file *files, size_t n, struct src_list *out,
                         char *err, size_t errlen)
{
  for (size_t i = 0; i < n; i++)
    if (src_add(out, files[i].name, (const char *)files[i].data, files[i].len, err, errlen))
      return -1;
  return 0;
}

/* NNNN_name.legacy: one "NNNN_name.sql <sha256>" line per migration the baseline NNNN_name.sql
 * replaced; '#' starts a comment line. */
static int parse_legacy(struct tx_migration_set *set, const struct src_file *f, char *err,
                        size_t errlen)
{
  char base[1024];
  snprintf(base, sizeof base, "%.*s.sql", (int)(strlen(f->name) - strlen(".legacy")), f->name);
  int bv = parse_version(base);
  if (set->baseline_version) {
    snprintf(err, errlen, "%s: only one baseline (.legacy file) is supported", f->name);
    return -1;
  }
  if (bv <= 0 || !find_by_name(set, base)) {
    snprintf(err, errlen, "%s: no migration %s beside it", f->name, base);
    return -1;
  }
  set->baseline_version = bv;
  int rc = 0;
  char *copy = strdup(f->data), *save = NULL;
  if (!copy) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (char *line = strtok_r(copy, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0')
      continue;
    char name[512], sum[128];
    int v;
    if (sscanf(line, "%511s %127s", name, sum) != 2 || (v = parse_version(name)) <= 0 ||
        strlen(sum) != 64 || strspn(sum, "0123456789abcdef") != 64 || v > bv) {
      snprintf(err, errlen, "%s: bad line \"%.80s\" (want NNNN_name.sql and a SHA-256, NNNN <= %d)",
               f->name, line, bv);
      rc = -1;
      break;
    }
    struct tx_legacy_row *rows = realloc(set->legacy, (set->legacy_count + 1) * sizeof *rows);
    if (!rows) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
      break;
    }
    set->legacy = rows;
    struct tx_legacy_row *r = &rows[set->legacy_count++];
    r->version = v;
    r->name = strdup(name);
    memcpy(r->checksum, sum, 65);
  }
  free(copy);
  return rc;
}

/* The code files, in the order ORDER names them; every .sql file must be named exactly once. */
static int load_code(struct tx_migration_set *set, const struct src_list *files, char *err,
                     size_t errlen)
{
  const struct src_file *order = NULL;
  for (size_t i = 0; i < files->count; i++)
    if (!strcmp(files->items[i].name, "ORDER"))
      order = &files->items[i];
  if (!order) {
    snprintf(err, errlen, "sql/code: no ORDER file");
    return -1;
  }
  bool *used = calloc(files->count + 1, sizeof *used);
  char *copy = strdup(order->data), *save = NULL;
  int rc = 0;
  if (!used || !copy) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
    goto out;
  }
  for (char *line = strtok_r(copy, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
    line[strcspn(line, "\r")] = '\0';
    if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
      continue;
    size_t k = 0;
    while (k < files->count && strcmp(files->items[k].name, line) != 0)
      k++;
    if (k == files->count || !ends_with(line, ".sql")) {
      snprintf(err, errlen, "sql/code/ORDER names %s, which is not a .sql file of sql/code", line);
      rc = -1;
      break;
    }
    if (used[k]) {
      snprintf(err, errlen, "sql/code/ORDER names %s twice", line);
      rc = -1;
      break;
    }
    used[k] = true;
    struct tx_code_file *code = realloc(set->code, (set->code_count + 1) * sizeof *code);
    if (!code) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
      break;
    }
    set->code = code;
    struct tx_code_file *c = &code[set->code_count++];
    c->path = strdup(line);
    c->sql = strndup(files->items[k].data, files->items[k].len);
    tx_sha256_hex(files->items[k].data, files->items[k].len, c->checksum);
  }
  for (size_t i = 0; rc == 0 && i < files->count; i++)
    if (!used[i] && ends_with(files->items[i].name, ".sql")) {
      snprintf(err, errlen, "sql/code/%s is not listed in sql/code/ORDER", files->items[i].name);
      rc = -1;
    }
out:
  free(used);
  free(copy);
  return rc;
}

int tx_migrations_load(const char *dir, const char *code_dir, struct tx_migration_set *set,
                       char *err, size_t errlen)
{
  memset(set, 0, sizeof *set);
  struct src_list mig = {0}, code = {0};
  int rc = -1;
  if (dir ? read_dir(dir, "", false, want_migration, &mig, err, errlen)
          : from_embedded(tx_embedded_migrations, tx_embedded_migrations_count, &mig, err, errlen))
    goto out;
  for (size_t i = 0; i < mig.count; i++)
    if (ends_with(mig.items[i].name, ".sql") &&
        add_migration(set, mig.items[i].name, mig.items[i].data, mig.items[i].len, err, errlen))
      goto out;
  for (size_t i = 0; i < mig.count; i++)
    if (ends_with(mig.items[i].name, ".legacy") && parse_legacy(set, &mig.items[i], err, errlen))
      goto out;
  if (code_dir ? read_dir(code_dir, "", true, want_code, &code, err, errlen)
               : from_embedded(tx_embedded_code, tx_embedded_code_count, &code, err, errlen))
    goto out;
  if (load_code(set, &code, err, errlen))
    goto out;
  rc = 0;
out:
  src_free(&mig);
  src_free(&code);
  return rc;
}

void tx_migrations_free(struct tx_migration_set *set)
{
  for (size_t i = 0; i < set->count; i++) {
    free(set->items[i].name);
    free(set->items[i].sql);
  }
  for (size_t i = 0; i < set->code_count; i++) {
    free(set->code[i].path);
    free(set->code[i].sql);
  }
  for (size_t i = 0; i < set->legacy_count; i++)
    free(set->legacy[i].name);
  free(set->items);
  free(set->code);
  free(set->legacy);
  memset(set, 0, sizeof *set);
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

static int exec_params(PGconn *pg, const char *sql, int n, const char *const *params, char *err,
                       size_t errlen, const char *what)
{
  PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
  int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
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

static const struct tx_legacy_row *find_legacy(const struct tx_migration_set *set, int version)
{
  for (size_t i = 0; i < set->legacy_count; i++)
    if (set->legacy[i].version == version)
      return &set->legacy[i];
  return NULL;
}

/* Runs one file inside the open transaction; a file that set a role leaves none behind. */
static int run_file(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen)
{
  if (exec_ok(pg, sql, err, errlen, what))
    return -1;
  return exec_ok(pg, "RESET ROLE", err, errlen, what);
}

/* A database migrated before the baseline existed: its ledger holds rows at or below the baseline
 * version other than the baseline's own. They must be exactly the migrations the baseline
 * replaced; then they become the baseline's row (the schema is the same, the data stays). */
static int move_onto_baseline(PGconn *pg, const struct tx_migration_set *set, PGresult *ledger,
                              bool *moved, char *err, size_t errlen)
{
  int b = set->baseline_version, n = PQntuples(ledger), before = 0;
  const struct tx_migration *base = find(set, b);
  *moved = false;
  if (!b)
    return 0;
  const char *last = NULL;
  for (int i = 0; i < n; i++) {
    int v = atoi(PQgetvalue(ledger, i, 0));
    if (v > b)
      continue;
    if (v == b && !strcmp(PQgetvalue(ledger, i, 2), base->checksum))
      continue; /* the baseline itself: checked like any migration */
    const struct tx_legacy_row *l = find_legacy(set, v);
    if (!l) {
      snprintf(err, errlen,
               "the database has migration %s which this build does not know: is the binary older "
               "than the database?",
               PQgetvalue(ledger, i, 1));
      return -1;
    }
    if (strcmp(l->name, PQgetvalue(ledger, i, 1)) != 0 ||
        strcmp(l->checksum, PQgetvalue(ledger, i, 2)) != 0) {
      snprintf(err, errlen,
               "migration %s recorded in the database is not the released %s (checksum recorded "
               "%.12s..., released %.12s...): the database cannot be moved onto %s",
               PQgetvalue(ledger, i, 1), l->name, PQgetvalue(ledger, i, 2), l->checksum,
               base->name);
      return -1;
    }
    before++;
    last = PQgetvalue(ledger, i, 1);
  }
  if (before == 0)
    return 0;
  if ((size_t)before != set->legacy_count) {
    snprintf(err, errlen,
             "the database has %d of the %zu migrations that %s replaces (the last applied: %s): "
             "upgrade it with an earlier release that has all of them first, then with this one",
             before, set->legacy_count, base->name, last);
    return -1;
  }
  char version[16];
  snprintf(version, sizeof version, "%d", b);
  const char *params[] = {version, base->name, base->checksum};
  if (exec_params(pg, "DELETE FROM tx_meta.schema_migrations WHERE version <= $1", 1, params, err,
                  errlen, "moving onto the baseline") ||
      exec_params(pg,
                  "INSERT INTO tx_meta.schema_migrations (version, name, checksum)"
                  " VALUES ($1, $2, $3)",
                  3, params, err, errlen, "moving onto the baseline"))
    return -1;
  tx_log(TX_LOG_INFO, "moved the database from the %d migrations before it onto %s (data kept)",
         before, base->name);
  *moved = true;
  return 0;
}

static const char *const LEDGER_SQL =
  "SELECT version, name, checksum FROM tx_meta.schema_migrations ORDER BY version";

/* The versioned migrations: checks the ledger, then applies what is pending. */
static int apply_migrations(PGconn *pg, const struct tx_migration_set *set, int *applied, char *err,
                            size_t errlen)
{
  int rc = -1;
  bool moved = false;
  PGresult *res = PQexec(pg, LEDGER_SQL);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    snprintf(err, errlen, "reading the migration ledger: %s", PQresultErrorMessage(res));
    goto out;
  }
  if (move_onto_baseline(pg, set, res, &moved, err, errlen))
    goto out;
  if (moved) {
    PQclear(res);
    res = PQexec(pg, LEDGER_SQL);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      snprintf(err, errlen, "reading the migration ledger: %s", PQresultErrorMessage(res));
      goto out;
    }
  }
  int nrows = PQntuples(res);
  for (int i = 0; i < nrows; i++) {
    const struct tx_migration *m = find(set, atoi(PQgetvalue(res, i, 0)));
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
    char what[300], version[16];
    snprintf(what, sizeof what, "migration %s failed", m->name);
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name, m->checksum};
    if (run_file(pg, m->sql, what, err, errlen) ||
        exec_params(pg,
                    "INSERT INTO tx_meta.schema_migrations (version, name, checksum)"
                    " VALUES ($1, $2, $3)",
                    3, params, err, errlen, what))
      goto out;
    tx_log(TX_LOG_INFO, "applied migration %s", m->name);
    (*applied)++;
  }
  rc = 0;
out:
  PQclear(res);
  return rc;
}

/* The code files: each one whose checksum is not the one recorded is run again, in order.
 * Function bodies are checked when called, not when defined (as pg_dump restores them), so a
 * function may call one of a later file. Rows of files that no longer exist are removed: their
 * objects stay until a migration drops them. */
static int apply_code(PGconn *pg, const struct tx_migration_set *set, char *err, size_t errlen)
{
  int rc = -1, reapplied = 0;
  PGresult *res = PQexec(pg, "SELECT path, checksum FROM tx_meta.schema_code ORDER BY path");
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    snprintf(err, errlen, "reading the code ledger: %s", PQresultErrorMessage(res));
    goto out;
  }
  int nrows = PQntuples(res);
  for (int r = 0; r < nrows; r++) {
    bool known = false;
    for (size_t i = 0; i < set->code_count && !known; i++)
      known = !strcmp(set->code[i].path, PQgetvalue(res, r, 0));
    if (known)
      continue;
    const char *params[] = {PQgetvalue(res, r, 0)};
    if (exec_params(pg, "DELETE FROM tx_meta.schema_code WHERE path = $1", 1, params, err, errlen,
                    "updating the code ledger"))
      goto out;
    tx_log(TX_LOG_WARN, "code file %s is gone: its objects stay until a migration drops them",
           params[0]);
  }
  if (exec_ok(pg, "SET LOCAL check_function_bodies = off", err, errlen, "applying code"))
    goto out;
  for (size_t i = 0; i < set->code_count; i++) {
    const struct tx_code_file *c = &set->code[i];
    bool current = false;
    for (int r = 0; r < nrows && !current; r++)
      current = !strcmp(PQgetvalue(res, r, 0), c->path) && !strcmp(PQgetvalue(res, r, 1), c->checksum);
    if (current)
      continue;
    char what[300];
    snprintf(what, sizeof what, "code file %s failed", c->path);
    const char *params[] = {c->path, c->checksum};
    if (run_file(pg, c->sql, what, err, errlen) ||
        exec_params(pg,
                    "INSERT INTO tx_meta.schema_code (path, checksum) VALUES ($1, $2)"
                    " ON CONFLICT (path) DO UPDATE SET checksum = EXCLUDED.checksum,"
                    " applied_at = now(), applied_by = current_user",
                    2, params, err, errlen, what))
      goto out;
    tx_log(TX_LOG_INFO, "applied code file %s", c->path);
    reapplied++;
  }
  if (exec_ok(pg, "SET LOCAL check_function_bodies = on", err, errlen, "applying code"))
    goto out;
  if (reapplied)
    tx_log(TX_LOG_INFO, "code: %d of %zu files applied", reapplied, set->code_count);
  rc = 0;
out:
  PQclear(res);
  return rc;
}

int tx_migrate(PGconn *pg, const struct tx_migration_set *set, int *applied, char *err, size_t errlen)
{
  int rc = -1;
  bool open = false;
  *applied = 0;

  if (exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen, "advisory lock"))
    return -1;
  /* One transaction for everything, the ledgers' creation included: a failure or a refusal
   * anywhere leaves the database as it was. */
  if (exec_ok(pg, "BEGIN", err, errlen, "migrate"))
    goto out;
  open = true;
  if (exec_ok(pg,
              "SET LOCAL client_min_messages = warning;"
              "CREATE SCHEMA IF NOT EXISTS tx_meta;"
              "CREATE TABLE IF NOT EXISTS tx_meta.schema_migrations ("
              " version integer PRIMARY KEY,"
              " name text NOT NULL,"
              " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
              " applied_at timestamptz NOT NULL DEFAULT now(),"
              " applied_by text NOT NULL DEFAULT current_user);"
              "CREATE TABLE IF NOT EXISTS tx_meta.schema_code ("
              " path text PRIMARY KEY,"
              " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"
              " applied_at timestamptz NOT NULL DEFAULT now(),"
              " applied_by text NOT NULL DEFAULT current_user)",
              err, errlen, "creating the migration ledger"))
    goto out;
  if (apply_migrations(pg, set, applied, err, errlen) || apply_code(pg, set, err, errlen))
    goto out;
  if (exec_ok(pg, "COMMIT", err, errlen, "migrate: commit"))
    goto out;
  open = false;
  rc = 0;
out:
  if (open)
    PQclear(PQexec(pg, "ROLLBACK"));
  PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
  if (rc == 0)
    return 0;
  *applied = 0;
  return rc;
}

int tx_code_compare(const struct tx_migration_set *set, const char *ledger_json, size_t *current)
{
  json_t *j_ledger = json_loads(ledger_json, 0, NULL);
  *current = 0;
  for (size_t i = 0; i < set->code_count; i++) {
    size_t k;
    json_t *j_row;
    json_array_foreach(j_ledger, k, j_row)
    {
      const char *path = json_string_value(json_array_get(j_row, 0));
      const char *sum = json_string_value(json_array_get(j_row, 1));
      if (path && sum && !strcmp(path, set->code[i].path) && !strcmp(sum, set->code[i].checksum)) {
        (*current)++;
        break;
      }
    }
  }
  json_decref(j_ledger);
  return *current == set->code_count ? 0 : 1;
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
