/**
 * @file core/problem.c
 * @brief Problem documents (RFC 9457) from registry codes.
 */
#include "core/problem.h"

#include <stdio.h>
#include <string.h>

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

static const char *const reserved[] = {"type",       "title",    "status", "detail",
                                       "code",       "request_id", "instance", "errors"};

int tx_problem_member_reserved(const char *name)
{
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (!strcmp(name, reserved[i]))
      return 1;
  return 0;
}

void tx_problem_extend(json_t *j_p, const json_t *j_ext)
{
  const char *name;
  json_t *j_v;
  if (!json_is_object(j_ext))
    return;
  /* jansson's foreach takes a non-const object; it does not change it. */
  json_object_foreach((json_t *)j_ext, name, j_v) if (!tx_problem_member_reserved(name))
    json_object_set(j_p, name, j_v);
}
