/**
 * @file core/metrics.h
 * @brief Request counters by route and status, latency histograms, pool gauges; Prometheus text.
 */
#ifndef TX_CORE_METRICS_H
#define TX_CORE_METRICS_H

#include <stddef.h>
#include <stdio.h>

/**
 * @brief Makes a series for each of @p nroutes routes and one for unmatched requests; before
 * serving, after the modules are registered. -1 when memory ran out.
 */
int tx_metrics_init(size_t nroutes);

/** @brief Releases the series. */
void tx_metrics_shutdown(void);

/** @brief Counts one finished request; @p route_index from tx_route_index(). */
void tx_metrics_observe(size_t route_index, int status, double seconds);

/**
 * @brief Adds a source of further series (e.g. the job scheduler's), rendered after the built-in
 * ones. Register at start-up, before serving; at most a few.
 * @return 0, or -1 when no slot is left.
 */
int tx_metrics_add_source(void (*render)(FILE *f));

/** @brief Renders the Prometheus text exposition format; caller frees. */
char *tx_metrics_render(size_t *len);

#endif
