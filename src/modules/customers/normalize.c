/**
 * @file modules/customers/normalize.c
 * @brief Customer field normalization and masks (see modules/customers/normalize.h).
 */
#include "modules/customers/normalize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

/* ICU lengths are int32_t. Far beyond any request body we accept, so only a guard. */
#define TEXT_MAX_BYTES ((size_t)1 << 24)
/* Raw phone input: separators and full-width forms make it longer than its 15 digits. */
#define PHONE_MAX_INPUT 64
#define CREDIT_CODE_LEN 18

static const char credit_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

const char *tx_cust_err_message(int err)
{
  switch (err) {
  case 0: return "is valid";
  case TX_CUST_EMPTY: return "must not be empty";
  case TX_CUST_TOO_LONG: return "is too long";
  case TX_CUST_CONTROL: return "must not contain control characters";
  case TX_CUST_BIDI: return "must not contain bidirectional embedding, override or isolate characters";
  case TX_CUST_FORMAT: return "has an invalid format";
  case TX_CUST_CHECK_DIGIT: return "has an invalid check digit";
  default: return "could not be processed";
  }
}

const char *tx_cust_err_code(int err)
{
  switch (err) {
  case TX_CUST_EMPTY: return "too_short";
  case TX_CUST_TOO_LONG: return "too_long";
  case TX_CUST_CONTROL: return "control_characters";
  case TX_CUST_BIDI: return "bidi_control";
  case TX_CUST_FORMAT: return "format";
  case TX_CUST_CHECK_DIGIT: return "check_digit";
  default: return "internal";
  }
}

/* ---- free text ---------------------------------------------------------------------------- */

/* Text areas submitted as forms send CR LF; one line-end form keeps lengths and comparisons stable. */
static int32_t fold_line_ends(UChar *s, int32_t n)
{
  int32_t w = 0;
  for (int32_t r = 0; r < n; r++) {
    if (s[r] == u'\r') {
      s[w++] = u'\n';
      if (r + 1 < n && s[r + 1] == u'\n')
        r++;
    } else {
      s[w++] = s[r];
    }
  }
  return w;
}

static bool refused_control(UChar32 c, bool multiline)
{
  if (multiline && (c == '\n' || c == '\t'))
    return false;
  /* U+2028/2029 are not Cc, but a renderer breaks the line on them just the same. */
  return u_charType(c) == U_CONTROL_CHAR || (!multiline && (c == 0x2028 || c == 0x2029));
}

int tx_cust_text(const char *in, size_t max_chars, bool multiline, char **out)
{
  int rc = TX_CUST_INTERNAL;
  UErrorCode st = U_ZERO_ERROR;
  UChar *src = NULL, *nfc = NULL;
  char *utf8 = NULL;
  int32_t src_len = 0, nfc_len = 0, utf8_len = 0;

  *out = NULL;
  if (!in || !*in) {
    rc = TX_CUST_EMPTY;
    goto out;
  }
  size_t in_len = strlen(in);
  if (in_len > TEXT_MAX_BYTES) {
    rc = TX_CUST_TOO_LONG;
    goto out;
  }
  /* Preflight: ICU reports the UTF-16 length with U_BUFFER_OVERFLOW_ERROR. Invalid UTF-8
   * (overlong forms, encoded surrogates) is refused here rather than replaced silently. */
  u_strFromUTF8(NULL, 0, &src_len, in, (int32_t)in_len, &st);
  if (st == U_INVALID_CHAR_FOUND) {
    rc = TX_CUST_FORMAT;
    goto out;
  }
  if (U_FAILURE(st) && st != U_BUFFER_OVERFLOW_ERROR)
    goto out;
  st = U_ZERO_ERROR;
  if (!(src = malloc(((size_t)src_len + 1) * sizeof *src)))
    goto out;
  u_strFromUTF8(src, src_len + 1, NULL, in, (int32_t)in_len, &st);
  if (U_FAILURE(st))
    goto out;
  if (multiline)
    src_len = fold_line_ends(src, src_len);

  const UNormalizer2 *n2 = unorm2_getNFCInstance(&st); /* shared, immutable: thread-safe */
  if (U_FAILURE(st))
    goto out;
  nfc_len = unorm2_normalize(n2, src, src_len, NULL, 0, &st);
  if (U_FAILURE(st) && st != U_BUFFER_OVERFLOW_ERROR)
    goto out;
  st = U_ZERO_ERROR;
  if (!(nfc = malloc(((size_t)nfc_len + 1) * sizeof *nfc)))
    goto out;
  nfc_len = unorm2_normalize(n2, src, src_len, nfc, nfc_len + 1, &st);
  if (U_FAILURE(st))
    goto out;

  /* Trim by the White_Space property: it covers U+3000 and U+00A0, which pasted Chinese text
   * and web pages bring along, where isspace() would see only ASCII. */
  int32_t b = 0, e = nfc_len;
  while (b < e) {
    UChar32 c;
    int32_t i = b;
    U16_NEXT(nfc, i, e, c);
    if (!u_isUWhiteSpace(c))
      break;
    b = i;
  }
  while (e > b) {
    UChar32 c;
    int32_t i = e;
    U16_PREV(nfc, b, i, c);
    if (!u_isUWhiteSpace(c))
      break;
    e = i;
  }
  for (int32_t i = b; i < e;) {
    UChar32 c;
    U16_NEXT(nfc, i, e, c);
    if (refused_control(c, multiline)) {
      rc = TX_CUST_CONTROL;
      goto out;
    }
    /* Embeddings, overrides and isolates reorder the display of what follows them: a name could
     * show as another (issue 10 item 16; the marks U+200E, U+200F, U+061C stay allowed). */
    if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
      rc = TX_CUST_BIDI;
      goto out;
    }
  }
  int32_t chars = u_countChar32(nfc + b, e - b);
  if (chars == 0) {
    rc = TX_CUST_EMPTY;
    goto out;
  }
  if (max_chars && (size_t)chars > max_chars) {
    rc = TX_CUST_TOO_LONG;
    goto out;
  }

  u_strToUTF8(NULL, 0, &utf8_len, nfc + b, e - b, &st);
  if (U_FAILURE(st) && st != U_BUFFER_OVERFLOW_ERROR)
    goto out;
  st = U_ZERO_ERROR;
  if (!(utf8 = malloc((size_t)utf8_len + 1)))
    goto out;
  u_strToUTF8(utf8, utf8_len + 1, NULL, nfc + b, e - b, &st);
  if (U_FAILURE(st))
    goto out;
  *out = utf8;
  utf8 = NULL;
  rc = 0;
out:
  free(utf8);
  free(nfc);
  free(src);
  return rc;
}

/* ---- ASCII identifiers: phone, e-mail, credit code ---------------------------------------- */

static bool is_space(int c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* One code point of @p s folded to ASCII, or -1 if it has no ASCII form; *s advances.
 * Chinese input methods type full-width forms ("１３８", "＠", "－") and an ideographic space;
 * they mean the ASCII characters, and refusing them would only make users retype. */
static int fold_ascii(const unsigned char **s)
{
  const unsigned char *p = *s;
  if (p[0] < 0x80) {
    *s = p + 1;
    return p[0];
  }
  if (p[0] == 0xC2 && p[1] == 0xA0) { /* U+00A0 no-break space */
    *s = p + 2;
    return ' ';
  }
  if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) { /* U+3000 ideographic space */
    *s = p + 3;
    return ' ';
  }
  if (p[0] == 0xEF && (p[1] == 0xBC || p[1] == 0xBD) && (p[2] & 0xC0) == 0x80) {
    unsigned cp = (0xFu << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    if (cp >= 0xFF01 && cp <= 0xFF5E) { /* full-width ! .. ~ */
      *s = p + 3;
      return (int)(cp - 0xFEE0);
    }
  }
  return -1;
}

/* Trimmed, folded ASCII copy of @p in into @p buf (@p cap bytes with the NUL). */
static int ascii_field(const char *in, char *buf, size_t cap)
{
  size_t n = 0, pending_spaces = 0;
  if (!in)
    return TX_CUST_EMPTY;
  for (const unsigned char *p = (const unsigned char *)in; *p;) {
    int c = fold_ascii(&p);
    if (c < 0)
      return TX_CUST_FORMAT;
    if (is_space(c)) {
      pending_spaces += n > 0; /* leading ones are dropped, trailing ones never flushed */
      continue;
    }
    if (n + pending_spaces + 1 >= cap)
      return TX_CUST_TOO_LONG;
    for (; pending_spaces; pending_spaces--)
      buf[n++] = ' ';
    buf[n++] = (char)c;
  }
  buf[n] = '\0';
  return n ? 0 : TX_CUST_EMPTY;
}

static bool is_digit(int c)
{
  return c >= '0' && c <= '9';
}

static bool is_mainland_mobile(const char *d, size_t n)
{
  return n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

int tx_cust_phone_e164(const char *in, char out[17])
{
  char buf[PHONE_MAX_INPUT + 1], d[16];
  size_t n = 0;
  bool plus = false;
  int rc = ascii_field(in, buf, sizeof buf);
  if (rc)
    return rc;
  for (const char *p = buf; *p; p++) {
    if (*p == '+') {
      if (plus || n) /* only in front: "+86", "(+86)" */
        return TX_CUST_FORMAT;
      plus = true;
    } else if (is_digit(*p)) {
      if (n == 15)
        return TX_CUST_FORMAT; /* E.164 caps the whole number at 15 digits */
      d[n++] = *p;
    } else if (!strchr(" -.()", *p)) {
      return TX_CUST_FORMAT; /* letters ("1-800-FLOWERS"), extensions, '/' ... */
    }
  }
  d[n] = '\0';

  const char *national = NULL;
  if (plus) {
    /* Country codes never start with 0; "+0086" is a mix of the two prefix styles. */
    if (n < 8 || d[0] == '0')
      return TX_CUST_FORMAT;
    if (!strncmp(d, "86", 2)) {
      /* China: no national number starts with the trunk prefix 0 ("+86 010 ..." would dial
       * wrong), and an 11-digit one starting with 1 is a mobile, so it must be 1[3-9]. Shorter
       * ones starting with 1 are Beijing landlines (area code 10). */
      if (d[2] == '0' || (d[2] == '1' && n - 2 == 11 && !is_mainland_mobile(d + 2, n - 2)))
        return TX_CUST_FORMAT;
    }
    out[0] = '+';
    memcpy(out + 1, d, n + 1);
    return 0;
  }
  /* Without '+' only a mainland mobile is unambiguous: "0201234567" could be any country. */
  if (is_mainland_mobile(d, n))
    national = d;
  else if (n == 13 && !strncmp(d, "86", 2) && is_mainland_mobile(d + 2, 11))
    national = d + 2;
  else if (n == 15 && !strncmp(d, "0086", 4) && is_mainland_mobile(d + 4, 11))
    national = d + 4;
  else
    return TX_CUST_FORMAT;
  memcpy(out, "+86", 3);
  memcpy(out + 3, national, 12); /* 11 digits and the NUL */
  return 0;
}

/* RFC 5322 atext: what a dot-atom local part may hold besides letters and digits. */
static bool is_atext(int c)
{
  return (c >= 'a' && c <= 'z') || is_digit(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

static bool valid_domain(const char *d)
{
  size_t len = strlen(d), labels = 0;
  if (len > 253)
    return false;
  const char *label = d, *last = d;
  for (const char *p = d;; p++) {
    if (*p == '.' || !*p) {
      size_t l = (size_t)(p - label);
      if (l == 0 || l > 63 || label[0] == '-' || p[-1] == '-')
        return false;
      labels++;
      last = label;
      if (!*p)
        break;
      label = p + 1;
    } else if (!((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '-')) {
      return false;
    }
  }
  /* "a@10.0.0.1" is an address, not a domain; no top-level domain is all digits. */
  if (labels < 2 || strspn(last, "0123456789") == strlen(last))
    return false;
  return true;
}

int tx_cust_email(const char *in, char out[255])
{
  char buf[255];
  int rc = ascii_field(in, buf, sizeof buf);
  if (rc)
    return rc;
  /* Internationalized addresses (SMTPUTF8, IDN domains) are refused for now: accepting them
   * needs UTS #46 mapping of the domain to A-labels and a rule for the local part's case, or one
   * mailbox would get several blind-index values. ascii_field() has already refused them. */
  for (char *p = buf; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  /* Local parts are case-sensitive by RFC 5321, but no provider we know treats them so, and a
   * lower-cased address is what makes "Alice@X.com" and "alice@x.com" find each other. */
  char *at = strchr(buf, '@');
  if (!at || strchr(at + 1, '@'))
    return TX_CUST_FORMAT;
  size_t local_len = (size_t)(at - buf);
  if (local_len == 0 || local_len > 64 || buf[0] == '.' || at[-1] == '.')
    return TX_CUST_FORMAT;
  /* Dot-atom only: quoted local parts ("a b"@x.com) are legal but belong to no real customer. */
  for (const char *p = buf; p < at; p++)
    if (!(is_atext(*p) || (*p == '.' && p[1] != '.')))
      return TX_CUST_FORMAT;
  if (!valid_domain(at + 1))
    return TX_CUST_FORMAT;
  memcpy(out, buf, strlen(buf) + 1);
  return 0;
}

int tx_cust_credit_code(const char *in, char out[19])
{
  /* Weights are 3^i mod 31 (GB 32100-2015, 5.3). */
  static const int weights[CREDIT_CODE_LEN - 1] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                                   29, 25, 13, 8,  24, 10, 30, 28};
  char buf[CREDIT_CODE_LEN + 1];
  int values[CREDIT_CODE_LEN];
  int rc = ascii_field(in, buf, sizeof buf);
  if (rc)
    return rc;
  if (strlen(buf) != CREDIT_CODE_LEN)
    return TX_CUST_FORMAT;
  for (int i = 0; i < CREDIT_CODE_LEN; i++) {
    if (buf[i] >= 'a' && buf[i] <= 'z')
      buf[i] = (char)(buf[i] - 'a' + 'A');
    const char *pos = strchr(credit_alphabet, buf[i]);
    if (!pos)
      return TX_CUST_FORMAT; /* also I, O, S, V, Z: left out of the standard's alphabet */
    values[i] = (int)(pos - credit_alphabet);
  }
  /* The registration authority (1st: 1-9, A, N, Y) and organization type (2nd) are not refused
   * when unknown: their tables are administrative lists that grow (A came with the 2016 military
   * reform), a rejected genuine code locks a customer out, and the check digit below already
   * catches typos in those positions. */
  int sum = 0;
  for (int i = 0; i < CREDIT_CODE_LEN - 1; i++)
    sum += values[i] * weights[i];
  if (values[CREDIT_CODE_LEN - 1] != (31 - sum % 31) % 31)
    return TX_CUST_CHECK_DIGIT;
  memcpy(out, buf, sizeof buf);
  return 0;
}

/* ---- masks -------------------------------------------------------------------------------- */

/* Output that only ever takes whole units: a code point cut in half would be invalid UTF-8 in a
 * log line or a JSON reply. Once one unit does not fit, nothing more is added. */
struct sink {
  char *out;
  size_t len, pos;
  bool full;
};

static void sink_init(struct sink *k, char *out, size_t len)
{
  *k = (struct sink){.out = out, .len = out ? len : 0, .full = !out || !len};
  if (!k->full)
    out[0] = '\0';
}

static void sink_put(struct sink *k, const char *s, size_t n)
{
  if (k->full || k->pos + n >= k->len) {
    k->full = true;
    return;
  }
  memcpy(k->out + k->pos, s, n);
  k->pos += n;
  k->out[k->pos] = '\0';
}

static void sink_str(struct sink *k, const char *s)
{
  sink_put(k, s, strlen(s));
}

/* Bytes of the code point starting at @p s: its lead byte and the continuation bytes after it. */
static size_t cp_bytes(const char *s)
{
  size_t n = 1;
  while (((unsigned char)s[n] & 0xC0) == 0x80)
    n++;
  return n;
}

static bool is_e164(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  return n >= 9 && n <= 16 && s[0] == '+' && strspn(s + 1, "0123456789") == n - 1;
}

void tx_cust_mask_phone(const char *e164, char *out, size_t len)
{
  struct sink k;
  sink_init(&k, out, len);
  if (!is_e164(e164)) {
    sink_str(&k, "***");
    return;
  }
  const char *d = e164 + 1;
  size_t n = strlen(d);
  if (!strncmp(d, "86", 2) && n == 13) {
    /* The form people in China know: national number, 3 + 4 visible. */
    sink_put(&k, d + 2, 3);
    sink_str(&k, "****");
    sink_put(&k, d + n - 4, 4);
    return;
  }
  /* Short numbers keep only their last 2, so that at least 3 digits stay hidden. */
  size_t tail = n >= 11 ? 4 : 2;
  sink_str(&k, "+");
  sink_put(&k, d, 3);
  sink_str(&k, "****");
  sink_put(&k, d + n - tail, tail);
}

void tx_cust_mask_email(const char *email, char *out, size_t len)
{
  struct sink k;
  sink_init(&k, out, len);
  const char *at = email ? strrchr(email, '@') : NULL;
  if (!at || at == email || !at[1]) {
    sink_str(&k, "***");
    return;
  }
  sink_put(&k, email, cp_bytes(email));
  sink_str(&k, "***");
  sink_str(&k, at);
}

void tx_cust_mask_text(const char *s, size_t keep_chars, char *out, size_t len)
{
  struct sink k;
  sink_init(&k, out, len);
  if (!s) {
    sink_str(&k, "***");
    return;
  }
  size_t total = 0;
  for (const char *p = s; *p && total <= keep_chars; p += cp_bytes(p))
    total++;
  size_t keep = total > keep_chars ? keep_chars : (total ? total - 1 : 0);
  const char *p = s;
  for (size_t i = 0; i < keep; i++) {
    size_t b = cp_bytes(p);
    sink_put(&k, p, b);
    p += b;
  }
  sink_str(&k, "***");
}

void tx_cust_mask_credit_code(const char *code, char *out, size_t len)
{
  struct sink k;
  sink_init(&k, out, len);
  if (!code || strlen(code) != CREDIT_CODE_LEN) {
    sink_str(&k, "***");
    return;
  }
  sink_put(&k, code, 4);
  sink_str(&k, "************");
  sink_put(&k, code + CREDIT_CODE_LEN - 2, 2);
}
