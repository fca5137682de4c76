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

/** @brief application/json or any application/...+json (RFC 6839), with no charset parameter
 * other than UTF-8 (tx_media_type_charset_ok); other parameters ignored. */
bool tx_media_type_is_json(const char *content_type);

/** @brief Whether @p origin is exactly one of the comma-separated @p allowed origins. */
bool tx_cors_origin_allowed(const char *allowed, const char *origin);

/** @brief Whether the first language of an Accept-Language header is Chinese. */
bool tx_prefers_chinese(const char *accept_language);

/**
 * @brief Whether the parameters of a Content-Type name no charset other than UTF-8. JSON is UTF-8
 * (RFC 8259 section 8.1): a body declared `charset=latin1` would be read as something it is not.
 */
bool tx_media_type_charset_ok(const char *content_type);

/** @brief Parses a plain decimal number (a Content-Length, an event position); -1 when it is
 * not one or exceeds 2^50. */
long long tx_parse_decimal(const char *value);

/** @brief Whether @p s (NUL-terminated) is well-formed UTF-8: no overlongs, surrogates or
 * code points above U+10FFFF. */
bool tx_utf8_valid(const char *s);

/**
 * @brief A copy of @p s (malloc) where each byte that starts no well-formed UTF-8 sequence is
 * replaced by U+FFFD; NULL when memory ran out. A header or query value is kept this way, so that
 * a malformed one is still seen (and refused where its grammar is checked) without letting
 * invalid UTF-8 into problem documents or logs.
 */
char *tx_utf8_repair(const char *s);

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
