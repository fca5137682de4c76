/**
 * @file modules/customers/normalize.h
 * @brief Normalization, validation and display masks for customer fields (docs/customers.md,
 * "Normalization and validation"). Pure functions: no globals of our own, safe from any thread.
 *
 * Validators return 0 or a negative enum tx_cust_err. They write their output only on success, so
 * a caller never stores a half-normalized value. The values they produce are what gets encrypted
 * and blind-indexed: two spellings of one phone number or e-mail must come out byte-identical, or
 * the equality search would miss.
 */
#ifndef TX_MODULES_CUSTOMERS_NORMALIZE_H
#define TX_MODULES_CUSTOMERS_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>

enum tx_cust_err {
  TX_CUST_EMPTY = -1,       /* nothing left after trimming */
  TX_CUST_TOO_LONG = -2,    /* more code points (or bytes, for e-mail) than allowed */
  TX_CUST_CONTROL = -3,     /* a control character (line breaks only where multi-line) */
  TX_CUST_FORMAT = -4,      /* not the expected shape, or not valid UTF-8 */
  TX_CUST_CHECK_DIGIT = -5, /* shape right, check digit wrong: most likely a typo */
  TX_CUST_INTERNAL = -6,    /* out of memory or an ICU failure: the server's fault, not input */
  TX_CUST_BIDI = -7,        /* a bidirectional embedding, override or isolate (U+202A-E, U+2066-9) */
};

/** @brief English message fragment to follow a field name: "must not be empty", ... */
const char *tx_cust_err_message(int err);

/**
 * @brief Field error code for a problem's errors[] ("too_short", "too_long",
 * "control_characters", "format", "check_digit"), matching core/json_spec.h's codes.
 */
const char *tx_cust_err_code(int err);

/**
 * @brief Free text: NFC, trimmed of Unicode white space (U+3000 included), no control characters
 * (\n and \t allowed when @p multiline; CR LF and lone CR become \n), 1..@p max_chars code points.
 * @param max_chars 0 = no limit
 * @param out on success a malloc'ed string the caller frees; NULL otherwise
 */
int tx_cust_text(const char *in, size_t max_chars, bool multiline, char **out);

/**
 * @brief Phone number -> E.164 ("+" and 8..15 digits). Accepts "+" numbers with space, dash,
 * dot and parenthesis separators, and Chinese mainland mobiles 1[3-9] + 9 digits with an optional
 * 86 / 0086 / +86 prefix. Full-width digits and separators (Chinese input methods) are accepted.
 * Anything else without "+" is refused: we cannot guess its country.
 */
int tx_cust_phone_e164(const char *in, char out[17]);

/**
 * @brief E-mail: trimmed, ASCII lower-cased, dot-atom local part (1..64), a domain of at least
 * two LDH labels, 254 characters at most. Non-ASCII addresses are refused for now.
 */
int tx_cust_email(const char *in, char out[255]);

/**
 * @brief 統一社會信用代碼 (GB 32100-2015): trimmed, upper-cased, 18 characters from
 * "0123456789ABCDEFGHJKLMNPQRTUWXY", check digit valid (TX_CUST_CHECK_DIGIT otherwise).
 */
int tx_cust_credit_code(const char *in, char out[19]);

/*
 * Masks for display and logs. They never fail: @p out (of @p len bytes, len > 0) always receives a
 * NUL-terminated string, cut on a code point boundary when too small; input they do not recognise
 * comes out as "***" rather than being echoed.
 */

/** @brief "+8613812345678" -> "138****5678"; other numbers "+141****2671". */
void tx_cust_mask_phone(const char *e164, char *out, size_t len);

/** @brief "alice@x.com" -> "a***@x.com". */
void tx_cust_mask_email(const char *email, char *out, size_t len);

/**
 * @brief The first @p keep_chars code points and "***". Never the whole text: a string of at most
 * @p keep_chars code points keeps one fewer ("王" -> "***", "王伟" with 1 -> "王***").
 */
void tx_cust_mask_text(const char *s, size_t keep_chars, char *out, size_t len);

/** @brief "91350100M000100Y43" -> "9135************43". */
void tx_cust_mask_credit_code(const char *code, char *out, size_t len);

#endif
