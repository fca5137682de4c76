/**
 * @file core/errors.c
 * @brief The problem-code registry and problem documents (RFC 9457).
 */
#include "core/errors.h"

#include <stdio.h>
#include <string.h>

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

/* A copy of @p s cut so that it is valid UTF-8 (bytes buffers may have split a character). */
static json_t *utf8_string(const char *s)
{
  json_t *j_s = json_string(s);
  if (j_s)
    return j_s;
  char buf[512];
  size_t n = strnlen(s, sizeof buf - 1);
  memcpy(buf, s, n);
  for (; n > 0; n--) {
    buf[n] = '\0';
    if ((j_s = json_string(buf)))
      return j_s;
  }
  return json_string("");
}

void tx_problem_add_field(json_t *j_errors, const char *field, const char *code, const char *message)
{
  /* Never drop an error: a field name or message cut inside a multi-byte character would make
   * json_pack fail, and the request would look valid. */
  json_t *j_e = json_object();
  json_object_set_new(j_e, "field", utf8_string(field));
  json_object_set_new(j_e, "code", utf8_string(code));
  json_object_set_new(j_e, "message", utf8_string(message));
  json_array_append_new(j_errors, j_e);
}
