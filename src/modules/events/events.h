/**
 * @file modules/events/events.h
 * @brief Events for other services (issue 16): the webhook subscriptions (routes.c) and their
 * delivery by jobs (deliver.c). The outbox itself is SQL: sql/code/events, docs/events.md.
 */
#ifndef TX_MODULES_EVENTS_H
#define TX_MODULES_EVENTS_H

#include <stdbool.h>

#include "core/module.h"

/** @brief /v1/webhooks (admin) and /v1/event-types. */
extern const struct tx_module tx_module_webhooks;

/** @brief Whether subscriptions may name http:// loopback URLs (routes.c; set before serving). */
void tx_events_allow_http_loopback(bool allow);

/**
 * @brief Registers the job kinds 'webhooks.deliver' and 'webhooks.sweep' with the delivery
 * settings (TIANXING_WEBHOOK_*), and initialises libcurl: call from the main thread, before the
 * scheduler starts. 0, or -1 on failure.
 */
int tx_events_jobs_register(bool allow_http_loopback, int timeout_ms, int max_attempts, int backoff_ms);

#endif
