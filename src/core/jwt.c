/**
 * @file core/jwt.c
 * @brief Token verification, the verified-token cache, and minting (see core/jwt.h).
 */
#include "core/jwt.h"
#include "base/log.h"
#include "core/request.h"
#include "crypto/encoding.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <strings.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_roles[] = {"staff", "supervisor", "hr", "risk_officer", "auditor",
                                          "admin", NULL};

static pthread_rwlock_t keys_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct tx_keyset keys;
static const struct tx_config *cfg;

/* The cache: verified tokens by SHA-256, each valid until its exp. A fixed array indexed by the
 * hash; a colliding token simply replaces the older entry. */
struct cache_entry {
  unsigned char hash[32];
  struct tx_principal p;
  bool used;
};
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry *cache;
static size_t cache_size;
/* Bumped by every key install: a token verified with the old keys must not enter the new cache. */
static unsigned long generation;

static bool in_list(const char *list, const char *item)
{
  size_t n = strlen(item);
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && !strncmp(p, item, n))
      return true;
    p += len + (p[len] == ',');
  }
  return false;
}

static const json_t *claim_at(const json_t *j_claims, const char *path)
{
  const json_t *j_cur = j_claims;
  char seg[64];
  for (const char *p = path; j_cur && *p;) {
    size_t len = strcspn(p, ".");
    if (len >= sizeof seg)
      return NULL;
    memcpy(seg, p, len);
    seg[len] = '\0';
    j_cur = json_object_get(j_cur, seg);
    p += len + (p[len] == '.');
  }
  return j_cur;
}

/* exp/nbf/iat must be JSON integers when present (a string "exp" is refused, not read as 0). */
static bool time_claim(const json_t *j_claims, const char *name, bool required, long long *out)
{
  const json_t *j_v = json_object_get(j_claims, name);
  if (!j_v)
    return !required && (*out = 0, true);
  if (!json_is_integer(j_v))
    return false;
  *out = json_integer_value(j_v);
  return true;
}

const char *tx_jwt_check_claims(const json_t *j_claims, const struct tx_claim_rules *r,
                                struct tx_principal *out)
{
  long long exp, nbf, iat;
  if (!json_is_object(j_claims))
    return "claims are not an object";
  if (!time_claim(j_claims, "exp", true, &exp))
    return "exp missing or not an integer";
  if (!time_claim(j_claims, "nbf", false, &nbf) || !time_claim(j_claims, "iat", false, &iat))
    return "nbf or iat not an integer";
  /* Written so that no sum can overflow, whatever integers a token carries. */
  if (r->now - r->leeway >= exp)
    return "token expired";
  if (nbf && nbf > r->now + r->leeway)
    return "token not yet valid";
  if (iat && iat > r->now + r->leeway)
    return "token issued in the future";
  /* A ceiling on the lifetime whoever issued the token: a stolen long-lived token is a permanent
   * credential. iat <= now + leeway here, so iat + max_ttl cannot overflow; exp - now cannot
   * either (now > 0). */
  if (iat ? exp > iat + r->max_ttl : exp - r->now > r->max_ttl + r->leeway)
    return "token lifetime exceeds the maximum";

  const char *iss = json_string_value(json_object_get(j_claims, "iss"));
  if (r->required_issuer && (!iss || strcmp(iss, r->required_issuer) != 0))
    return "wrong issuer";
  if (!r->required_issuer && *r->accepted_issuers && (!iss || !in_list(r->accepted_issuers, iss)))
    return "issuer not accepted";

  if (*r->audience) {
    const json_t *j_aud = json_object_get(j_claims, "aud");
    bool ok = json_is_string(j_aud) && !strcmp(json_string_value(j_aud), r->audience);
    size_t i;
    const json_t *j_a;
    if (json_is_array(j_aud))
      json_array_foreach(j_aud, i, j_a) ok = ok || (json_is_string(j_a) &&
                                                    !strcmp(json_string_value(j_a), r->audience));
    if (!ok)
      return "wrong audience";
  }

  const char *sub = json_string_value(json_object_get(j_claims, "sub"));
  if (!sub || !*sub || strlen(sub) > TX_SUB_MAX || !tx_request_id_valid(sub))
    return "sub missing or malformed";
  snprintf(out->sub, sizeof out->sub, "%s", sub);
  out->exp = exp;

  /* Roles: an array of strings (or one space/comma-separated string); unknown names dropped. */
  out->roles[0] = '\0';
  const json_t *j_roles = claim_at(j_claims, r->roles_claim);
  for (const char *const *k = known_roles; *k; k++) {
    bool has = false;
    size_t i;
    const json_t *j_role;
    if (json_is_array(j_roles)) {
      json_array_foreach(j_roles, i, j_role) has = has || (json_is_string(j_role) &&
                                                         !strcmp(json_string_value(j_role), *k));
    } else if (json_is_string(j_roles)) {
      char list[256];
      snprintf(list, sizeof list, "%s", json_string_value(j_roles));
      for (char *c = list; *c; c++)
        if (*c == ' ')
          *c = ',';
      has = in_list(list, *k);
    }
    if (has) {
      if (out->roles[0])
        strcat(out->roles, ",");
      strcat(out->roles, *k);
    }
  }
  return NULL;
}

void tx_jwt_install(struct tx_keyset *ks, const struct tx_config *config)
{
  pthread_rwlock_wrlock(&keys_lock);
  tx_keyset_free(&keys);
  keys = *ks;
  cfg = config;
  pthread_rwlock_unlock(&keys_lock);

  pthread_mutex_lock(&cache_lock);
  free(cache);
  cache = config->token_cache_size ? calloc((size_t)config->token_cache_size, sizeof *cache) : NULL;
  cache_size = cache ? (size_t)config->token_cache_size : 0;
  generation++;
  pthread_mutex_unlock(&cache_lock);
}

int tx_jwt_load(const struct tx_config *config, char *err, size_t errlen)
{
  struct tx_keyset ks;
  if (tx_keyset_load(&ks, config->jwt_keys, config->signing_key_file, err, errlen))
    return -1;
  if (!config->signing_key_file)
    tx_log(TX_LOG_WARN, "TIANXING_SIGNING_KEY_FILE not set: signing with a key generated for this "
                        "process; its tokens stop working when it restarts");
  tx_jwt_install(&ks, config);
  tx_log(TX_LOG_INFO, "%zu token verification keys loaded (own key id %s)", ks.n, ks.sign_kid);
  return 0;
}

void tx_jwt_shutdown(void)
{
  pthread_rwlock_wrlock(&keys_lock);
  tx_keyset_free(&keys);
  pthread_rwlock_unlock(&keys_lock);
  pthread_mutex_lock(&cache_lock);
  free(cache);
  cache = NULL;
  cache_size = 0;
  pthread_mutex_unlock(&cache_lock);
}

static bool cache_get(const unsigned char hash[32], long long now, struct tx_principal *out)
{
  bool hit = false;
  pthread_mutex_lock(&cache_lock);
  if (cache_size) {
    struct cache_entry *e = &cache[(*(const size_t *)hash) % cache_size];
    if (e->used && !memcmp(e->hash, hash, 32)) {
      if (now - cfg->jwt_leeway < e->p.exp) {
        *out = e->p;
        hit = true;
      } else {
        e->used = false;
      }
    }
  }
  pthread_mutex_unlock(&cache_lock);
  return hit;
}

static void cache_put(const unsigned char hash[32], const struct tx_principal *p, unsigned long gen)
{
  pthread_mutex_lock(&cache_lock);
  if (cache_size && gen == generation) {
    struct cache_entry *e = &cache[(*(const size_t *)hash) % cache_size];
    memcpy(e->hash, hash, 32);
    e->p = *p;
    e->used = true;
  }
  pthread_mutex_unlock(&cache_lock);
}

/* Reads the unverified header: only to choose the key, never trusted beyond that. */
static json_t *header_of(const char *token)
{
  const char *dot = strchr(token, '.');
  size_t len;
  if (!dot)
    return NULL;
  unsigned char *raw = tx_b64_decode(token, (size_t)(dot - token), true, &len);
  json_t *j_h = raw ? json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
  free(raw);
  return j_h;
}

const char *tx_jwt_verify(const char *token, struct tx_principal *out)
{
  long long now = (long long)time(NULL);
  size_t len = strlen(token);
  if (!cfg)
    return "no keys";
  if (len > (size_t)cfg->jwt_max_bytes)
    return "token too large";
  int dots = 0;
  for (const char *c = token; *c; c++) {
    dots += *c == '.';
    if (!(tx_request_id_valid((char[]){*c, 0}) || *c == '.'))
      return "malformed token";
  }
  if (dots != 2)
    return "malformed token";

  unsigned char hash[32];
  unsigned int hlen;
  EVP_Digest(token, len, hash, &hlen, EVP_sha256(), NULL);
  if (cache_get(hash, now, out))
    return NULL;

  json_t *j_h = header_of(token);
  const char *alg_s = json_string_value(json_object_get(j_h, "alg"));
  const char *kid = json_string_value(json_object_get(j_h, "kid"));
  jwt_alg_t alg = alg_s ? jwt_str_alg(alg_s) : JWT_ALG_INVAL;
  const char *reason = NULL;
  jwt_t *jwt = NULL;
  const struct tx_jwt_key *used = NULL;
  if (!j_h) {
    reason = "malformed token";
    goto out;
  }
  if (alg == JWT_ALG_NONE || alg == JWT_ALG_INVAL) {
    reason = "algorithm not accepted";
    goto out;
  }
  /* Only access tokens: a document signed with the same key for another purpose (a disposal
   * certificate, typ TX_JWT_TYP_DISPOSAL) is never a credential, whatever libjwt would do. */
  const json_t *j_typ = json_object_get(j_h, "typ");
  if (j_typ && (!json_is_string(j_typ) || strcasecmp(json_string_value(j_typ), "JWT") != 0)) {
    reason = "token type not accepted";
    goto out;
  }

  pthread_rwlock_rdlock(&keys_lock);
  pthread_mutex_lock(&cache_lock);
  unsigned long gen = generation; /* the keys this verification uses */
  pthread_mutex_unlock(&cache_lock);
  for (size_t i = 0; i < keys.n && !used; i++) {
    const struct tx_jwt_key *k = &keys.keys[i];
    /* A key verifies only its own algorithm: an RS256 public key offered as an HS256 secret
     * (the classic confusion attack) never gets near jwt_decode. */
    if (k->alg != alg || (kid && (!k->kid || strcmp(k->kid, kid) != 0)))
      continue;
    if (jwt_decode(&jwt, token, k->material, (int)k->len) == 0 && jwt_get_alg(jwt) == k->alg)
      used = k;
    else {
      jwt_free(jwt);
      jwt = NULL;
    }
  }
  struct tx_claim_rules rules = {
    .now = now,
    .leeway = cfg->jwt_leeway,
    .required_issuer = used && used->own ? cfg->jwt_issuer : NULL,
    .accepted_issuers = cfg->jwt_accepted_issuers,
    .audience = cfg->jwt_audience,
    /* Our own tokens carry "roles" (tx_jwt_mint) whatever path other issuers use. */
    .roles_claim = used && used->own ? "roles" : cfg->jwt_roles_claim,
    .max_ttl = cfg->jwt_max_ttl,
  };
  pthread_rwlock_unlock(&keys_lock);
  if (!used) {
    reason = "signature not verified by any trusted key";
    goto out;
  }
  char *grants = jwt_get_grants_json(jwt, NULL);
  json_t *j_claims = grants ? json_loads(grants, JSON_REJECT_DUPLICATES, NULL) : NULL;
  free(grants);
  reason = tx_jwt_check_claims(j_claims, &rules, out);
  json_decref(j_claims);
  if (!reason)
    cache_put(hash, out, gen);
out:
  jwt_free(jwt);
  json_decref(j_h);
  return reason;
}

json_t *tx_jwt_jwks(void)
{
  pthread_rwlock_rdlock(&keys_lock);
  json_t *j_jwks = json_deep_copy(keys.j_jwks);
  pthread_rwlock_unlock(&keys_lock);
  return j_jwks;
}

/* Signs @p j_claims (borrowed) with the own key; the caller holds keys_lock for reading. */
static char *sign_locked(const json_t *j_claims)
{
  jwt_t *jwt = NULL;
  char *token = NULL;
  char *claims = json_dumps(j_claims, JSON_COMPACT);
  if (claims && jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, claims) == 0 &&
      jwt_add_header(jwt, "kid", keys.sign_kid) == 0 &&
      jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)keys.sign_pem,
                  (int)strlen(keys.sign_pem)) == 0)
    token = jwt_encode_str(jwt);
  free(claims);
  jwt_free(jwt);
  return token;
}

/* ES256 over "header.payload" with the own key; the signature as JWS wants it (raw R||S, RFC 7518
 * §3.4), not OpenSSL's DER. The caller holds keys_lock for reading. */
static char *es256_sign_locked(const char *signing_input)
{
  char *sig_b64 = NULL;
  unsigned char der[80], raw[64];
  size_t der_len = sizeof der;
  BIO *bio = BIO_new_mem_buf(keys.sign_pem, -1);
  EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  ECDSA_SIG *sig = NULL;
  if (!pkey || !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
      EVP_DigestSign(md, der, &der_len, (const unsigned char *)signing_input,
                     strlen(signing_input)) != 1)
    goto out;
  const unsigned char *p = der;
  sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32)
    goto out;
  sig_b64 = tx_b64_encode(raw, sizeof raw, true);
out:
  ECDSA_SIG_free(sig);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pkey);
  BIO_free(bio);
  return sig_b64;
}

char *tx_jwt_sign(json_t *j_payload, const char *typ)
{
  char *token = NULL, *header = NULL, *payload = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL;
  char *input = NULL;
  /* libjwt 1.10 always writes typ "JWT" (jwt_encode_str replaces any other), so documents of
   * another type are assembled here. */
  pthread_rwlock_rdlock(&keys_lock);
  json_object_set_new(j_payload, "iss", json_string(cfg->jwt_issuer));
  json_object_set_new(j_payload, "iat", json_integer((json_int_t)time(NULL)));
  json_t *j_header = json_pack("{ssssss}", "alg", "ES256", "typ", typ, "kid", keys.sign_kid);
  header = j_header ? json_dumps(j_header, JSON_COMPACT) : NULL;
  json_decref(j_header);
  payload = json_dumps(j_payload, JSON_COMPACT);
  if (!header || !payload)
    goto out;
  h64 = tx_b64_encode((const unsigned char *)header, strlen(header), true);
  p64 = tx_b64_encode((const unsigned char *)payload, strlen(payload), true);
  if (!h64 || !p64 || asprintf(&input, "%s.%s", h64, p64) < 0) {
    input = NULL;
    goto out;
  }
  s64 = es256_sign_locked(input);
  if (s64 && asprintf(&token, "%s.%s", input, s64) < 0)
    token = NULL;
out:
  pthread_rwlock_unlock(&keys_lock);
  free(header);
  free(payload);
  free(h64);
  free(p64);
  free(s64);
  free(input);
  return token;
}

char *tx_jwt_mint(const char *sub, const char *roles, int ttl, const json_t *j_extra)
{
  char *token = NULL, jti[37];
  long long now = (long long)time(NULL);
  json_t *j_roles = json_array();
  for (const char *p = roles ? roles : ""; *p;) {
    size_t len = strcspn(p, ",");
    json_array_append_new(j_roles, json_stringn(p, len));
    p += len + (p[len] == ',');
  }
  tx_uuid_v4(jti);
  pthread_rwlock_rdlock(&keys_lock);
  json_t *j_claims = json_pack("{sssssIsIsIssso}", "iss", cfg->jwt_issuer, "sub", sub, "iat",
                               (json_int_t)now, "nbf", (json_int_t)now, "exp",
                               (json_int_t)(now + ttl), "jti", jti, "roles", j_roles);
  if (*cfg->jwt_audience)
    json_object_set_new(j_claims, "aud", json_string(cfg->jwt_audience));
  if (j_extra)
    json_object_update(j_claims, (json_t *)j_extra);
  token = sign_locked(j_claims);
  pthread_rwlock_unlock(&keys_lock);
  json_decref(j_claims);
  return token;
}
