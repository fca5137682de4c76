/**
 * @file core/request.h
 * @brief Pure helpers for the request gates (unit-tested without a server).
 */
#ifndef TX_CORE_REQUEST_H
#define TX_CORE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

/** @brief An incoming X-Request-Id is kept only when it is 1..128 of [A-Za-z0-9._:-]. */
bool tx_request_id_valid(const char *id);

/** @brief A random (version 4) UUID, lower-case, into @p out (37 bytes). */
void tx_uuid_v4(char out[37]);

/** @brief application/json or any application/...+json, parameters ignored (RFC 6839). */
bool tx_media_type_is_json(const char *content_type);

/** @brief Whether @p origin is exactly one of the comma-separated @p allowed origins. */
bool tx_cors_origin_allowed(const char *allowed, const char *origin);

/** @brief Whether the first language of an Accept-Language header is Chinese. */
bool tx_prefers_chinese(const char *accept_language);

/** @brief Parses a Content-Length value; -1 when it is not a plain decimal number. */
long long tx_parse_content_length(const char *value);

#endif
