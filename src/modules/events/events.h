/**
 * @file modules/events/events.h
 * @brief Events for other services (issue 16): the webhook subscriptions (routes.c) and their
 * delivery by jobs (deliver.c). The outbox itself is SQL: sql/code/events, docs/events.md.
 */
#ifndef TX_MODULES_EVENTS_H
#define TX_MODULES_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/module.h"
#include "modules/events/address.h"

struct tx_req;

/** @brief /v1/webhooks (admin) and /v1/event-types. */
extern const struct tx_module tx_module_webhooks;

/** @brief Whether subscriptions may name http:// loopback URLs (routes.c; set before serving). */
void tx_events_allow_http_loopback(bool allow);

/** @brief "true" or "false", as the SQL URL check takes the loopback setting. */
const char *tx_events_allow_http_loopback_text(void);

/** @brief 422 webhook_address_refused when the body's url names a refused literal address. */
int tx_events_check_body_url(struct tx_req *r);

/** @brief POST /v1/webhooks and POST /v1/webhooks/{id}/rotate-secret (secrets.c). */
int tx_events_webhook_create(struct tx_req *r);
int tx_events_webhook_rotate_secret(struct tx_req *r);

/** @brief Whether a delivery may connect to @p ip under TIANXING_WEBHOOK_ALLOW_CIDRS (deliver.c). */
bool tx_events_address_allowed(const struct tx_ip *ip, char *why, size_t whylen);

/**
 * @brief Registers the job kinds 'webhooks.deliver' and 'webhooks.sweep' with the delivery
 * settings (TIANXING_WEBHOOK_*; @p allow_cidrs: the non-public ranges deliveries may reach),
 * the webhook series of /metrics, and initialises libcurl: call from the main thread, before the
 * scheduler starts. 0, or -1 on failure (an unreadable allow-list is logged).
 */
int tx_events_jobs_register(bool allow_http_loopback, const char *allow_cidrs, int timeout_ms,
                            int max_attempts, int backoff_ms);

/** @brief The webhook series of /metrics (deliver.c). */
void tx_events_metrics_render(FILE *f);

#endif
