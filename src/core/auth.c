/**
 * @file core/auth.c
 * @brief The authentication gate (see core/auth.h). The fine-grained decisions (which rows, the
 * employee's current roles) are the database's: tx.begin_request and row-level security.
 */
#include "core/auth.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ulfius.h>

bool tx_roles_allow(const char *allowed, const char *have)
{
  if (!strcmp(allowed, "*"))
    return *have != '\0';
  for (const char *p = have; *p;) {
    size_t len = strcspn(p, ",");
    for (const char *a = allowed; *a;) {
      size_t alen = strcspn(a, ",");
      if (alen == len && !strncmp(a, p, len))
        return true;
      a += alen + (a[alen] == ',');
    }
    p += len + (p[len] == ',');
  }
  return false;
}

static int unauthorized(struct tx_req *r, const char *reason)
{
  char value[200];
  if (reason)
    snprintf(value, sizeof value,
             "Bearer realm=\"tianxing\", error=\"invalid_token\", error_description=\"%s\"", reason);
  else
    snprintf(value, sizeof value, "Bearer realm=\"tianxing\"");
  tx_reply_header(r, "WWW-Authenticate", value);
  char detail[160];
  snprintf(detail, sizeof detail, "%s%s.", reason ? "Invalid token: " : "A bearer token is required",
           reason ? reason : "");
  tx_reply_problem(r, TX_E_UNAUTHORIZED, detail, NULL);
  return 1;
}

int tx_auth_gate(struct tx_req *r, const struct tx_route *route)
{
  if (!*route->roles)
    return 0;
  const char *h = u_map_get_case(r->u->map_header, "Authorization");
  if (!h)
    return unauthorized(r, NULL);
  if (strncasecmp(h, "Bearer ", 7) != 0)
    return unauthorized(r, "not a bearer token");
  const char *token = h + 7;
  while (*token == ' ')
    token++;
  const char *reason = tx_jwt_verify(token, &r->principal);
  if (reason)
    return unauthorized(r, reason);
  r->user = r->principal.sub;
  if (!tx_roles_allow(route->roles, r->principal.roles)) {
    tx_reply_problem(r, TX_E_FORBIDDEN, "Your roles do not allow this operation.", NULL);
    return 1;
  }
  return 0;
}
