/* Unit tests: token claim checks, key loading, the alg-confusion and alg-none defences,
 * base64 and passwords (core/jwt.c, crypto/keys.c, crypto/encoding.c, crypto/password.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/jwt.h"
#include "crypto/encoding.h"
#include "core/jwt_keys.h"
#include "crypto/password.h"

static const struct tx_claim_rules base_rules = {
  .now = 1000000, .leeway = 30, .required_issuer = NULL, .accepted_issuers = "",
  .audience = "", .roles_claim = "roles", .max_ttl = 86400};

static const char *check(const char *claims_json, const struct tx_claim_rules *rules,
                         struct tx_principal *p)
{
  json_t *j = json_loads(claims_json, 0, NULL);
  assert_non_null(j);
  const char *reason = tx_jwt_check_claims(j, rules, p);
  json_decref(j);
  return reason;
}

static void claims_time_rules(void **state)
{
  struct tx_principal p;
  assert_null(check("{\"sub\":\"u1\",\"exp\":1000100}", &base_rules, &p));
  assert_string_equal(p.sub, "u1");
  assert_non_null(check("{\"sub\":\"u1\"}", &base_rules, &p));                       /* no exp */
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":\"1000100\"}", &base_rules, &p));   /* string */
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":1000100.5}", &base_rules, &p));     /* real */
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":999970}", &base_rules, &p));        /* expired */
  assert_null(check("{\"sub\":\"u1\",\"exp\":999980}", &base_rules, &p));            /* leeway */
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":1000100,\"nbf\":1000031}", &base_rules, &p));
  assert_null(check("{\"sub\":\"u1\",\"exp\":1000100,\"nbf\":1000029}", &base_rules, &p));
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":1000100,\"iat\":1000500}", &base_rules, &p));
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":1000100,\"nbf\":\"x\"}", &base_rules, &p));
}

/* Issue 10 item 17: no token lives longer than max_ttl, whoever issued it. */
static void claims_max_lifetime(void **state)
{
  struct tx_principal p;
  /* exp - iat: exactly the maximum passes, one second more does not */
  assert_null(check("{\"sub\":\"u1\",\"iat\":999000,\"exp\":1085400}", &base_rules, &p));
  assert_string_equal(check("{\"sub\":\"u1\",\"iat\":999000,\"exp\":1085401}", &base_rules, &p),
                      "token lifetime exceeds the maximum");
  /* an old iat with a near exp still declares a lifetime over the maximum */
  assert_non_null(check("{\"sub\":\"u1\",\"iat\":900000,\"exp\":1000100}", &base_rules, &p));
  /* without iat: exp - now (leeway allowed) */
  assert_null(check("{\"sub\":\"u1\",\"exp\":1086430}", &base_rules, &p));
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":1086431}", &base_rules, &p));
  /* the largest exp a JSON integer holds, with and without iat, and with the smallest iat */
  assert_non_null(check("{\"sub\":\"u1\",\"exp\":9223372036854775807}", &base_rules, &p));
  assert_non_null(
    check("{\"sub\":\"u1\",\"iat\":1000000,\"exp\":9223372036854775807}", &base_rules, &p));
  assert_non_null(check("{\"sub\":\"u1\",\"iat\":-9223372036854775807,\"exp\":1000100}",
                        &base_rules, &p));
}

static void claims_identity_rules(void **state)
{
  struct tx_principal p;
  struct tx_claim_rules r = base_rules;
  assert_non_null(check("{\"exp\":1000100}", &r, &p));                        /* no sub */
  assert_non_null(check("{\"sub\":\"a b\",\"exp\":1000100}", &r, &p));         /* odd sub */
  r.required_issuer = "tianxingd";
  assert_non_null(check("{\"sub\":\"u\",\"exp\":1000100,\"iss\":\"evil\"}", &r, &p));
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100,\"iss\":\"tianxingd\"}", &r, &p));
  r.required_issuer = NULL;
  r.accepted_issuers = "https://kc.example/realms/a,https://idp.example";
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100,\"iss\":\"https://idp.example\"}", &r, &p));
  assert_non_null(check("{\"sub\":\"u\",\"exp\":1000100,\"iss\":\"https://idp.example.evil\"}", &r, &p));
  assert_non_null(check("{\"sub\":\"u\",\"exp\":1000100}", &r, &p));
  r.accepted_issuers = "";
  r.audience = "tianxing";
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100,\"aud\":\"tianxing\"}", &r, &p));
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100,\"aud\":[\"x\",\"tianxing\"]}", &r, &p));
  assert_non_null(check("{\"sub\":\"u\",\"exp\":1000100,\"aud\":[\"x\"]}", &r, &p));
  assert_non_null(check("{\"sub\":\"u\",\"exp\":1000100}", &r, &p));
}

static void claims_roles(void **state)
{
  struct tx_principal p;
  struct tx_claim_rules r = base_rules;
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100,\"roles\":[\"hr\",\"staff\",\"root\",7]}", &r, &p));
  assert_string_equal(p.roles, "staff,hr"); /* known roles only, in registry order */
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100,\"roles\":\"admin auditor\"}", &r, &p));
  assert_string_equal(p.roles, "auditor,admin");
  r.roles_claim = "realm_access.roles";
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100,\"realm_access\":{\"roles\":[\"supervisor\"]}}", &r, &p));
  assert_string_equal(p.roles, "supervisor");
  assert_null(check("{\"sub\":\"u\",\"exp\":1000100}", &r, &p));
  assert_string_equal(p.roles, "");
}

static void base64_round_trip(void **state)
{
  const unsigned char data[] = {0xfb, 0xff, 0x00, 0x10, 0x83};
  for (size_t n = 0; n <= sizeof data; n++) {
    for (int url = 0; url < 2; url++) {
      char *e = tx_b64_encode(data, n, url);
      size_t len;
      unsigned char *d = tx_b64_decode(e, strlen(e), url, &len);
      assert_non_null(d);
      assert_int_equal(len, n);
      assert_memory_equal(d, data, n);
      free(d);
      free(e);
    }
  }
  size_t len;
  assert_null(tx_b64_decode("a*b", 3, true, &len));
  assert_null(tx_b64_decode("+/8", 3, true, &len)); /* std alphabet is not url */
  assert_null(tx_b64_decode("A", 1, true, &len));
  assert_null(tx_b64_decode("AB", 2, true, &len)); /* non-zero trailing bits */
}

static void hex_round_trip(void **state)
{
  const unsigned char data[] = {0x00, 0x09, 0x0a, 0xab, 0xf0, 0xff};
  char h[2 * sizeof data + 1];
  tx_hex(data, sizeof data, h);
  assert_string_equal(h, "00090aabf0ff");
  size_t len;
  unsigned char *d = tx_unhex("00090AabF0ff", 12, &len);
  assert_non_null(d);
  assert_int_equal(len, sizeof data);
  assert_memory_equal(d, data, sizeof data);
  free(d);
  d = tx_unhex("", 0, &len);
  assert_non_null(d);
  assert_int_equal(len, 0);
  free(d);
  assert_null(tx_unhex("abc", 3, &len)); /* odd */
  assert_null(tx_unhex("0g", 2, &len));
  assert_null(tx_unhex("0 ", 2, &len));
  assert_null(tx_unhex("+1", 2, &len)); /* sscanf("%2x") took signs and spaces */
}

static void passwords(void **state)
{
  char *h = tx_password_hash("correct horse", 10);
  assert_non_null(h);
  assert_true(!strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22));
  assert_true(tx_password_verify("correct horse", h));
  assert_false(tx_password_verify("correct horsE", h));
  char *h2 = tx_password_hash("correct horse", 10);
  assert_string_not_equal(h, h2); /* salted */
  free(h2);
  h[strlen(h) - 2] ^= 1;
  assert_false(tx_password_verify("correct horse", h));
  free(h);
  assert_false(tx_password_verify("x", NULL));
  assert_false(tx_password_verify("x", "$scrypt$ln=99,r=8,p=1$AAAA$AAAA"));
  assert_false(tx_password_verify("x", "plaintext"));
}

static char *write_temp(const char *text, size_t len)
{
  char *path = strdup("/tmp/txkeyXXXXXX");
  int fd = mkstemp(path);
  assert_true(write(fd, text, len) == (ssize_t)len);
  close(fd);
  return path;
}

static void keys_and_confusion(void **state)
{
  struct tx_config cfg;
  tx_config_defaults(&cfg);
  char err[512];
  const char *secret = "0123456789abcdef0123456789abcdef";
  char *secret_path = write_temp(secret, strlen(secret));
  char spec[256];

  /* Short HMAC secrets and private keys in the verifier config are refused. */
  char *short_path = write_temp("short", 5);
  snprintf(spec, sizeof spec, "HS256=%s", short_path);
  struct tx_keyset ks;
  assert_int_equal(tx_keyset_load(&ks, spec, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "TIANXING_JWT_KEYS"));
  snprintf(spec, sizeof spec, "XX999=%s", secret_path);
  assert_int_equal(tx_keyset_load(&ks, spec, NULL, err, sizeof err), -1);
  unlink(short_path);
  free(short_path);

  snprintf(spec, sizeof spec, "HS256:svc=%s", secret_path);
  free(cfg.jwt_keys);
  cfg.jwt_keys = strdup(spec);
  assert_int_equal(tx_jwt_load(&cfg, err, sizeof err), 0);

  /* Own ES256 token: accepted. */
  struct tx_principal p;
  char *own = tx_jwt_mint("u1", "staff", 60, NULL);
  assert_null(tx_jwt_verify(own, &p));
  assert_string_equal(p.sub, "u1");
  assert_string_equal(p.roles, "staff");
  assert_null(tx_jwt_verify(own, &p)); /* cached */

  /* The same payload with alg none and no signature: refused. */
  char *dot = strchr(own, '.');
  char *dot2 = strchr(dot + 1, '.');
  char forged[2048];
  snprintf(forged, sizeof forged, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0%.*s.", (int)(dot2 - dot), dot);
  assert_non_null(tx_jwt_verify(forged, &p));

  /* HS256 signed with the service's public key PEM as the secret (alg confusion): refused,
   * because no key bound to HS256 has that material. */
  json_t *j_jwks = tx_jwt_jwks();
  char *pem = NULL;
  jwt_alg_t alg;
  assert_int_equal(tx_jwk_to_pem(json_array_get(json_object_get(j_jwks, "keys"), 0), &pem, &alg,
                                 err, sizeof err), 0);
  assert_int_equal(alg, JWT_ALG_ES256);
  jwt_t *jwt;
  jwt_new(&jwt);
  /* exp within TIANXING_JWT_MAX_TTL, so that only what each case tests can refuse the token */
  char grants[160];
  long long exp = (long long)time(NULL) + 600;
  snprintf(grants, sizeof grants, "{\"sub\":\"u1\",\"exp\":%lld,\"iss\":\"tianxingd\"}", exp);
  jwt_add_grants_json(jwt, grants);
  jwt_set_alg(jwt, JWT_ALG_HS256, (unsigned char *)pem, (int)strlen(pem));
  char *confused = jwt_encode_str(jwt);
  jwt_free(jwt);
  assert_non_null(tx_jwt_verify(confused, &p));
  free(confused);

  /* HS256 with the configured secret and kid: accepted; HS384 with the same secret: refused
   * (libjwt alone would accept it). */
  jwt_new(&jwt);
  snprintf(grants, sizeof grants, "{\"sub\":\"svc-a\",\"exp\":%lld,\"roles\":[\"admin\"]}", exp);
  jwt_add_grants_json(jwt, grants);
  jwt_add_header(jwt, "kid", "svc");
  jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
  char *hs = jwt_encode_str(jwt);
  jwt_free(jwt);
  assert_null(tx_jwt_verify(hs, &p));
  assert_string_equal(p.roles, "admin");
  free(hs);
  jwt_new(&jwt);
  snprintf(grants, sizeof grants, "{\"sub\":\"svc-a\",\"exp\":%lld}", exp);
  jwt_add_grants_json(jwt, grants);
  jwt_add_header(jwt, "kid", "svc");
  jwt_set_alg(jwt, JWT_ALG_HS384, (const unsigned char *)secret, (int)strlen(secret));
  char *hs384 = jwt_encode_str(jwt);
  jwt_free(jwt);
  assert_non_null(tx_jwt_verify(hs384, &p));
  free(hs384);

  /* A flipped signature byte: refused. */
  own[strlen(own) - 3] = own[strlen(own) - 3] == 'A' ? 'B' : 'A';
  assert_non_null(tx_jwt_verify(own, &p));

  /* Issue 10 item 17: a disposal certificate is signed with the same key, but its typ is not
   * JWT: never a token, even carrying every claim a token needs. */
  json_t *j_doc = json_pack("{sssIs[s]}", "sub", "u1", "exp", (json_int_t)exp, "roles", "admin");
  char *cert = tx_jwt_sign(j_doc, TX_JWT_TYP_DISPOSAL);
  assert_non_null(cert);
  assert_non_null(strstr(cert, ".")); /* compact JWS */
  assert_string_equal(tx_jwt_verify(cert, &p), "token type not accepted");
  assert_non_null(json_object_get(j_doc, "iss")); /* the signed payload is the document shown */
  free(cert);
  json_decref(j_doc);

  /* Oversized: refused before anything else. */
  char *big = malloc(9000);
  memset(big, 'a', 8999);
  big[8999] = '\0';
  assert_string_equal(tx_jwt_verify(big, &p), "token too large");
  free(big);

  free(own);
  free(pem);
  json_decref(j_jwks);
  tx_jwt_shutdown();
  unlink(secret_path);
  free(secret_path);
  tx_config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(claims_time_rules), cmocka_unit_test(claims_max_lifetime), cmocka_unit_test(claims_identity_rules),
    cmocka_unit_test(claims_roles),      cmocka_unit_test(base64_round_trip), cmocka_unit_test(hex_round_trip),
    cmocka_unit_test(passwords),         cmocka_unit_test(keys_and_confusion),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
