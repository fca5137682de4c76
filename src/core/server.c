/**
 * @file core/server.c
 * @brief The HTTP core: Ulfius/libmicrohttpd set-up, the request lifecycle every route shares, and
 * graceful shutdown.
 *
 * All requests enter through one Ulfius default endpoint and this file's dispatcher, so that the
 * gates (request id, CORS, body limit, media type, JSON syntax, 404/405) run in one known order
 * for every path, and the access log and metrics see every answer, routed or not.
 */
#include "core/app.h"
#include "core/auth.h"
#include "core/http.h"
#include "core/jwt.h"
#include "base/log.h"
#include "core/metrics.h"
#include "core/request.h"
#include "core/routes.h"
#include "db/pool.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ulfius.h>
#include <unistd.h>

struct tx_app tx_app;
static int inflight;

#define EXPOSED_HEADERS "ETag, Location, Retry-After, X-Request-Id"
#define ALLOWED_HEADERS "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, " \
                        "X-Request-Id, Accept-Language"

void tx_reply_header(struct tx_req *r, const char *name, const char *value)
{
  u_map_put(r->resp->map_header, name, value);
}

int tx_reply_raw(struct tx_req *r, int status, const char *content_type, const void *body,
                 size_t len)
{
  r->status = status;
  if (content_type)
    tx_reply_header(r, "Content-Type", content_type);
  if (len)
    ulfius_set_binary_body_response(r->resp, (unsigned)status, body, len);
  else
    r->resp->status = (long)status;
  return status;
}

int tx_reply_json_text(struct tx_req *r, int status, const char *json, size_t len)
{
  return tx_reply_raw(r, status, "application/json", json, len);
}

int tx_reply_json(struct tx_req *r, int status, const json_t *j_body)
{
  char *s = json_dumps(j_body, JSON_COMPACT);
  if (!s)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  tx_reply_json_text(r, status, s, strlen(s));
  free(s);
  return status;
}

int tx_reply_problem(struct tx_req *r, enum tx_code code, const char *detail, json_t *j_errors)
{
  return tx_reply_problem_doc(r, tx_problem_new(code, r->zh, detail, r->request_id, r->path, j_errors));
}

int tx_reply_problem_doc(struct tx_req *r, json_t *j_p)
{
  char *s = json_dumps(j_p, JSON_COMPACT);
  int status = (int)json_integer_value(json_object_get(j_p, "status"));
  json_decref(j_p);
  if (status == 503 && !u_map_has_key_case(r->resp->map_header, "Retry-After"))
    tx_reply_header(r, "Retry-After", "1");
  tx_reply_raw(r, status, "application/problem+json", s, s ? strlen(s) : 0);
  free(s);
  return status;
}

static const char *header(const struct tx_req *r, const char *name)
{
  return u_map_get_case(r->u->map_header, name);
}

/* CORS: answers preflights and refuses foreign origins; returns 1 when it answered. */
static int cors(struct tx_req *r, enum tx_match m, const char *allow)
{
  const char *origin = header(r, "Origin");
  if (!origin)
    return 0;
  if (!tx_cors_origin_allowed(tx_app.cfg->cors_origins, origin)) {
    tx_reply_problem(r, TX_E_CORS_ORIGIN_DENIED, "This origin may not call the API.", NULL);
    return 1;
  }
  tx_reply_header(r, "Access-Control-Allow-Origin", origin);
  tx_reply_header(r, "Vary", "Origin");
  if (strcmp(r->method, "OPTIONS") != 0 || !header(r, "Access-Control-Request-Method")) {
    tx_reply_header(r, "Access-Control-Expose-Headers", EXPOSED_HEADERS);
    return 0;
  }
  if (m == TX_MATCH_NONE) {
    tx_reply_problem(r, TX_E_NOT_FOUND, "No such path.", NULL);
    return 1;
  }
  tx_reply_header(r, "Access-Control-Allow-Methods", allow);
  tx_reply_header(r, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
  tx_reply_header(r, "Access-Control-Max-Age", "600");
  tx_reply_raw(r, 204, NULL, NULL, 0);
  return 1;
}

/* Body gates, before routing: size, media type, JSON syntax. Returns 1 when it answered. */
static int body_gates(struct tx_req *r)
{
  const char *cl = header(r, "Content-Length");
  long long declared = cl ? tx_parse_content_length(cl) : 0;
  size_t got = r->u->binary_body_length;
  /* Ulfius stops storing at max_post_body_size (limit + 1) without telling: a stored length
   * over the limit means the body was cut, whatever Content-Length said (chunked uploads). */
  if (declared > tx_app.cfg->body_limit || got > (size_t)tx_app.cfg->body_limit) {
    char detail[96];
    snprintf(detail, sizeof detail, "The request body exceeds %ld bytes.", tx_app.cfg->body_limit);
    tx_reply_problem(r, TX_E_PAYLOAD_TOO_LARGE, detail, NULL);
    return 1;
  }
  if (got == 0)
    return 0;
  if (!tx_media_type_is_json(header(r, "Content-Type"))) {
    tx_reply_problem(r, TX_E_UNSUPPORTED_MEDIA_TYPE, "Request bodies must be application/json.",
                     NULL);
    return 1;
  }
  json_error_t jerr;
  /* jansson refuses invalid UTF-8 and \u0000; duplicate keys are ambiguous, so refused too. */
  r->j_body = json_loadb(r->u->binary_body, got, JSON_REJECT_DUPLICATES, &jerr);
  if (!r->j_body) {
    char detail[300];
    snprintf(detail, sizeof detail, "The body is not valid JSON: %s at line %d, column %d.",
             jerr.text, jerr.line, jerr.column);
    tx_reply_problem(r, TX_E_INVALID_JSON, detail, NULL);
    return 1;
  }
  return 0;
}

static void common_headers(struct tx_req *r)
{
  tx_reply_header(r, "X-Request-Id", r->request_id);
  tx_reply_header(r, "Cache-Control", "no-store");
  tx_reply_header(r, "X-Content-Type-Options", "nosniff");
  if (__atomic_load_n(&tx_app.draining, __ATOMIC_RELAXED))
    tx_reply_header(r, "Connection", "close");
}

static void access_log(const struct tx_req *r, double seconds)
{
  if (!tx_app.cfg->access_log)
    return;
  char now[40];
  tx_log_now(now, sizeof now);
  json_t *j_line = json_object();
  json_object_set_new(j_line, "time", json_string(now));
  json_object_set_new(j_line, "level", json_string("info"));
  json_object_set_new(j_line, "msg", json_string("request"));
  json_object_set_new(j_line, "request_id", json_string(r->request_id));
  json_object_set_new(j_line, "method", json_string(r->method));
  json_object_set_new(j_line, "route", r->route ? json_string(r->route->path) : json_null());
  json_t *j_path = json_string(r->path); /* NULL for invalid UTF-8: then left out */
  if (j_path)
    json_object_set_new(j_line, "path", j_path);
  json_object_set_new(j_line, "status", json_integer(r->status));
  json_object_set_new(j_line, "duration_ms", json_real(round(seconds * 1e6) / 1e3));
  json_object_set_new(j_line, "user", r->user ? json_string(r->user) : json_null());
  tx_log_access(j_line);
  json_decref(j_line);
}

static int dispatch(const struct _u_request *u, struct _u_response *resp, void *unused)
{
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);

  struct tx_req r = {.u = u, .resp = resp, .method = u->http_verb, .path = u->url_path};
  const char *incoming = header(&r, "X-Request-Id");
  if (tx_request_id_valid(incoming))
    snprintf(r.request_id, sizeof r.request_id, "%s", incoming);
  else
    tx_uuid_v4(r.request_id);
  r.zh = tx_prefers_chinese(header(&r, "Accept-Language"));
  common_headers(&r);

  char allow[64];
  const struct tx_route *route = NULL;
  enum tx_match m = tx_route_match(r.method, r.path, &route, allow, sizeof allow, &r);
  if (m == TX_MATCH_OK)
    r.route = route; /* known from here on, for the access log and metrics */

  if (cors(&r, m, allow))
    goto done;
  if (!strcmp(r.method, "OPTIONS")) {
    if (m == TX_MATCH_NONE) {
      tx_reply_problem(&r, TX_E_NOT_FOUND, "No such path.", NULL);
    } else {
      char allow_opts[80];
      snprintf(allow_opts, sizeof allow_opts, "%s, OPTIONS", allow);
      tx_reply_header(&r, "Allow", allow_opts);
      tx_reply_raw(&r, 204, NULL, NULL, 0);
    }
    goto done;
  }
  if (body_gates(&r))
    goto done;
  if (m == TX_MATCH_NONE) {
    tx_reply_problem(&r, TX_E_NOT_FOUND, "No such path.", NULL);
    goto done;
  }
  if (m == TX_MATCH_PATH_ONLY) {
    char detail[128];
    snprintf(detail, sizeof detail, "This path supports: %s.", allow);
    tx_reply_header(&r, "Allow", allow);
    tx_reply_problem(&r, TX_E_METHOD_NOT_ALLOWED, detail, NULL);
    goto done;
  }
  if (tx_auth_gate(&r, route))
    goto done;
  tx_route_serve(route, &r);
  if (!r.status) /* a handler that forgot to answer is a bug; never send an empty 200 */
    tx_reply_problem(&r, TX_E_INTERNAL_ERROR, NULL, NULL);

done:
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  tx_metrics_observe(tx_route_index(r.route), r.status, seconds);
  access_log(&r, seconds);
  tx_route_params_free(&r);
  json_decref(r.j_body);
  __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  return U_CALLBACK_COMPLETE;
}

static int make_sockaddr(const struct tx_config *cfg, struct sockaddr_storage *ss, socklen_t *len,
                         bool *v6)
{
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, cfg->bind_address, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)cfg->port);
    *len = sizeof *a4;
    *v6 = false;
    return 0;
  }
  if (inet_pton(AF_INET6, cfg->bind_address, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)cfg->port);
    *len = sizeof *a6;
    *v6 = true;
    return 0;
  }
  return -1;
}

int tx_server_run(const struct tx_config *cfg)
{
  struct _u_instance inst;
  struct sockaddr_storage ss;
  socklen_t sslen;
  bool v6;
  int rc = 1;

  tx_app.cfg = cfg;
  if (make_sockaddr(cfg, &ss, &sslen, &v6)) {
    tx_log(TX_LOG_ERROR, "bad bind address %s", cfg->bind_address);
    return 1;
  }
  /* A series per registered route: the table is complete by now. */
  if (tx_metrics_init(tx_routes_count)) {
    tx_log(TX_LOG_ERROR, "out of memory for the metrics of %zu routes", tx_routes_count);
    return 1;
  }
  /* The signals are taken by sigwait() below: block them before any thread starts. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (ulfius_init_instance(&inst, (unsigned)cfg->port, NULL, NULL) != U_OK) {
    tx_log(TX_LOG_ERROR, "ulfius_init_instance failed");
    return 1;
  }
  /* One byte over the limit tells a cut body from one that fits exactly. */
  inst.max_post_body_size = (size_t)cfg->body_limit + 1;
  inst.allowed_post_processor = U_POST_PROCESS_NONE;
  ulfius_set_default_endpoint(&inst, dispatch, NULL);

  /* Ulfius ignores the instance's address and timeout in this call: everything goes in ops. */
  struct MHD_OptionItem ops[] = {
    {MHD_OPTION_SOCK_ADDR, 0, &ss},
    {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL},
    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout, NULL},
    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL},
    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_connections_per_ip, NULL},
    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
    {MHD_OPTION_END, 0, NULL},
  };
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                   MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
  if (ulfius_start_framework_with_mhd_options(&inst, flags, ops) != U_OK) {
    tx_log(TX_LOG_ERROR, "cannot listen on %s port %d", cfg->bind_address, cfg->port);
    goto out;
  }
  tx_log(TX_LOG_INFO, "listening on %s port %d (%d threads, body limit %ld bytes)",
         cfg->bind_address, cfg->port, cfg->threads, cfg->body_limit);

  int sig = 0;
  for (;;) {
    sigwait(&sigs, &sig);
    if (sig != SIGHUP)
      break;
    /* SIGHUP: re-read the token keys (rotation) and forget every verified token. */
    char err[512];
    if (tx_jwt_load(cfg, err, sizeof err))
      tx_log(TX_LOG_ERROR, "key reload failed, keeping the keys in use: %s", err);
  }
  tx_log(TX_LOG_INFO, "signal %d: draining in-flight requests (at most %d s)", sig,
         cfg->shutdown_grace);
  __atomic_store_n(&tx_app.draining, 1, __ATOMIC_SEQ_CST);
  /* Stop accepting. MHD stops calling accept() but leaves the socket listening, so the kernel
   * would still complete handshakes nobody serves: shut it down (not close: pool threads may
   * still poll it until MHD_stop_daemon) so new connections are refused at once. Connections
   * already open may still finish what they sent. */
  MHD_socket listen_fd = MHD_quiesce_daemon(inst.mhd_daemon);
  if (listen_fd != MHD_INVALID_SOCKET)
    shutdown(listen_fd, SHUT_RDWR);
  /* Drained means no request running for a quiet moment: a request already sent on a kept-alive
   * connection whose thread was busy starts only when that thread frees up, a few microseconds
   * after the previous one ended, and must not find its connection closed. */
  for (int waited_ms = 0, quiet_ms = 0; quiet_ms < 200 && waited_ms < cfg->shutdown_grace * 1000;
       waited_ms += 20) {
    quiet_ms = __atomic_load_n(&inflight, __ATOMIC_SEQ_CST) ? 0 : quiet_ms + 20;
    usleep(20000);
  }
  int left = __atomic_load_n(&inflight, __ATOMIC_SEQ_CST);
  if (left) {
    /* MHD_stop_daemon would join the busy threads and wait for them, unbounded: the grace
     * period is the promise, so leave now. The database rolls back what they had open. */
    tx_log(TX_LOG_WARN, "grace period over with %d requests still running", left);
    _exit(1);
  }
  ulfius_stop_framework(&inst);
  if (listen_fd != MHD_INVALID_SOCKET)
    close(listen_fd);
  tx_log(TX_LOG_INFO, "stopped");
  rc = 0;
out:
  ulfius_clean_instance(&inst);
  tx_metrics_shutdown();
  return rc;
}
