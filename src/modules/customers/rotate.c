/**
 * @file modules/customers/rotate.c
 * @brief `tianxingd rotate-master-key`: re-wraps every customer data key with the current (last)
 * master key (C2.3), on the owner connection; then the webhook signing secrets sealed under the
 * same keys (modules/events/secrets.c, one code path with the sealing of pre-0042 secrets).
 */
#include "db/pool.h"
#include "modules/customers/customers.h"
#include "modules/events/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Re-wraps data keys in batches, each its own transaction: a crash leaves every key wrapped by
 * one master key or the other, both still listed in the key file, so nothing is ever unreadable.
 * The data itself is untouched (C2.3): only the 60-byte wrapped keys change. */
int tx_cust_rotate_master_key(const struct tx_config *cfg, int argc, char **argv)
{
  if (argc > 0) {
    fprintf(stderr, "tianxingd: unexpected argument '%s'\n", argv[0]);
    return 2;
  }
  char err[512];
  if (!cfg->master_keys_file ||
      tx_envelope_load(cfg->master_keys_file, cfg->blind_index_key_file, err, sizeof err)) {
    fprintf(stderr, "tianxingd: rotate-master-key: %s\n",
            cfg->master_keys_file ? err : "TIANXING_MASTER_KEYS_FILE is not set");
    return 2;
  }
  const char *url = cfg->migrate_database_url ? cfg->migrate_database_url : cfg->database_url;
  PGconn *pg = tx_db_connect(url, "tianxingd-rotate", cfg->db_connect_timeout, 0, err, sizeof err);
  if (!pg) {
    fprintf(stderr, "tianxingd: rotate-master-key: cannot connect: %s\n", err);
    return 2;
  }
  long total = 0;
  int rc = 0;
  for (;;) {
    /* Row-level security applies to the owner too: act as an administrator, and name the
     * operation in the audit trail's request id. */
    PGresult *res = PQexec(pg, "BEGIN; SELECT set_config('tx.roles', 'admin', true),"
                               " set_config('tx.request_id', 'rotate-master-key', true)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      fprintf(stderr, "tianxingd: rotate-master-key: %s", PQresultErrorMessage(res));
      PQclear(res);
      rc = 1;
      break;
    }
    PQclear(res);
    char current[TX_KEY_ID_MAX];
    tx_envelope_current_key_id(current);
    const char *p1[] = {current};
    /* The rows FOR UPDATE can lock must be every row that needs it, or a policy hides some. */
    PGresult *all = PQexecParams(pg, "SELECT count(*) FROM cust.data_keys WHERE key_id <> $1", 1, NULL,
                                 p1, NULL, NULL, 0);
    long pending = PQresultStatus(all) == PGRES_TUPLES_OK ? atol(PQgetvalue(all, 0, 0)) : -1;
    PQclear(all);
    res = PQexecParams(pg,
                       "SELECT customer_id::text, key_id, encode(wrapped, 'hex') FROM cust.data_keys"
                       " WHERE key_id <> $1 ORDER BY customer_id LIMIT 500 FOR UPDATE",
                       1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      fprintf(stderr, "tianxingd: rotate-master-key: %s", PQresultErrorMessage(res));
      PQclear(res);
      rc = 1;
      break;
    }
    int n = PQntuples(res);
    if (pending < 0 || (n == 0 && pending > 0)) {
      fprintf(stderr, "tianxingd: rotate-master-key: %ld data keys need re-wrapping but cannot be "
                      "locked for update (row-level security?)\n", pending);
      PQclear(res);
      PQclear(PQexec(pg, "ROLLBACK"));
      rc = 1;
      break;
    }
    for (int i = 0; i < n && rc == 0; i++) {
      const char *id = PQgetvalue(res, i, 0);
      json_t *j_dek = json_pack("{ss ss+}", "key_id", PQgetvalue(res, i, 1), "wrapped", "\\x",
                                PQgetvalue(res, i, 2));
      unsigned char dek[TX_DEK_LEN], *nw = NULL;
      size_t nlen;
      char kid[TX_KEY_ID_MAX];
      rc = tx_cust_unwrap(j_dek, id, dek) || tx_dek_rewrap(dek, id, kid, &nw, &nlen) ? 1 : 0;
      json_decref(j_dek);
      if (rc) {
        fprintf(stderr, "tianxingd: rotate-master-key: data key of customer %s cannot be unwrapped "
                        "with the keys in TIANXING_MASTER_KEYS_FILE\n", id);
        break;
      }
      json_t *j_hex = tx_cust_hex(nw, nlen);
      free(nw);
      const char *p2[] = {id, kid, json_string_value(j_hex) + 2};
      PGresult *u = PQexecParams(pg, "UPDATE cust.data_keys SET key_id = $2, wrapped = decode($3, 'hex')"
                                     " WHERE customer_id = $1::uuid", 3, NULL, p2, NULL, NULL, 0);
      if (PQresultStatus(u) != PGRES_COMMAND_OK || strcmp(PQcmdTuples(u), "1") != 0) {
        /* Zero rows would mean a policy hid the key: never report a rotation that did not happen. */
        fprintf(stderr, "tianxingd: rotate-master-key: data key of customer %s not updated%s%s\n", id,
                PQresultStatus(u) == PGRES_COMMAND_OK ? "" : ": ", PQresultErrorMessage(u));
        rc = 1;
      }
      PQclear(u);
      json_decref(j_hex);
    }
    PQclear(res);
    res = PQexec(pg, rc ? "ROLLBACK" : "COMMIT");
    PQclear(res);
    total += rc ? 0 : n;
    if (rc || n == 0)
      break;
  }
  /* Webhook signing secrets are sealed under the same master keys: the same rotation. */
  if (rc == 0) {
    long hooks = tx_webhook_secrets_rotate(pg);
    if (hooks < 0)
      rc = 1;
    else
      total += hooks;
  }
  PQfinish(pg);
  tx_envelope_shutdown();
  if (rc == 0)
    printf("{\"rewrapped\":%ld}\n", total);
  return rc;
}

