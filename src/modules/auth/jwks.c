/**
 * @file modules/auth/jwks.c
 * @brief GET /.well-known/jwks.json: the public key(s) other services use to verify our tokens.
 */
#include "core/jwt.h"
#include "modules/auth/auth.h"

int tx_auth_jwks(struct tx_req *r)
{
  json_t *j_jwks = tx_jwt_jwks();
  if (!j_jwks)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  /* Public keys may be cached briefly; rotation publishes the new key before using it. */
  tx_reply_header(r, "Cache-Control", "public, max-age=300");
  tx_reply_json(r, 200, j_jwks);
  json_decref(j_jwks);
  return r->status;
}
