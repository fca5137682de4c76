/**
 * @file crypto/password.c
 * @brief scrypt password hashes (see crypto/password.h).
 */
#include "crypto/password.h"
#include "crypto/encoding.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define R 8
#define P 1
/* The hash of this fixed dummy is computed for unknown users to equalize timing. */
#define DUMMY "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static int dummy_ln = 15;

void tx_password_set_dummy_ln(int log2_n) { dummy_ln = log2_n; }

/* Free hashing slots: a counter, not a semaphore, because an excess caller never waits (it is
 * answered 503 at once, so that it holds neither a core nor a request thread). */
static atomic_int slots_free = 1;

void tx_password_set_concurrency(int n)
{
  if (n <= 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = cpus >= 2 ? (int)(cpus / 2) : 1;
  }
  atomic_store(&slots_free, n);
}

bool tx_password_slot_take(void)
{
  int free_now = atomic_load(&slots_free);
  while (free_now > 0) {
    if (atomic_compare_exchange_weak(&slots_free, &free_now, free_now - 1))
      return true;
  }
  return false;
}

void tx_password_slot_give(void) { atomic_fetch_add(&slots_free, 1); }

static int scrypt(const char *password, const unsigned char *salt, size_t salt_len, uint64_t n,
                  uint32_t r, uint32_t p, unsigned char *out, size_t out_len)
{
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  int rc = -1;
  if (!ctx)
    goto out;
  /* maxmem: 128 * r * n plus slack; OpenSSL refuses by default above 32 MiB. */
  uint64_t maxmem = 128ULL * r * n + (1u << 20);
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password, strlen(password)),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
    OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
    OSSL_PARAM_construct_end(),
  };
  rc = EVP_KDF_derive(ctx, out, out_len, params) == 1 ? 0 : -1;
out:
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return rc;
}

char *tx_password_hash(const char *password, int log2_n)
{
  unsigned char salt[SALT_LEN], hash[HASH_LEN];
  char *out = NULL, *s64 = NULL, *h64 = NULL;
  if (RAND_bytes(salt, sizeof salt) != 1 ||
      scrypt(password, salt, sizeof salt, 1ULL << log2_n, R, P, hash, sizeof hash))
    goto out;
  s64 = tx_b64_encode(salt, sizeof salt, false);
  h64 = tx_b64_encode(hash, sizeof hash, false);
  if (s64 && h64 && asprintf(&out, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", log2_n, R, P, s64, h64) < 0)
    out = NULL;
out:
  free(s64);
  free(h64);
  OPENSSL_cleanse(hash, sizeof hash);
  return out;
}

bool tx_password_verify(const char *password, const char *stored)
{
  bool ok = false, real = true;
  int ln, r, p, consumed = 0;
  unsigned char *salt = NULL, *want = NULL;
  size_t salt_len = 0, want_len = 0;
  unsigned char got[64];

  if (!stored || sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%n", &ln, &r, &p, &consumed) != 3 ||
      !consumed || ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 4) {
    real = false;
    stored = DUMMY;
    sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%n", &ln, &r, &p, &consumed);
    ln = dummy_ln; /* as costly as a real hash of this installation */
  }
  const char *salt64 = stored + consumed;
  const char *dollar = strchr(salt64, '$');
  if (dollar) {
    salt = tx_b64_decode(salt64, (size_t)(dollar - salt64), false, &salt_len);
    want = tx_b64_decode(dollar + 1, strlen(dollar + 1), false, &want_len);
  }
  if (!salt || !want || want_len < 16 || want_len > sizeof got) {
    real = false;
    free(salt);
    free(want);
    salt = calloc(1, SALT_LEN);
    salt_len = SALT_LEN;
    want = calloc(1, HASH_LEN);
    want_len = HASH_LEN;
    ln = dummy_ln, r = R, p = P;
  }
  if (salt && want &&
      scrypt(password, salt, salt_len, 1ULL << ln, (uint32_t)r, (uint32_t)p, got, want_len) == 0)
    ok = CRYPTO_memcmp(got, want, want_len) == 0 && real;
  OPENSSL_cleanse(got, sizeof got);
  free(salt);
  free(want);
  return ok;
}
