/**
 * @file db/sqlstate.c
 * @brief SQLSTATE -> problem code. The table is the whole policy: a class or code not listed is
 * an internal error, answered without detail. What a TX* DETAIL may carry: core/reply_db.c.
 */
#include "db/tx.h"

#include <string.h>

static const struct {
  const char *prefix; /* full code, or a two-character class */
  enum tx_code code;
} map[] = {
  /* Raised by our SQL functions (docs/identity.md) */
  {"TXAUT", TX_E_UNAUTHORIZED},         /* unknown or deactivated employee */
  {"TXPRE", TX_E_PRECONDITION_FAILED},  /* stale If-Match version */
  {"TXCON", TX_E_CONFLICT},             /* state conflict */
  {"TXARC", TX_E_CASE_ARCHIVED},        /* an archived case is immutable (P4.2) */
  {"TXTRN", TX_E_INVALID_TRANSITION},   /* a state machine refused a move; DETAIL: JSON object */
  {"TXVAL", TX_E_VALIDATION_FAILED},    /* invalid input; the message names the field */
  {"TXDEN", TX_E_FORBIDDEN},            /* refused by a rule; the message says which (C3) */
  {"TXDUP", TX_E_CONFLICT},             /* a duplicate; DETAIL {existing_id, errors} */
  {"TXINC", TX_E_CUSTOMER_INCOMPLETE},  /* C1.3; DETAIL {errors}: every missing field */
  {"23505", TX_E_CONFLICT},             /* unique_violation */
  {"23P01", TX_E_CONFLICT},             /* exclusion_violation */
  {"23503", TX_E_REFERENCE_NOT_FOUND},  /* foreign_key_violation */
  {"23514", TX_E_CONSTRAINT_VIOLATION}, /* check_violation */
  {"23502", TX_E_CONSTRAINT_VIOLATION}, /* not_null_violation */
  {"23", TX_E_CONSTRAINT_VIOLATION},    /* other integrity constraints */
  {"42501", TX_E_FORBIDDEN},            /* insufficient_privilege, incl. RLS WITH CHECK */
  {"P0002", TX_E_NOT_FOUND},            /* no_data_found, raised by our functions */
  {"22", TX_E_VALIDATION_FAILED},       /* data_exception: a value the database refused */
  {"54", TX_E_VALIDATION_FAILED},       /* program_limit_exceeded, e.g. an index entry too big */
  {"40001", TX_E_SERVICE_BUSY},         /* serialization_failure, after retries */
  {"40P01", TX_E_SERVICE_BUSY},         /* deadlock_detected, after retries */
  {"55P03", TX_E_SERVICE_BUSY},         /* lock_not_available */
  {"53", TX_E_SERVICE_BUSY},            /* insufficient resources (too many connections...) */
  {"57014", TX_E_DATABASE_TIMEOUT},     /* query_canceled: statement_timeout */
  {"57P", TX_E_DATABASE_UNAVAILABLE},   /* admin/crash shutdown, cannot connect now */
  {"08", TX_E_DATABASE_UNAVAILABLE},    /* connection exceptions */
  {"25006", TX_E_INTERNAL_ERROR},       /* write in a read-only transaction: a bug of ours */
};

enum tx_code tx_db_map_sqlstate(const char *sqlstate)
{
  if (!sqlstate || strlen(sqlstate) != 5)
    return TX_E_INTERNAL_ERROR;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strncmp(sqlstate, map[i].prefix, strlen(map[i].prefix)))
      return map[i].code;
  return TX_E_INTERNAL_ERROR;
}
