/**
 * @file core/auth.h
 * @brief The authentication gate: bearer token -> principal, and the route's coarse role check.
 */
#ifndef TX_CORE_AUTH_H
#define TX_CORE_AUTH_H

#include "core/http.h"
#include "core/routes.h"

/**
 * @brief Authenticates @p r for @p route. Public routes ("" roles) pass untouched.
 * @return 0 to go on; otherwise the request was answered (401 or 403)
 */
int tx_auth_gate(struct tx_req *r, const struct tx_route *route);

/** @brief Whether comma list @p have shares a role with @p allowed ("*": any role at all). */
bool tx_roles_allow(const char *allowed, const char *have);

#endif
