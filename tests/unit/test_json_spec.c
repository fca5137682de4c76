/* Unit tests: declarative body checks (core/json_spec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/json_spec.h"

static const char *const tiers[] = {"a", "b", "c", NULL};
static const struct tx_field spec[] = {
  {.name = "name", .type = TX_J_STRING, .required = true, .min_len = 2, .max_len = 5},
  {.name = "note", .type = TX_J_STRING, .multiline = true, .nullable = true},
  {.name = "tier", .type = TX_J_STRING, .one_of = tiers},
  {.name = "count", .type = TX_J_INTEGER, .min = 1, .max = 10},
  {.name = "active", .type = TX_J_BOOLEAN},
  {.name = "owner_id", .type = TX_J_UUID},
  {.name = "signed_on", .type = TX_J_DATE},
  {.name = "amount", .type = TX_J_DECIMAL},
  {.name = "tags", .type = TX_J_ARRAY, .max_len = 2},
};
#define N (sizeof spec / sizeof spec[0])

/* Returns the error codes as "field:code field:code". */
static void check(const char *body, const char *expected)
{
  json_t *j_body = json_loads(body, 0, NULL);
  assert_non_null(j_body);
  json_t *j_errors = tx_json_check(j_body, spec, N, false);
  assert_non_null(j_errors);
  char got[512] = "";
  size_t i;
  json_t *j_e;
  json_array_foreach(j_errors, i, j_e)
  {
    if (i)
      strcat(got, " ");
    strcat(got, json_string_value(json_object_get(j_e, "field")));
    strcat(got, ":");
    strcat(got, json_string_value(json_object_get(j_e, "code")));
    assert_non_null(json_string_value(json_object_get(j_e, "message")));
  }
  assert_string_equal(got, expected);
  json_decref(j_errors);
  json_decref(j_body);
}

static void valid_body(void **state)
{
  check("{\"name\":\"天星苑\",\"note\":\"line1\\nline2\",\"tier\":\"b\",\"count\":10,\"active\":true,"
        "\"owner_id\":\"2f1b6c1e-8a4b-4c0e-9a55-0c8f3c1d2e3f\",\"signed_on\":\"2024-02-29\","
        "\"amount\":\"-12.50\",\"tags\":[1,2]}",
        "");
  check("{\"name\":\"ab\",\"note\":null}", "");
}

static void each_rule_names_its_field(void **state)
{
  check("{}", "name:required");
  check("{\"name\":\"a\"}", "name:too_short");
  check("{\"name\":\"abcdef\"}", "name:too_long");
  check("{\"name\":\"天星苑天星\"}", ""); /* five code points, fifteen bytes */
  check("{\"name\":12}", "name:type");
  check("{\"name\":null}", "name:null");
  check("{\"name\":\"a\\u0001b\"}", "name:control_characters");
  /* Issue 10 item 16: embeddings, overrides, isolates refused; the one-position marks pass. */
  check("{\"name\":\"a\\u202eb\"}", "name:bidi_control");
  check("{\"name\":\"a\\u202ab\"}", "name:bidi_control");
  check("{\"name\":\"a\\u2066b\"}", "name:bidi_control");
  check("{\"name\":\"a\\u2069b\"}", "name:bidi_control");
  check("{\"name\":\"a\\u200fb\"}", "");
  check("{\"name\":\"a\\u2029b\\u2070\"}", "");
  check("{\"name\":\"ab\",\"tier\":\"z\"}", "tier:not_allowed");
  check("{\"name\":\"ab\",\"count\":11}", "count:out_of_range");
  check("{\"name\":\"ab\",\"count\":1.5}", "count:type");
  check("{\"name\":\"ab\",\"active\":\"true\"}", "active:type");
  check("{\"name\":\"ab\",\"owner_id\":\"not-a-uuid\"}", "owner_id:format");
  check("{\"name\":\"ab\",\"signed_on\":\"2023-02-29\"}", "signed_on:format");
  check("{\"name\":\"ab\",\"signed_on\":\"2023-13-01\"}", "signed_on:format");
  check("{\"name\":\"ab\",\"amount\":\"1e5\"}", "amount:format");
  check("{\"name\":\"ab\",\"amount\":\"1.\"}", "amount:format");
  check("{\"name\":\"ab\",\"amount\":12.5}", "amount:type");
  check("{\"name\":\"ab\",\"tags\":[1,2,3]}", "tags:too_long");
  check("{\"name\":\"ab\",\"nmae\":\"x\"}", "nmae:unknown_field");
  check("{\"count\":0,\"extra\":1}", "name:required count:out_of_range extra:unknown_field");
}

static void non_object_body(void **state)
{
  json_t *j_body = json_loads("[1,2]", 0, NULL);
  assert_null(tx_json_check(j_body, spec, N, false));
  json_decref(j_body);
}

static void timestamps(void **state)
{
  assert_true(tx_rfc3339_valid("2024-01-31T08:00:00Z"));
  assert_true(tx_rfc3339_valid("2024-01-31T08:00:00.123456+08:00"));
  assert_true(tx_rfc3339_valid("2024-02-29T23:59:60-05:30"));
  assert_false(tx_rfc3339_valid("2025-02-30T00:00:00Z"));
  assert_false(tx_rfc3339_valid("2024-01-31 08:00:00Z"));
  assert_false(tx_rfc3339_valid("2024-01-31T24:00:00Z"));
  assert_false(tx_rfc3339_valid("2024-01-31T08:00:00"));
  assert_false(tx_rfc3339_valid("2024-01-31T08:00:00.Z"));
  assert_false(tx_rfc3339_valid("2024-01-31T08:00:00+0800"));
  assert_false(tx_rfc3339_valid("2024-01-31T08:00:00Zjunk"));
}

static void utf8_length(void **state)
{
  assert_int_equal(tx_utf8_length(""), 0);
  assert_int_equal(tx_utf8_length("abc"), 3);
  assert_int_equal(tx_utf8_length("天星"), 2);
  assert_int_equal(tx_utf8_length("😀a"), 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(valid_body),
    cmocka_unit_test(each_rule_names_its_field),
    cmocka_unit_test(non_object_body),
    cmocka_unit_test(timestamps),
    cmocka_unit_test(utf8_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
