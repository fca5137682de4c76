/**
 * @file core/errors.h
 * @brief The problem-code registry (error_codes.def) and RFC 9457 problem documents.
 */
#ifndef TX_CORE_ERRORS_H
#define TX_CORE_ERRORS_H

#include <jansson.h>

enum tx_code {
#define X(e, code, status, en, zh) TX_E_##e,
#include "core/error_codes.def"
#undef X
  TX_E__COUNT
};

struct tx_error_info {
  const char *code;
  int status;
  const char *title_en;
  const char *title_zh;
};

/** @brief Registry entry for @p c (never NULL for a valid enum value). */
const struct tx_error_info *tx_error_info(enum tx_code c);

/** @brief Registry as a JSON array for `tianxingd errors --json`; new reference. */
json_t *tx_errors_json(void);

/**
 * @brief Builds a problem document; new reference.
 * @param detail   human-readable detail, never SQL text or internals (may be NULL)
 * @param j_errors validation errors array, stolen (may be NULL)
 */
json_t *tx_problem_new(enum tx_code c, int zh, const char *detail, const char *request_id,
                       const char *instance, json_t *j_errors);

/** @brief Appends {field, code, message} to @p j_errors (an array). */
void tx_problem_add_field(json_t *j_errors, const char *field, const char *code, const char *message);

#endif
