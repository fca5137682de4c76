/**
 * @file core/csv_export.h
 * @brief text/csv of a list route, streamed page by page (issue 16; docs/charts.md, "CSV").
 *
 * The export is a chain of work items on the request workers (core/workers.h): each fetches ONE
 * page of the list (its own read-only transaction, keyset cursor), appends its CSV rows to the
 * export's buffer and wakes the connection; the next page is queued only once the client has
 * read the buffer down below CSV_LOW_WATER bytes. Between pages an export holds no worker and no
 * database connection, however slowly its client reads, and its memory is at most CSV_LOW_WATER
 * plus one page's rows.
 *
 * The first page is fetched before anything is sent, so a bad filter, a denied caller, a failed
 * first page, a list longer than TIANXING_CSV_MAX_ROWS already on its first page, or too many
 * exports at once (TIANXING_CSV_EXPORTS: 503) still get a problem+json answer. A list of one page
 * is answered whole, with a Content-Length. Once the 200 is sent, a failure (database, token
 * expired, the row ceiling passed, shutdown, overload) cuts the chunked answer without its last
 * chunk (TX_STREAM_FAILED): the client sees an incomplete transfer, never a whole-looking file.
 */
#ifndef TX_CORE_CSV_EXPORT_H
#define TX_CORE_CSV_EXPORT_H

#include "core/call.h"
#include "core/config.h"

/** Queue the next page when fewer unsent bytes than this are left. */
#define CSV_LOW_WATER (64 * 1024)

/** @brief Registers the exports' metrics and reads their settings; before serving. 0, or -1. */
int tx_csv_export_init(const struct tx_config *cfg);

/**
 * @brief Answers @p r (a GET of a list route whose row declares CSV columns) with the whole list
 * from the request's cursor on. @p params are the call's resolved arguments; they, and what a
 * page needs of @p call, are copied (the export outlives the handler, whose call may be on its
 * stack). A `limit` the request did not give is set to the page size here.
 * @return the status answered
 */
int tx_csv_export(struct tx_req *r, const struct tx_call *call, const char **params);

#endif
