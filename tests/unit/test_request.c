/* Unit tests: request gate helpers (core/request.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/request.h"

static void request_id_rules(void **state)
{
  char long_id[200];
  memset(long_id, 'a', sizeof long_id);
  long_id[128] = '\0';
  assert_true(tx_request_id_valid(long_id));
  long_id[128] = 'a';
  long_id[129] = '\0';
  assert_false(tx_request_id_valid(long_id));
  assert_true(tx_request_id_valid("abc-123_x.y:z"));
  assert_false(tx_request_id_valid(""));
  assert_false(tx_request_id_valid(NULL));
  assert_false(tx_request_id_valid("bad id"));
  assert_false(tx_request_id_valid("a\r\nSet-Cookie: x"));
  assert_false(tx_request_id_valid("中文"));
}

static void uuid_shape(void **state)
{
  char a[37], b[37];
  tx_uuid_v4(a);
  tx_uuid_v4(b);
  assert_int_equal(strlen(a), 36);
  assert_int_equal(a[14], '4');
  assert_true(strchr("89ab", a[19]) != NULL);
  assert_string_not_equal(a, b);
  assert_true(tx_request_id_valid(a));
}

static void json_media_types(void **state)
{
  assert_true(tx_media_type_is_json("application/json"));
  assert_true(tx_media_type_is_json("application/json; charset=utf-8"));
  assert_true(tx_media_type_is_json("Application/JSON"));
  assert_true(tx_media_type_is_json("application/merge-patch+json"));
  assert_false(tx_media_type_is_json("text/plain"));
  assert_false(tx_media_type_is_json("application/jsonp"));
  assert_false(tx_media_type_is_json("application/x-www-form-urlencoded"));
  assert_false(tx_media_type_is_json("text/json+xml"));
  assert_false(tx_media_type_is_json(NULL));
  assert_false(tx_media_type_is_json(""));
  /* Issue 10 item 16: JSON is UTF-8; another declared charset is refused. */
  assert_true(tx_media_type_is_json("application/json;charset=\"UTF-8\""));
  assert_true(tx_media_type_is_json("application/json; foo=bar; charset = utf-8"));
  assert_false(tx_media_type_is_json("application/json; charset=latin1"));
  assert_false(tx_media_type_is_json("application/json; charset=\"iso-8859-1\""));
  assert_false(tx_media_type_is_json("application/json; charset=utf-16"));
  assert_false(tx_media_type_is_json("application/json; charset=utf-8x"));
  assert_false(tx_media_type_is_json("application/merge-patch+json; CHARSET=gbk"));
  assert_true(tx_media_type_charset_ok(NULL));
}

static void cors_exact_match(void **state)
{
  const char *allowed = "https://app.example.com,http://localhost:5173";
  assert_true(tx_cors_origin_allowed(allowed, "https://app.example.com"));
  assert_true(tx_cors_origin_allowed(allowed, "http://localhost:5173"));
  assert_false(tx_cors_origin_allowed(allowed, "https://app.example.com.evil.com"));
  assert_false(tx_cors_origin_allowed(allowed, "https://app.example.co"));
  assert_false(tx_cors_origin_allowed(allowed, "http://localhost"));
  assert_false(tx_cors_origin_allowed("", "https://app.example.com"));
  assert_false(tx_cors_origin_allowed(allowed, "null"));
}

static void language(void **state)
{
  assert_true(tx_prefers_chinese("zh-TW,zh;q=0.9,en;q=0.8"));
  assert_true(tx_prefers_chinese("zh"));
  assert_false(tx_prefers_chinese("en-US,zh;q=0.9"));
  assert_false(tx_prefers_chinese("zu"));
  assert_false(tx_prefers_chinese(NULL));
  assert_true(tx_prefers_chinese("en;q=0.5, zh;q=0.9"));
  assert_false(tx_prefers_chinese("zh;q=0.1, en"));
  assert_true(tx_prefers_chinese("zh-Hant-TW"));
  assert_false(tx_prefers_chinese("zh;q=0"));
}

static void content_length(void **state)
{
  assert_int_equal(tx_parse_decimal("0"), 0);
  assert_int_equal(tx_parse_decimal("1048577"), 1048577);
  assert_int_equal(tx_parse_decimal("-1"), -1);
  assert_int_equal(tx_parse_decimal("12a"), -1);
  assert_int_equal(tx_parse_decimal(""), -1);
  assert_int_equal(tx_parse_decimal("99999999999999999999999"), -1);
}

/* Issue 10 items 12 and 13: framing judged from the headers, before any body is read. */
static void framing(void **state)
{
  assert_int_equal(tx_request_framing(NULL, NULL, 1024), TX_FRAMING_OK);
  assert_int_equal(tx_request_framing("1024", NULL, 1024), TX_FRAMING_OK);
  assert_int_equal(tx_request_framing("1025", NULL, 1024), TX_FRAMING_TOO_LARGE);
  assert_int_equal(tx_request_framing("2147483648", NULL, 1048576), TX_FRAMING_TOO_LARGE);
  assert_int_equal(tx_request_framing("99999999999999999999", NULL, 1024), TX_FRAMING_TOO_LARGE);
  assert_int_equal(tx_request_framing("5,5", NULL, 1024), TX_FRAMING_AMBIGUOUS);
  assert_int_equal(tx_request_framing("5", "chunked", 1024), TX_FRAMING_AMBIGUOUS);
  assert_int_equal(tx_request_framing(NULL, "chunked", 1024), TX_FRAMING_OK);
  assert_int_equal(tx_request_framing(NULL, "Chunked ", 1024), TX_FRAMING_OK);
  assert_int_equal(tx_request_framing(NULL, "gzip, chunked", 1024), TX_FRAMING_BAD_ENCODING);
  assert_int_equal(tx_request_framing(NULL, "identity", 1024), TX_FRAMING_BAD_ENCODING);
  assert_int_equal(tx_request_framing(NULL, "chunked, chunked", 1024), TX_FRAMING_BAD_ENCODING);
}

static void utf8(void **state)
{
  assert_true(tx_utf8_valid(""));
  assert_true(tx_utf8_valid("abc \xe5\xa4\xa9\xe8\xa1\x8c \xf0\x9f\x98\x80"));
  assert_false(tx_utf8_valid("\xff"));
  assert_false(tx_utf8_valid("\xc0\xaf"));         /* overlong */
  assert_false(tx_utf8_valid("\xed\xa0\x80"));     /* surrogate */
  assert_false(tx_utf8_valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
  assert_false(tx_utf8_valid("\xe5\xa4"));         /* cut */
  /* Repair: each stray byte becomes U+FFFD, valid sequences stay (issue 10 item 15). */
  const char *cases[][2] = {
    {"", ""},
    {"abc", "abc"},
    {"k\xff", "k\xef\xbf\xbd"},
    {"\xe5\xa4\xa9\xe5\xa4", "\xe5\xa4\xa9\xef\xbf\xbd\xef\xbf\xbd"},
    {"\xc0\xafx", "\xef\xbf\xbd\xef\xbf\xbdx"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *fixed = tx_utf8_repair(cases[i][0]);
    assert_non_null(fixed);
    assert_string_equal(fixed, cases[i][1]);
    assert_true(tx_utf8_valid(fixed));
    free(fixed);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(request_id_rules), cmocka_unit_test(uuid_shape),
    cmocka_unit_test(json_media_types), cmocka_unit_test(cors_exact_match),
    cmocka_unit_test(language),         cmocka_unit_test(content_length),
    cmocka_unit_test(framing),          cmocka_unit_test(utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
