/**
 * @file crypto/envelope.h
 * @brief Envelope encryption of customer PII (C2.3): a data key per customer, wrapped by a master
 * key; fields sealed with AES-256-GCM bound to their customer and field; blind indexes for exact
 * search. Destroying a customer's data key makes their PII unreadable everywhere (C4.3).
 */
#ifndef TX_CRYPTO_ENVELOPE_H
#define TX_CRYPTO_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#define TX_DEK_LEN 32
#define TX_KEY_ID_MAX 64

/**
 * @brief Loads the master keys (lines KEYID=base64, the last is current) and the blind-index key
 * (one base64 line). Replaces the keys in use; on failure they stay.
 */
int tx_envelope_load(const char *master_file, const char *index_file, char *err, size_t errlen);
bool tx_envelope_ready(void);

/** @brief Id of the current master key (the one that wraps new data keys); -1 when none. */
int tx_envelope_current_key_id(char key_id[TX_KEY_ID_MAX]);
void tx_envelope_shutdown(void);

/** @brief A fresh random data key, wrapped under the current master key for @p customer_id. */
int tx_dek_create(const char *customer_id, unsigned char dek[TX_DEK_LEN], char key_id[TX_KEY_ID_MAX],
                  unsigned char **wrapped, size_t *wrapped_len);

/** @brief Wraps an existing data key under the current master key (rotation). */
int tx_dek_rewrap(const unsigned char dek[TX_DEK_LEN], const char *customer_id,
                  char key_id[TX_KEY_ID_MAX], unsigned char **wrapped, size_t *wrapped_len);

/**
 * @brief Seals a short secret (a data key, a webhook secret) under the current master key with
 * AES-256-GCM, bound to @p context (AAD, e.g. "tianxing-webhook-secret:<id>"): nonce || ct || tag.
 * A master key rotation re-seals it (open with the old key, seal with the current one).
 */
int tx_master_seal(const char *context, const unsigned char *data, size_t len,
                   char key_id[TX_KEY_ID_MAX], unsigned char **out, size_t *out_len);

/**
 * @brief Opens what tx_master_seal made into @p out (at most @p out_size bytes); -1 when the
 * master key @p key_id is not loaded, the context differs, or the bytes were altered.
 */
int tx_master_open(const char *key_id, const char *context, const unsigned char *in, size_t len,
                   unsigned char *out, size_t out_size, size_t *out_len);

/** @brief Unwraps a data key; -1 when the master key is unknown or the wrap was tampered with. */
int tx_dek_unwrap(const char *key_id, const unsigned char *wrapped, size_t len,
                  const char *customer_id, unsigned char dek[TX_DEK_LEN]);

/** @brief Seals @p plaintext: 0x01 || nonce || ciphertext || tag, AAD = customer id | field. */
int tx_field_seal(const unsigned char dek[TX_DEK_LEN], const char *customer_id, const char *field,
                  const char *plaintext, unsigned char **out, size_t *out_len);

/** @brief Opens a sealed field; -1 when it was moved, altered, or sealed with another key. */
int tx_field_open(const unsigned char dek[TX_DEK_LEN], const char *customer_id, const char *field,
                  const unsigned char *in, size_t len, char **plaintext);

/** @brief HMAC-SHA256(index key, kind ":" value): equality search without plaintext. */
int tx_blind_index(const char *kind, const char *value, unsigned char out[32]);

#endif
