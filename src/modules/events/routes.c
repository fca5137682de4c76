/**
 * @file modules/events/routes.c
 * @brief Webhook subscriptions, administrators only: /v1/webhooks (create, list, get, update,
 * delete, rotate-secret, deliveries, redeliver) and the event types anyone signed in may read.
 * Every route is one SQL API function of sql/code/events/020_webhooks.sql; modules/modules.c
 * registers tx_module_webhooks. Row format: src/modules/org/routes.c.
 *
 * Clauses: G1 (other company services learn of changes without polling) and C3.1 (events carry
 * ids and states only, never customer information, so a subscriber receives nothing that could
 * leak; it reads the resource through the API with its own rights).
 */
#include "core/call.h"
#include "core/module.h"
#include "modules/events/events.h"
#include "modules/events/stream.h"

#include <stdio.h>

/* TIANXING_WEBHOOK_ALLOW_HTTP_LOOPBACK as the SQL reads it ("true"/"false"): a constant argument
 * of the rows below whose text main.c sets once, before the service serves. */
static char allow_loopback[6] = "false";

void tx_events_allow_http_loopback(bool allow)
{
  snprintf(allow_loopback, sizeof allow_loopback, "%s", allow ? "true" : "false");
}

static const struct tx_sql sql_event_types = {
  "event_types", "SELECT api.event_types()::text", 0};
static const struct tx_sql sql_webhook_create = {
  "webhook_create", TX_CALL_ROW "api.webhook_create($1::jsonb, $2) j", 2};
static const struct tx_sql sql_webhook_list = {
  "webhook_list", "SELECT api.webhook_list($1::int, $2)::text", 2};
static const struct tx_sql sql_webhook_get = {
  "webhook_get", TX_CALL_ROW "api.webhook_get($1::uuid) j", 1};
static const struct tx_sql sql_webhook_update = {
  "webhook_update", TX_CALL_ROW "api.webhook_update($1::uuid, $2::int, $3::jsonb, $4) j", 4};
static const struct tx_sql sql_webhook_delete = {
  "webhook_delete", TX_CALL_ROW_UNVERSIONED "api.webhook_delete($1::uuid) j", 1};
static const struct tx_sql sql_webhook_rotate = {
  "webhook_rotate_secret", TX_CALL_ROW "api.webhook_rotate_secret($1::uuid, $2::jsonb) j", 2};
static const struct tx_sql sql_webhook_deliveries = {
  "webhook_deliveries", "SELECT api.webhook_deliveries($1::uuid, $2, $3::int, $4)::text", 4};
static const struct tx_sql sql_webhook_redeliver = {
  "webhook_redeliver", TX_CALL_ROW_UNVERSIONED "api.webhook_redeliver($1::uuid, $2::uuid) j", 2};

static const struct tx_route routes[] = {
  /* Server-Sent Events for front-ends: every event the caller may see (modules/events/stream.c) */
  {"GET", "/v1/events", "*", "G1", .handler = tx_events_stream, .query = "after"},
  {"GET", "/v1/event-types", "*", "G1",
   .call = TX_CALL(.sql = &sql_event_types, .read_only = true, .status = 200)},
  {"GET", "/v1/webhooks", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* The answer shows the secret, once. */
  {"POST", "/v1/webhooks", "admin", "G1,C3.1",
   .call = TX_CALL(.sql = &sql_webhook_create, .status = 201, .location = "/v1/webhooks/",
                   .args = {{TX_ARG_BODY, NULL}, {TX_ARG_CONST, allow_loopback}})},
  {"GET", "/v1/webhooks/{id}", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/webhooks/{id}", "admin", "G1,C3.1",
   .call = TX_CALL(.sql = &sql_webhook_update, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL},
                            {TX_ARG_CONST, allow_loopback}})},
  {"DELETE", "/v1/webhooks/{id}", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_delete, .status = 200, .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* A new secret; the previous one still signs (a second signature) during the overlap. */
  {"POST", "/v1/webhooks/{id}/rotate-secret", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_rotate, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_BODY, NULL}})},
  {"GET", "/v1/webhooks/{id}/deliveries", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_deliveries, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_QUERY_TEXT, "state"},
                            {TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}})},
  {"POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_redeliver, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_PATH_UUID, "delivery_id"}})},
};

const struct tx_module tx_module_webhooks = {
  .name = "webhooks",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
