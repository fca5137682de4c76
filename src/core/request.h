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

/** @brief Whether @p s (NUL-terminated) is well-formed UTF-8: no overlongs, surrogates or
 * code points above U+10FFFF. */
bool tx_utf8_valid(const char *s);

/** @brief What the framing headers of a request call for before its body is read. */
enum tx_framing {
  TX_FRAMING_OK,
  TX_FRAMING_AMBIGUOUS, /* Content-Length and Transfer-Encoding both: 400 and close (RFC 9112 §6.3) */
  TX_FRAMING_BAD_ENCODING, /* a Transfer-Encoding other than chunked: 400 and close */
  TX_FRAMING_TOO_LARGE, /* the declared length is over the limit: 413 and close */
};

/**
 * @brief Judges a request's framing from its Content-Length and Transfer-Encoding values (NULL
 * when absent), so that a smuggling attempt or an oversized body is refused before a byte of the
 * body is read.
 */
enum tx_framing tx_request_framing(const char *content_length, const char *transfer_encoding,
                                   long body_limit);

#endif
