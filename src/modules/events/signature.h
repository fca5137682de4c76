/**
 * @file modules/events/signature.h
 * @brief Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
 * "<webhook-id>.<webhook-timestamp>.<body>" with the key in a `whsec_<base64>` secret, sent as
 * `webhook-signature: v1,<base64>` (several, space-separated, while a rotated secret overlaps).
 */
#ifndef TX_MODULES_EVENTS_SIGNATURE_H
#define TX_MODULES_EVENTS_SIGNATURE_H

#include <stddef.h>

/** Room for one "v1,<base64 of 32 bytes>" and its terminator. */
#define TX_WEBHOOK_SIG_MAX 64

/**
 * @brief Signs one message with one secret into @p out ("v1,<base64>", padded base64 as the
 * specification's reference libraries compare it).
 * @return 0; -1 when the secret is not `whsec_` + base64 of 1..64 bytes or @p outlen is short
 */
int tx_webhook_sign(const char *secret, const char *msg_id, long long timestamp, const char *body,
                    size_t body_len, char *out, size_t outlen);

#endif
