/**
 * @file core/json_spec.h
 * @brief Declarative checks of request bodies: a handler lists its fields once and gets back
 * every problem at once, each naming its field, for a 422 `validation_failed` answer.
 */
#ifndef TX_CORE_JSON_SPEC_H
#define TX_CORE_JSON_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum tx_jtype {
  TX_J_STRING,  /* text; no control characters unless multiline */
  TX_J_INTEGER, /* JSON integer within [min, max] */
  TX_J_BOOLEAN,
  TX_J_UUID,    /* canonical lower- or upper-case 8-4-4-4-12 */
  TX_J_DATE,    /* YYYY-MM-DD, a real calendar date */
  TX_J_DECIMAL, /* money and ratios travel as strings: "-12.50" */
  TX_J_OBJECT,
  TX_J_ARRAY,
};

struct tx_field {
  const char *name;
  enum tx_jtype type;
  bool required;
  bool nullable;   /* JSON null accepted (and means "clear") */
  bool multiline;  /* strings: allow \n and \t */
  size_t min_len;  /* strings: code points; arrays: items */
  size_t max_len;  /* 0 = no limit */
  long long min, max;            /* integers, when min < max */
  const char *const *one_of;     /* strings: NULL-terminated allowed values, or NULL */
};

/**
 * @brief Checks @p j_body (borrowed) against @p spec.
 * @param allow_unknown when false, members not in the spec are errors (typos never pass silently)
 * @return a new array of {field, code, message} errors, empty when the body is valid; NULL when
 *         the body is not a JSON object at all (answer 400 bad_request)
 *
 * Error codes: required, type, null, too_short, too_long, out_of_range, not_allowed, format,
 * control_characters, bidi_control, unknown_field.
 */
json_t *tx_json_check(const json_t *j_body, const struct tx_field *spec, size_t n,
                      bool allow_unknown);

/** @brief A real calendar date YYYY-MM-DD. */
bool tx_date_valid(const char *s);

/** @brief True for a UUID in its 8-4-4-4-12 hex form (either case); false for NULL. */
bool tx_uuid_valid(const char *s);

/** @brief An RFC 3339 timestamp: date, 'T', hh:mm:ss, optional fraction, 'Z' or ±hh:mm. */
bool tx_rfc3339_valid(const char *s);

/**
 * @brief Whether UTF-8 @p s holds a bidirectional embedding, override or isolate (U+202A-U+202E,
 * U+2066-U+2069): they reorder how the text around them is shown, so a name could display as
 * something else than it is (CVE-2021-42574). The marks U+200E, U+200F and U+061C, which affect
 * one position only, are allowed: Arabic and Hebrew text needs them.
 */
bool tx_has_bidi_control(const char *s);

/** @brief Number of Unicode code points in valid UTF-8 @p s. */
size_t tx_utf8_length(const char *s);

#endif
