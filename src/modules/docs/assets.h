/**
 * @file modules/docs/assets.h
 * @brief The files of the /docs page, built into the binary by cmake/embed_docs.cmake: the page,
 * our start-up script and Swagger UI (npm swagger-ui-dist, pinned in tests/package.json).
 */
#ifndef TX_MODULES_DOCS_ASSETS_H
#define TX_MODULES_DOCS_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct tx_docs_asset {
  const char *name; /* under /docs/assets/: "swagger-ui-bundle.<16 hex of its SHA-256>.js" */
  const char *type; /* Content-Type */
  const unsigned char *data; /* NUL-terminated; len excludes the NUL */
  size_t len;
  const char *etag; /* "<16 hex of its SHA-256>", quotes included */
};

/** The assets, {0}-ended; tx_docs_assets_count of them. */
extern const struct tx_docs_asset tx_docs_assets[];
extern const size_t tx_docs_assets_count;
/** The page itself (GET /docs). */
extern const struct tx_docs_asset tx_docs_page;
/** Whether Swagger UI was found at build time (else the page only links the contract). */
extern const bool tx_docs_ui_built_in;

#endif
