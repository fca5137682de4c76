/**
 * @file modules/events/signature.c
 * @brief Standard Webhooks signing (signature.h). Pure: OpenSSL's HMAC and our base64.
 */
#include "modules/events/signature.h"
#include "crypto/encoding.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tx_webhook_sign(const char *secret, const char *msg_id, long long timestamp, const char *body,
                    size_t body_len, char *out, size_t outlen)
{
  static const char prefix[] = "whsec_";
  unsigned char *key = NULL, mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  size_t key_len = 0;
  char head[160];
  char *b64 = NULL;
  int rc = -1;
  EVP_MAC *alg = NULL;
  EVP_MAC_CTX *ctx = NULL;

  if (!secret || strncmp(secret, prefix, sizeof prefix - 1) || !msg_id || !body)
    goto out;
  key = tx_b64_decode(secret + sizeof prefix - 1, strlen(secret + sizeof prefix - 1), false, &key_len);
  if (!key || key_len == 0 || key_len > 64)
    goto out;
  int n = snprintf(head, sizeof head, "%s.%lld.", msg_id, timestamp);
  if (n < 0 || (size_t)n >= sizeof head)
    goto out;
  /* EVP_MAC (OpenSSL 3): the message is fed in parts, so the body is never copied. */
  alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
  ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                         OSSL_PARAM_construct_end()};
  size_t got = 0;
  if (!ctx || !EVP_MAC_init(ctx, key, key_len, params) ||
      !EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)n) ||
      !EVP_MAC_update(ctx, (const unsigned char *)body, body_len) ||
      !EVP_MAC_final(ctx, mac, &got, sizeof mac) || got != 32)
    goto out;
  mac_len = (unsigned int)got;
  b64 = tx_b64_encode(mac, mac_len, false);
  if (!b64)
    goto out;
  /* tx_b64_encode leaves the padding out; the reference libraries compare padded text. */
  size_t bl = strlen(b64);
  size_t pad = (4 - bl % 4) % 4;
  if (3 + bl + pad + 1 > outlen)
    goto out;
  snprintf(out, outlen, "v1,%s%.*s", b64, (int)pad, "==");
  rc = 0;
out:
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(alg);
  if (key) {
    OPENSSL_cleanse(key, key_len);
    free(key);
  }
  OPENSSL_cleanse(mac, sizeof mac);
  free(b64);
  return rc;
}
