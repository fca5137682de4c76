/* Unit tests: migration loading, ordering, checksums and ledger comparison (db/migrate.c). */
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
  assert_int_equal(tx_migrations_load(NULL, &set, err, sizeof err), 0);
  assert_true(set.count >= 1);
  assert_int_equal(set.items[0].version, 1);
  for (size_t i = 1; i < set.count; i++)
    assert_true(set.items[i].version > set.items[i - 1].version);
  tx_migrations_free(&set);
}

static void dir_loading_and_rules(void **state)
{
  struct tx_migration_set set;
  char err[256];
  write_file("0002_b.sql", "SELECT 2;");
  write_file("0001_a.sql", "SELECT 1;");
  write_file("README.txt", "ignored");
  assert_int_equal(tx_migrations_load(dir, &set, err, sizeof err), 0);
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
  assert_int_equal(tx_migrations_load(dir, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "0002"));
  tx_migrations_free(&set);
  char path[256];
  snprintf(path, sizeof path, "%s/0002_dup.sql", dir);
  unlink(path);

  write_file("3_bad.sql", "SELECT 4;");
  assert_int_equal(tx_migrations_load(dir, &set, err, sizeof err), -1);
  assert_non_null(strstr(err, "NNNN"));
  tx_migrations_free(&set);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(sha256_known_vector),
    cmocka_unit_test(embedded_set_is_ordered),
    cmocka_unit_test_setup_teardown(dir_loading_and_rules, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
