/* libFuzzer target: request bodies as the gate and a handler see them (JSON parse with the gate's
 * flags, field-spec checks, the problem document built from the errors). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/problem.h"
#include "core/json_spec.h"

static const char *const kinds[] = {"business", "support", NULL};
static const struct tx_field spec[] = {
  {.name = "name", .type = TX_J_STRING, .required = true, .min_len = 1, .max_len = 20},
  {.name = "note", .type = TX_J_STRING, .multiline = true, .nullable = true},
  {.name = "kind", .type = TX_J_STRING, .one_of = kinds},
  {.name = "count", .type = TX_J_INTEGER, .min = 0, .max = 100},
  {.name = "ok", .type = TX_J_BOOLEAN},
  {.name = "id", .type = TX_J_UUID},
  {.name = "on", .type = TX_J_DATE},
  {.name = "amount", .type = TX_J_DECIMAL},
  {.name = "tags", .type = TX_J_ARRAY, .max_len = 3},
  {.name = "meta", .type = TX_J_OBJECT},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_error_t jerr;
  json_t *j_body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
  if (!j_body)
    return 0;
  json_t *j_errors = tx_json_check(j_body, spec, sizeof spec / sizeof spec[0], false);
  if (j_errors) {
    json_t *j_p = tx_problem_new(TX_E_VALIDATION_FAILED, 1, "x", "rid", "/v1/x", j_errors);
    char *s = json_dumps(j_p, JSON_COMPACT);
    if (!s)
      abort(); /* every problem document must serialize */
    free(s);
    json_decref(j_p);
  }
  json_decref(j_body);
  return 0;
}
