/**
 * @file modules/events/deliver.c
 * @brief Webhook delivery: the job kinds 'webhooks.deliver' (one attempt of one delivery; queued
 * by the event's transaction, by a failed attempt after its backoff, or by a manual redelivery)
 * and 'webhooks.sweep' (every minute: attempts whose worker vanished mid-call). docs/events.md.
 *
 * An attempt has three steps so that no transaction is open while a receiver takes its time:
 *  1. run (the job's transaction): events.delivery_start records the attempt as `sending` under a
 *     lease and gives the URL, secrets, message id and body; the job is done when that commits;
 *  2. after (no transaction): the signed POST over libcurl, bounded by
 *     TIANXING_WEBHOOK_TIMEOUT_MS, no redirects followed, at most an excerpt of the answer kept;
 *  3. a short transaction: events.delivery_finish records the outcome and, on failure, queues
 *     the next attempt after the backoff or dead-letters the delivery.
 * A worker that dies between 1 and 3 leaves the lease to run out; the sweep then counts the
 * attempt as lost and retries. Delivery is at least once: receivers deduplicate by webhook-id.
 */
#include "modules/events/events.h"
#include "modules/events/signature.h"
#include "base/log.h"
#include "jobs/jobs.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EXCERPT_MAX 256
/* A receiver's answer is read up to this much (then the transfer stops); it only needs a
 * status, and an endless body must not keep the worker. */
#define ANSWER_READ_MAX (64 * 1024)
/* The lease of an attempt: the HTTP timeout and this margin for the two transactions. */
#define LEASE_MARGIN_MS 30000

static struct {
  bool allow_loopback;
  int timeout_ms, max_attempts, backoff_ms;
} settings = {false, 10000, 8, 30000};

struct answer {
  char excerpt[EXCERPT_MAX + 1];
  size_t kept, seen;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
  struct answer *a = arg;
  size_t len = size * n;
  for (size_t i = 0; i < len && a->kept < EXCERPT_MAX; i++) {
    unsigned char ch = (unsigned char)data[i];
    /* Printable ASCII only: the excerpt is for an operator's eyes, must be valid UTF-8 text
     * whatever the receiver sent, and cannot carry control characters into logs. */
    a->excerpt[a->kept++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
  }
  a->excerpt[a->kept] = '\0';
  a->seen += len;
  return a->seen > ANSWER_READ_MAX ? 0 : len; /* 0 stops the transfer */
}

/* https, or http to a loopback host when allowed (tests). The SQL checked it when the URL was
 * saved; checked again here because the setting may have changed since. */
static int url_allowed(const char *url, char *scheme_out, size_t scheme_len, char *err, size_t errlen)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  int rc = -1;
  if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    snprintf(err, errlen, "the URL cannot be parsed");
    goto out;
  }
  if (!strcasecmp(scheme, "https")) {
    rc = 0;
  } else if (!strcasecmp(scheme, "http") && settings.allow_loopback &&
             (!strncmp(host, "127.", 4) || !strcasecmp(host, "localhost") || !strcmp(host, "[::1]"))) {
    rc = 0;
  } else {
    snprintf(err, errlen, "only https URLs are delivered to (http only to loopback, when allowed)");
  }
  if (rc == 0)
    snprintf(scheme_out, scheme_len, "%s", !strcasecmp(scheme, "https") ? "https" : "http");
out:
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

/* One POST; fills the result object's status_code, error, response_excerpt, duration_ms. */
static void post(const char *url, const char *msg_id, json_t *secrets, const char *body, json_t *result)
{
  char err[CURL_ERROR_SIZE + 64] = "", scheme[8], hdr[64], sigs[512] = "webhook-signature:";
  struct curl_slist *headers = NULL;
  struct answer ans = {.kept = 0};
  struct timespec t0, t1;
  long status = 0;
  long long ts = (long long)time(NULL);
  CURL *c = NULL;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (url_allowed(url, scheme, sizeof scheme, err, sizeof err))
    goto out;
  size_t i;
  json_t *s;
  json_array_foreach(secrets, i, s) {
    char one[TX_WEBHOOK_SIG_MAX];
    if (tx_webhook_sign(json_string_value(s), msg_id, ts, body, strlen(body), one, sizeof one)) {
      snprintf(err, sizeof err, "a secret of the subscription is unusable");
      goto out;
    }
    size_t used = strlen(sigs);
    snprintf(sigs + used, sizeof sigs - used, "%s%s", i ? " " : "", one);
  }
  c = curl_easy_init();
  if (!c) {
    snprintf(err, sizeof err, "curl_easy_init failed");
    goto out;
  }
  char curl_err[CURL_ERROR_SIZE] = "";
  headers = curl_slist_append(headers, "Content-Type: application/json");
  snprintf(hdr, sizeof hdr, "webhook-id: %s", msg_id);
  headers = curl_slist_append(headers, hdr);
  snprintf(hdr, sizeof hdr, "webhook-timestamp: %lld", ts);
  headers = curl_slist_append(headers, hdr);
  headers = curl_slist_append(headers, sigs);
  headers = curl_slist_append(headers, "User-Agent: tianxingd-webhooks/" TX_VERSION);
  headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, scheme);
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, scheme);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not a new target */
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)settings.timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(settings.timeout_ms < 5000 ? settings.timeout_ms : 5000));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
  CURLcode cc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && status > 0))
    snprintf(err, sizeof err, "%s%s%s", curl_easy_strerror(cc), curl_err[0] ? ": " : "", curl_err);
out:
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ms = (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  if (status >= 100 && status <= 599 && !err[0])
    json_object_set_new(result, "status_code", json_integer(status));
  if (err[0])
    json_object_set_new(result, "error", json_string(err));
  if (ans.kept)
    json_object_set_new(result, "response_excerpt", json_string(ans.excerpt));
  json_object_set_new(result, "duration_ms", json_integer(ms));
  curl_slist_free_all(headers);
  if (c)
    curl_easy_cleanup(c);
}

static int deliver_run(struct tx_job_ctx *ctx)
{
  char lease[16];
  snprintf(lease, sizeof lease, "%d", settings.timeout_ms + LEASE_MARGIN_MS);
  const char *p[] = {ctx->payload, lease};
  PGresult *res = PQexecParams(ctx->pg, "SELECT events.delivery_start($1::jsonb, $2::int)::text", 2,
                               NULL, p, NULL, NULL, 0);
  int rc = -1;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    snprintf(ctx->error, sizeof ctx->error, "delivery_start: %s", PQresultErrorMessage(res));
    goto out;
  }
  if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
    json_error_t je;
    ctx->state = json_loads(PQgetvalue(res, 0, 0), 0, &je);
    if (!ctx->state) {
      snprintf(ctx->error, sizeof ctx->error, "delivery_start: %s", je.text);
      goto out;
    }
  }
  rc = 0;
out:
  PQclear(res);
  return rc;
}

static void deliver_after(struct tx_job_ctx *ctx)
{
  json_t *d = ctx->state;
  ctx->state = NULL;
  if (!d)
    return;
  if (!ctx->committed) { /* the attempt was not recorded: the job runs again */
    json_decref(d);
    return;
  }
  json_t *result = json_pack("{sOsO}", "delivery_id", json_object_get(d, "delivery_id"), "attempt",
                             json_object_get(d, "attempt"));
  char *text = NULL;
  if (!result)
    goto out;
  post(json_string_value(json_object_get(d, "url")), json_string_value(json_object_get(d, "message_id")),
       json_object_get(d, "secrets"), json_string_value(json_object_get(d, "body")), result);
  text = json_dumps(result, JSON_COMPACT);
  char max[16], backoff[16];
  snprintf(max, sizeof max, "%d", settings.max_attempts);
  snprintf(backoff, sizeof backoff, "%d", settings.backoff_ms);
  const char *p[] = {text, max, backoff};
  char *outcome = NULL;
  if (!text || tx_jobs_system_call(ctx, "SELECT events.delivery_finish($1::jsonb, $2::int, $3::int)",
                                   3, p, &outcome))
    tx_log(TX_LOG_WARN, "webhooks: delivery %s attempt %lld: outcome not recorded (%s); the sweep "
                        "retries it when its lease runs out",
           json_string_value(json_object_get(d, "delivery_id")),
           (long long)json_integer_value(json_object_get(d, "attempt")), ctx->error);
  else
    tx_log(TX_LOG_INFO, "webhooks: delivery %s attempt %lld: %s",
           json_string_value(json_object_get(d, "delivery_id")),
           (long long)json_integer_value(json_object_get(d, "attempt")), outcome ? outcome : "?");
  free(outcome);
out:
  free(text);
  json_decref(result);
  json_decref(d);
}

static int sweep_run(struct tx_job_ctx *ctx)
{
  char payload[96];
  snprintf(payload, sizeof payload, "{\"max_attempts\": %d, \"backoff_ms\": %d}", settings.max_attempts,
           settings.backoff_ms);
  const char *p[] = {payload};
  PGresult *res = PQexecParams(ctx->pg, "SELECT events.sweep($1::jsonb)", 1, NULL, p, NULL, NULL, 0);
  int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
  if (rc)
    snprintf(ctx->error, sizeof ctx->error, "sweep: %s", PQresultErrorMessage(res));
  PQclear(res);
  return rc;
}

/* A failure of run() itself (the database) is the scheduler's to retry; the receiver's failures
 * are counted by the delivery, not by the job. */
static const struct tx_job_kind deliver = {
  .name = "webhooks.deliver", .run = deliver_run, .after = deliver_after,
  .max_attempts = 5, .lease_s = 60, .backoff_s = 5, .backoff_max_s = 300,
};
static const struct tx_job_kind sweep = {
  .name = "webhooks.sweep", .run = sweep_run, .max_attempts = 3, .lease_s = 60,
};

int tx_events_jobs_register(bool allow_http_loopback, int timeout_ms, int max_attempts, int backoff_ms)
{
  settings.allow_loopback = allow_http_loopback;
  settings.timeout_ms = timeout_ms;
  settings.max_attempts = max_attempts;
  settings.backoff_ms = backoff_ms;
  tx_events_allow_http_loopback(allow_http_loopback);
  /* Before any worker thread exists: curl_global_init is not thread-safe. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    tx_log(TX_LOG_ERROR, "webhooks: curl_global_init failed");
    return -1;
  }
  return tx_jobs_register(&deliver) || tx_jobs_register(&sweep) ? -1 : 0;
}
