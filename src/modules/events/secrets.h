/**
 * @file modules/events/secrets.h
 * @brief Webhook signing secrets at rest: made or checked here, sealed under the master keys
 * (crypto/envelope.h, bound to the subscription's id) before the database sees them, opened by
 * the deliverer outside any transaction. docs/events.md, "Secrets at rest".
 */
#ifndef TX_MODULES_EVENTS_SECRETS_H
#define TX_MODULES_EVENTS_SECRETS_H

#include "crypto/envelope.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/** "whsec_" and the padded base64 of at most 64 bytes, and the terminator. */
#define TX_WEBHOOK_SECRET_MAX 96

/**
 * @brief The secret a subscription gets: @p given when it is `whsec_` + base64 of 24..64 bytes,
 * or (given NULL) a new one of 32 random bytes (OpenSSL's generator).
 * @return 0; -1 with @p why (for the field error) when @p given is not such a secret
 */
int tx_webhook_secret_make(const char *given, char out[TX_WEBHOOK_SECRET_MAX], const char **why);

/**
 * @brief Seals @p secret for subscription @p webhook_id under the current master key.
 * @return 0 with @p key_id and @p hex (malloc'ed lower-case hex); -1 without master keys
 */
int tx_webhook_secret_seal(const char *webhook_id, const char *secret, char key_id[TX_KEY_ID_MAX],
                           char **hex);

/**
 * @brief Opens a secret as the SQL gives it (events.secret_ref: {key_id, sealed} or {plain}).
 * @return the secret (malloc'ed; the caller cleanses and frees it), or NULL when it cannot be
 *         opened (master key not loaded, altered, sealed for another subscription)
 */
char *tx_webhook_secret_open(const char *webhook_id, const json_t *ref);

/**
 * @brief Seals the secrets still in clear (rows made before migration 0042) and, when @p rewrap,
 * re-seals those under another master key than the current one; up to @p limit rows, in the
 * transaction open on @p pg (its tx.roles must be 'system'). Validates the 0042 constraint once
 * no row is in clear. One path for the upgrade (the job webhooks.sweep) and for a master key
 * rotation (`tianxingd rotate-master-key`).
 * @return the number of rows sealed, or -1 with @p err (the caller rolls back)
 */
long tx_webhook_secrets_seal(PGconn *pg, bool rewrap, int limit, char *err, size_t errlen);

/**
 * @brief `tianxingd rotate-master-key`'s part for webhooks: tx_webhook_secrets_seal with
 * rewrap, in batches of their own transactions on @p pg (the owner connection), until none is left.
 * @return the number re-sealed, or -1 after printing why to stderr
 */
long tx_webhook_secrets_rotate(PGconn *pg);

#endif
