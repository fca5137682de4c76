/**
 * @file core/routes.h
 * @brief The one route table: method, path template, handler, roles and clauses.
 */
#ifndef TX_CORE_ROUTES_H
#define TX_CORE_ROUTES_H

#include "core/http.h"

struct tx_route {
  const char *method;  /* GET, POST, PUT, PATCH, DELETE */
  const char *path;    /* OpenAPI template, e.g. /v1/customers/{id} */
  tx_handler handler;
  const char *roles;   /* comma-separated roles allowed; "" = no authentication */
  const char *clauses; /* comma-separated clause IDs the route enforces */
};

extern const struct tx_route tx_routes[];
extern const size_t tx_routes_count;

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
