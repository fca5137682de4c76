/**
 * @file modules/auth/auth.h
 * @brief Built-in sign-in (for companies without an identity provider), the caller's identity,
 * and the service's public keys.
 */
#ifndef TX_MODULES_AUTH_H
#define TX_MODULES_AUTH_H

#include "core/http.h"
#include "core/module.h"

int tx_auth_login(struct tx_req *r);
int tx_auth_refresh(struct tx_req *r);
int tx_auth_logout(struct tx_req *r);
int tx_auth_me(struct tx_req *r);
int tx_auth_jwks(struct tx_req *r);

/* Shared by login and refresh: a new opaque refresh token and its SHA-256 (hex). */
void tx_auth_new_refresh_token(char token[44], char hash_hex[65]);
/* SHA-256 (hex) of a presented refresh token; -1 when it cannot be one of ours. */
int tx_auth_refresh_hash(const char *token, char hash_hex[65]);
/* Answers 200 with the token pair for an employee whose api.me() document is @p me_json. */
int tx_auth_reply_tokens(struct tx_req *r, const char *me_json, const char *refresh_token);
/* Every role: tx.begin_request intersects it with the employee's own. */
#define TX_ALL_ROLES "staff,supervisor,hr,risk_officer,auditor,admin"

/** @brief The module: its routes (routes.c); main.c registers it. */
extern const struct tx_module tx_module_auth;

#endif
