/* Unit tests: webhook secrets at rest (modules/events/secrets.c): what a secret may be, and its
 * seal under the master keys, bound to its subscription and opened only with a listed key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "modules/events/secrets.h"

#define HOOK "6f0c0000-0000-4000-8000-0000000000aa"
#define OTHER "6f0c0000-0000-4000-8000-0000000000bb"
#define K1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K2 "HxYdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="
#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" /* 24 bytes: the specification's example */

static char master[] = "/tmp/txwsXXXXXX", index_file[] = "/tmp/txwiXXXXXX";

static void write_to(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static int load(const char *keys)
{
  char err[256];
  write_to(master, keys);
  return tx_envelope_load(master, index_file, err, sizeof err);
}

static int setup(void **state)
{
  (void)state;
  close(mkstemp(master));
  close(mkstemp(index_file));
  write_to(index_file, K2 "\n");
  return load("k1=" K1 "\n");
}

static int teardown(void **state)
{
  (void)state;
  tx_envelope_shutdown();
  unlink(master);
  unlink(index_file);
  return 0;
}

static void what_a_secret_may_be(void **state)
{
  (void)state;
  char out[TX_WEBHOOK_SECRET_MAX];
  const char *why = NULL;
  assert_int_equal(tx_webhook_secret_make(SPEC_SECRET, out, &why), 0);
  assert_string_equal(out, SPEC_SECRET);
  static const struct {
    const char *given, *why;
  } bad[] = {
    {"plain", "must be whsec_ followed by base64"},
    {"whsec_", "must be whsec_ followed by base64"},
    {"whsec_c2hvcnQ=", "must hold 24 to 64 bytes"},     /* 5 bytes */
    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "must be whsec_ followed by base64"},
    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "must be whsec_ followed by base64"},
    {"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must be whsec_ followed by base64"},
    /* 65 bytes */
    {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
     "must hold 24 to 64 bytes"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    if (tx_webhook_secret_make(bad[i].given, out, &why) != -1)
      fail_msg("'%s' was accepted", bad[i].given);
    assert_string_equal(why, bad[i].why);
  }
  /* Made: whsec_ and the padded base64 of 32 fresh bytes, never twice the same. */
  char a[TX_WEBHOOK_SECRET_MAX], b[TX_WEBHOOK_SECRET_MAX];
  assert_int_equal(tx_webhook_secret_make(NULL, a, &why), 0);
  assert_int_equal(tx_webhook_secret_make(NULL, b, &why), 0);
  assert_int_equal(strlen(a), 6 + 44);
  assert_int_equal(a[49], '=');
  assert_string_not_equal(a, b);
  size_t len = 0;
  unsigned char *raw = tx_b64_decode(a + 6, strlen(a) - 6, false, &len);
  assert_non_null(raw);
  assert_int_equal(len, 32);
  free(raw);
  assert_int_equal(tx_webhook_secret_make(a, out, &why), 0); /* a made secret is a valid one */
  assert_int_equal(tx_webhook_secret_make("whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==", out, &why), 0); /* 64 bytes */
}

static json_t *ref(const char *key_id, const char *hex)
{
  return json_pack("{ssss}", "key_id", key_id, "sealed", hex);
}

static void sealed_bound_and_rotated(void **state)
{
  (void)state;
  char kid[TX_KEY_ID_MAX], *hex = NULL;
  assert_int_equal(tx_webhook_secret_seal(HOOK, SPEC_SECRET, kid, &hex), 0);
  assert_string_equal(kid, "k1");
  assert_int_equal(strlen(hex), 2 * (12 + strlen(SPEC_SECRET) + 16));
  assert_null(strstr(hex, "4d664b51")); /* not the text's bytes ("MfKQ") */
  json_t *r = ref(kid, hex);
  char *open = tx_webhook_secret_open(HOOK, r);
  assert_non_null(open);
  assert_string_equal(open, SPEC_SECRET);
  free(open);
  /* Bound to its subscription: moved to another, it does not open. */
  assert_null(tx_webhook_secret_open(OTHER, r));
  /* Altered, or said to be under another key: nothing. */
  json_t *other_key = ref("k9", hex);
  assert_null(tx_webhook_secret_open(HOOK, other_key));
  json_decref(other_key);
  hex[30] = hex[30] == 'a' ? 'b' : 'a';
  json_t *altered = ref(kid, hex);
  assert_null(tx_webhook_secret_open(HOOK, altered));
  json_decref(altered);
  hex[30] = hex[30] == 'a' ? 'b' : 'a';
  /* A rotation of the master keys: the old seal still opens while k1 is listed, new seals are k2's. */
  assert_int_equal(load("k1=" K1 "\nk2=" K2 "\n"), 0);
  open = tx_webhook_secret_open(HOOK, r);
  assert_string_equal(open, SPEC_SECRET);
  char kid2[TX_KEY_ID_MAX], *hex2 = NULL;
  assert_int_equal(tx_webhook_secret_seal(HOOK, open, kid2, &hex2), 0);
  assert_string_equal(kid2, "k2");
  free(open);
  /* Once k1 is gone, only the re-sealed one opens. */
  assert_int_equal(load("k2=" K2 "\n"), 0);
  assert_null(tx_webhook_secret_open(HOOK, r));
  json_t *r2 = ref(kid2, hex2);
  open = tx_webhook_secret_open(HOOK, r2);
  assert_string_equal(open, SPEC_SECRET);
  free(open);
  /* A row not sealed yet (before 0042's conversion) comes in clear. */
  json_t *plain = json_pack("{ss}", "plain", SPEC_SECRET);
  open = tx_webhook_secret_open(HOOK, plain);
  assert_string_equal(open, SPEC_SECRET);
  free(open);
  json_decref(plain);
  json_decref(r);
  json_decref(r2);
  free(hex);
  free(hex2);
  assert_int_equal(load("k1=" K1 "\n"), 0);
}

static void nothing_without_keys(void **state)
{
  (void)state;
  tx_envelope_shutdown();
  char kid[TX_KEY_ID_MAX], *hex = NULL;
  assert_int_equal(tx_webhook_secret_seal(HOOK, SPEC_SECRET, kid, &hex), -1);
  assert_int_equal(load("k1=" K1 "\n"), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(what_a_secret_may_be),
    cmocka_unit_test(sealed_bound_and_rotated),
    cmocka_unit_test(nothing_without_keys),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
