/**
 * @file core/jwt_keys.c
 * @brief Key loading for token verification and signing (see core/jwt_keys.h).
 *
 * libjwt 1.10 verifies with PEM keys, so JWKS entries (RSA n/e, EC x/y) are turned into PEM here
 * with OpenSSL 3's EVP_PKEY_fromdata. Each key is bound to exactly one algorithm: libjwt checks a
 * signature with whatever algorithm the token's header names, so the caller must compare.
 */
#include "core/jwt_keys.h"
#include "crypto/encoding.h"
#include "base/files.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *pem_of_public(EVP_PKEY *pkey)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *out = NULL;
  if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    out = strndup(p, (size_t)n);
  }
  BIO_free(bio);
  return out;
}

static BIGNUM *bn_from_b64url(const json_t *j_v)
{
  const char *s = json_string_value(j_v);
  size_t len;
  unsigned char *bytes = s ? tx_b64_decode(s, strlen(s), true, &len) : NULL;
  BIGNUM *bn = bytes ? BN_bin2bn(bytes, (int)len, NULL) : NULL;
  free(bytes);
  return bn;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM *params)
{
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *pkey = NULL;
  if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  return pkey;
}

int tx_jwk_to_pem(const json_t *j_jwk, char **pem, jwt_alg_t *alg, char *err, size_t errlen)
{
  const char *kty = json_string_value(json_object_get(j_jwk, "kty"));
  const char *jalg = json_string_value(json_object_get(j_jwk, "alg"));
  EVP_PKEY *pkey = NULL;
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  BIGNUM *n = NULL, *e = NULL;
  unsigned char *x = NULL, *y = NULL, *point = NULL;
  int rc = -1;

  if (!kty) {
    snprintf(err, errlen, "JWK without kty");
    goto out;
  }
  if (!strcmp(kty, "RSA")) {
    n = bn_from_b64url(json_object_get(j_jwk, "n"));
    e = bn_from_b64url(json_object_get(j_jwk, "e"));
    if (!n || !e || BN_num_bits(n) < 2048) {
      snprintf(err, errlen, "RSA JWK needs n (at least 2048 bits) and e");
      goto out;
    }
    *alg = jalg ? jwt_str_alg(jalg) : JWT_ALG_RS256;
    if (*alg != JWT_ALG_RS256 && *alg != JWT_ALG_RS384 && *alg != JWT_ALG_RS512) {
      snprintf(err, errlen, "RSA JWK with unsupported alg %s", jalg);
      goto out;
    }
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    params = OSSL_PARAM_BLD_to_param(bld);
    pkey = params ? pkey_fromdata("RSA", params) : NULL;
  } else if (!strcmp(kty, "EC")) {
    const char *crv = json_string_value(json_object_get(j_jwk, "crv"));
    const char *group = NULL;
    size_t coord = 0;
    jwt_alg_t want = JWT_ALG_INVAL;
    if (crv && !strcmp(crv, "P-256"))
      group = "prime256v1", coord = 32, want = JWT_ALG_ES256;
    else if (crv && !strcmp(crv, "P-384"))
      group = "secp384r1", coord = 48, want = JWT_ALG_ES384;
    else if (crv && !strcmp(crv, "P-521"))
      group = "secp521r1", coord = 66, want = JWT_ALG_ES512;
    *alg = jalg ? jwt_str_alg(jalg) : want;
    if (!group || *alg != want) {
      snprintf(err, errlen, "EC JWK needs crv P-256/P-384/P-521 and the matching ES alg");
      goto out;
    }
    const char *xs = json_string_value(json_object_get(j_jwk, "x"));
    const char *ys = json_string_value(json_object_get(j_jwk, "y"));
    size_t xl = 0, yl = 0;
    x = xs ? tx_b64_decode(xs, strlen(xs), true, &xl) : NULL;
    y = ys ? tx_b64_decode(ys, strlen(ys), true, &yl) : NULL;
    if (!x || !y || xl != coord || yl != coord) {
      snprintf(err, errlen, "EC JWK needs x and y of %zu bytes", coord);
      goto out;
    }
    point = malloc(1 + 2 * coord);
    point[0] = 0x04; /* uncompressed point */
    memcpy(point + 1, x, coord);
    memcpy(point + 1 + coord, y, coord);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord);
    params = OSSL_PARAM_BLD_to_param(bld);
    pkey = params ? pkey_fromdata("EC", params) : NULL;
  } else {
    snprintf(err, errlen, "JWK kty %s not supported (RSA, EC)", kty);
    goto out;
  }
  if (!pkey || !(*pem = pem_of_public(pkey))) {
    snprintf(err, errlen, "JWK is not a valid %s public key", kty);
    goto out;
  }
  rc = 0;
out:
  EVP_PKEY_free(pkey);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  free(x);
  free(y);
  free(point);
  return rc;
}

static void add_key(struct tx_keyset *ks, jwt_alg_t alg, const char *kid, unsigned char *material,
                    size_t len, bool own)
{
  ks->keys = realloc(ks->keys, (ks->n + 1) * sizeof *ks->keys);
  ks->keys[ks->n++] = (struct tx_jwt_key){alg, kid ? strdup(kid) : NULL, material, len, own};
}

static int load_jwks(struct tx_keyset *ks, const char *path, char *err, size_t errlen)
{
  json_error_t jerr;
  json_t *j_doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  json_t *j_keys = json_object_get(j_doc, "keys");
  if (!json_is_array(j_keys)) {
    snprintf(err, errlen, "%s: not a JWKS document (%s)", path, j_doc ? "no keys array" : jerr.text);
    json_decref(j_doc);
    return -1;
  }
  size_t i;
  json_t *j_k;
  json_array_foreach(j_keys, i, j_k)
  {
    const char *use = json_string_value(json_object_get(j_k, "use"));
    if (use && strcmp(use, "sig") != 0)
      continue; /* encryption keys are not for verifying signatures */
    char *pem = NULL, kerr[160];
    jwt_alg_t alg;
    if (tx_jwk_to_pem(j_k, &pem, &alg, kerr, sizeof kerr)) {
      snprintf(err, errlen, "%s: key %zu: %s", path, i, kerr);
      json_decref(j_doc);
      return -1;
    }
    add_key(ks, alg, json_string_value(json_object_get(j_k, "kid")), (unsigned char *)pem,
            strlen(pem) + 1, false);
  }
  json_decref(j_doc);
  return 0;
}

static int load_entry(struct tx_keyset *ks, const char *entry, char *err, size_t errlen)
{
  const char *eq = strchr(entry, '=');
  if (!eq || eq == entry || !eq[1]) {
    snprintf(err, errlen, "\"%s\": expected ALG[:KID]=PATH or jwks=PATH", entry);
    return -1;
  }
  char head[160];
  snprintf(head, sizeof head, "%.*s", (int)(eq - entry), entry);
  const char *path = eq + 1;
  if (!strcmp(head, "jwks"))
    return load_jwks(ks, path, err, errlen);
  char *colon = strchr(head, ':');
  const char *kid = NULL;
  if (colon) {
    *colon = '\0';
    kid = colon + 1;
  }
  jwt_alg_t alg = jwt_str_alg(head);
  if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE || alg == JWT_ALG_TERM) {
    snprintf(err, errlen, "\"%s\": unknown algorithm %s (HS/RS/ES 256/384/512)", entry, head);
    return -1;
  }
  char *text;
  size_t len;
  if (tx_read_file(path, 1 << 20, &text, &len, err, errlen))
    return -1;
  unsigned char *data = (unsigned char *)text;
  bool hmac = alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
  if (hmac && len < 32) {
    snprintf(err, errlen, "%s: HMAC secrets must have at least 32 bytes", path);
    free(data);
    return -1;
  }
  if (!hmac && !strstr((char *)data, "-----BEGIN PUBLIC KEY-----")) {
    /* Refusing private keys here keeps a signing secret out of the verifier's configuration. */
    snprintf(err, errlen, "%s: expected a PEM public key", path);
    free(data);
    return -1;
  }
  if (!hmac)
    len++; /* libjwt wants the PEM with its NUL (tx_read_file put one there) */
  add_key(ks, alg, kid, data, len, false);
  return 0;
}

/* RFC 7638 thumbprint of an EC P-256 public key: the service's key id. */
static void thumbprint(const char *x64, const char *y64, char kid[64])
{
  char canon[256];
  unsigned char md[32];
  unsigned int mdlen;
  snprintf(canon, sizeof canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x64, y64);
  EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL);
  char *t = tx_b64_encode(md, mdlen, true);
  snprintf(kid, 64, "%s", t);
  free(t);
}

static int load_own_key(struct tx_keyset *ks, const char *file, char *err, size_t errlen)
{
  EVP_PKEY *pkey = NULL;
  int rc = -1;
  if (file) {
    FILE *f = fopen(file, "r");
    if (!f) {
      snprintf(err, errlen, "TIANXING_SIGNING_KEY_FILE: %s: %s", file, strerror(errno));
      return -1;
    }
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
  } else {
    pkey = EVP_EC_gen("P-256");
  }
  char group[32] = "";
  size_t glen;
  unsigned char point[65];
  size_t plen = 0;
  if (!pkey || !EVP_PKEY_is_a(pkey, "EC") ||
      EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) != 1 ||
      strcmp(group, "prime256v1") != 0 ||
      EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen) != 1 ||
      plen != 65) {
    snprintf(err, errlen, "TIANXING_SIGNING_KEY_FILE: %s: not an EC P-256 private key in PEM",
             file ? file : "(generated)");
    goto out;
  }
  BIO *bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
  char *p;
  long n = BIO_get_mem_data(bio, &p);
  ks->sign_pem = strndup(p, (size_t)n);
  BIO_free(bio);

  char *x64 = tx_b64_encode(point + 1, 32, true), *y64 = tx_b64_encode(point + 33, 32, true);
  thumbprint(x64, y64, ks->sign_kid);
  ks->j_jwks = json_pack("{s[{ssssssssssssss}]}", "keys", "kty", "EC", "crv", "P-256", "x", x64,
                         "y", y64, "use", "sig", "alg", "ES256", "kid", ks->sign_kid);
  free(x64);
  free(y64);
  char *pub = pem_of_public(pkey);
  add_key(ks, JWT_ALG_ES256, ks->sign_kid, (unsigned char *)pub, strlen(pub) + 1, true);
  rc = 0;
out:
  EVP_PKEY_free(pkey);
  return rc;
}

int tx_keyset_load(struct tx_keyset *ks, const char *spec, const char *signing_key_file, char *err,
                   size_t errlen)
{
  memset(ks, 0, sizeof *ks);
  char *copy = strdup(spec ? spec : ""), *save = NULL;
  int rc = 0;
  for (char *e = strtok_r(copy, ",", &save); e && rc == 0; e = strtok_r(NULL, ",", &save)) {
    char msg[400];
    if (load_entry(ks, e, msg, sizeof msg)) {
      snprintf(err, errlen, "config: TIANXING_JWT_KEYS: %s", msg);
      rc = -1;
    }
  }
  free(copy);
  if (rc == 0)
    rc = load_own_key(ks, signing_key_file, err, errlen);
  if (rc)
    tx_keyset_free(ks);
  return rc;
}

void tx_keyset_free(struct tx_keyset *ks)
{
  for (size_t i = 0; i < ks->n; i++) {
    free(ks->keys[i].kid);
    if (ks->keys[i].material)
      memset(ks->keys[i].material, 0, ks->keys[i].len); /* secrets do not outlive their use */
    free(ks->keys[i].material);
  }
  free(ks->keys);
  free(ks->sign_pem);
  json_decref(ks->j_jwks);
  memset(ks, 0, sizeof *ks);
}
