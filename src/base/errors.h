/**
 * @file base/errors.h
 * @brief The problem-code registry (error_codes.def): the stable codes every layer reports with.
 * Turning a code into an HTTP problem document is core's job (core/problem.h).
 */
#ifndef TX_BASE_ERRORS_H
#define TX_BASE_ERRORS_H

#include <jansson.h>

enum tx_code {
#define X(e, code, status, en, zh) TX_E_##e,
#include "base/error_codes.def"
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

#endif
