/**
 * @file core/request.c
 * @brief Pure helpers for the request gates.
 */
#include "core/request.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool tx_request_id_valid(const char *id)
{
  size_t n = 0;
  if (!id)
    return false;
  for (; id[n]; n++) {
    unsigned char c = (unsigned char)id[n];
    if (n >= 128 || !(isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-'))
      return false;
  }
  return n > 0;
}

void tx_uuid_v4(char out[37])
{
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1)
    abort(); /* ids of records and tokens must not collide: without entropy, stop */
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

bool tx_media_type_is_json(const char *ct)
{
  if (!ct)
    return false;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  size_t len = strcspn(ct, "; \t");
  if (!tx_media_type_charset_ok(ct))
    return false;
  if (len == 16 && !strncasecmp(ct, "application/json", 16))
    return true;
  /* application/<anything>+json, e.g. application/merge-patch+json */
  return len > 17 && !strncasecmp(ct, "application/", 12) && !strncasecmp(ct + len - 5, "+json", 5);
}

bool tx_cors_origin_allowed(const char *allowed, const char *origin)
{
  if (!allowed || !origin || !*origin)
    return false;
  size_t olen = strlen(origin);
  const char *p = allowed;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    /* Scheme and host are case-insensitive in origins; browsers send them lower-case. */
    if (len == olen && !strncasecmp(p, origin, len))
      return true;
    p = end ? end + 1 : p + len;
  }
  return false;
}

bool tx_prefers_chinese(const char *al)
{
  /* RFC 9110 §12.5.4: the tag with the highest q wins; ties go to the first listed. */
  double best_q = -1;
  bool best_zh = false;
  for (const char *p = al; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t len = strcspn(p, ",");
    const char *semi = memchr(p, ';', len);
    size_t tag_len = semi ? (size_t)(semi - p) : len;
    while (tag_len && p[tag_len - 1] == ' ')
      tag_len--;
    double q = 1.0;
    if (semi) {
      /* Within this item only: strstr would scan the rest of the header for every item. */
      const char *qs = memmem(semi, (size_t)(p + len - semi), "q=", 2);
      if (qs)
        q = atof(qs + 2);
    }
    bool zh = tag_len >= 2 && !strncasecmp(p, "zh", 2) && (tag_len == 2 || p[2] == '-');
    if (tag_len && q > best_q) {
      best_q = q;
      best_zh = zh;
    }
    p += len;
  }
  return best_zh && best_q > 0;
}

long long tx_parse_decimal(const char *v)
{
  long long n = 0;
  if (!v || !*v)
    return -1;
  for (; *v; v++) {
    if (!isdigit((unsigned char)*v) || n > (1LL << 50))
      return -1;
    n = n * 10 + (*v - '0');
  }
  return n;
}

/* Length (1 to 4) of the well-formed UTF-8 sequence at @p p, 0 when there is none: no overlongs,
 * surrogates or code points above U+10FFFF; the NUL ends the string and is no sequence. */
static size_t utf8_sequence(const unsigned char *p)
{
  unsigned c = *p, cp;
  size_t n;
  if (!c)
    return 0;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 1, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    n = 2, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 3, cp = c & 0x07;
  else
    return 0;
  for (size_t i = 1; i <= n; i++) {
    if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return n + 1;
}

bool tx_utf8_valid(const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    size_t n = utf8_sequence(p);
    if (!n)
      return false;
    p += n;
  }
  return true;
}

char *tx_utf8_repair(const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  /* Each byte becomes at most the three bytes of U+FFFD. */
  char *out = malloc(3 * strlen(s) + 1), *o = out;
  if (!out)
    return NULL;
  while (*p) {
    size_t n = utf8_sequence(p);
    if (n) {
      memcpy(o, p, n);
      o += n;
      p += n;
    } else {
      memcpy(o, "\xef\xbf\xbd", 3);
      o += 3;
      p++;
    }
  }
  *o = '\0';
  return out;
}

bool tx_media_type_charset_ok(const char *ct)
{
  /* Parameters after the type: `; name=value` or `; name="value"` (RFC 9110 section 5.6.6). */
  const char *p = ct ? strchr(ct, ';') : NULL;
  while (p) {
    p++;
    p += strspn(p, " \t");
    size_t name_len = strcspn(p, "= \t;");
    const char *eq = p + name_len;
    eq += strspn(eq, " \t");
    if (name_len == 7 && !strncasecmp(p, "charset", 7) && *eq == '=') {
      const char *v = eq + 1 + strspn(eq + 1, " \t");
      bool quoted = *v == '"';
      v += quoted;
      size_t len = strcspn(v, quoted ? "\"" : "; \t");
      if (len != 5 || strncasecmp(v, "utf-8", 5))
        return false;
    }
    p = strchr(p, ';');
  }
  return true;
}

enum tx_framing tx_request_framing(const char *content_length, const char *transfer_encoding,
                                   long body_limit)
{
  if (transfer_encoding && content_length)
    return TX_FRAMING_AMBIGUOUS;
  if (transfer_encoding) {
    /* libmicrohttpd reads any Transfer-Encoding as chunked; only "chunked" itself means that. */
    while (*transfer_encoding == ' ' || *transfer_encoding == '\t')
      transfer_encoding++;
    size_t len = strcspn(transfer_encoding, " \t");
    if (len != 7 || strncasecmp(transfer_encoding, "chunked", 7) != 0 ||
        transfer_encoding[len + strspn(transfer_encoding + len, " \t")] != '\0')
      return TX_FRAMING_BAD_ENCODING;
    return TX_FRAMING_OK;
  }
  if (!content_length)
    return TX_FRAMING_OK;
  /* Two Content-Length fields arrive joined by a comma: which one frames the body is exactly
   * what a smuggler wants to be ambiguous. */
  if (content_length[strspn(content_length, "0123456789")] != '\0')
    return TX_FRAMING_AMBIGUOUS;
  long long n = tx_parse_decimal(content_length); /* -1: more digits than any limit */
  return n < 0 || n > body_limit ? TX_FRAMING_TOO_LARGE : TX_FRAMING_OK;
}
