/**
 * @file modules/auth/tokens.c
 * @brief What login and refresh share: refresh tokens (random, stored only as SHA-256) and the
 * token-pair answer.
 */
#include "core/app.h"
#include "crypto/encoding.h"
#include "modules/auth/auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static void sha256_hex(const char *s, char hex[65])
{
  unsigned char md[32];
  unsigned int len;
  EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
  tx_hex(md, 32, hex);
}

void tx_auth_new_refresh_token(char token[44], char hash_hex[65])
{
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    abort(); /* never hand out a predictable credential: fail closed */
  char *t = tx_b64_encode(raw, sizeof raw, true);
  memcpy(token, t, 44); /* 43 characters and the NUL */
  free(t);
  sha256_hex(token, hash_hex);
}

int tx_auth_refresh_hash(const char *token, char hash_hex[65])
{
  size_t len;
  unsigned char *raw = token && strlen(token) == 43 ? tx_b64_decode(token, 43, true, &len) : NULL;
  free(raw);
  if (!raw || len != 32)
    return -1;
  sha256_hex(token, hash_hex);
  return 0;
}

int tx_auth_reply_tokens(struct tx_req *r, const char *me_json, const char *refresh_token)
{
  json_t *j_me = json_loads(me_json, 0, NULL);
  const char *id = json_string_value(json_object_get(j_me, "id"));
  json_t *j_roles = json_object_get(j_me, "roles");
  char roles[TX_ROLES_MAX] = "";
  size_t i;
  json_t *j_role;
  json_array_foreach(j_roles, i, j_role)
  {
    const char *role = json_string_value(j_role);
    if (role && strlen(roles) + strlen(role) + 2 < sizeof roles) {
      if (roles[0])
        strcat(roles, ",");
      strcat(roles, role);
    }
  }
  char *access = id ? tx_jwt_mint(id, roles, tx_app.cfg->access_token_ttl, NULL) : NULL;
  if (!access) {
    json_decref(j_me);
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  }
  json_t *j_body = json_pack("{sssssisssiso}", "access_token", access, "token_type", "Bearer",
                             "expires_in", tx_app.cfg->access_token_ttl, "refresh_token",
                             refresh_token, "refresh_expires_in", tx_app.cfg->refresh_token_ttl,
                             "user", j_me);
  free(access);
  tx_reply_json(r, 200, j_body);
  json_decref(j_body);
  return r->status;
}
