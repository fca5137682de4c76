/* Unit tests: route matching, the error registry, problem documents, SQLSTATE mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/errors.h"
#include "core/routes.h"
#include "db/tx.h"

static void match_known_and_unknown(void **state)
{
  const struct tx_route *rt = NULL;
  char allow[64];
  assert_int_equal(tx_route_match("GET", "/v1/version", &rt, allow, sizeof allow, NULL), TX_MATCH_OK);
  assert_string_equal(rt->path, "/v1/version");
  assert_string_equal(allow, "GET, HEAD");
  assert_int_equal(tx_route_match("HEAD", "/healthz", &rt, allow, sizeof allow, NULL), TX_MATCH_OK);
  assert_string_equal(rt->method, "GET");
  assert_int_equal(tx_route_match("POST", "/healthz", &rt, allow, sizeof allow, NULL),
                   TX_MATCH_PATH_ONLY);
  assert_string_equal(allow, "GET, HEAD");
  assert_int_equal(tx_route_match("GET", "/healthz/", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_int_equal(tx_route_match("GET", "/v1/versio", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_int_equal(tx_route_match("GET", "/", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_int_equal(tx_route_match("GET", "//healthz", &rt, allow, sizeof allow, NULL), TX_MATCH_NONE);
  assert_string_equal(allow, "");
}

static void every_route_is_well_formed(void **state)
{
  for (size_t i = 0; i < tx_routes_count; i++) {
    assert_int_equal(tx_routes[i].path[0], '/');
    assert_non_null(tx_routes[i].handler);
    assert_true(strlen(tx_routes[i].clauses) > 0); /* every route cites what it serves */
    for (size_t j = i + 1; j < tx_routes_count; j++)
      assert_false(!strcmp(tx_routes[i].method, tx_routes[j].method) &&
                   !strcmp(tx_routes[i].path, tx_routes[j].path));
  }
}

static void registry_is_consistent(void **state)
{
  for (int i = 0; i < TX_E__COUNT; i++) {
    const struct tx_error_info *e = tx_error_info((enum tx_code)i);
    assert_true(e->status >= 400 && e->status <= 599);
    assert_true(strlen(e->title_zh) > 0);
    for (int j = i + 1; j < TX_E__COUNT; j++)
      assert_string_not_equal(e->code, tx_error_info((enum tx_code)j)->code);
  }
  assert_int_equal(tx_error_info(TX_E_NOT_FOUND)->status, 404);
  assert_int_equal(tx_error_info((enum tx_code)9999)->status, 500);
}

static void problem_document(void **state)
{
  json_t *j_errors = json_array();
  tx_problem_add_field(j_errors, "name", "required", "name is required");
  json_t *j_p = tx_problem_new(TX_E_VALIDATION_FAILED, 0, "Bad input.", "rid-1", "/v1/x", j_errors);
  assert_string_equal(json_string_value(json_object_get(j_p, "code")), "validation_failed");
  assert_int_equal(json_integer_value(json_object_get(j_p, "status")), 422);
  assert_string_equal(json_string_value(json_object_get(j_p, "type")),
                      "urn:tianxing:problem:validation_failed");
  assert_string_equal(json_string_value(json_object_get(j_p, "request_id")), "rid-1");
  assert_string_equal(
    json_string_value(json_object_get(json_array_get(json_object_get(j_p, "errors"), 0), "field")),
    "name");
  json_decref(j_p);

  /* Invalid UTF-8 in a detail never yields an invalid document. */
  j_p = tx_problem_new(TX_E_NOT_FOUND, 1, "bad \xff byte", NULL, "/\xfe", NULL);
  assert_string_equal(json_string_value(json_object_get(j_p, "detail")), "找不到資源");
  assert_string_equal(json_string_value(json_object_get(j_p, "title")), "找不到資源");
  assert_string_equal(json_string_value(json_object_get(j_p, "instance")), "/%FE");
  json_decref(j_p);
}

static void sqlstate_mapping(void **state)
{
  assert_int_equal(tx_db_map_sqlstate("23505"), TX_E_CONFLICT);
  assert_int_equal(tx_db_map_sqlstate("TXTRN"), TX_E_INVALID_TRANSITION); /* fsm: 409 */
  assert_int_equal(tx_db_map_sqlstate("55000"), TX_E_INTERNAL_ERROR); /* fsm bypassed: a bug */
  assert_int_equal(tx_db_map_sqlstate("23503"), TX_E_REFERENCE_NOT_FOUND);
  assert_int_equal(tx_db_map_sqlstate("23514"), TX_E_CONSTRAINT_VIOLATION);
  assert_int_equal(tx_db_map_sqlstate("23502"), TX_E_CONSTRAINT_VIOLATION);
  assert_int_equal(tx_db_map_sqlstate("42501"), TX_E_FORBIDDEN);
  assert_int_equal(tx_db_map_sqlstate("P0002"), TX_E_NOT_FOUND);
  assert_int_equal(tx_db_map_sqlstate("22P02"), TX_E_VALIDATION_FAILED);
  assert_int_equal(tx_db_map_sqlstate("54000"), TX_E_VALIDATION_FAILED); /* index entry too big */
  assert_int_equal(tx_db_map_sqlstate("40001"), TX_E_SERVICE_BUSY);
  assert_int_equal(tx_db_map_sqlstate("57014"), TX_E_DATABASE_TIMEOUT);
  assert_int_equal(tx_db_map_sqlstate("57P01"), TX_E_DATABASE_UNAVAILABLE);
  assert_int_equal(tx_db_map_sqlstate("08006"), TX_E_DATABASE_UNAVAILABLE);
  assert_int_equal(tx_db_map_sqlstate("42P01"), TX_E_INTERNAL_ERROR);
  assert_int_equal(tx_db_map_sqlstate("XX000"), TX_E_INTERNAL_ERROR);
  assert_int_equal(tx_db_map_sqlstate(NULL), TX_E_INTERNAL_ERROR);
  assert_int_equal(tx_db_map_sqlstate("235"), TX_E_INTERNAL_ERROR);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(match_known_and_unknown), cmocka_unit_test(every_route_is_well_formed),
    cmocka_unit_test(registry_is_consistent),  cmocka_unit_test(problem_document),
    cmocka_unit_test(sqlstate_mapping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
