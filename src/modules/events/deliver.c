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
#include "modules/events/address.h"
#include "modules/events/secrets.h"
#include "modules/events/signature.h"
#include "base/log.h"
#include "core/metrics.h"
#include "jobs/jobs.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <sys/socket.h>
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
  struct tx_cidr *allow; /* TIANXING_WEBHOOK_ALLOW_CIDRS: set before serving, read-only after */
  size_t nallow;
} settings = {false, 10000, 8, 30000, NULL, 0};

bool tx_events_address_allowed(const struct tx_ip *ip, char *why, size_t whylen)
{
  return tx_addr_allowed(ip, settings.allow, settings.nallow, why, whylen);
}

/* ---- /metrics: counted by the instance that made the attempt ---- */

enum outcome { OUT_DELIVERED, OUT_FAILED, OUT_DEAD, OUT_REFUSED, OUT_N };
static const char *const outcome_names[OUT_N] = {"delivered", "failed", "dead", "refused"};
static const double latency_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NLAT (sizeof latency_buckets / sizeof latency_buckets[0])
static struct {
  uint64_t outcomes[OUT_N];
  uint64_t latency[NLAT + 1], latency_sum_ms, latency_count;
  /* The backlog as the last sweep here saw it (the sweep already reads the table every minute;
   * a scrape must not query the database). as_of 0: no sweep has run on this instance yet. */
  int64_t backlog_pending, backlog_oldest_s, backlog_as_of;
} stats;

static void count(enum outcome o) { __atomic_add_fetch(&stats.outcomes[o], 1, __ATOMIC_RELAXED); }

static void observe_latency(long long ms)
{
  size_t b = 0;
  while (b < NLAT && ms > latency_buckets[b] * 1000)
    b++;
  __atomic_add_fetch(&stats.latency[b], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&stats.latency_sum_ms, (uint64_t)(ms > 0 ? ms : 0), __ATOMIC_RELAXED);
  __atomic_add_fetch(&stats.latency_count, 1, __ATOMIC_RELAXED);
}

void tx_events_metrics_render(FILE *f)
{
  fprintf(f, "# HELP tianxing_webhook_attempts_total Webhook delivery attempts made by this instance, by "
             "outcome (failed: retried later; dead: the last attempt failed; refused: the address guard "
             "refused the address, counted as failed or dead too).\n"
             "# TYPE tianxing_webhook_attempts_total counter\n");
  for (int o = 0; o < OUT_N; o++)
    fprintf(f, "tianxing_webhook_attempts_total{outcome=\"%s\"} %lu\n", outcome_names[o],
            (unsigned long)__atomic_load_n(&stats.outcomes[o], __ATOMIC_RELAXED));
  fprintf(f, "# HELP tianxing_webhook_attempt_seconds Duration of webhook delivery attempts (the HTTP "
             "call) made by this instance.\n# TYPE tianxing_webhook_attempt_seconds histogram\n");
  uint64_t cum = 0;
  for (size_t b = 0; b < NLAT; b++) {
    cum += __atomic_load_n(&stats.latency[b], __ATOMIC_RELAXED);
    fprintf(f, "tianxing_webhook_attempt_seconds_bucket{le=\"%g\"} %lu\n", latency_buckets[b],
            (unsigned long)cum);
  }
  cum += __atomic_load_n(&stats.latency[NLAT], __ATOMIC_RELAXED);
  fprintf(f, "tianxing_webhook_attempt_seconds_bucket{le=\"+Inf\"} %lu\n", (unsigned long)cum);
  fprintf(f, "tianxing_webhook_attempt_seconds_sum %.3f\ntianxing_webhook_attempt_seconds_count %lu\n",
          (double)__atomic_load_n(&stats.latency_sum_ms, __ATOMIC_RELAXED) / 1000.0,
          (unsigned long)__atomic_load_n(&stats.latency_count, __ATOMIC_RELAXED));
  int64_t as_of = __atomic_load_n(&stats.backlog_as_of, __ATOMIC_RELAXED);
  if (!as_of)
    return; /* no sweep ran here yet: no figure rather than a false zero */
  fprintf(f, "# HELP tianxing_webhook_pending Webhook deliveries not yet delivered nor dead, as the last "
             "sweep on this instance counted them.\n# TYPE tianxing_webhook_pending gauge\n"
             "tianxing_webhook_pending %lld\n"
             "# HELP tianxing_webhook_oldest_pending_seconds Age of the oldest pending webhook delivery "
             "at the last sweep on this instance (0: none).\n"
             "# TYPE tianxing_webhook_oldest_pending_seconds gauge\ntianxing_webhook_oldest_pending_seconds %lld\n"
             "# HELP tianxing_webhook_backlog_timestamp_seconds When that sweep ran (Unix time).\n"
             "# TYPE tianxing_webhook_backlog_timestamp_seconds gauge\ntianxing_webhook_backlog_timestamp_seconds %lld\n",
          (long long)__atomic_load_n(&stats.backlog_pending, __ATOMIC_RELAXED),
          (long long)__atomic_load_n(&stats.backlog_oldest_s, __ATOMIC_RELAXED), (long long)as_of);
}

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

/* The address guard at connect time: libcurl asks this for every socket it opens, with the
 * address it resolved and is about to connect to, so a name that resolves to a public address
 * when checked and to 169.254.169.254 when used (DNS rebinding) is still refused, and so is each
 * address of a name with several. Refusing the socket fails the connection attempt. */
struct guard {
  char refused[256]; /* the first refusal, for the delivery log */
};

static curl_socket_t open_guarded(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
  struct guard *g = arg;
  struct tx_ip ip;
  char why[160];
  if (purpose != CURLSOCKTYPE_IPCXN || tx_ip_from_sockaddr(&a->addr, a->addrlen, &ip)) {
    if (!g->refused[0])
      snprintf(g->refused, sizeof g->refused, "refused by the address guard: not an IP connection");
    return CURL_SOCKET_BAD;
  }
  if (!tx_events_address_allowed(&ip, why, sizeof why)) {
    if (!g->refused[0])
      snprintf(g->refused, sizeof g->refused,
               "refused by the address guard: %s (TIANXING_WEBHOOK_ALLOW_CIDRS)", why);
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* One POST; fills the result object's status_code, error, response_excerpt, duration_ms; true
 * when the address guard refused it. */
static bool post(const char *webhook_id, const char *url, const char *msg_id, json_t *secrets,
                 const char *body, json_t *result)
{
  struct guard guard = {.refused = ""};
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
    /* Opened here, with no transaction open, and wiped as soon as it has signed. */
    char *secret = tx_webhook_secret_open(webhook_id, s);
    int bad = !secret || tx_webhook_sign(secret, msg_id, ts, body, strlen(body), one, sizeof one);
    if (secret) {
      OPENSSL_cleanse(secret, strlen(secret));
      free(secret);
    }
    if (bad) {
      snprintf(err, sizeof err, "a secret of the subscription cannot be opened or used (master keys?)");
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
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &guard);
  /* No proxy from the environment (http_proxy, ...): the guard judges the receiver's address,
   * and a proxy would be the only address it ever saw. */
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  CURLcode cc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (guard.refused[0] && status == 0)
    snprintf(err, sizeof err, "%s", guard.refused);
  else if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && status > 0))
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
  if (!guard.refused[0] || status)
    observe_latency(ms);
  curl_slist_free_all(headers);
  if (c)
    curl_easy_cleanup(c);
  return guard.refused[0] && !status;
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
  bool refused = post(json_string_value(json_object_get(d, "webhook_id")),
                      json_string_value(json_object_get(d, "url")),
                      json_string_value(json_object_get(d, "message_id")), json_object_get(d, "secrets"),
                      json_string_value(json_object_get(d, "body")), result);
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
  else {
    if (outcome && !strcmp(outcome, "delivered"))
      count(OUT_DELIVERED);
    else if (outcome && !strcmp(outcome, "retry"))
      count(OUT_FAILED);
    else if (outcome && !strcmp(outcome, "dead"))
      count(OUT_DEAD);
    if (refused)
      count(OUT_REFUSED);
  }
  if (text && outcome)
    tx_log(TX_LOG_INFO, "webhooks: delivery %s attempt %lld: %s",
           json_string_value(json_object_get(d, "delivery_id")),
           (long long)json_integer_value(json_object_get(d, "attempt")), outcome);
  free(outcome);
out:
  free(text);
  json_decref(result);
  json_decref(d);
}

/* Every minute: lost attempts (events.sweep); then, on an instance holding the master keys, the
 * secrets still in clear since migration 0042 are sealed (in a savepoint: a failure there is
 * logged and must not undo the sweep); then the backlog figures for /metrics, read here because
 * this job reads the table anyway and a scrape must not. */
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
  if (rc)
    return rc;
  if (tx_envelope_ready()) {
    char err[256];
    PQclear(PQexec(ctx->pg, "SAVEPOINT seal"));
    long n = tx_webhook_secrets_seal(ctx->pg, false, 500, err, sizeof err);
    PQclear(PQexec(ctx->pg, n < 0 ? "ROLLBACK TO SAVEPOINT seal" : "RELEASE SAVEPOINT seal"));
    if (n < 0)
      tx_log(TX_LOG_WARN, "webhooks: sealing the secrets still in clear: %s", err);
    else if (n > 0)
      tx_log(TX_LOG_INFO, "webhooks: %ld secrets in clear sealed under the master key", n);
  }
  res = PQexec(ctx->pg, "SELECT pending, oldest_s, extract(epoch FROM now())::bigint FROM events.backlog()");
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    __atomic_store_n(&stats.backlog_pending, atoll(PQgetvalue(res, 0, 0)), __ATOMIC_RELAXED);
    __atomic_store_n(&stats.backlog_oldest_s, atoll(PQgetvalue(res, 0, 1)), __ATOMIC_RELAXED);
    __atomic_store_n(&stats.backlog_as_of, atoll(PQgetvalue(res, 0, 2)), __ATOMIC_RELAXED);
  } else {
    snprintf(ctx->error, sizeof ctx->error, "backlog: %s", PQresultErrorMessage(res));
    rc = -1;
  }
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

int tx_events_jobs_register(bool allow_http_loopback, const char *allow_cidrs, int timeout_ms,
                            int max_attempts, int backoff_ms)
{
  char err[256];
  free(settings.allow);
  settings.allow = NULL;
  settings.nallow = 0;
  if (tx_cidr_list_parse(allow_cidrs, &settings.allow, &settings.nallow, err, sizeof err)) {
    tx_log(TX_LOG_ERROR, "webhooks: %s", err);
    return -1;
  }
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
  return tx_jobs_register(&deliver) || tx_jobs_register(&sweep) ||
             tx_metrics_add_source(tx_events_metrics_render) ? -1 : 0;
}
