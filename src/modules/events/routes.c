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
#include "modules/events/address.h"
#include "modules/events/events.h"
#include "modules/events/stream.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

/* TIANXING_WEBHOOK_ALLOW_HTTP_LOOPBACK as the SQL reads it ("true"/"false"): a constant argument
 * of the rows below whose text main.c sets once, before the service serves. */
static char allow_loopback[6] = "false";

void tx_events_allow_http_loopback(bool allow)
{
  snprintf(allow_loopback, sizeof allow_loopback, "%s", allow ? "true" : "false");
}

const char *tx_events_allow_http_loopback_text(void) { return allow_loopback; }

/* A URL whose host is a literal address the delivery guard would refuse is refused now, with its
 * own code: nobody learns of it from a dead letter a day later. (A name is only judged when a
 * delivery connects, on the address it resolves to then: resolving here would prove nothing.)
 * The SQL checks the rest of the URL. 0 when the body's url is absent, a name, or allowed. */
int tx_events_check_body_url(struct tx_req *r)
{
  const char *url = r->j_body ? json_string_value(json_object_get(r->j_body, "url")) : NULL;
  CURLU *u = url ? curl_url() : NULL;
  char *host = NULL, why[160];
  struct tx_ip ip;
  int rc = 0;
  if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && tx_ip_from_text(host, &ip) == 0 &&
      !tx_events_address_allowed(&ip, why, sizeof why)) {
    char detail[256];
    snprintf(detail, sizeof detail, "Webhooks are not delivered to %s (TIANXING_WEBHOOK_ALLOW_CIDRS).", why);
    json_t *j_errors = json_pack("[{ssssss}]", "field", "url", "code", "not_allowed", "message", why);
    tx_reply_problem(r, TX_E_WEBHOOK_ADDRESS_REFUSED, detail, j_errors);
    rc = -1;
  }
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

static const struct tx_sql sql_event_types = {
  "event_types", "SELECT api.event_types()::text", 0};
static const struct tx_sql sql_webhook_list = {
  "webhook_list", "SELECT api.webhook_list($1::int, $2)::text", 2};
static const struct tx_sql sql_webhook_get = {
  "webhook_get", TX_CALL_ROW "api.webhook_get($1::uuid) j", 1};
static const struct tx_sql sql_webhook_update = {
  "webhook_update", TX_CALL_ROW "api.webhook_update($1::uuid, $2::int, $3::jsonb, $4) j", 4};
static const struct tx_sql sql_webhook_delete = {
  "webhook_delete", TX_CALL_ROW_UNVERSIONED "api.webhook_delete($1::uuid) j", 1};
static const struct tx_sql sql_webhook_deliveries = {
  "webhook_deliveries", "SELECT api.webhook_deliveries($1::uuid, $2, $3::int, $4)::text", 4};
static const struct tx_sql sql_webhook_redeliver = {
  "webhook_redeliver", TX_CALL_ROW_UNVERSIONED "api.webhook_redeliver($1::uuid, $2::uuid) j", 2};

static const struct tx_call call_webhook_update = {
  .sql = &sql_webhook_update, .status = 200,
  .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_IF_MATCH, NULL}, {TX_ARG_BODY, NULL},
           {TX_ARG_CONST, allow_loopback}}};

/* PATCH: the literal-address check of the url, then the SQL call. */
static int webhook_update(struct tx_req *r)
{
  if (tx_events_check_body_url(r))
    return r->status;
  return tx_call_run(r, &call_webhook_update);
}

static const struct tx_route routes[] = {
  /* Server-Sent Events for front-ends: every event the caller may see (modules/events/stream.c) */
  {"GET", "/v1/events", "*", "G1", .handler = tx_events_stream, .query = "after"},
  {"GET", "/v1/event-types", "*", "G1",
   .call = TX_CALL(.sql = &sql_event_types, .read_only = true, .status = 200)},
  {"GET", "/v1/webhooks", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_list, .read_only = true, .status = 200,
                   .args = {{TX_ARG_QUERY_INT, "limit"}, {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* The answer shows the secret, once; the database keeps it sealed (secrets.c). */
  {"POST", "/v1/webhooks", "admin", "G1,C3.1", .handler = tx_events_webhook_create, .body = true},
  {"GET", "/v1/webhooks/{id}", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}})},
  {"PATCH", "/v1/webhooks/{id}", "admin", "G1,C3.1", .handler = webhook_update, .body = true},
  {"DELETE", "/v1/webhooks/{id}", "admin", "G1",
   .call = TX_CALL(.sql = &sql_webhook_delete, .status = 200, .args = {{TX_ARG_PATH_UUID, "id"}})},
  /* A new secret; the previous one still signs (a second signature) during the overlap. */
  {"POST", "/v1/webhooks/{id}/rotate-secret", "admin", "G1", .handler = tx_events_webhook_rotate_secret,
   .body = true},
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
