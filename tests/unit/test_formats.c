/* Unit tests: content negotiation and CSV/XML writing (core/formats.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/call.h"
#include "core/formats.h"
#include "core/routes.h"

/* What tx_csv_field writes for @p s (neutralised), in a static buffer. */
static const char *field(const char *s)
{
  static char out[256];
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tx_csv_field(f, s, strlen(s), true);
  fclose(f);
  snprintf(out, sizeof out, "%s", buf);
  free(buf);
  return out;
}

static void csv_quoting(void **state)
{
  (void)state;
  assert_string_equal(field("plain"), "plain");
  assert_string_equal(field(""), "");
  assert_string_equal(field("a,b"), "\"a,b\"");
  assert_string_equal(field("say \"hi\""), "\"say \"\"hi\"\"\"");
  assert_string_equal(field("two\nlines"), "\"two\nlines\"");
  assert_string_equal(field("cr\rhere"), "\"cr\rhere\"");
  assert_string_equal(field("業務,客戶"), "\"業務,客戶\"");
  assert_string_equal(field("王小明"), "王小明");
}

static void csv_injection(void **state)
{
  (void)state;
  assert_string_equal(field("=1+2"), "'=1+2");
  assert_string_equal(field("+1"), "'+1");
  assert_string_equal(field("-2+3+cmd|' /C calc'!A0"), "'-2+3+cmd|' /C calc'!A0");
  assert_string_equal(field("@SUM(A1)"), "'@SUM(A1)");
  assert_string_equal(field("\tx"), "'\tx");
  assert_string_equal(field("\rx"), "\"'\rx\"");
  assert_string_equal(field("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
  assert_string_equal(field("a=b"), "a=b"); /* only the first character matters */
  /* not neutralised when asked not to (numbers) */
  char out[32];
  FILE *f = fmemopen(out, sizeof out, "w");
  tx_csv_field(f, "-5", 2, false);
  fclose(f);
  assert_string_equal(out, "-5");
}

static const struct tx_csv_column cols[] = {
  {"Name", "/name"}, {"Score", "/score"}, {"Type", "/type/name"},
  {"Flag", "/flag"}, {"Missing", "/nope"}, {"Tags", "/tags"}, {"Odd", "/a~1b"},
};

static void csv_rows(void **state)
{
  (void)state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tx_csv_header(f, cols, 4);
  json_t *j = json_loads("{\"name\": \"=cmd\", \"score\": -12.5, \"type\": {\"name\": \"稅務, 諮詢\"},"
                         " \"flag\": true, \"tags\": [\"a\", 1], \"a/b\": null}",
                         0, NULL);
  assert_non_null(j);
  tx_csv_row(f, j, cols, sizeof cols / sizeof cols[0]);
  json_decref(j);
  fclose(f);
  assert_string_equal(buf, "\xEF\xBB\xBFName,Score,Type,Flag\r\n"
                           "'=cmd,-12.5,\"稅務, 諮詢\",true,,\"[\"\"a\"\",1]\",\r\n");
  free(buf);
}

static void json_pointer(void **state)
{
  (void)state;
  json_t *j = json_loads("{\"a\": {\"b\": [10, 20]}, \"x~y\": 1, \"p/q\": 2, \"\": 3}", 0, NULL);
  assert_int_equal(json_integer_value(tx_json_pointer(j, "/a/b/1")), 20);
  assert_int_equal(json_integer_value(tx_json_pointer(j, "/x~0y")), 1);
  assert_int_equal(json_integer_value(tx_json_pointer(j, "/p~1q")), 2);
  assert_int_equal(json_integer_value(tx_json_pointer(j, "/")), 3);
  assert_ptr_equal(tx_json_pointer(j, ""), j);
  assert_null(tx_json_pointer(j, "/a/b/2"));
  assert_null(tx_json_pointer(j, "/a/b/01"));
  assert_null(tx_json_pointer(j, "/a/c"));
  assert_null(tx_json_pointer(j, "a"));
  assert_null(tx_json_pointer(j, "/x~2y"));
  json_decref(j);
}

#define ALL (TX_FORMAT_JSON | TX_FORMAT_CSV | TX_FORMAT_SVG)
#define JSON_CSV (TX_FORMAT_JSON | TX_FORMAT_CSV)

static void accept_choice(void **state)
{
  (void)state;
  /* JSON is the default */
  assert_int_equal(tx_accept_choose(NULL, ALL), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose("", ALL), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose("*/*", ALL), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose("garbage", ALL), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose("application/json", TX_FORMAT_JSON), TX_FORMAT_JSON);
  /* what is asked for */
  assert_int_equal(tx_accept_choose("text/csv", JSON_CSV), TX_FORMAT_CSV);
  assert_int_equal(tx_accept_choose("TEXT/CSV; charset=utf-8", JSON_CSV), TX_FORMAT_CSV);
  assert_int_equal(tx_accept_choose("text/*", JSON_CSV), TX_FORMAT_CSV);
  assert_int_equal(tx_accept_choose("image/svg+xml", ALL), TX_FORMAT_SVG);
  assert_int_equal(tx_accept_choose("image/*", ALL), TX_FORMAT_SVG);
  /* q-values */
  assert_int_equal(tx_accept_choose("application/json;q=0.5, text/csv", JSON_CSV), TX_FORMAT_CSV);
  assert_int_equal(tx_accept_choose("application/json, text/csv;q=0.9", JSON_CSV), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose("text/csv;q=0.2, */*;q=0.1", JSON_CSV), TX_FORMAT_CSV);
  assert_int_equal(tx_accept_choose("text/csv;q=0, */*", JSON_CSV), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose("image/svg+xml;q=1.0, application/json;q=0.999", ALL),
                   TX_FORMAT_SVG);
  /* ties: the server's order (JSON first) */
  assert_int_equal(tx_accept_choose("text/csv, application/json", JSON_CSV), TX_FORMAT_JSON);
  /* nothing acceptable: 406 */
  assert_int_equal(tx_accept_choose("text/csv", TX_FORMAT_JSON), 0);
  assert_int_equal(tx_accept_choose("image/svg+xml", JSON_CSV), 0);
  assert_int_equal(tx_accept_choose("text/html", ALL), 0);
  assert_int_equal(tx_accept_choose("application/json;q=0", ALL), 0);
  assert_int_equal(tx_accept_choose("*/*;q=0", ALL), 0);
  assert_int_equal(tx_accept_choose("application/xml, text/html;q=0.9", JSON_CSV), 0);
  /* malformed elements are skipped, the rest counts */
  assert_int_equal(tx_accept_choose("text/csv;q=2, image/svg+xml", ALL), TX_FORMAT_SVG);
  assert_int_equal(tx_accept_choose("*/csv, text/csv", JSON_CSV), TX_FORMAT_CSV);
  assert_int_equal(tx_accept_choose("text/csv;q=0.12345", JSON_CSV), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose("text/csv; foo=\"a,b\"", JSON_CSV), TX_FORMAT_JSON);
  assert_int_equal(tx_accept_choose(" text/csv ; q=0.5 ", JSON_CSV), TX_FORMAT_CSV);
}

static void describe(void **state)
{
  (void)state;
  char s[96];
  tx_formats_describe(JSON_CSV, s, sizeof s);
  assert_string_equal(s, "application/json, text/csv");
  tx_formats_describe(TX_FORMAT_JSON | TX_FORMAT_SVG, s, sizeof s);
  assert_string_equal(s, "application/json, image/svg+xml");
  struct tx_formats f = {.csv = cols, .ncsv = 2};
  assert_int_equal(tx_formats_offered(&f), JSON_CSV);
  assert_int_equal(tx_formats_offered(NULL), TX_FORMAT_JSON);
}

static void xml_escaping(void **state)
{
  (void)state;
  char out[128];
  FILE *f = fmemopen(out, sizeof out, "w");
  tx_xml_text(f, "<script>&\"'</script>\x01王");
  fclose(f);
  assert_string_equal(out, "&lt;script&gt;&amp;&quot;&apos;&lt;/script&gt; 王");
}

static const struct tx_sql sql_list = {"fmt_list", "SELECT api.x($1::int, $2)::text", 2};
static const struct tx_sql sql_one = {"fmt_one", "SELECT api.y($1)::text", 1};
static int render_nothing(const json_t *j, FILE *out)
{
  (void)j;
  (void)out;
  return 0;
}

/* Registration refuses rows whose formats cannot be served. */
static void route_rows(void **state)
{
  (void)state;
  char err[256];
  const struct tx_route good[] = {
    {"GET", "/t/list", "*", "G2",
     .call = TX_CALL(.sql = &sql_list, .read_only = true, .status = 200,
                     .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}}),
     .formats = TX_FORMATS(TX_CSV_COLUMNS({"Name", "/name"}))},
    {"GET", "/t/chart", "*", "G2",
     .call = TX_CALL(.sql = &sql_one, .read_only = true, .status = 200,
                     .args = {{TX_ARG_QUERY_TEXT, "x"}}),
     .formats = TX_FORMATS(.svg = render_nothing)},
  };
  assert_int_equal(tx_routes_add(good, 2, err, sizeof err), 0);
  tx_routes_reset();
  /* a list that does not page (no cursor argument) may give CSV too */
  const struct tx_route no_cursor[] = {
    {"GET", "/t/x", "*", "G2",
     .call = TX_CALL(.sql = &sql_one, .read_only = true, .status = 200,
                     .args = {{TX_ARG_QUERY_TEXT, "page"}}),
     .formats = TX_FORMATS(TX_CSV_COLUMNS({"Name", "/name"}))},
  };
  assert_int_equal(tx_routes_add(no_cursor, 1, err, sizeof err), 0);
  tx_routes_reset();
  const struct tx_route post[] = {
    {"POST", "/t/x", "*", "G2",
     .call = TX_CALL(.sql = &sql_one, .status = 200, .args = {{TX_ARG_QUERY_TEXT, "cursor"}}),
     .formats = TX_FORMATS(TX_CSV_COLUMNS({"Name", "/name"}))},
  };
  assert_int_equal(tx_routes_add(post, 1, err, sizeof err), -1);
  assert_non_null(strstr(err, "GET"));
  const struct tx_route bad_pointer[] = {
    {"GET", "/t/x", "*", "G2",
     .call = TX_CALL(.sql = &sql_one, .read_only = true, .status = 200,
                     .args = {{TX_ARG_QUERY_TEXT, "cursor"}}),
     .formats = TX_FORMATS(TX_CSV_COLUMNS({"Name", "name"}))},
  };
  assert_int_equal(tx_routes_add(bad_pointer, 1, err, sizeof err), -1);
  const struct tx_route empty[] = {
    {"GET", "/t/x", "*", "G2",
     .call = TX_CALL(.sql = &sql_one, .read_only = true, .status = 200,
                     .args = {{TX_ARG_QUERY_TEXT, "cursor"}}),
     .formats = TX_FORMATS(.ncsv = 0)},
  };
  assert_int_equal(tx_routes_add(empty, 1, err, sizeof err), -1);
  assert_int_equal(tx_routes_count, 0);
  tx_routes_reset();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(csv_quoting), cmocka_unit_test(csv_injection), cmocka_unit_test(csv_rows),
    cmocka_unit_test(json_pointer), cmocka_unit_test(accept_choice), cmocka_unit_test(describe),
    cmocka_unit_test(xml_escaping), cmocka_unit_test(route_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
