/**
 * @file core/json_spec.c
 * @brief Declarative body checks (see core/json_spec.h).
 */
#include "core/json_spec.h"
#include "core/problem.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t tx_utf8_length(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80; /* count lead bytes, skip continuations */
  return n;
}

bool tx_uuid_valid(const char *s)
{
  static const int dashes[] = {8, 13, 18, 23};
  if (!s || strlen(s) != 36)
    return false;
  for (int i = 0, d = 0; i < 36; i++) {
    if (d < 4 && i == dashes[d]) {
      if (s[i] != '-')
        return false;
      d++;
    } else if (!isxdigit((unsigned char)s[i])) {
      return false;
    }
  }
  return true;
}

bool tx_date_valid(const char *s)
{
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
      return false;
  int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
    return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

static bool two_digits(const char *s, int max)
{
  return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
         (s[0] - '0') * 10 + (s[1] - '0') <= max;
}

bool tx_rfc3339_valid(const char *s)
{
  char date[11];
  if (strlen(s) < 20 || strlen(s) > 35)
    return false;
  memcpy(date, s, 10);
  date[10] = '\0';
  if (!tx_date_valid(date) || (s[10] != 'T' && s[10] != 't') || !two_digits(s + 11, 23) ||
      s[13] != ':' || !two_digits(s + 14, 59) || s[16] != ':' || !two_digits(s + 17, 60))
    return false;
  const char *p = s + 19;
  if (*p == '.') {
    const char *f = ++p;
    while (isdigit((unsigned char)*p))
      p++;
    if (p == f || p - f > 9)
      return false;
  }
  if ((*p == 'Z' || *p == 'z') && !p[1])
    return true;
  return (*p == '+' || *p == '-') && two_digits(p + 1, 23) && p[3] == ':' && two_digits(p + 4, 59) &&
         !p[6];
}

static bool is_decimal(const char *s)
{
  /* -?digits(.digits)? with at most 18 integer and 6 fraction digits: no exponents, no NaN. */
  size_t i = s[0] == '-' ? 1 : 0, int_digits = 0, frac_digits = 0;
  for (; isdigit((unsigned char)s[i]); i++)
    int_digits++;
  if (s[i] == '.')
    for (i++; isdigit((unsigned char)s[i]); i++)
      frac_digits++;
  return !s[i] && int_digits >= 1 && int_digits <= 18 && frac_digits <= 6 &&
         (s[i - 1] != '.');
}

static bool has_control(const char *s, bool multiline)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t' || c == '\r'))) || c == 0x7f)
      return true;
  }
  return false;
}

bool tx_has_bidi_control(const char *s)
{
  /* U+202A-U+202E (embeddings, overrides, pop) are E2 80 AA-AE; U+2066-U+2069 (isolates) are
   * E2 81 A6-A9 in UTF-8. */
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
                         (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
      return true;
  return false;
}

static void add(json_t *j_errors, const struct tx_field *f, const char *code, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
static void add(json_t *j_errors, const struct tx_field *f, const char *code, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tx_problem_add_field(j_errors, f->name, code, msg);
}

static const char *type_name(enum tx_jtype t)
{
  static const char *const names[] = {"a string",          "an integer",   "a boolean",
                                      "a UUID string",     "a date string", "a decimal string",
                                      "an object",         "an array"};
  return names[t];
}

static void check_string(json_t *j_errors, const struct tx_field *f, const char *s)
{
  size_t len = tx_utf8_length(s);
  if (has_control(s, f->multiline))
    add(j_errors, f, "control_characters", "%s must not contain control characters", f->name);
  else if (tx_has_bidi_control(s))
    add(j_errors, f, "bidi_control",
        "%s must not contain bidirectional embedding, override or isolate characters "
        "(U+202A-U+202E, U+2066-U+2069)",
        f->name);
  else if (len < f->min_len)
    add(j_errors, f, "too_short", "%s must have at least %zu characters", f->name, f->min_len);
  else if (f->max_len && len > f->max_len)
    add(j_errors, f, "too_long", "%s must have at most %zu characters", f->name, f->max_len);
  else if (f->one_of) {
    for (const char *const *v = f->one_of; *v; v++)
      if (!strcmp(*v, s))
        return;
    add(j_errors, f, "not_allowed", "%s is not one of the allowed values", f->name);
  }
}

static void check_field(json_t *j_errors, const struct tx_field *f, const json_t *j_v)
{
  if (json_is_null(j_v)) {
    if (!f->nullable)
      add(j_errors, f, "null", "%s must not be null", f->name);
    return;
  }
  const char *s = json_string_value(j_v);
  switch (f->type) {
  case TX_J_STRING:
    if (!s)
      break;
    check_string(j_errors, f, s);
    return;
  case TX_J_UUID:
  case TX_J_DATE:
  case TX_J_DECIMAL:
    if (!s)
      break;
    if (!(f->type == TX_J_UUID ? tx_uuid_valid(s) : f->type == TX_J_DATE ? tx_date_valid(s) : is_decimal(s)))
      add(j_errors, f, "format", "%s must be %s", f->name, type_name(f->type));
    return;
  case TX_J_INTEGER:
    if (!json_is_integer(j_v))
      break;
    if (f->min < f->max && (json_integer_value(j_v) < f->min || json_integer_value(j_v) > f->max))
      add(j_errors, f, "out_of_range", "%s must be between %lld and %lld", f->name, f->min, f->max);
    return;
  case TX_J_BOOLEAN:
    if (!json_is_boolean(j_v))
      break;
    return;
  case TX_J_OBJECT:
    if (!json_is_object(j_v))
      break;
    return;
  case TX_J_ARRAY:
    if (!json_is_array(j_v))
      break;
    if (json_array_size(j_v) < f->min_len)
      add(j_errors, f, "too_short", "%s must have at least %zu items", f->name, f->min_len);
    else if (f->max_len && json_array_size(j_v) > f->max_len)
      add(j_errors, f, "too_long", "%s must have at most %zu items", f->name, f->max_len);
    return;
  }
  add(j_errors, f, "type", "%s must be %s", f->name, type_name(f->type));
}

json_t *tx_json_check(const json_t *j_body, const struct tx_field *spec, size_t n,
                      bool allow_unknown)
{
  if (!json_is_object(j_body))
    return NULL;
  json_t *j_errors = json_array();
  for (size_t i = 0; i < n; i++) {
    const json_t *j_v = json_object_get(j_body, spec[i].name);
    if (!j_v) {
      if (spec[i].required)
        add(j_errors, &spec[i], "required", "%s is required", spec[i].name);
      continue;
    }
    check_field(j_errors, &spec[i], j_v);
  }
  if (!allow_unknown) {
    const char *key;
    const json_t *j_v;
    json_object_foreach((json_t *)j_body, key, j_v)
    {
      size_t i = 0;
      while (i < n && strcmp(spec[i].name, key) != 0)
        i++;
      if (i == n) {
        struct tx_field unknown = {.name = key};
        add(j_errors, &unknown, "unknown_field", "%s is not a field of this resource", key);
      }
    }
  }
  return j_errors;
}
