/**
 * @file core/one_time_link.h
 * @brief One-time links for people outside the company (a customer confirming a delivery, P3.4;
 * a customer answering a satisfaction survey, Q3). The token is 256 random bits drawn here
 * (OpenSSL RAND_bytes) and shown once as base64url; the database stores only the SHA-256 of its
 * text and never sees the token. The rows decide whether a token still works (once, until its
 * expiry, unless replaced or revoked); every token that does not answers the same 404 without
 * detail, so the answers tell nothing about which tokens exist.
 */
#ifndef TX_CORE_ONE_TIME_LINK_H
#define TX_CORE_ONE_TIME_LINK_H

#include "core/http.h"
#include "core/json_spec.h"
#include "db/tx.h"

/**
 * @brief Mints a link for the entity named by the path's "id": runs @p sql with ($1 id, $2 the
 * token's SHA-256 hex), whose single column is the link's JSON object, and answers it 201 with
 * "token" and "url" (@p url_prefix followed by the token) added: the only time the token is shown.
 */
int tx_link_mint(struct tx_req *r, const struct tx_sql *sql, const char *url_prefix);

/**
 * @brief The public GET of a link: runs @p sql with ($1 the path token's hash) read-only and
 * answers its single JSON column 200 (no row or NULL: the one 404).
 */
int tx_link_view(struct tx_req *r, const struct tx_sql *sql);

/**
 * @brief The public POST of a link: checks the body against @p spec (@p n fields), runs @p sql
 * with ($1 the path token's hash, $2 the body) and answers its single JSON column 201.
 */
int tx_link_answer(struct tx_req *r, const struct tx_field *spec, size_t n, const struct tx_sql *sql);

#endif
