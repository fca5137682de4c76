/**
 * @file crypto/encoding.c
 * @brief Base64 variants without padding: what JWT, JWK and PHC strings use.
 */
#include "crypto/encoding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *tx_b64_encode(const unsigned char *data, size_t len, bool url)
{
  const char *a = url ? url_alphabet : std_alphabet;
  char *out = malloc(len / 3 * 4 + 5);
  if (!out)
    return NULL;
  size_t o = 0, i = 0;
  for (; i + 2 < len; i += 3) {
    unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
    out[o++] = a[v >> 18 & 63];
    out[o++] = a[v >> 12 & 63];
    out[o++] = a[v >> 6 & 63];
    out[o++] = a[v & 63];
  }
  if (len - i == 1) {
    unsigned v = (unsigned)data[i] << 16;
    out[o++] = a[v >> 18 & 63];
    out[o++] = a[v >> 12 & 63];
  } else if (len - i == 2) {
    unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
    out[o++] = a[v >> 18 & 63];
    out[o++] = a[v >> 12 & 63];
    out[o++] = a[v >> 6 & 63];
  }
  out[o] = '\0';
  return out;
}

static int value_of(char c, bool url)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == (url ? '-' : '+'))
    return 62;
  if (c == (url ? '_' : '/'))
    return 63;
  return -1;
}

unsigned char *tx_b64_decode(const char *text, size_t n, bool url, size_t *out_len)
{
  while (n && text[n - 1] == '=')
    n--;
  if (n % 4 == 1)
    return NULL;
  unsigned char *out = malloc(n / 4 * 3 + 3);
  if (!out)
    return NULL;
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = value_of(text[i], url);
    if (v < 0) {
      free(out);
      return NULL;
    }
    acc = acc << 6 | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits & 0xff);
    }
  }
  /* Leftover bits must be zero: otherwise two encodings would decode to the same bytes. */
  if (bits && (acc & ((1u << bits) - 1))) {
    free(out);
    return NULL;
  }
  *out_len = o;
  return out;
}

/* A table, not snprintf per byte: every sealed field of every customer read and write passes
 * through here (docs/performance.md). */
void tx_hex(const unsigned char *data, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * len] = '\0';
}

static int hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

unsigned char *tx_unhex(const char *text, size_t text_len, size_t *out_len)
{
  if (text_len % 2)
    return NULL;
  size_t n = text_len / 2;
  unsigned char *out = malloc(n ? n : 1);
  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(out);
      return NULL;
    }
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  *out_len = n;
  return out;
}
