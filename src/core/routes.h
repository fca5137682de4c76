/**
 * @file core/routes.h
 * @brief The merged route table: the rows every module registers (core/module.h), in registration
 * order. `tianxingd routes` prints it, the dispatcher serves it.
 */
#ifndef TX_CORE_ROUTES_H
#define TX_CORE_ROUTES_H

#include "core/http.h"

#include <stdbool.h>
#include <stddef.h>

struct tx_call;
struct tx_formats;

/**
 * One row: who may call what, which regulation clauses it serves, and what answers it. Exactly one
 * of handler and call is set: a route that is one SQL API function is data (a struct tx_call, see
 * core/call.h), anything else is a handler.
 */
struct tx_route {
  const char *method;  /* GET, POST, PUT, PATCH, DELETE */
  const char *path;    /* OpenAPI template, e.g. /v1/customers/{id} */
  const char *roles;   /* comma-separated roles allowed; "*" any signed-in; "" no authentication */
  const char *clauses; /* comma-separated clause IDs the route enforces (REGULATIONS.md) */
  tx_handler handler;
  const struct tx_call *call;
  /* Handler rows only (a call's come from its args): the comma-separated query parameters the
   * handler reads, and whether it reads a body. Anything else a request sends is refused (422
   * naming it), never silently ignored (issue 10 item 16). */
  const char *query;
  bool body;
  /* GET routes: representations besides JSON (CSV of a list, SVG of a chart) that Accept may
   * ask for; see core/formats.h. NULL: JSON only. */
  const struct tx_formats *formats;
  /* Answers at once from memory, never touching the database: served on the network thread
   * instead of queueing for a request worker (core/workers.h), so that /healthz answers even
   * while every worker waits for the database. */
  bool no_db;
};

/* The merged table; fixed once the modules are registered (before serving). */
extern const struct tx_route *tx_routes;
extern size_t tx_routes_count;

/**
 * @brief Appends @p n rows to the merged table after checking each (method, path, roles, clauses,
 * exactly one of handler and call, the call's arguments) and that no (method, path) is taken.
 * @return 0, or -1 with the offending row named in @p err; nothing is added then
 */
int tx_routes_add(const struct tx_route *rows, size_t n, char *err, size_t errlen);

/** @brief Empties the merged table (tests, and the end of the process). */
void tx_routes_reset(void);

/**
 * @brief Runs the route's handler or its declarative call for @p r, after refusing (422
 * validation_failed, each naming its parameter or member) query parameters the route does not
 * read and body members of a route that takes no body.
 */
int tx_route_serve(const struct tx_route *route, struct tx_req *r);

enum tx_match { TX_MATCH_NONE, TX_MATCH_PATH_ONLY, TX_MATCH_OK };

/**
 * @brief Finds the route for @p method and @p path; HEAD matches GET routes.
 * @param[out] route matched route (TX_MATCH_OK)
 * @param[out] allow "GET, HEAD"-style list of methods the path supports (TX_MATCH_PATH_ONLY and
 *             TX_MATCH_OK), empty otherwise
 * @param r    when non-NULL and matched, receives the path parameters (values allocated)
 */
enum tx_match tx_route_match(const char *method, const char *path, const struct tx_route **route,
                             char *allow, size_t allow_len, struct tx_req *r);

/** @brief Frees parameter values stored by tx_route_match. */
void tx_route_params_free(struct tx_req *r);

/** @brief Index of @p route in tx_routes (for metrics); tx_routes_count for NULL. */
size_t tx_route_index(const struct tx_route *route);

#endif
