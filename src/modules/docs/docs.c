/**
 * @file modules/docs/docs.c
 * @brief GET /docs and GET /docs/assets/{file}: the API reference page and its files, all built
 * into the binary (cmake/embed_docs.cmake), because the service runs without internet.
 *
 * Caching: an asset's name carries its content's hash, so it is cached for a year and never
 * revalidated (`immutable`); the page names the assets of its build, so it is revalidated each
 * time (`no-cache` with an ETag: 304 when unchanged). The page's Content-Security-Policy admits
 * only this service's own scripts, styles, images and connections: no inline script, no other
 * origin, no frames.
 */
#include "modules/docs/assets.h"
#include "modules/docs/docs.h"

#include <string.h>
#include <ulfius.h>

#define DOCS_CSP                                                                                  \
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "               \
  "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "                    \
  "frame-ancestors 'none'"

/* Whether an If-None-Match list names @p etag (weak comparison, RFC 9110 section 13.1.2: a W/
 * prefix does not matter) or is "*". */
static bool none_match_hits(const char *list, const char *etag)
{
  size_t elen = strlen(etag);
  const char *p = list;
  while (*p) {
    p += strspn(p, " \t,");
    if (!*p)
      break;
    size_t n = strcspn(p, ",");
    size_t end = n;
    while (end && (p[end - 1] == ' ' || p[end - 1] == '\t'))
      end--;
    const char *tag = p;
    if (end == 1 && tag[0] == '*')
      return true;
    if (end > 2 && !strncmp(tag, "W/", 2)) {
      tag += 2;
      end -= 2;
    }
    if (end == elen && !memcmp(tag, etag, elen))
      return true;
    p += n;
  }
  return false;
}

static int reply_file(struct tx_req *r, const struct tx_docs_asset *a, const char *cache_control)
{
  tx_reply_header(r, "Cache-Control", cache_control);
  tx_reply_header(r, "ETag", a->etag);
  const char *inm = u_map_get_case(r->u->map_header, "If-None-Match");
  if (inm && none_match_hits(inm, a->etag))
    return tx_reply_raw(r, 304, NULL, NULL, 0);
  return tx_reply_raw(r, 200, a->type, a->data, a->len);
}

int tx_docs_page_get(struct tx_req *r)
{
  tx_reply_header(r, "Content-Security-Policy", DOCS_CSP);
  /* The page sends no address anywhere; the token typed into it stays in it. */
  tx_reply_header(r, "Referrer-Policy", "no-referrer");
  return reply_file(r, &tx_docs_page, "no-cache");
}

int tx_docs_asset_get(struct tx_req *r)
{
  const char *file = tx_req_param(r, "file");
  for (size_t i = 0; file && i < tx_docs_assets_count; i++)
    if (!strcmp(tx_docs_assets[i].name, file))
      return reply_file(r, &tx_docs_assets[i], "public, max-age=31536000, immutable");
  return tx_reply_problem(r, TX_E_NOT_FOUND, "No such file of the documentation page.", NULL);
}
