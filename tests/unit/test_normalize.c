/* Unit tests: customer field normalization and masks (modules/customers/normalize.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/customers/normalize.h"

/* Normalizes @p in and compares with @p expected (NULL: expects the error @p err). */
static void text(const char *in, size_t max, bool multiline, int err, const char *expected)
{
  char *out = (char *)"untouched";
  int rc = tx_cust_text(in, max, multiline, &out);
  assert_int_equal(rc, err);
  if (err) {
    assert_null(out);
    return;
  }
  assert_non_null(out);
  assert_string_equal(out, expected);
  free(out);
}

static void text_nfc(void **state)
{
  text("e\xCC\x81", 0, false, 0, "\xC3\xA9");                 /* e + U+0301 -> é */
  text("Cafe\xCC\x81 \xE5\xA4\xA9\xE6\x98\x9F", 10, false, 0, "Caf\xC3\xA9 天星");
  text("\xC3\xA9", 1, false, 0, "\xC3\xA9");                  /* already NFC */
  text("\xE2\x84\xAB", 0, false, 0, "\xC3\x85");              /* U+212B ANGSTROM -> U+00C5 */
  /* NFC, not NFKC: full-width letters and digits are a user's choice and stay. */
  text("\xEF\xBC\xA1\xEF\xBC\x91", 0, false, 0, "\xEF\xBC\xA1\xEF\xBC\x91"); /* "Ａ１" */
  text("ﬁ", 0, false, 0, "ﬁ");                                /* ligature kept */
}

static void text_trim(void **state)
{
  text("  天星苑  ", 0, false, 0, "天星苑");
  text("\xE3\x80\x80天星\xE3\x80\x80", 0, false, 0, "天星");  /* U+3000 both ends */
  text("\xC2\xA0 x \xE2\x80\x83", 0, false, 0, "x");          /* NBSP, EM SPACE */
  text("\t\n a  b \r\n", 0, false, 0, "a  b");               /* inner spacing kept */
  text("\n\nline1\nline2\n\n", 0, true, 0, "line1\nline2");
  text("a\r\nb\rc", 0, true, 0, "a\nb\nc");                   /* line ends folded */
  text("a\tb", 0, true, 0, "a\tb");
}

static void text_refused(void **state)
{
  text("", 0, false, TX_CUST_EMPTY, NULL);
  text(NULL, 0, false, TX_CUST_EMPTY, NULL);
  text(" \t\xE3\x80\x80 ", 0, false, TX_CUST_EMPTY, NULL);
  text("a\x01" "b", 0, false, TX_CUST_CONTROL, NULL);
  text("a\x01" "b", 0, true, TX_CUST_CONTROL, NULL);
  text("a\x7F", 0, true, TX_CUST_CONTROL, NULL);
  text("a\xC2\x85" "b", 0, true, TX_CUST_CONTROL, NULL);      /* U+0085 (C1) */
  text("a\nb", 0, false, TX_CUST_CONTROL, NULL);
  text("a\tb", 0, false, TX_CUST_CONTROL, NULL);
  text("a\rb", 0, false, TX_CUST_CONTROL, NULL);
  text("a\xE2\x80\xA8" "b", 0, false, TX_CUST_CONTROL, NULL); /* U+2028 single-line */
  text("a\xE2\x80\xA8" "b", 0, true, 0, "a\xE2\x80\xA8" "b");
  text("a\xFF", 0, false, TX_CUST_FORMAT, NULL);             /* invalid UTF-8 */
  text("\xC0\xAF", 0, false, TX_CUST_FORMAT, NULL);          /* overlong '/' */
  text("\xED\xA0\x80", 0, false, TX_CUST_FORMAT, NULL);      /* encoded surrogate */
  text("\xE5\xA4", 0, false, TX_CUST_FORMAT, NULL);          /* truncated sequence */
}

static void text_length_in_code_points(void **state)
{
  text("天星苑天星", 5, false, 0, "天星苑天星"); /* 5 code points, 15 bytes */
  text("天星苑天星苑", 5, false, TX_CUST_TOO_LONG, NULL);
  text("😀😀", 2, false, 0, "😀😀");             /* astral: 2 code points, 4 UTF-16 units */
  text("😀😀😀", 2, false, TX_CUST_TOO_LONG, NULL);
  text("e\xCC\x81" "e\xCC\x81", 2, false, 0, "\xC3\xA9\xC3\xA9"); /* counted after NFC */
  text("  ab  ", 2, false, 0, "ab");             /* counted after trimming */
  char big[2002];
  memset(big, 'x', 2001);
  big[2001] = '\0';
  text(big, 2000, true, TX_CUST_TOO_LONG, NULL);
  big[2000] = '\0';
  text(big, 2000, true, 0, big);
}

static void phone(const char *in, int err, const char *expected)
{
  char out[17] = "untouched";
  int rc = tx_cust_phone_e164(in, out);
  if (rc != err)
    fail_msg("%s: got %d, expected %d", in ? in : "(null)", rc, err);
  assert_string_equal(out, err ? "untouched" : expected);
}

static void phone_mainland_mobiles(void **state)
{
  phone("13812345678", 0, "+8613812345678");
  phone("138 1234 5678", 0, "+8613812345678");
  phone("138-1234-5678", 0, "+8613812345678");
  phone(" 8613812345678 ", 0, "+8613812345678");
  phone("86 138 1234 5678", 0, "+8613812345678");
  phone("008613812345678", 0, "+8613812345678");
  phone("0086 138-1234-5678", 0, "+8613812345678");
  phone("+86 138 1234 5678", 0, "+8613812345678");
  phone("+86-13812345678", 0, "+8613812345678");
  phone("(+86) 138.1234.5678", 0, "+8613812345678");
  phone("19912345678", 0, "+8619912345678");
  /* Full-width digits, dash and plus from a Chinese input method, U+3000 around. */
  phone("\xE3\x80\x80＋８６ １３８－１２３４－５６７８\xE3\x80\x80", 0, "+8613812345678");
  phone("12812345678", TX_CUST_FORMAT, NULL);  /* 1[3-9] only */
  phone("10812345678", TX_CUST_FORMAT, NULL);
  phone("1381234567", TX_CUST_FORMAT, NULL);   /* 10 digits */
  phone("138123456789", TX_CUST_FORMAT, NULL); /* 12 digits */
  phone("8612812345678", TX_CUST_FORMAT, NULL);
  phone("0086 1381234567", TX_CUST_FORMAT, NULL);
  phone("+86 128 1234 5678", TX_CUST_FORMAT, NULL);
}

static void phone_international(void **state)
{
  phone("+1 (415) 555-2671", 0, "+14155552671");
  phone("+44 20 7946 0958", 0, "+442079460958");
  phone("+81.3.1234.5678", 0, "+81312345678");
  phone("+86 10 1234 5678", 0, "+861012345678"); /* Beijing landline */
  phone("+86 755 1234 5678", 0, "+8675512345678");
  phone("+358 1234 5", 0, "+35812345");          /* 8 digits: the minimum */
  phone("+123456789012345", 0, "+123456789012345"); /* 15 digits: the maximum */
  phone("+3581234", TX_CUST_FORMAT, NULL);       /* 7 digits */
  phone("+1234567890123456", TX_CUST_FORMAT, NULL); /* 16 digits */
  phone("+0086 138 1234 5678", TX_CUST_FORMAT, NULL); /* no country code starts with 0 */
  phone("+86 010 1234 5678", TX_CUST_FORMAT, NULL);   /* trunk 0 is not part of E.164 */
  phone("+1 800 FLOWERS", TX_CUST_FORMAT, NULL);      /* letters */
  phone("+1 415 555 2671 x12", TX_CUST_FORMAT, NULL);
  phone("+1 415 555 2671/2", TX_CUST_FORMAT, NULL);
  phone("++14155552671", TX_CUST_FORMAT, NULL);
  phone("1+4155552671", TX_CUST_FORMAT, NULL);
  phone("+", TX_CUST_FORMAT, NULL);
  phone("---", TX_CUST_FORMAT, NULL);
  phone("+1 415\x01" "5552671", TX_CUST_FORMAT, NULL);
  phone("+1 415 555 2671 \xE2\x98\x8E", TX_CUST_FORMAT, NULL); /* other non-ASCII */
  /* Without '+' the country is a guess: refused unless it is a mainland mobile. */
  phone("4155552671", TX_CUST_FORMAT, NULL);
  phone("010 1234 5678", TX_CUST_FORMAT, NULL);
  phone("0044 20 7946 0958", TX_CUST_FORMAT, NULL);
  phone("", TX_CUST_EMPTY, NULL);
  phone(" \xE3\x80\x80 ", TX_CUST_EMPTY, NULL);
  phone(NULL, TX_CUST_EMPTY, NULL);
  char many[100];
  memset(many, '-', sizeof many - 1);
  many[sizeof many - 1] = '\0';
  many[0] = '+';
  phone(many, TX_CUST_TOO_LONG, NULL);
}

static void email(const char *in, int err, const char *expected)
{
  char out[255] = "untouched";
  int rc = tx_cust_email(in, out);
  if (rc != err)
    fail_msg("%s: got %d, expected %d", in ? in : "(null)", rc, err);
  assert_string_equal(out, err ? "untouched" : expected);
}

static void emails(void **state)
{
  email("  Alice.Liu@Example.COM ", 0, "alice.liu@example.com");
  email("a+tag@sub.example.cn", 0, "a+tag@sub.example.cn");
  email("o'brien_x-1@mail-1.example.org", 0, "o'brien_x-1@mail-1.example.org");
  email("\xE3\x80\x80wang@x.cn\xE3\x80\x80", 0, "wang@x.cn");
  email("ｗａｎｇ＠ｘ．ｃｎ", 0, "wang@x.cn"); /* full-width from an input method */
  email("", TX_CUST_EMPTY, NULL);
  email("   ", TX_CUST_EMPTY, NULL);
  email("alice", TX_CUST_FORMAT, NULL);
  email("alice@", TX_CUST_FORMAT, NULL);
  email("@example.com", TX_CUST_FORMAT, NULL);
  email("a@b@example.com", TX_CUST_FORMAT, NULL);
  email("alice@localhost", TX_CUST_FORMAT, NULL); /* no dot in the domain */
  email("alice@example..com", TX_CUST_FORMAT, NULL);
  email("alice@.example.com", TX_CUST_FORMAT, NULL);
  email("alice@example.com.", TX_CUST_FORMAT, NULL);
  email("alice@-example.com", TX_CUST_FORMAT, NULL);
  email("alice@example-.com", TX_CUST_FORMAT, NULL);
  email("alice@exa_mple.com", TX_CUST_FORMAT, NULL);
  email("alice@10.0.0.1", TX_CUST_FORMAT, NULL);
  email("alice@[10.0.0.1]", TX_CUST_FORMAT, NULL);
  email("al ice@example.com", TX_CUST_FORMAT, NULL);
  email("alice@exa mple.com", TX_CUST_FORMAT, NULL);
  email(".alice@example.com", TX_CUST_FORMAT, NULL);
  email("alice.@example.com", TX_CUST_FORMAT, NULL);
  email("al..ice@example.com", TX_CUST_FORMAT, NULL);
  email("\"al ice\"@example.com", TX_CUST_FORMAT, NULL);
  email("a\x01@example.com", TX_CUST_FORMAT, NULL);
  /* International addresses are refused for now (see normalize.c). */
  email("用户@例子.中国", TX_CUST_FORMAT, NULL);
  email("alice@例子.com", TX_CUST_FORMAT, NULL);
  email("jos\xC3\xA9@example.com", TX_CUST_FORMAT, NULL);

  char addr[300];
  memset(addr, 'a', 64); /* local part: 64 is the limit */
  strcpy(addr + 64, "@example.com");
  email(addr, 0, addr);
  memset(addr, 'a', 65);
  strcpy(addr + 65, "@example.com");
  email(addr, TX_CUST_FORMAT, NULL);
  /* 254 characters in all is the limit: "a@" + 3 labels of 62 + a label of n + ".cn". */
  static const char bs[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  snprintf(addr, sizeof addr, "a@%.62s.%.62s.%.62s.%.60s.cn", bs, bs, bs, bs);
  assert_int_equal(strlen(addr), 254);
  email(addr, 0, addr);
  snprintf(addr, sizeof addr, "a@%.62s.%.62s.%.62s.%.61s.cn", bs, bs, bs, bs);
  email(addr, TX_CUST_TOO_LONG, NULL);
  snprintf(addr, sizeof addr, "a@%.64s.cn", bs); /* labels: 63 at most */
  email(addr, TX_CUST_FORMAT, NULL);
  snprintf(addr, sizeof addr, "a@%.63s.cn", bs);
  email(addr, 0, addr);
}

static void credit(const char *in, int err, const char *expected)
{
  char out[19] = "untouched";
  int rc = tx_cust_credit_code(in, out);
  if (rc != err)
    fail_msg("%s: got %d, expected %d", in ? in : "(null)", rc, err);
  assert_string_equal(out, err ? "untouched" : expected);
}

static void credit_codes(void **state)
{
  /* Commonly cited public examples; their check digits verified by hand with the GB 32100 weights. */
  credit("91350100M000100Y43", 0, "91350100M000100Y43");
  credit("9144030071526726XG", 0, "9144030071526726XG");
  credit(" 91350100m000100y43\xE3\x80\x80", 0, "91350100M000100Y43"); /* trimmed, upper-cased */
  credit("９１３５０１００Ｍ０００１００Ｙ４３", 0, "91350100M000100Y43");  /* full-width */
  /* Sum of weighted values divisible by 31: 31 - 0 = 31 maps to '0'. */
  credit("913501001234567800", 0, "913501001234567800");
  /* The check digit is not restricted to digits: every alphabet symbol is possible. */
  credit("91350100M000100Y44", TX_CUST_CHECK_DIGIT, NULL);
  credit("91350100M000100Y4Y", TX_CUST_CHECK_DIGIT, NULL);
  credit("91350100M000010Y43", TX_CUST_CHECK_DIGIT, NULL); /* transposed digits */
  credit("9144030071526726X0", TX_CUST_CHECK_DIGIT, NULL);
  credit("91350100I000100Y43", TX_CUST_FORMAT, NULL); /* I, O, S, V, Z are not in the alphabet */
  credit("91350100O000100Y43", TX_CUST_FORMAT, NULL);
  credit("91350100S000100Y43", TX_CUST_FORMAT, NULL);
  credit("91350100V000100Y43", TX_CUST_FORMAT, NULL);
  credit("91350100Z000100Y43", TX_CUST_FORMAT, NULL);
  credit("91350100M000100Y4", TX_CUST_FORMAT, NULL);    /* 17 characters */
  credit("91350100M000100Y433", TX_CUST_TOO_LONG, NULL);
  credit("9135 0100 M000 100Y 43", TX_CUST_TOO_LONG, NULL);
  credit("9135010 M000100Y43", TX_CUST_FORMAT, NULL);  /* 18 with the space: not a symbol */
  credit("91350100-000100Y43", TX_CUST_FORMAT, NULL);
  credit("91350100\xC3\x9C" "000100Y4", TX_CUST_FORMAT, NULL);
  credit("", TX_CUST_EMPTY, NULL);
  credit(NULL, TX_CUST_EMPTY, NULL);
}

static void mask_phone(const char *in, const char *expected)
{
  char out[32];
  tx_cust_mask_phone(in, out, sizeof out);
  assert_string_equal(out, expected);
}

static void mask_text(const char *in, size_t keep, const char *expected)
{
  char out[64];
  tx_cust_mask_text(in, keep, out, sizeof out);
  assert_string_equal(out, expected);
}

static void masks(void **state)
{
  mask_phone("+8613812345678", "138****5678");
  mask_phone("+14155552671", "+141****2671");
  mask_phone("+861012345678", "+861****5678"); /* +86 landline: general rule */
  mask_phone("+35812345", "+358****45");       /* short: last 2 only */
  mask_phone("13812345678", "***");            /* not E.164: never echoed */
  mask_phone("+86138abc5678", "***");
  mask_phone(NULL, "***");

  char out[64];
  tx_cust_mask_email("alice@x.com", out, sizeof out);
  assert_string_equal(out, "a***@x.com");
  tx_cust_mask_email("a@example.cn", out, sizeof out);
  assert_string_equal(out, "a***@example.cn");
  tx_cust_mask_email("no-at-sign", out, sizeof out);
  assert_string_equal(out, "***");
  tx_cust_mask_email("@x.com", out, sizeof out);
  assert_string_equal(out, "***");
  tx_cust_mask_email(NULL, out, sizeof out);
  assert_string_equal(out, "***");

  mask_text("王小明", 1, "王***");
  mask_text("天星苑科技有限公司", 4, "天星苑科***");
  mask_text("王伟", 1, "王***");
  mask_text("王", 1, "***");           /* never the whole text */
  mask_text("王伟", 2, "王***");
  mask_text("😀ab", 1, "😀***");
  mask_text("abc", 0, "***");
  mask_text("", 2, "***");
  mask_text(NULL, 2, "***");

  tx_cust_mask_credit_code("91350100M000100Y43", out, sizeof out);
  assert_string_equal(out, "9135************43");
  tx_cust_mask_credit_code("9135", out, sizeof out);
  assert_string_equal(out, "***");
}

static void masks_respect_small_buffers(void **state)
{
  char out[8];
  memset(out, 'Z', sizeof out);
  /* "天星苑***" is 12 bytes: what fits is cut before a code point, never inside one. */
  tx_cust_mask_text("天星苑科技", 3, out, sizeof out);
  assert_string_equal(out, "天星");
  tx_cust_mask_text("天星苑科技", 3, out, 7);
  assert_string_equal(out, "天星");
  tx_cust_mask_text("天星苑科技", 3, out, 6);
  assert_string_equal(out, "天");
  tx_cust_mask_phone("+8613812345678", out, sizeof out);
  assert_string_equal(out, "138****");
  tx_cust_mask_text("abc", 1, out, 1);
  assert_string_equal(out, "");
  out[0] = 'Z';
  tx_cust_mask_email("alice@x.com", out, 0); /* len 0: nothing written */
  assert_int_equal(out[0], 'Z');
}

static void messages(void **state)
{
  assert_string_equal(tx_cust_err_message(TX_CUST_EMPTY), "must not be empty");
  assert_string_equal(tx_cust_err_message(TX_CUST_TOO_LONG), "is too long");
  assert_string_equal(tx_cust_err_message(TX_CUST_CONTROL), "must not contain control characters");
  assert_string_equal(tx_cust_err_message(TX_CUST_FORMAT), "has an invalid format");
  assert_string_equal(tx_cust_err_message(TX_CUST_CHECK_DIGIT), "has an invalid check digit");
  assert_string_equal(tx_cust_err_code(TX_CUST_EMPTY), "too_short");
  assert_string_equal(tx_cust_err_code(TX_CUST_CONTROL), "control_characters");
  assert_string_equal(tx_cust_err_code(TX_CUST_CHECK_DIGIT), "check_digit");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(text_nfc),
    cmocka_unit_test(text_trim),
    cmocka_unit_test(text_refused),
    cmocka_unit_test(text_length_in_code_points),
    cmocka_unit_test(phone_mainland_mobiles),
    cmocka_unit_test(phone_international),
    cmocka_unit_test(emails),
    cmocka_unit_test(credit_codes),
    cmocka_unit_test(masks),
    cmocka_unit_test(masks_respect_small_buffers),
    cmocka_unit_test(messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
