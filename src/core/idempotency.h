/**
 * @file core/idempotency.h
 * @brief Idempotency-Key on creates: a retried create answers like the first one did.
 *
 * The key is recorded by the create's own statement (migration 0009), so the record and the key
 * commit together. A retry with the same key and the same request replays the first answer; with
 * a different request it is refused (422 idempotency_key_reused).
 */
#ifndef TX_CORE_IDEMPOTENCY_H
#define TX_CORE_IDEMPOTENCY_H

#include "core/http.h"
#include "db/tx.h"

#include <stdbool.h>

struct tx_idem {
  const char *key; /* NULL: the request carries no Idempotency-Key */
  char hash[65];   /* SHA-256 of method, path and body */
  char route[160]; /* "POST /v1/customers": a key is bound to its route */
};

/** @brief Rebuilds the answer for @p resource_id when the first answer was not stored. */
typedef int (*tx_idem_rebuild)(struct tx_req *r, const char *resource_id);

/**
 * @brief Reads Idempotency-Key and looks it up.
 * @param location Location prefix of the resource ("/v1/customers/"), or NULL
 * @return 0 to go on and create (st->key set when there is a key); otherwise answered (replay,
 *         422 idempotency_key_reused, 400 for a malformed key, or a database problem)
 */
int tx_idem_begin(struct tx_req *r, struct tx_idem *st, const char *location, tx_idem_rebuild rebuild);

/**
 * @brief The statement that runs @p orig (which selects json text, version, id) and records the
 * key in the same statement; it takes orig's parameters followed by key, route and hash.
 * @param store_body false where the answer holds data that must not be kept (it is rebuilt)
 * @return the statement (made once, kept for the process), or NULL when memory ran out: the create
 *         must then fail rather than run without its key
 */
const struct tx_sql *tx_idem_sql(const struct tx_sql *orig, bool store_body);

/**
 * @brief After a failed create: when it lost a race to a twin with the same key, answers the
 * twin's result and returns non-zero; 0 when the failure is the caller's to answer.
 */
int tx_idem_lost_race(struct tx_req *r, struct tx_idem *st, const struct tx_db_outcome *out,
                      const char *location, tx_idem_rebuild rebuild);

#endif
