/**
 * @file core/formats.h
 * @brief Representations other than JSON for GET routes: content negotiation on Accept, CSV from
 * a list's items, SVG from a chart's JSON (issue 12, part E).
 *
 * JSON stays the default and every route gives it. A GET route row may add `.formats`:
 *   - `csv`/`ncsv`: the columns of `text/csv`, each (header, JSON pointer into one item of the
 *     list's `items`). The route must be a call whose answer has `items` (an array) and, when it
 *     pages, `next_cursor`, with `{TX_ARG_QUERY_TEXT, "cursor"}` among its args: the CSV holds the
 *     whole list from the request's cursor on, streamed page by page (core/csv_export.h: each page
 *     its own read-only transaction) up to TIANXING_CSV_MAX_ROWS rows. A call without a cursor
 *     argument is one page (a non-null next_cursor is then a bug: 500, never a cut list). `limit`
 *     is then the page size used to fetch (the largest page when absent).
 *   - `svg`: renders the call's JSON answer as `image/svg+xml`.
 * An Accept the route cannot satisfy is 406 not_acceptable (problem+json, naming what it gives).
 */
#ifndef TX_CORE_FORMATS_H
#define TX_CORE_FORMATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** The representations a route may give; bits of an `offered` set. */
enum tx_format {
  TX_FORMAT_JSON = 1, /* application/json (and problems as application/problem+json) */
  TX_FORMAT_CSV = 2,  /* text/csv; charset=utf-8; header=present */
  TX_FORMAT_SVG = 4,  /* image/svg+xml */
};

#define TX_CSV_CONTENT_TYPE "text/csv; charset=utf-8; header=present"
#define TX_SVG_CONTENT_TYPE "image/svg+xml"

/** One CSV column: its header and where its value is in each item (RFC 6901, e.g. "/status" or
 * "/customer/name"). A missing or null value is an empty cell. */
struct tx_csv_column {
  const char *header;
  const char *pointer;
};

/** Renders a chart: writes an SVG document for the JSON @p j_doc to @p out; 0, or -1 when the
 * document is not the chart's shape (a bug: answered 500). */
typedef int (*tx_svg_renderer)(const json_t *j_doc, FILE *out);

struct tx_formats {
  const struct tx_csv_column *csv;
  size_t ncsv;
  tx_svg_renderer svg;
};

/** A route row's formats, e.g.
 * .formats = TX_FORMATS(TX_CSV_COLUMNS({"Number", "/number"}, {"Status", "/status"})) */
#define TX_FORMATS(...) (&(const struct tx_formats){__VA_ARGS__})
#define TX_CSV_COLUMNS(...)                                                                       \
  .csv = (const struct tx_csv_column[]){__VA_ARGS__},                                             \
  .ncsv = sizeof((const struct tx_csv_column[]){__VA_ARGS__}) / sizeof(struct tx_csv_column)

/** @brief The formats @p f offers (JSON always). */
unsigned tx_formats_offered(const struct tx_formats *f);

/**
 * @brief Chooses a representation for an Accept header (RFC 9110 section 12.5.1).
 * Media ranges (a type and subtype, either a star: any) with q-values; the most
 * specific range matching a type gives its quality; q=0 refuses it. Among the offered types with
 * the highest quality > 0 the first of JSON, CSV, SVG wins. Parameters other than q are ignored;
 * an element that is no media range is skipped. No header, or an empty one, means JSON.
 * `application/problem+json` counts for JSON.
 * @return the chosen format, or 0 when nothing offered is acceptable (406)
 */
enum tx_format tx_accept_choose(const char *accept, unsigned offered);

/** @brief The media types of @p offered, comma-separated, for a 406's detail. */
void tx_formats_describe(unsigned offered, char *out, size_t len);

/**
 * @brief Writes one CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF (quotes
 * doubled). A text that starts with = + - @, a tab or a CR is written with a leading apostrophe so
 * that a spreadsheet shows it as text instead of running it as a formula (CSV injection).
 */
void tx_csv_field(FILE *out, const char *s, size_t len, bool neutralise);

/** @brief The value at RFC 6901 pointer @p pointer in @p j (borrowed), or NULL. */
json_t *tx_json_pointer(const json_t *j, const char *pointer);

/** @brief Writes the UTF-8 byte order mark and the header row (CRLF-terminated). */
void tx_csv_header(FILE *out, const struct tx_csv_column *cols, size_t n);

/**
 * @brief Writes one row for @p j_item: strings as text (neutralised), numbers as numbers, true and
 * false, null or missing as empty, objects and arrays as their compact JSON text.
 */
void tx_csv_row(FILE *out, const json_t *j_item, const struct tx_csv_column *cols, size_t n);

/** @brief Writes @p s (UTF-8) escaped for XML text and attribute values (& < > " '). */
void tx_xml_text(FILE *out, const char *s);

#endif
