/* Unit tests: envelope encryption of PII (crypto/envelope.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/envelope.h"

#define CUST "2f1b6c1e-8a4b-4c0e-9a55-0c8f3c1d2e3f"
#define K1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K2 "HxYdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA="

static char master[] = "/tmp/txmkXXXXXX", index_file[] = "/tmp/txikXXXXXX";

static void write_to(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static int setup(void **state)
{
  close(mkstemp(master));
  close(mkstemp(index_file));
  write_to(master, "k1=" K1 "\n");
  write_to(index_file, K2 "\n");
  char err[256];
  return tx_envelope_load(master, index_file, err, sizeof err);
}

static int teardown(void **state)
{
  tx_envelope_shutdown();
  unlink(master);
  unlink(index_file);
  return 0;
}

static void seal_and_open(void **state)
{
  unsigned char dek[TX_DEK_LEN], *wrapped, *sealed;
  size_t wlen, slen;
  char kid[TX_KEY_ID_MAX], *plain;
  assert_int_equal(tx_dek_create(CUST, dek, kid, &wrapped, &wlen), 0);
  assert_string_equal(kid, "k1");
  assert_int_equal(tx_field_seal(dek, CUST, "contact:c1:phone", "+8613812345678", &sealed, &slen), 0);
  assert_null(memmem(sealed, slen, "13812345678", 11)); /* no plaintext inside */
  assert_int_equal(tx_field_open(dek, CUST, "contact:c1:phone", sealed, slen, &plain), 0);
  assert_string_equal(plain, "+8613812345678");
  free(plain);

  /* Bound to its customer and field: moved elsewhere, it does not open. */
  assert_int_equal(tx_field_open(dek, CUST, "contact:c2:phone", sealed, slen, &plain), -1);
  assert_int_equal(tx_field_open(dek, "00000000-0000-4000-8000-000000000000", "contact:c1:phone",
                                 sealed, slen, &plain), -1);
  sealed[slen - 1] ^= 1; /* tampered */
  assert_int_equal(tx_field_open(dek, CUST, "contact:c1:phone", sealed, slen, &plain), -1);
  free(sealed);

  /* The wrapped key opens for its customer only, with a known master key. */
  unsigned char again[TX_DEK_LEN];
  assert_int_equal(tx_dek_unwrap("k1", wrapped, wlen, CUST, again), 0);
  assert_memory_equal(again, dek, TX_DEK_LEN);
  assert_int_equal(tx_dek_unwrap("k1", wrapped, wlen, "other", again), -1);
  assert_int_equal(tx_dek_unwrap("k9", wrapped, wlen, CUST, again), -1);

  /* Rotation: a new current key wraps new data keys; the old one still unwraps old ones. */
  char err[256];
  write_to(master, "k1=" K1 "\nk2=" K2 "\n");
  assert_int_equal(tx_envelope_load(master, index_file, err, sizeof err), 0);
  assert_int_equal(tx_dek_unwrap("k1", wrapped, wlen, CUST, again), 0);
  unsigned char *w2;
  size_t w2len;
  assert_int_equal(tx_dek_create(CUST, again, kid, &w2, &w2len), 0);
  assert_string_equal(kid, "k2");
  free(w2);
  free(wrapped);
}

static void blind_index(void **state)
{
  unsigned char a[32], b[32], c[32];
  assert_int_equal(tx_blind_index("phone", "+8613812345678", a), 0);
  assert_int_equal(tx_blind_index("phone", "+8613812345678", b), 0);
  assert_int_equal(tx_blind_index("email", "+8613812345678", c), 0);
  assert_memory_equal(a, b, 32);
  assert_memory_not_equal(a, c, 32); /* kinds never collide */
}

static void bad_key_files(void **state)
{
  char err[256];
  write_to(master, "k1=short\n");
  assert_int_equal(tx_envelope_load(master, index_file, err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_MASTER_KEYS_FILE"));
  write_to(master, "# only a comment\n");
  assert_int_equal(tx_envelope_load(master, index_file, err, sizeof err), -1);
  assert_true(tx_envelope_ready()); /* the keys in use stay */
  write_to(master, "k1=" K1 "\n");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(seal_and_open),
    cmocka_unit_test(blind_index),
    cmocka_unit_test(bad_key_files),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
