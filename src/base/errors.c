/**
 * @file base/errors.c
 * @brief The problem-code registry.
 */
#include "base/errors.h"

#include <stdio.h>
#include <string.h>

static const struct tx_error_info registry[TX_E__COUNT] = {
#define X(e, code, status, en, zh) [TX_E_##e] = {code, status, en, zh},
#include "base/error_codes.def"
#undef X
};

const struct tx_error_info *tx_error_info(enum tx_code c)
{
  if ((int)c < 0 || c >= TX_E__COUNT)
    c = TX_E_INTERNAL_ERROR;
  return &registry[c];
}

json_t *tx_errors_json(void)
{
  json_t *j_all = json_array();
  for (int i = 0; i < TX_E__COUNT; i++)
    json_array_append_new(j_all, json_pack("{sssiss ss}", "code", registry[i].code, "status",
                                           registry[i].status, "title", registry[i].title_en,
                                           "title_zh", registry[i].title_zh));
  return j_all;
}
