/**
 * @file core/formats.c
 * @brief Content negotiation, CSV writing and XML escaping (see core/formats.h). Pure functions,
 * unit-tested in tests/unit/test_formats.c; core/call.c uses them to answer.
 */
#include "core/formats.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
  enum tx_format format;
  const char *type;
  const char *subtype;
} media[] = {
  {TX_FORMAT_JSON, "application", "json"},
  {TX_FORMAT_CSV, "text", "csv"},
  {TX_FORMAT_SVG, "image", "svg+xml"},
};
#define NMEDIA (sizeof media / sizeof media[0])

unsigned tx_formats_offered(const struct tx_formats *f)
{
  unsigned offered = TX_FORMAT_JSON;
  if (f && f->csv && f->ncsv)
    offered |= TX_FORMAT_CSV;
  if (f && f->svg)
    offered |= TX_FORMAT_SVG;
  return offered;
}

void tx_formats_describe(unsigned offered, char *out, size_t len)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < NMEDIA; i++)
    if (offered & media[i].format) {
      int n = snprintf(out + used, len - used, "%s%s/%s", used ? ", " : "", media[i].type,
                       media[i].subtype);
      if (n < 0 || (size_t)n >= len - used)
        return;
      used += (size_t)n;
    }
}

static bool tchar(char c)
{
  return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A q-value (RFC 9110 section 12.4.2): 0, 0.ddd, 1, 1.000; in thousandths, or -1. */
static int qvalue(const char *s, size_t len)
{
  if (len == 0 || len > 5 || (s[0] != '0' && s[0] != '1'))
    return -1;
  int q = (s[0] - '0') * 1000;
  if (len == 1)
    return q;
  if (s[1] != '.')
    return -1;
  int scale = 100;
  for (size_t i = 2; i < len; i++, scale /= 10) {
    if (!isdigit((unsigned char)s[i]))
      return -1;
    q += (s[i] - '0') * scale;
  }
  return q <= 1000 ? q : -1;
}

/* One media range of an Accept list, parsed. */
struct range {
  char type[64], subtype[64];
  int q; /* thousandths */
};

/* Parses the element [s, s+len); false when it is no media range. */
static bool parse_range(const char *s, size_t len, struct range *out)
{
  const char *end = s + len;
  while (s < end && (*s == ' ' || *s == '\t'))
    s++;
  size_t n = 0;
  while (s + n < end && tchar(s[n]))
    n++;
  if (n == 0 || n >= sizeof out->type || s + n >= end || s[n] != '/')
    return false;
  memcpy(out->type, s, n);
  out->type[n] = '\0';
  s += n + 1;
  n = 0;
  while (s + n < end && tchar(s[n]))
    n++;
  if (n == 0 || n >= sizeof out->subtype)
    return false;
  memcpy(out->subtype, s, n);
  out->subtype[n] = '\0';
  s += n;
  if (!strcmp(out->type, "*") && strcmp(out->subtype, "*") != 0)
    return false; /* "* /json" is no media range */
  out->q = 1000;
  /* Parameters: `;` name=value; only q matters (a malformed q drops the element). */
  while (s < end) {
    while (s < end && (*s == ' ' || *s == '\t'))
      s++;
    if (s == end)
      break;
    if (*s != ';')
      return false;
    s++;
    while (s < end && (*s == ' ' || *s == '\t'))
      s++;
    const char *name = s;
    while (s < end && tchar(*s))
      s++;
    size_t name_len = (size_t)(s - name);
    if (!name_len || s == end || *s != '=')
      return false;
    s++;
    const char *value = s;
    if (s < end && *s == '"') {
      for (s++; s < end && *s != '"'; s++)
        if (*s == '\\' && s + 1 < end)
          s++;
      if (s == end)
        return false;
      s++;
    } else {
      while (s < end && tchar(*s))
        s++;
    }
    if (name_len == 1 && (name[0] == 'q' || name[0] == 'Q')) {
      out->q = qvalue(value, (size_t)(s - value));
      if (out->q < 0)
        return false;
    }
  }
  return true;
}

enum tx_format tx_accept_choose(const char *accept, unsigned offered)
{
  int best_q[NMEDIA], best_spec[NMEDIA];
  for (size_t i = 0; i < NMEDIA; i++)
    best_q[i] = 0, best_spec[i] = 0;
  bool any = false;
  for (const char *p = accept; p && *p;) {
    size_t n = strcspn(p, ",");
    struct range rg;
    if (parse_range(p, n, &rg)) {
      any = true;
      for (size_t i = 0; i < NMEDIA; i++) {
        int spec = 0;
        if (!strcmp(rg.type, "*"))
          spec = 1;
        else if (!strcasecmp(rg.type, media[i].type))
          spec = !strcmp(rg.subtype, "*") ? 2 : !strcasecmp(rg.subtype, media[i].subtype) ? 3 : 0;
        /* the most specific range decides (RFC 9110: "text/csv;q=0, * / *" refuses CSV) */
        if (spec > best_spec[i]) {
          best_spec[i] = spec;
          best_q[i] = rg.q;
        }
      }
    }
    p += n + (p[n] == ',');
  }
  if (!any) /* no header, an empty one, or nothing readable in it: the default */
    return (offered & TX_FORMAT_JSON) ? TX_FORMAT_JSON : 0;
  enum tx_format chosen = 0;
  int chosen_q = 0;
  for (size_t i = 0; i < NMEDIA; i++)
    if ((offered & media[i].format) && best_q[i] > chosen_q) {
      chosen = media[i].format;
      chosen_q = best_q[i];
    }
  return chosen;
}

void tx_csv_field(FILE *out, const char *s, size_t len, bool neutralise)
{
  bool inject = neutralise && len > 0 && strchr("=+-@\t\r", s[0]);
  bool quote = inject && s[0] == '\r';
  for (size_t i = 0; i < len && !quote; i++)
    quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
  if (quote)
    fputc('"', out);
  if (inject)
    fputc('\'', out);
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '"')
      fputc('"', out);
    fputc(s[i], out);
  }
  if (quote)
    fputc('"', out);
}

json_t *tx_json_pointer(const json_t *j, const char *pointer)
{
  if (!pointer || !*pointer)
    return (json_t *)j;
  if (*pointer != '/')
    return NULL;
  json_t *node = (json_t *)j;
  const char *p = pointer;
  char token[256];
  while (node && *p == '/') {
    p++;
    size_t n = 0;
    for (; *p && *p != '/'; p++) {
      char c = *p;
      if (c == '~') {
        if (p[1] == '0')
          c = '~';
        else if (p[1] == '1')
          c = '/';
        else
          return NULL;
        p++;
      }
      if (n + 1 >= sizeof token)
        return NULL;
      token[n++] = c;
    }
    token[n] = '\0';
    if (json_is_object(node)) {
      node = json_object_get(node, token);
    } else if (json_is_array(node)) {
      char *end;
      unsigned long idx = strtoul(token, &end, 10);
      if (!n || *end || (n > 1 && token[0] == '0'))
        return NULL;
      node = json_array_get(node, idx);
    } else {
      return NULL;
    }
  }
  return node;
}

void tx_csv_header(FILE *out, const struct tx_csv_column *cols, size_t n)
{
  fputs("\xEF\xBB\xBF", out); /* Excel reads UTF-8 (Chinese) only with the byte order mark */
  for (size_t i = 0; i < n; i++) {
    if (i)
      fputc(',', out);
    tx_csv_field(out, cols[i].header, strlen(cols[i].header), true);
  }
  fputs("\r\n", out);
}

void tx_csv_row(FILE *out, const json_t *j_item, const struct tx_csv_column *cols, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (i)
      fputc(',', out);
    json_t *j_v = tx_json_pointer(j_item, cols[i].pointer);
    if (json_is_string(j_v)) {
      tx_csv_field(out, json_string_value(j_v), json_string_length(j_v), true);
    } else if (json_is_true(j_v) || json_is_false(j_v)) {
      fputs(json_is_true(j_v) ? "true" : "false", out);
    } else if (j_v && !json_is_null(j_v)) {
      /* A number is only digits, sign, point and exponent: a negative one is a number to a
       * spreadsheet, not a formula, so it is not prefixed. Objects and arrays start with { or [. */
      char *s = json_dumps(j_v, JSON_COMPACT | JSON_ENCODE_ANY);
      if (s)
        tx_csv_field(out, s, strlen(s), !json_is_number(j_v));
      free(s);
    }
  }
  fputs("\r\n", out);
}

void tx_xml_text(FILE *out, const char *s)
{
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&apos;", out); break;
    default:
      /* XML 1.0 allows no control characters but tab, LF, CR */
      if ((unsigned char)*s < 0x20 && !strchr("\t\n\r", *s))
        fputc(' ', out);
      else
        fputc(*s, out);
    }
  }
}
