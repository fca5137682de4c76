/**
 * @file core/jwt.h
 * @brief Verifying bearer tokens from any configured issuer, and minting the service's own.
 *
 * libjwt 1.10 checks only the signature, with the algorithm the token names. Everything else is
 * here: the key is chosen by kid/alg and must be bound to the header's algorithm; `none` is never
 * accepted; exp must be an integer; nbf/iat are honoured; iss/aud are checked when configured;
 * tokens have a size cap; roles come from a configurable claim path.
 */
#ifndef TX_CORE_JWT_H
#define TX_CORE_JWT_H

#include "core/config.h"
#include "core/jwt_keys.h"

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#define TX_SUB_MAX 128
#define TX_ROLES_MAX 128

/** @brief Who a verified token speaks for. */
struct tx_principal {
  char sub[TX_SUB_MAX + 1];
  char roles[TX_ROLES_MAX]; /* known roles only, comma-separated, e.g. "staff,supervisor" */
  long long exp;
};

/** @brief Claim rules, from configuration (pure data, so the checks can be unit-tested). */
struct tx_claim_rules {
  long long now;
  int leeway;
  const char *required_issuer;  /* own key: must equal; NULL when not bound */
  const char *accepted_issuers; /* other keys: comma list, "" = any */
  const char *audience;         /* "" = not checked */
  const char *roles_claim;      /* dotted path */
  long long max_ttl;            /* exp - iat (or exp - now without iat) may not exceed it */
};

/**
 * @brief Checks the claims of a token whose signature is already verified.
 * @return NULL when valid (and fills @p out), else a short reason for the 401.
 */
const char *tx_jwt_check_claims(const json_t *j_claims, const struct tx_claim_rules *rules,
                                struct tx_principal *out);

/** @brief Installs the key set used by tx_jwt_verify (takes ownership); clears the cache. */
void tx_jwt_install(struct tx_keyset *ks, const struct tx_config *cfg);

/**
 * @brief Loads the keys named by @p cfg and installs them (start-up and SIGHUP). On failure the
 * keys in use stay, and -1 comes back with the reason in @p err.
 */
int tx_jwt_load(const struct tx_config *cfg, char *err, size_t errlen);

/** @brief Verifies @p token. NULL when valid, else the reason. Thread-safe; cached. */
const char *tx_jwt_verify(const char *token, struct tx_principal *out);

/** @brief The public JWKS document (new reference). */
json_t *tx_jwt_jwks(void);

/**
 * @brief Mints an access token signed with the own key.
 * @param j_extra extra claims (borrowed, may be NULL)
 * @return malloc'ed compact JWS or NULL
 */
char *tx_jwt_mint(const char *sub, const char *roles, int ttl, const json_t *j_extra);

/** @brief The header `typ` of disposal certificates: never "JWT", so no verifier takes one for a
 * token (tx_jwt_verify refuses any typ but JWT, and libjwt does too). */
#define TX_JWT_TYP_DISPOSAL "tianxing-disposal+jwt"

/**
 * @brief Signs a JSON document with the own key as a compact JWS (ES256, kid of the JWKS, header
 * typ @p typ), e.g. a disposal certificate anyone can verify with /.well-known/jwks.json. Adds
 * "iss" and "iat" to @p j_payload first, so that the document the caller shows is exactly the
 * signed payload.
 * @return malloc'ed JWS or NULL
 */
char *tx_jwt_sign(json_t *j_payload, const char *typ);

void tx_jwt_shutdown(void);

#endif
