/* Unit tests: configuration parsing and validation (core/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "base/log.h"

static void defaults_are_valid(void **state)
{
  struct tx_config c;
  char err[256];
  tx_config_defaults(&c);
  assert_int_equal(tx_config_validate(&c, err, sizeof err), 0);
  assert_string_equal(c.bind_address, "127.0.0.1");
  assert_int_equal(c.port, 8080);
  assert_null(c.migrate_database_url);
  tx_config_free(&c);
}

static void bad_values_name_the_setting(void **state)
{
  struct tx_config c;
  char err[256];
  tx_config_defaults(&c);
  assert_int_equal(tx_config_set(&c, "TIANXING_PORT", "abc", err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_PORT"));
  assert_non_null(strstr(err, "abc"));
  assert_int_equal(tx_config_set(&c, "TIANXING_PORT", "70000", err, sizeof err), -1);
  assert_int_equal(tx_config_set(&c, "TIANXING_PORT", " 80", err, sizeof err), -1);
  assert_int_equal(tx_config_set(&c, "TIANXING_PORT", "8081", err, sizeof err), 0);
  assert_int_equal(c.port, 8081);
  assert_int_equal(tx_config_set(&c, "TIANXING_BIND_ADDRESS", "localhost", err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_BIND_ADDRESS"));
  assert_int_equal(tx_config_set(&c, "TIANXING_BIND_ADDRESS", "::1", err, sizeof err), 0);
  assert_int_equal(tx_config_set(&c, "TIANXING_ACCESS_LOG", "maybe", err, sizeof err), -1);
  assert_int_equal(tx_config_set(&c, "TIANXING_LOG_LEVEL", "verbose", err, sizeof err), -1);
  assert_int_equal(tx_config_set(&c, "TIANXING_LOG_LEVEL", "debug", err, sizeof err), 0);
  assert_int_equal(c.log_level, TX_LOG_DEBUG);
  assert_int_equal(tx_config_set(&c, "TIANXING_PROT", "1", err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown setting"));
  assert_int_equal(tx_config_set(&c, "TIANXING_BODY_LIMIT", "10", err, sizeof err), -1);
  /* the read replica: optional URL (empty = none), its pool 0 (= the primary's size) .. 256 */
  assert_null(c.read_database_url);
  assert_int_equal(c.read_db_pool_size, 0);
  assert_int_equal(tx_config_set(&c, "TIANXING_READ_DATABASE_URL", "postgresql://ro/tianxing", err,
                                 sizeof err), 0);
  assert_string_equal(c.read_database_url, "postgresql://ro/tianxing");
  assert_int_equal(tx_config_set(&c, "TIANXING_READ_DATABASE_URL", "", err, sizeof err), 0);
  assert_null(c.read_database_url);
  assert_int_equal(tx_config_set(&c, "TIANXING_READ_DB_POOL_SIZE", "257", err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_READ_DB_POOL_SIZE"));
  assert_int_equal(tx_config_set(&c, "TIANXING_READ_DB_POOL_SIZE", "-1", err, sizeof err), -1);
  assert_int_equal(tx_config_set(&c, "TIANXING_READ_DB_POOL_SIZE", "3", err, sizeof err), 0);
  assert_int_equal(c.read_db_pool_size, 3);
  /* writers at once: 2 by default (db/pool.h), 0 (no own limit) .. 256 */
  assert_int_equal(c.db_writers, 2);
  assert_int_equal(tx_config_set(&c, "TIANXING_DB_WRITERS", "257", err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_DB_WRITERS"));
  assert_int_equal(tx_config_set(&c, "TIANXING_DB_WRITERS", "-1", err, sizeof err), -1);
  assert_int_equal(tx_config_set(&c, "TIANXING_DB_WRITERS", "0", err, sizeof err), 0);
  assert_int_equal(c.db_writers, 0);
  tx_config_free(&c);
}

static void cors_origins_validated(void **state)
{
  struct tx_config c;
  char err[256];
  tx_config_defaults(&c);
  tx_config_set(&c, "TIANXING_CORS_ORIGINS", "https://a.example.com,http://localhost:5173", err,
                sizeof err);
  assert_int_equal(tx_config_validate(&c, err, sizeof err), 0);
  tx_config_set(&c, "TIANXING_CORS_ORIGINS", "https://a.example.com/", err, sizeof err);
  assert_int_equal(tx_config_validate(&c, err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_CORS_ORIGINS"));
  tx_config_set(&c, "TIANXING_CORS_ORIGINS", "*", err, sizeof err);
  assert_int_equal(tx_config_validate(&c, err, sizeof err), -1);
  tx_config_free(&c);
}

static void env_overrides_file(void **state)
{
  char path[] = "/tmp/txcfgXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs("# local settings\n\nTIANXING_PORT = 9000\nTIANXING_THREADS=2\n", f);
  fclose(f);
  char *env[] = {"PATH=/bin", "TIANXING_PORT=9001", NULL};
  struct tx_config c;
  char err[256];
  assert_int_equal(tx_config_load(&c, path, env, err, sizeof err), 0);
  assert_int_equal(c.port, 9001);
  assert_int_equal(c.threads, 2);
  tx_config_free(&c);

  char *bad_env[] = {"TIANXING_THREADS=0", NULL};
  assert_int_equal(tx_config_load(&c, path, bad_env, err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_THREADS"));
  tx_config_free(&c);

  f = fopen(path, "w");
  fputs("TIANXING_PORT 9000\n", f);
  fclose(f);
  assert_int_equal(tx_config_load(&c, path, env, err, sizeof err), -1);
  assert_non_null(strstr(err, ":1:"));
  tx_config_free(&c);
  unlink(path);

  assert_int_equal(tx_config_load(&c, "/nonexistent/tx.conf", env, err, sizeof err), -1);
  tx_config_free(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults_are_valid),
    cmocka_unit_test(bad_values_name_the_setting),
    cmocka_unit_test(cors_origins_validated),
    cmocka_unit_test(env_overrides_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
