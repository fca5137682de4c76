/* Unit tests: the registries that grow with the code (issue 9 item 6). The statements a
 * connection has prepared, the idempotent wraps of create statements and the metrics series of
 * routes used to live in fixed arrays (256, 32 and 128): past them, a statement was prepared again
 * on each use and failed (42P05, answered 500), a create silently lost its Idempotency-Key, and
 * a route's requests were counted as unmatched. Each test registers more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/idempotency.h"
#include "core/metrics.h"
#include "core/module.h"
#include "db/pool.h"
#include "db/tx.h"

#define NSTATEMENTS 300 /* more than the 256 prepared statements a connection could remember */
#define NCREATES 40     /* more than the 32 idempotent wraps there were */
#define NROUTES 200     /* more than the 128 routes metrics had series for */

static struct tx_sql statements[NSTATEMENTS];
static char names[NSTATEMENTS][32], texts[NSTATEMENTS][64];

static int make_statements(void **state)
{
  for (int k = 0; k < NSTATEMENTS; k++) {
    snprintf(names[k], sizeof names[k], "t_registry_%d", k);
    snprintf(texts[k], sizeof texts[k], "SELECT (%d + $1::int)::text, NULL, NULL", k);
    statements[k] = (struct tx_sql){names[k], texts[k], 1};
  }
  return 0;
}

static void prepared_set_remembers_every_statement(void **state)
{
  struct tx_conn c;
  memset(&c, 0, sizeof c);
  for (int k = 0; k < NSTATEMENTS; k++) {
    assert_false(tx_conn_is_prepared(&c, &statements[k]));
    assert_int_equal(tx_conn_mark_prepared(&c, &statements[k]), 0);
    assert_int_equal(tx_conn_mark_prepared(&c, &statements[k]), 0); /* twice is once */
  }
  assert_int_equal(c.nprepared, NSTATEMENTS);
  for (int k = 0; k < NSTATEMENTS; k++)
    assert_true(tx_conn_is_prepared(&c, &statements[k]));
  tx_conn_reset(&c); /* a new connection has nothing prepared */
  for (int k = 0; k < NSTATEMENTS; k++)
    assert_false(tx_conn_is_prepared(&c, &statements[k]));
  tx_conn_free(&c);
}

/* Against the test cluster: every statement, run twice on the one pooled connection. The second
 * round reuses the prepared statements; one the connection forgot fails with 42P05. */
static void pool_runs_more_statements_than_the_old_limit(void **state)
{
  const char *host = getenv("TX_TEST_PGHOST"), *port = getenv("TX_TEST_PGPORT"),
             *user = getenv("TX_TEST_PGUSER");
  if (!host || !port || !user)
    skip(); /* outside tests/run: no cluster */
  char url[512];
  snprintf(url, sizeof url, "host=%s port=%s user=%s dbname=postgres", host, port, user);
  struct tx_pool_options o = {url, "test-registries", 1, 5000, 5, 10000, 0, 0};
  assert_int_equal(tx_db_pools_init(&o, NULL), 0);
  struct tx_claims claims = {NULL, NULL, "test-registries"};
  for (int round = 0; round < 2; round++)
    for (int k = 0; k < NSTATEMENTS; k++) {
      struct tx_query q = {&statements[k], (const char *[]){"1"}};
      PGresult *res;
      struct tx_db_outcome out;
      if (tx_db_run(&claims, true, &q, 1, &res, &out)) {
        tx_db_outcome_free(&out);
        fail_msg("round %d, statement %d failed: SQLSTATE %s", round, k, out.sqlstate);
      }
      assert_int_equal(atoi(PQgetvalue(res, 0, 0)), k + 1);
      PQclear(res);
      tx_db_outcome_free(&out);
    }
  struct tx_pool_stats st;
  assert_true(tx_db_pool_stats(TX_DB_PRIMARY, &st));
  assert_int_equal(st.connects, 1); /* one connection did it all, without being reopened */
  tx_db_pools_shutdown();
}

static void every_create_keeps_its_idempotency(void **state)
{
  const struct tx_sql *wrapped[NCREATES];
  for (int k = 0; k < NCREATES; k++) {
    wrapped[k] = tx_idem_sql(&statements[k], true);
    assert_non_null(wrapped[k]);
    assert_ptr_not_equal(wrapped[k], &statements[k]); /* never the plain statement */
    assert_int_equal(wrapped[k]->nparams, statements[k].nparams + 3);
    assert_non_null(strstr(wrapped[k]->text, "tx.idempotency_store("));
    assert_non_null(strstr(wrapped[k]->text, statements[k].text));
  }
  /* made once: the same statement again is the same wrap, so it is prepared once */
  for (int k = 0; k < NCREATES; k++)
    assert_ptr_equal(tx_idem_sql(&statements[k], true), wrapped[k]);
  /* the answer is kept or not, as asked, whichever came first */
  const struct tx_sql *nobody = tx_idem_sql(&statements[0], false);
  assert_non_null(nobody);
  assert_ptr_not_equal(nobody, wrapped[0]);
  assert_non_null(strstr(nobody->text, ", NULL, w.id)"));
  assert_string_not_equal(nobody->name, wrapped[0]->name);
}

static int answer(struct tx_req *r)
{
  return 0;
}

static void every_route_has_its_metrics(void **state)
{
  static struct tx_route rows[NROUTES];
  static char paths[NROUTES][32];
  for (int k = 0; k < NROUTES; k++) {
    snprintf(paths[k], sizeof paths[k], "/v1/generated/%d", k);
    rows[k] = (struct tx_route){"GET", paths[k], "", "G3", .handler = answer};
  }
  const struct tx_module m = {.name = "generated", .routes = rows, .nroutes = NROUTES};
  char err[256];
  assert_int_equal(tx_module_register(&m, err, sizeof err), 0);
  assert_int_equal(tx_routes_count, NROUTES);
  assert_int_equal(tx_metrics_init(tx_routes_count), 0);
  tx_metrics_observe(tx_route_index(&tx_routes[NROUTES - 1]), 200, 0.01);
  tx_metrics_observe(tx_route_index(NULL), 404, 0.01);
  size_t len;
  char *text = tx_metrics_render(&len);
  assert_non_null(strstr(text, "tianxing_http_requests_total{route=\"GET /v1/generated/199\",status=\"200\"} 1"));
  assert_non_null(strstr(text, "tianxing_http_requests_total{route=\"unmatched\",status=\"404\"} 1"));
  free(text);
  tx_metrics_shutdown();
  tx_modules_reset();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(prepared_set_remembers_every_statement),
    cmocka_unit_test(pool_runs_more_statements_than_the_old_limit),
    cmocka_unit_test(every_create_keeps_its_idempotency),
    cmocka_unit_test(every_route_has_its_metrics),
  };
  return cmocka_run_group_tests(tests, make_statements, NULL);
}
