/* Unit tests: the job kind registry (jobs/jobs.c) and the jobs settings (core/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "base/log.h"
#include "jobs/jobs.h"

static int handler(struct tx_job_ctx *ctx) { return ctx ? 0 : -1; }

static int reset(void **state)
{
  tx_jobs_reset();
  return 0;
}

static void kinds_are_checked(void **state)
{
  static const struct tx_job_kind ok_sql = {.name = "cases.deadline", .sql = "SELECT 1"};
  static const struct tx_job_kind ok_c = {.name = "webhooks.deliver_v2", .run = handler};
  static const struct tx_job_kind twice = {.name = "cases.deadline", .sql = "SELECT 2"};
  static const struct tx_job_kind neither = {.name = "a.b"};
  static const struct tx_job_kind both = {.name = "a.c", .sql = "SELECT 1", .run = handler};
  static const struct tx_job_kind upper = {.name = "Cases.deadline", .sql = "SELECT 1"};
  static const struct tx_job_kind dots = {.name = "cases..deadline", .sql = "SELECT 1"};
  static const struct tx_job_kind trailing = {.name = "cases.", .sql = "SELECT 1"};
  static const struct tx_job_kind digit = {.name = "cases.9x", .sql = "SELECT 1"};
  static const struct tx_job_kind attempts = {.name = "a.d", .sql = "SELECT 1", .max_attempts = 101};
  static const struct tx_job_kind lease = {.name = "a.e", .sql = "SELECT 1", .lease_s = -1};
  assert_int_equal(tx_jobs_register(&ok_sql), 0);
  assert_int_equal(tx_jobs_register(&ok_c), 0);
  assert_int_equal(tx_jobs_register(&twice), -1);
  assert_int_equal(tx_jobs_register(&neither), -1);
  assert_int_equal(tx_jobs_register(&both), -1);
  assert_int_equal(tx_jobs_register(&upper), -1);
  assert_int_equal(tx_jobs_register(&dots), -1);
  assert_int_equal(tx_jobs_register(&trailing), -1);
  assert_int_equal(tx_jobs_register(&digit), -1);
  assert_int_equal(tx_jobs_register(&attempts), -1);
  assert_int_equal(tx_jobs_register(&lease), -1);
  assert_int_equal(tx_jobs_register(NULL), -1);
  assert_int_equal(tx_jobs_kind_count(), 2);
  assert_ptr_equal(tx_jobs_kind("cases.deadline"), &ok_sql);
  assert_ptr_equal(tx_jobs_kind("webhooks.deliver_v2"), &ok_c);
  assert_null(tx_jobs_kind("cases"));
}

/* No fixed limit: the registry grows with the code (issue 9, item 6). */
static void registry_grows(void **state)
{
  enum { N = 300 };
  static struct tx_job_kind k[N];
  static char names[N][32];
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "m%d.kind", i);
    k[i] = (struct tx_job_kind){.name = names[i], .sql = "SELECT 1"};
    assert_int_equal(tx_jobs_register(&k[i]), 0);
  }
  assert_int_equal(tx_jobs_kind_count(), N);
  assert_ptr_equal(tx_jobs_kind("m299.kind"), &k[N - 1]);
  assert_ptr_equal(tx_jobs_kind("m0.kind"), &k[0]);
}

static void settings(void **state)
{
  struct tx_config c;
  char err[256];
  tx_config_defaults(&c);
  assert_true(c.jobs);
  assert_int_equal(c.job_workers, 2);
  assert_int_equal(c.job_poll_ms, 1000);
  assert_int_equal(tx_config_set(&c, "TIANXING_JOBS", "off", err, sizeof err), 0);
  assert_false(c.jobs);
  assert_int_equal(tx_config_set(&c, "TIANXING_JOBS", "on", err, sizeof err), 0);
  assert_true(c.jobs);
  assert_int_equal(tx_config_set(&c, "TIANXING_JOBS", "maybe", err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_JOBS"));
  assert_int_equal(tx_config_set(&c, "TIANXING_JOB_WORKERS", "0", err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_JOB_WORKERS"));
  assert_int_equal(tx_config_set(&c, "TIANXING_JOB_WORKERS", "8", err, sizeof err), 0);
  assert_int_equal(c.job_workers, 8);
  assert_int_equal(tx_config_set(&c, "TIANXING_JOB_POLL_MS", "10", err, sizeof err), -1);
  assert_int_equal(tx_config_set(&c, "TIANXING_JOB_POLL_MS", "250", err, sizeof err), 0);
  assert_int_equal(c.job_poll_ms, 250);
  tx_config_free(&c);
}

/* The metrics of an instance whose scheduler does not run: one gauge saying so. */
static void metrics_when_off(void **state)
{
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  assert_non_null(f);
  tx_jobs_metrics_render(f);
  fclose(f);
  assert_non_null(strstr(out, "# TYPE tianxing_jobs_workers gauge\ntianxing_jobs_workers 0\n"));
  assert_null(strstr(out, "tianxing_jobs_done_total"));
  free(out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(kinds_are_checked, reset),
    cmocka_unit_test_setup(registry_grows, reset),
    cmocka_unit_test(settings),
    cmocka_unit_test(metrics_when_off),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tx_jobs_reset();
  return rc;
}
