/* libFuzzer target: claim checks of verified tokens (anything an issuer could put in a payload). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_t *j_claims = json_loadb((const char *)data, size, 0, NULL);
  if (!j_claims)
    return 0;
  const char *paths[] = {"roles", "realm_access.roles", "a.b.c.d"};
  for (size_t i = 0; i < 3; i++) {
    struct tx_claim_rules rules = {.now = 1700000000, .leeway = 30, .required_issuer = i ? NULL : "tianxingd",
                                   .accepted_issuers = i == 2 ? "x,y" : "", .audience = i == 1 ? "tianxing" : "",
                                   .roles_claim = paths[i], .max_ttl = 86400};
    struct tx_principal p;
    if (!tx_jwt_check_claims(j_claims, &rules, &p)) {
      /* What a valid token yields must be safe to pass on: bounded, no separators in sub. */
      if (strlen(p.sub) > TX_SUB_MAX || strpbrk(p.sub, " ,\r\n\"") || strlen(p.roles) >= TX_ROLES_MAX)
        __builtin_trap();
    }
  }
  json_decref(j_claims);
  return 0;
}
