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

long long tx_parse_content_length(const char *v)
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

bool tx_utf8_valid(const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    size_t n;
    unsigned cp;
    if (c < 0x80) {
      p++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf)
      n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
      n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
      n = 3, cp = c & 0x07;
    else
      return false;
    for (size_t i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
        return false;
      cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
    p += n + 1;
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
  long long n = tx_parse_content_length(content_length); /* -1: more digits than any limit */
  return n < 0 || n > body_limit ? TX_FRAMING_TOO_LARGE : TX_FRAMING_OK;
}
