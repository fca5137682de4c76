/**
 * @file test_migrate.c
 * @brief Unit tests: loading migrations, the baseline's legacy list and the code files, ordering,
 * checksums and ledger comparison (db/migrate.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/migrate.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (strchr(name, '/')) { /* code files live in module directories */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/%.*s", dir, (int)(strrchr(name, '/') - name), name);
    assert_int_equal(system(cmd), 0);
  }
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static int setup(void **state)
{
  strcpy(dir, "/tmp/txmigXXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

static void sha256_known_vector(void **state)
{
  char hex[65];
  tx_sha256_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void embedded_set_is_ordered(void **state)
{
  struct tx_migration_set set;
  char err[256];
  assert_int_equal(tx_migrations_load(NULL, NULL, &set, err, sizeof err), 0);
  assert_true(set.count >= 1);
  /* The first migration is the baseline, with the twelve it replaced. */
  assert_int_equal(set.items[0].version, 12);
  assert_string_equal(set.items[0].name, "0012_baseline.sql");
  assert_int_equal(set.baseline_version, 12);
  assert_int_equal(set.legacy_count, 12);
  for (size_t i = 0; i < set.legacy_count; i++)
    assert_int_equal(set.legacy[i].version, (int)i + 1);
  assert_string_equal(set.legacy[0].name, "0001_foundation.sql");
  for (size_t i = 1; i < set.count; i++)
    assert_true(set.items[i].version > set.items[i - 1].version);
  /* The code, in ORDER's order: the shared kit first. */
  assert_true(set.code_count >= 4);
  assert_string_equal(set.code[0].path, "kit/000_ledger.sql");
  for (size_t i = 0; i < set.code_count; i++)
    assert_int_equal(strlen(set.code[i].checksum), 64);
  tx_migrations_free(&set);
}

static void dir_loading_and_rules(void **state)
{
  struct tx_migration_set set;
  char err[256];
  write_file("0002_b.sql", "SELECT 2;");
  write_file("0001_a.sql", "SELECT 1;");
  write_file("README.txt", "ignored");
  assert_int_equal(tx_migrations_load(dir, NULL, &set, err, sizeof err), 0);
  assert_int_equal(set.count, 2);
  assert_string_equal(set.items[0].name, "0001_a.sql");
  assert_string_equal(set.items[1].sql, "SELECT 2;");

  char ledger[400];
  snprintf(ledger, sizeof ledger, "[[1,\"%s\"]]", set.items[0].checksum);
  size_t applied;
  assert_int_equal(tx_migrations_compare(&set, ledger, &applied), 1); /* pending */
  assert_int_equal(applied, 1);
  snprintf(ledger, sizeof ledger, "[[1,\"%s\"],[2,\"%s\"]]", set.items[0].checksum,
           set.items[1].checksum);
  assert_int_equal(tx_migrations_compare(&set, ledger, &applied), 0); /* current */
  snprintf(ledger, sizeof ledger, "[[1,\"%064d\"]]", 0);
  assert_int_equal(tx_migrations_compare(&set, ledger, &applied), -1); /* changed */
  assert_int_equal(tx_migrations_compare(&set, "[[3,\"x\"]]", &applied), -1); /* unknown */
  assert_int_equal(tx_migrations_compare(&set, "not json", &applied), -1);
  tx_migrations_free(&set);

  write_file("0002_dup.sql", "SELECT 3;");
  assert_int_equal(tx_migrations_load(dir, NULL, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "0002"));
  tx_migrations_free(&set);
  char path[256];
  snprintf(path, sizeof path, "%s/0002_dup.sql", dir);
  unlink(path);

  write_file("3_bad.sql", "SELECT 4;");
  assert_int_equal(tx_migrations_load(dir, NULL, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "NNNN"));
  tx_migrations_free(&set);
}

/* The code directory: ORDER decides the order and must name every .sql file exactly once. */
static void code_dir_rules(void **state)
{
  struct tx_migration_set set;
  char err[256], mig[128], code[128];
  snprintf(mig, sizeof mig, "%s/m", dir);
  snprintf(code, sizeof code, "%s/c", dir);
  write_file("m/0001_a.sql", "SELECT 1;");
  write_file("c/b/020_b.sql", "SELECT 2;");
  write_file("c/a/010_a.sql", "SELECT 1;");
  write_file("c/ORDER", "# comment\nb/020_b.sql\n\na/010_a.sql\n");
  assert_int_equal(tx_migrations_load(mig, code, &set, err, sizeof err), 0);
  assert_int_equal(set.code_count, 2);
  assert_string_equal(set.code[0].path, "b/020_b.sql"); /* ORDER, not the names, decides */
  assert_string_equal(set.code[1].sql, "SELECT 1;");
  assert_int_equal(set.baseline_version, 0);
  tx_migrations_free(&set);

  write_file("c/a/030_unlisted.sql", "SELECT 3;");
  assert_int_equal(tx_migrations_load(mig, code, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "a/030_unlisted.sql is not listed"));
  tx_migrations_free(&set);

  write_file("c/ORDER", "b/020_b.sql\na/010_a.sql\na/030_unlisted.sql\na/040_missing.sql\n");
  assert_int_equal(tx_migrations_load(mig, code, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "a/040_missing.sql"));
  tx_migrations_free(&set);

  write_file("c/ORDER", "b/020_b.sql\na/010_a.sql\na/030_unlisted.sql\nb/020_b.sql\n");
  assert_int_equal(tx_migrations_load(mig, code, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "twice"));
  tx_migrations_free(&set);

  /* A baseline's legacy list: parsed, and refused when malformed or beside no migration. */
  write_file("c/ORDER", "b/020_b.sql\na/010_a.sql\na/030_unlisted.sql\n");
  char legacy[300];
  snprintf(legacy, sizeof legacy, "# old\n0001_x.sql %064d\n", 7);
  write_file("m/0001_a.legacy", legacy);
  assert_int_equal(tx_migrations_load(mig, code, &set, err, sizeof err), 0);
  assert_int_equal(set.baseline_version, 1);
  assert_int_equal(set.legacy_count, 1);
  assert_string_equal(set.legacy[0].name, "0001_x.sql");
  tx_migrations_free(&set);
  write_file("m/0001_a.legacy", "0001_x.sql not-a-checksum\n");
  assert_int_equal(tx_migrations_load(mig, code, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad line"));
  tx_migrations_free(&set);
  snprintf(legacy, sizeof legacy, "%s/m/0001_a.legacy", dir);
  unlink(legacy);
  write_file("m/0002_none.legacy", "");
  assert_int_equal(tx_migrations_load(mig, code, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "no migration 0002_none.sql"));
  tx_migrations_free(&set);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(sha256_known_vector),
    cmocka_unit_test(embedded_set_is_ordered),
    cmocka_unit_test_setup_teardown(dir_loading_and_rules, setup, teardown),
    cmocka_unit_test_setup_teardown(code_dir_rules, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
