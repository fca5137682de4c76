/**
 * @file core/jwt_keys.h
 * @brief The keys that verify tokens (from configuration and JWKS files) and the service's own
 * ES256 signing key, with its public JWKS for other services.
 */
#ifndef TX_CORE_JWT_KEYS_H
#define TX_CORE_JWT_KEYS_H

#include <jansson.h>
#include <jwt.h>
#include <stdbool.h>
#include <stddef.h>

struct tx_jwt_key {
  jwt_alg_t alg;          /* the one algorithm this key may verify */
  char *kid;              /* NULL: matches tokens without a kid, by algorithm */
  unsigned char *material;/* HMAC secret, or public key PEM */
  size_t len;
  bool own;               /* the service's own key: tokens must carry its issuer */
};

struct tx_keyset {
  struct tx_jwt_key *keys;
  size_t n;
  char *sign_pem; /* own private key, PEM */
  char sign_kid[64];
  json_t *j_jwks; /* {"keys":[own public JWK]} */
};

/**
 * @brief Loads @p spec ("ALG[:KID]=PATH,...,jwks=PATH") and the signing key (@p signing_key_file,
 * or a fresh ephemeral key when NULL) into @p ks.
 * @return 0, or -1 with a message naming the entry in @p err
 */
int tx_keyset_load(struct tx_keyset *ks, const char *spec, const char *signing_key_file, char *err,
                   size_t errlen);
void tx_keyset_free(struct tx_keyset *ks);

/** @brief Converts one JWK (RSA or EC public key) to PEM; alg chosen from the JWK. */
int tx_jwk_to_pem(const json_t *j_jwk, char **pem, jwt_alg_t *alg, char *err, size_t errlen);

#endif
