/**
 * @file core/errors.c
 * @brief The problem-code registry and problem documents (RFC 9457).
 */
#include "core/errors.h"

#include <stdio.h>

static const struct tx_error_info registry[TX_E__COUNT] = {
#define X(e, code, status, en, zh) [TX_E_##e] = {code, status, en, zh},
#include "core/error_codes.def"
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

json_t *tx_problem_new(enum tx_code c, int zh, const char *detail, const char *request_id,
                       const char *instance, json_t *j_errors)
{
  const struct tx_error_info *e = tx_error_info(c);
  char type[96];
  snprintf(type, sizeof type, "urn:tianxing:problem:%s", e->code);
  json_t *j_p = json_pack("{sssssiss}", "type", type, "title", zh ? e->title_zh : e->title_en,
                          "status", e->status, "code", e->code);
  /* json_string() refuses invalid UTF-8 (a detail may quote client input): fall back to the title. */
  json_t *j_detail = detail ? json_string(detail) : NULL;
  json_object_set_new(j_p, "detail", j_detail ? j_detail : json_string(zh ? e->title_zh : e->title_en));
  if (request_id)
    json_object_set_new(j_p, "request_id", json_string(request_id));
  if (instance) {
    json_t *j_inst = json_string(instance);
    if (!j_inst) {
      /* A path with bytes that are not UTF-8: percent-encode every non-ASCII byte, so the
       * document still says where the problem happened. */
      char buf[1024];
      size_t o = 0;
      for (const unsigned char *b = (const unsigned char *)instance; *b && o + 4 < sizeof buf; b++)
        o += (size_t)(*b < 0x80 ? snprintf(buf + o, 2, "%c", *b) : snprintf(buf + o, 4, "%%%02X", *b));
      j_inst = json_string(buf);
    }
    json_object_set_new(j_p, "instance", j_inst);
  }
  if (j_errors)
    json_object_set_new(j_p, "errors", j_errors);
  return j_p;
}

void tx_problem_add_field(json_t *j_errors, const char *field, const char *code, const char *message)
{
  json_array_append_new(j_errors,
                        json_pack("{ssssss}", "field", field, "code", code, "message", message));
}
