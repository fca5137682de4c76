/**
 * @file crypto/encoding.h
 * @brief Base64 (standard, no padding), base64url (RFC 4648 §5, no padding) and hex.
 */
#ifndef TX_CRYPTO_ENCODING_H
#define TX_CRYPTO_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

/** @brief Encodes @p len bytes; returns a malloc'ed string. @p url selects the URL alphabet. */
char *tx_b64_encode(const unsigned char *data, size_t len, bool url);

/**
 * @brief Decodes unpadded (or padded) base64 / base64url into malloc'ed bytes.
 * @return NULL on any invalid character or length.
 */
unsigned char *tx_b64_decode(const char *text, size_t text_len, bool url, size_t *out_len);

/** @brief Lower-case hex of @p len bytes into @p out (2 * len + 1 bytes). */
void tx_hex(const unsigned char *data, size_t len, char *out);

/**
 * @brief Decodes @p text_len hex digits (either case) into malloc'ed bytes.
 * @return NULL on an odd length or any other character.
 */
unsigned char *tx_unhex(const char *text, size_t text_len, size_t *out_len);

#endif
