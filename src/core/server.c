/**
 * @file core/server.c
 * @brief The HTTP core: libmicrohttpd set-up, the request lifecycle every route shares, and
 * graceful shutdown.
 *
 * All requests enter through this file's access handler and dispatcher, so that the gates
 * (framing, request id, CORS, body limit, media type, JSON syntax, 404/405) run in one known order
 * for every path, and the access log and metrics see every answer, routed or not.
 *
 * libmicrohttpd is driven directly, not through Ulfius's dispatcher, because that one reads the
 * whole body before any code of ours runs: a request declaring 2 GB was read to the end before
 * its 413, and a request framed by both Content-Length and Transfer-Encoding could not be refused
 * before its body (issue 10 items 12, 13). Ulfius's request and response structures are kept, so
 * handlers see what they saw before.
 *
 * Handlers that may wait for the database run on the request workers (core/workers.h) with their
 * connection suspended; streamed answers (tx_reply_stream) keep theirs suspended between chunks.
 * docs/architecture.md, "Threads".
 */
#include "core/app.h"
#include "core/auth.h"
#include "core/conn_guard.h"
#include "core/csv_export.h"
#include "core/http.h"
#include "core/jwt.h"
#include "base/log.h"
#include "core/metrics.h"
#include "core/request.h"
#include "core/routes.h"
#include "core/workers.h"
#include "db/pool.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include <ulfius.h>
#include <unistd.h>

struct tx_app tx_app;
static int inflight;
/* Longest request line and header fields answered normally: room for the largest accepted token
 * (TIANXING_JWT_MAX_BYTES) and 16 KiB of everything else. Set by tx_server_run. */
static size_t header_limit;

#define EXPOSED_HEADERS "ETag, Location, Retry-After, X-Request-Id"
#define ALLOWED_HEADERS "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, " \
                        "X-Request-Id, Accept-Language"

void tx_reply_header(struct tx_req *r, const char *name, const char *value)
{
  u_map_put(r->resp->map_header, name, value);
}

struct tx_stream {
  pthread_mutex_t lock;
  struct MHD_Connection *c;
  bool suspended;    /* the reader found nothing and put the connection to sleep */
  bool wake_pending; /* woken while awake: the reader must look again before sleeping */
  struct tx_stream_source src;
};

/* Streams open now: the drain waits for them (libmicrohttpd must not stop with a connection
 * suspended). */
static int streams_open;

struct tx_stream *tx_reply_stream(struct tx_req *r, int status, const char *content_type,
                                  const struct tx_stream_source *src)
{
  struct tx_stream *st = calloc(1, sizeof *st);
  if (!st) {
    tx_reply_problem(r, TX_E_SERVICE_BUSY, NULL, NULL);
    return NULL;
  }
  pthread_mutex_init(&st->lock, NULL);
  st->src = *src;
  r->stream = st;
  r->status = status;
  r->resp->status = status;
  tx_reply_header(r, "Content-Type", content_type);
  /* A proxy that buffers would hold events back (nginx honours this header). */
  tx_reply_header(r, "X-Accel-Buffering", "no");
  __atomic_add_fetch(&streams_open, 1, __ATOMIC_SEQ_CST);
  return st;
}

void tx_stream_wake(struct tx_stream *st)
{
  pthread_mutex_lock(&st->lock);
  if (st->suspended) {
    st->suspended = false;
    MHD_resume_connection(st->c);
  } else {
    st->wake_pending = true;
  }
  pthread_mutex_unlock(&st->lock);
}

/* libmicrohttpd's content reader. The producer's read runs outside the stream's lock (it takes
 * its own, and the producer holds that one while it wakes us: the other order would deadlock);
 * a wake that lands between that read and the lock is seen as wake_pending, so no data is left
 * sleeping. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  (void)pos;
  struct tx_stream *st = cls;
  long n = st->src.read(st->src.cls, buf, max);
  if (n == TX_STREAM_FAILED) /* closes without the terminating chunk: visibly incomplete */
    return MHD_CONTENT_READER_END_WITH_ERROR;
  if (n < 0)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (n == 0) {
    pthread_mutex_lock(&st->lock);
    if (st->wake_pending) {
      st->wake_pending = false; /* something came meanwhile: libmicrohttpd asks again at once */
    } else {
      st->suspended = true;
      MHD_suspend_connection(st->c);
    }
    pthread_mutex_unlock(&st->lock);
  }
  return (ssize_t)n;
}

static void stream_free(void *cls)
{
  struct tx_stream *st = cls;
  st->src.closed(st->src.cls);
  pthread_mutex_destroy(&st->lock);
  free(st);
  __atomic_sub_fetch(&streams_open, 1, __ATOMIC_SEQ_CST);
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
  long long declared = cl ? tx_parse_decimal(cl) : 0;
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

/* One early refusal, decided from the header alone before any body is read; the connection is
 * closed after it (Connection: close). */
struct early {
  enum tx_code code;
  const char *detail;
};

/* One request, from its request line (request_started) to its end (request_completed). While a
 * worker runs it, the network thread does not touch it: the connection is suspended until the
 * worker has put the answer in `ready` and resumed it. */
struct pending {
  struct _u_request *u;
  bool headers_done;
  bool answered; /* dispatched: later calls of the access handler only queue the answer */
  bool at_worker; /* suspended for a worker; its next access-handler call queues `ready` */
  struct MHD_Connection *c;
  struct tx_work work;
  struct _u_response resp;
  bool resp_init;
  struct tx_req r;
  struct timespec t0;
  struct MHD_Response *ready; /* a worker's answer, queued when the connection resumes */
  unsigned ready_status;
};

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
  return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Everything decided before the route's handler, in one known order. Returns the route to serve,
 * or NULL when it answered. */
static const struct tx_route *gates(struct tx_req *r, const struct early *early)
{
  const char *incoming = header(r, "X-Request-Id");
  if (tx_request_id_valid(incoming))
    snprintf(r->request_id, sizeof r->request_id, "%s", incoming);
  else
    tx_uuid_v4(r->request_id);
  r->zh = tx_prefers_chinese(header(r, "Accept-Language"));
  common_headers(r);

  if (early) {
    tx_reply_problem(r, early->code, early->detail, NULL);
    tx_reply_header(r, "Connection", "close");
    return NULL;
  }

  char allow[64];
  const struct tx_route *route = NULL;
  enum tx_match m = tx_route_match(r->method, r->path, &route, allow, sizeof allow, r);
  if (m == TX_MATCH_OK)
    r->route = route; /* known from here on, for the access log and metrics */

  if (cors(r, m, allow))
    return NULL;
  if (!strcmp(r->method, "OPTIONS")) {
    if (m == TX_MATCH_NONE) {
      tx_reply_problem(r, TX_E_NOT_FOUND, "No such path.", NULL);
    } else {
      char allow_opts[80];
      snprintf(allow_opts, sizeof allow_opts, "%s, OPTIONS", allow);
      tx_reply_header(r, "Allow", allow_opts);
      tx_reply_raw(r, 204, NULL, NULL, 0);
    }
    return NULL;
  }
  if (body_gates(r))
    return NULL;
  if (m == TX_MATCH_NONE) {
    tx_reply_problem(r, TX_E_NOT_FOUND, "No such path.", NULL);
    return NULL;
  }
  if (m == TX_MATCH_PATH_ONLY) {
    char detail[128];
    snprintf(detail, sizeof detail, "This path supports: %s.", allow);
    tx_reply_header(r, "Allow", allow);
    tx_reply_problem(r, TX_E_METHOD_NOT_ALLOWED, detail, NULL);
    return NULL;
  }
  if (tx_auth_gate(r, route))
    return NULL;
  return route;
}

static void serve(struct tx_req *r, const struct tx_route *route)
{
  tx_route_serve(route, r);
  if (!r->status) /* a handler that forgot to answer is a bug; never send an empty 200 */
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
}

/* The request is answered: account for it and turn the answer into libmicrohttpd's. NULL when
 * memory ran out (the connection is then closed). */
static struct MHD_Response *finish(struct pending *p)
{
  struct tx_req *r = &p->r;
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double seconds = seconds_between(&p->t0, &t1);
  tx_metrics_observe(tx_route_index(r->route), r->status, seconds);
  access_log(r, seconds);
  tx_route_params_free(r);
  json_decref(r->j_body);
  r->j_body = NULL;

  struct MHD_Response *m;
  if (r->stream) {
    r->stream->c = p->c;
    m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, r->stream,
                                          stream_free);
    if (!m) /* never started: the producer learns it is over */
      stream_free(r->stream);
    r->stream = NULL; /* from here on the response owns it */
  } else {
    m = MHD_create_response_from_buffer(p->resp.binary_body_length, p->resp.binary_body,
                                        MHD_RESPMEM_MUST_COPY);
  }
  if (!m)
    return NULL;
  const char **keys = u_map_enum_keys(p->resp.map_header);
  for (size_t i = 0; keys && keys[i]; i++)
    if (MHD_add_response_header(m, keys[i], u_map_get(p->resp.map_header, keys[i])) != MHD_YES) {
      MHD_destroy_response(m);
      return NULL;
    }
  p->ready_status = (unsigned)p->resp.status;
  ulfius_clean_response(&p->resp); /* copied into m */
  p->resp_init = false;
  return m;
}

static struct pending *pending_of(struct tx_work *w)
{
  return (struct pending *)(void *)((char *)w - offsetof(struct pending, work));
}

/* The answer is in: leave it for the network thread and wake the connection. After the resume
 * that thread owns @p p again (and may free it at once): nothing touches it after. */
static void hand_back(struct pending *p)
{
  struct MHD_Connection *c = p->c;
  p->ready = finish(p);
  MHD_resume_connection(c);
  __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
}

/* A worker's turn. */
static void run_queued(struct tx_work *w)
{
  struct pending *p = pending_of(w);
  serve(&p->r, p->r.route);
  hand_back(p);
}

/* Queued longer than a database connection may be waited for (every worker busy): refused the
 * way an exhausted pool refuses, at once, instead of growing a backlog clients gave up on. */
static void shed_queued(struct tx_work *w)
{
  struct pending *p = pending_of(w);
  tx_reply_problem(&p->r, TX_E_SERVICE_BUSY, "Every request worker is busy.", NULL);
  hand_back(p);
}

/* Answers @p early, or runs the gates and then serves the route here (it needs no database) or
 * hands it to a worker with the connection suspended. */
static enum MHD_Result answer(struct MHD_Connection *c, struct pending *p, const struct early *early)
{
  p->answered = true;
  p->c = c;
  if (ulfius_init_response(&p->resp) != U_OK)
    return MHD_NO;
  p->resp_init = true;
  clock_gettime(CLOCK_MONOTONIC, &p->t0);
  __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  p->r = (struct tx_req){.u = p->u, .resp = &p->resp, .method = p->u->http_verb,
                         .path = p->u->url_path};
  const struct tx_route *route = gates(&p->r, early);
  if (route && !route->no_db) {
    p->work.run = run_queued;
    p->work.shed = shed_queued;
    p->at_worker = true;
    MHD_suspend_connection(c);
    if (!tx_workers_submit(&p->work))
      return MHD_YES; /* the worker resumes the connection with the answer */
    p->at_worker = false;
    MHD_resume_connection(c);
    tx_reply_problem(&p->r, TX_E_SHUTTING_DOWN, NULL, NULL);
  } else if (route) {
    serve(&p->r, route);
  }
  struct MHD_Response *m = finish(p);
  __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  if (!m)
    return MHD_NO;
  enum MHD_Result ret = MHD_queue_response(c, p->ready_status, m);
  MHD_destroy_response(m);
  return ret;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line is in. The raw target is kept as the path (before
 * libmicrohttpd decodes it), as Ulfius did. */
static void *request_started(void *cls, const char *uri, struct MHD_Connection *c)
{
  (void)cls;
  (void)c;
  struct pending *p = calloc(1, sizeof *p);
  struct _u_request *u = malloc(sizeof *u);
  if (!p || !u || ulfius_init_request(u) != U_OK)
    goto fail;
  p->u = u;
  u->http_url = strdup(uri);
  u->url_path = strndup(uri, strcspn(uri, "?"));
  if (!u->http_url || !u->url_path)
    goto fail;
  return p;
fail:
  if (p && p->u)
    ulfius_clean_request_full(u);
  else
    free(u);
  free(p);
  return NULL; /* the access handler then refuses the request and libmicrohttpd closes */
}

static void request_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)toe;
  struct pending *p = *con_cls;
  if (p) {
    ulfius_clean_request_full(p->u);
    if (p->resp_init)
      ulfius_clean_response(&p->resp);
    if (p->ready)
      MHD_destroy_response(p->ready);
    free(p);
    *con_cls = NULL;
  }
  tx_conn_guard_idle(c);
}

/* Headers and query arguments into Ulfius maps, repeated names joined with a comma. A name or
 * value that is not UTF-8 has its stray bytes replaced by U+FFFD rather than being left out (as
 * Ulfius did): left out, an Idempotency-Key or a query filter with one bad byte was silently
 * ignored (issue 10 items 15, 16); kept repaired, it is refused where its grammar is checked, and
 * no invalid UTF-8 reaches a problem document or a log line. */
static enum MHD_Result fill_map(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
  (void)kind;
  struct _u_map *map = cls;
  enum MHD_Result ret = MHD_NO;
  char *name = NULL, *text = NULL, *joined = NULL;
  if (!key)
    return MHD_YES;
  name = tx_utf8_repair(key);
  text = tx_utf8_repair(value ? value : "");
  if (!name || !text)
    goto out;
  const char *old = u_map_get(map, name);
  if (old && asprintf(&joined, "%s,%s", old, text) < 0) {
    joined = NULL;
    goto out;
  }
  ret = u_map_put(map, name, joined ? joined : text) == U_OK ? MHD_YES : MHD_NO;
out:
  free(name);
  free(text);
  free(joined);
  return ret;
}

/* The header is complete, the body not read: refuse here what must not get that far. */
static enum MHD_Result early_gates(struct MHD_Connection *c, struct pending *p)
{
  char detail[200];
  struct early e = {TX_E_BAD_REQUEST, detail};
  /* libmicrohttpd refuses headers over its memory pool itself, with an HTML page; the pool is
   * sized well above this limit so that what exceeds it gets our problem document. */
  const union MHD_ConnectionInfo *hs = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  if (hs && hs->header_size > header_limit) {
    e.code = TX_E_HEADER_TOO_LARGE;
    snprintf(detail, sizeof detail, "The request line and header fields exceed %zu bytes.",
             header_limit);
    return answer(c, p, &e);
  }
  /* Presence from libmicrohttpd itself (a value left out of the map still frames the body); the
   * length from the map, where two Content-Length fields are joined and so detected. */
  const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
  if (cl && u_map_get_case(p->u->map_header, "Content-Length"))
    cl = u_map_get_case(p->u->map_header, "Content-Length");
  switch (tx_request_framing(cl, te, tx_app.cfg->body_limit)) {
  case TX_FRAMING_OK:
    return MHD_YES;
  case TX_FRAMING_TOO_LARGE:
    e.code = TX_E_PAYLOAD_TOO_LARGE;
    snprintf(detail, sizeof detail, "The request body exceeds %ld bytes.", tx_app.cfg->body_limit);
    break;
  case TX_FRAMING_AMBIGUOUS:
    snprintf(detail, sizeof detail, "The request has both Content-Length and Transfer-Encoding, "
                                    "or two Content-Length values: its end is ambiguous (RFC 9112 "
                                    "section 6.3).");
    break;
  case TX_FRAMING_BAD_ENCODING:
    snprintf(detail, sizeof detail, "The only Transfer-Encoding accepted is chunked.");
    break;
  }
  return answer(c, p, &e);
}

/* libmicrohttpd's access handler: called once when the header is complete, once per piece of
 * body, and once more at the end. */
static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
  (void)cls;
  (void)url;
  struct pending *p = *con_cls;
  if (!p)
    return MHD_NO;
  struct _u_request *u = p->u;
  if (!p->headers_done) {
    p->headers_done = true;
    tx_conn_guard_busy(c);
    u->http_verb = strdup(method);
    u->http_protocol = strdup(version);
    /* The peer's address, whole (Ulfius copied only sizeof(struct sockaddr), cutting IPv6). */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
      size_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in);
      u->client_address = calloc(1, sizeof(struct sockaddr_storage));
      if (u->client_address)
        memcpy(u->client_address, ci->client_addr, len);
    }
    if (!u->http_verb || !u->http_protocol || !u->client_address ||
        MHD_get_connection_values(c, MHD_HEADER_KIND, fill_map, u->map_header) < 0 ||
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, fill_map, u->map_url) < 0)
      return MHD_NO;
    return early_gates(c, p);
  }
  if (*upload_data_size) {
    /* Kept up to one byte over the limit, which tells a cut body from one that fits exactly
     * (chunked bodies have no declared length); the rest is read and dropped. */
    size_t keep = (size_t)tx_app.cfg->body_limit + 1, have = u->binary_body_length;
    size_t take = have >= keep ? 0 : *upload_data_size < keep - have ? *upload_data_size : keep - have;
    if (take && !p->answered) {
      char *grown = realloc(u->binary_body, have + take);
      if (!grown)
        return MHD_NO;
      memcpy(grown + have, upload_data, take);
      u->binary_body = grown;
      u->binary_body_length = have + take;
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (p->at_worker) {
    /* Resumed by the worker that served it. */
    p->at_worker = false;
    struct MHD_Response *m = p->ready;
    p->ready = NULL;
    if (!m)
      return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, p->ready_status, m);
    MHD_destroy_response(m);
    return ret;
  }
  return p->answered ? MHD_YES : answer(c, p, NULL);
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
  struct MHD_Daemon *daemon = NULL;
  MHD_socket listen_fd = MHD_INVALID_SOCKET;
  struct sockaddr_storage ss;
  socklen_t sslen;
  bool v6;
  bool workers = false;
  int rc = 1;

  tx_app.cfg = cfg;
  if (make_sockaddr(cfg, &ss, &sslen, &v6)) {
    tx_log(TX_LOG_ERROR, "bad bind address %s", cfg->bind_address);
    return 1;
  }
  /* A series per registered route: the table is complete by now. */
  if (tx_metrics_init(tx_routes_count) || tx_metrics_add_source(tx_workers_metrics_render) ||
      tx_csv_export_init(cfg)) {
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

  header_limit = 16384 + (size_t)cfg->jwt_max_bytes;
  /* libmicrohttpd keeps a connection's header, its parsed form and the answer's header in one
   * pool; twice the limit plus 16 KiB lets every header up to the limit and well beyond arrive
   * whole, so that our 431 answers it rather than libmicrohttpd's HTML (64 KiB by default). */
  size_t pool = 2 * header_limit + 16384;

  /* The address, limits and callbacks all go in ops (PITFALLS: never every address). */
  struct MHD_OptionItem ops[] = {
    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)pool, NULL},
    {MHD_OPTION_SOCK_ADDR, 0, &ss},
    {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL},
    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout, NULL},
    {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL},
    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_connections_per_ip, NULL},
    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)tx_conn_guard_notify, NULL},
    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)request_completed, NULL},
    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)request_started, NULL},
    {MHD_OPTION_END, 0, NULL},
  };
  /* The network threads only read requests and write answers; handlers that may wait for the
   * database run on the request workers (core/workers.h), the connection suspended meanwhile, so
   * a slow statement holds one worker and its own connection, nothing else. poll is kept from
   * when handlers ran here (a worker accepts one connection per turn, so a burst spreads). */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                   MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
  if (tx_workers_start(cfg->request_workers, cfg->db_pool_timeout_ms)) {
    tx_log(TX_LOG_ERROR, "cannot start the request workers");
    goto out;
  }
  workers = true;
  if (tx_conn_guard_start(cfg)) {
    tx_log(TX_LOG_ERROR, "cannot start the connection guard");
    goto out;
  }
  daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, access_handler, NULL,
                            MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
  if (!daemon) {
    tx_log(TX_LOG_ERROR, "cannot listen on %s port %d", cfg->bind_address, cfg->port);
    goto out;
  }
  tx_log(TX_LOG_INFO, "listening on %s port %d (%d network threads, %d request workers, body limit "
         "%ld bytes)", cfg->bind_address, cfg->port, cfg->threads, cfg->request_workers,
         cfg->body_limit);

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
  listen_fd = MHD_quiesce_daemon(daemon);
  if (listen_fd != MHD_INVALID_SOCKET)
    shutdown(listen_fd, SHUT_RDWR);
  /* Drained means no request running for a quiet moment: a request already sent on a kept-alive
   * connection whose thread was busy starts only when that thread frees up, a few microseconds
   * after the previous one ended, and must not find its connection closed. */
  for (int waited_ms = 0, quiet_ms = 0; quiet_ms < 200 && waited_ms < cfg->shutdown_grace * 1000;
       waited_ms += 20) {
    quiet_ms = __atomic_load_n(&inflight, __ATOMIC_SEQ_CST) ||
                   __atomic_load_n(&streams_open, __ATOMIC_SEQ_CST)
                 ? 0
                 : quiet_ms + 20;
    usleep(20000);
  }
  int left = __atomic_load_n(&inflight, __ATOMIC_SEQ_CST) +
             __atomic_load_n(&streams_open, __ATOMIC_SEQ_CST);
  if (left) {
    /* MHD_stop_daemon would join the busy threads and wait for them, unbounded: the grace
     * period is the promise, so leave now. The database rolls back what they had open. */
    tx_log(TX_LOG_WARN, "grace period over with %d requests still running", left);
    _exit(1);
  }
  rc = 0;
out:
  tx_conn_guard_stop();
  /* Drained: no request is queued or running, so no connection is left suspended (stopping the
   * daemon with one would be an API violation). */
  if (daemon)
    MHD_stop_daemon(daemon);
  if (workers)
    tx_workers_stop();
  if (listen_fd != MHD_INVALID_SOCKET)
    close(listen_fd);
  tx_metrics_shutdown();
  if (!rc)
    tx_log(TX_LOG_INFO, "stopped");
  return rc;
}
