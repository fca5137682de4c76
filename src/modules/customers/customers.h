/**
 * @file modules/customers/customers.h
 * @brief Module C: customer information (docs/customers.md). PII is sealed in this process before
 * it reaches SQL and opened here after it comes back, per the caller's access.
 */
#ifndef TX_MODULES_CUSTOMERS_H
#define TX_MODULES_CUSTOMERS_H

#include "core/http.h"
#include "core/module.h"
#include "crypto/envelope.h"

#include <libpq-fe.h>

int tx_cust_list(struct tx_req *r);
int tx_cust_create(struct tx_req *r);
int tx_cust_get(struct tx_req *r);
int tx_cust_update(struct tx_req *r);
int tx_cust_merge(struct tx_req *r);
int tx_cust_disclose(struct tx_req *r);
int tx_cust_deactivate(struct tx_req *r);
int tx_cust_dispose(struct tx_req *r);

/*
 * Shared by the handlers.
 */

/**
 * @brief Answers @p status with the customer document of @p res (columns: json, version), opened
 * for the caller, with its ETag; 404 when the document is NULL.
 */
int tx_cust_reply_document(struct tx_req *r, PGresult *res, int status);

/** @brief Answers 201 with customer @p id as the caller may see it (replayed creates). */
int tx_cust_reply_created(struct tx_req *r, const char *id);

/** @brief 503 encryption_unavailable unless the keys are loaded; 0 when they are. */
int tx_cust_require_keys(struct tx_req *r);

/**
 * @brief Checks and normalizes a customer body, sealing its PII with @p dek for @p customer_id.
 * @return the object for the SQL API (new reference), or NULL after answering 422
 */
json_t *tx_cust_prepare(struct tx_req *r, const char *customer_id,
                        const unsigned char dek[TX_DEK_LEN], bool create);

/** @brief Opens (or masks, or hides) the sealed fields of a customer document from SQL. */
void tx_cust_open(json_t *j_cust);

/** @brief Seals @p plain as <key> (hex) for @p customer_id/@p field; adds <bidx_key> when @p kind. */
int tx_cust_seal_field(json_t *j_out, const char *key, const char *bidx_key, const char *kind,
                       const char *plain, const unsigned char *dek, const char *customer_id,
                       const char *field);

/** @brief Opens the sealed hex member <enc_key> of @p j_obj; the caller frees @p plain. */
int tx_cust_open_field(const json_t *j_obj, const char *enc_key, const char *customer_id,
                       const unsigned char *dek, const char *field, char **plain);

/** @brief Unwraps the data key of a {key_id, wrapped} document from SQL; -1 when it cannot. */
int tx_cust_unwrap(const json_t *j_dek, const char *customer_id, unsigned char dek[TX_DEK_LEN]);

/** @brief "\\x" + hex of @p len bytes, as the SQL API takes and gives bytea (new reference). */
json_t *tx_cust_hex(const unsigned char *data, size_t len);

/** @brief `tianxingd rotate-master-key` (rotate.c): re-wraps every data key with the current
 * master key. */
int tx_cust_rotate_master_key(const struct tx_config *cfg, int argc, char **argv);

/** @brief The module: its routes (routes.c); main.c registers it. */
extern const struct tx_module tx_module_customers;

#endif
