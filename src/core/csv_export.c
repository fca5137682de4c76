/**
 * @file core/csv_export.c
 * @brief Streamed CSV exports (see core/csv_export.h).
 *
 * Who touches an export: the request worker that answers the request (creates it, fetches the
 * first page); at most one page work item at a time (`busy`), on a worker; the stream's read and
 * closed callbacks, on the connection's network thread. `lock` guards the buffer and the flags;
 * the params and the cursor belong to whoever holds `busy`. The export is freed by whichever of
 * the closed callback and the page work is last (the closed callback when no page is in flight,
 * else the page work when it finds the export gone).
 *
 * Lock order: an export's lock, then the workers' queue lock (a page is queued under the export's
 * lock; workers run and shed with their queue unlocked) or a stream's lock (tx_stream_wake). The
 * stream calls our read outside its own lock, so the reverse order never happens.
 */
#include "core/csv_export.h"
#include "base/log.h"
#include "core/app.h"
#include "core/byte_queue.h"
#include "core/formats.h"
#include "core/metrics.h"
#include "core/routes.h"
#include "core/workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ulfius.h>

/** The page size an export fetches with when the request names no limit (api.page_limit's
 * maximum). */
#define CSV_PAGE "200"

/** Times in a row a page may wait too long for a worker and queue again before the export is
 * cut. */
#define CSV_SHED_RETRIES 3

/* Why an export was cut after its 200: the label of tianxing_csv_exports_cut_total. */
enum cut {
  CUT_DATABASE,  /* a page's transaction failed (database down, statement timeout, ...) */
  CUT_TOKEN,     /* the caller's token expired (or the caller lost access) during the export */
  CUT_ROW_LIMIT, /* more rows than TIANXING_CSV_MAX_ROWS */
  CUT_SHUTDOWN,  /* the service is draining */
  CUT_OVERLOAD,  /* a page waited too long for a request worker, CSV_SHED_RETRIES + 1 times */
  CUT_INTERNAL,  /* a page that is not a list, or memory ran out */
  CUT_N
};
static const char *const cut_label[CUT_N] = {"database", "token_expired", "row_limit",
                                             "shutdown", "overload", "internal"};

static struct {
  long max_rows;
  int max_open;
  int open;                        /* exports now (slots taken), atomic */
  unsigned long long rows_total;   /* CSV rows written, atomic */
  unsigned long long streamed;     /* exports answered as a stream, atomic */
  unsigned long long cut[CUT_N];   /* atomic */
} g;

struct export {
  pthread_mutex_t lock;
  struct tx_work work; /* the next page */
  struct tx_stream *stream; /* NULL once closed */
  /* What a page's transaction needs of the route's call, copied: a handler may build its call on
   * its stack (the customers list does), and the export outlives the handler. */
  struct tx_call call;
  const struct tx_formats *f;
  const char *params[TX_CALL_MAX_ARGS];
  char *owned[TX_CALL_MAX_ARGS];
  int cursor; /* the index of the `cursor` argument */
  char sub[TX_SUB_MAX + 1], roles[TX_ROLES_MAX], request_id[TX_REQUEST_ID_MAX + 1];
  bool has_sub, has_roles;
  long long exp; /* the token's: no page is fetched after it */
  const char *route;
  struct tx_byte_queue out; /* the CSV not yet sent */
  long long rows;
  int shed;    /* times the page in a row waited too long for a worker */
  bool busy;   /* a page is queued or running */
  bool done;   /* the last page is in the buffer */
  bool failed; /* cut: the reader ends the answer with an error */
  bool gone;   /* the stream is closed */
};

static void export_free(struct export *e)
{
  for (int i = 0; i < TX_CALL_MAX_ARGS; i++)
    free(e->owned[i]);
  tx_byte_queue_free(&e->out);
  pthread_mutex_destroy(&e->lock);
  free(e);
  __atomic_sub_fetch(&g.open, 1, __ATOMIC_SEQ_CST);
}

/* Cuts the export (lock held): the reader ends the answer with an error at its next call. */
static void cut(struct export *e, enum cut why, const char *detail)
{
  if (e->failed || e->gone)
    return;
  e->failed = true;
  __atomic_add_fetch(&g.cut[why], 1, __ATOMIC_RELAXED);
  tx_log(TX_LOG_WARN, "csv export %s of %s cut after %lld rows (%s%s%s): the client sees an "
         "incomplete transfer", e->request_id, e->route, e->rows, cut_label[why],
         detail ? ": " : "", detail ? detail : "");
  if (e->stream)
    tx_stream_wake(e->stream);
}

/* One page as the caller, from the export's cursor: its CSV rows appended to @p out, their count
 * in @p n and the next cursor (owned; NULL after the last page) in @p next. 0; -1 when the
 * transaction failed (@p o filled: the caller releases it); -2 when the answer is not a list. */
static int fetch_page(struct export *e, FILE *out, size_t *n, char **next,
                      struct tx_db_outcome *o)
{
  struct tx_claims claims = {e->has_sub ? e->sub : NULL, e->has_roles ? e->roles : NULL,
                             e->request_id};
  PGresult *res;
  *n = 0;
  *next = NULL;
  memset(o, 0, sizeof *o);
  if (tx_call_query(&e->call, e->call.sql, &claims, e->params, &res, o))
    return -1;
  json_t *j_page = NULL;
  if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
    j_page = json_loadb(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), 0, NULL);
  PQclear(res);
  json_t *j_items = json_object_get(j_page, "items");
  if (!json_is_array(j_items)) {
    json_decref(j_page);
    return -2;
  }
  size_t i;
  json_t *j_item;
  json_array_foreach(j_items, i, j_item)
    tx_csv_row(out, j_item, e->f->csv, e->f->ncsv);
  *n = json_array_size(j_items);
  const char *nc = json_string_value(json_object_get(j_page, "next_cursor"));
  *next = nc ? strdup(nc) : NULL;
  int rc = nc && !*next ? -2 : 0;
  json_decref(j_page);
  return rc;
}

/* Queues the next page (lock held, not busy). */
static void queue_page(struct export *e)
{
  e->busy = true;
  if (tx_workers_submit(&e->work)) {
    e->busy = false;
    cut(e, CUT_SHUTDOWN, "the request workers are stopping");
  }
}

/* Whether the export may fetch another page now (lock held); cuts it when not. */
static bool may_go_on(struct export *e)
{
  if (__atomic_load_n(&tx_app.draining, __ATOMIC_RELAXED)) {
    cut(e, CUT_SHUTDOWN, NULL);
    return false;
  }
  if (time(NULL) >= e->exp) {
    cut(e, CUT_TOKEN, "the token expired: export again with a fresh one");
    return false;
  }
  return true;
}

/* A worker's turn: one page. */
static void page_run(struct tx_work *w)
{
  struct export *e = (struct export *)(void *)((char *)w - offsetof(struct export, work));
  pthread_mutex_lock(&e->lock);
  bool go = !e->gone && may_go_on(e);
  pthread_mutex_unlock(&e->lock);

  char *bytes = NULL, *next = NULL;
  size_t len = 0, n = 0;
  int rc = 0;
  struct tx_db_outcome o = {0};
  if (go) {
    FILE *out = open_memstream(&bytes, &len);
    rc = out ? fetch_page(e, out, &n, &next, &o) : -2;
    if (out && fclose(out))
      rc = -2;
  }

  pthread_mutex_lock(&e->lock);
  e->busy = false;
  e->shed = 0;
  if (e->gone) {
    pthread_mutex_unlock(&e->lock);
    free(bytes);
    free(next);
    tx_db_outcome_free(&o);
    export_free(e);
    return;
  }
  if (!go) {
    /* cut by may_go_on */
  } else if (rc == -1) {
    bool denied = o.code == TX_E_UNAUTHORIZED || o.code == TX_E_FORBIDDEN;
    char detail[64];
    snprintf(detail, sizeof detail, "SQLSTATE %s", o.sqlstate);
    cut(e, denied ? CUT_TOKEN : CUT_DATABASE, detail);
  } else if (rc) {
    cut(e, CUT_INTERNAL, "a page that is not a list");
  } else if (e->rows + (long long)n > g.max_rows) {
    char detail[96];
    snprintf(detail, sizeof detail, "the list holds more than TIANXING_CSV_MAX_ROWS = %ld rows",
             g.max_rows);
    cut(e, CUT_ROW_LIMIT, detail);
  } else if (len && tx_byte_queue_append(&e->out, bytes, len)) {
    cut(e, CUT_INTERNAL, "out of memory");
  } else {
    e->rows += (long long)n;
    __atomic_add_fetch(&g.rows_total, n, __ATOMIC_RELAXED);
    free(e->owned[e->cursor]);
    e->owned[e->cursor] = next;
    e->params[e->cursor] = next;
    next = NULL;
    if (!e->params[e->cursor])
      e->done = true;
    else if (e->out.len < CSV_LOW_WATER)
      queue_page(e); /* the client keeps up: read ahead one more page */
    tx_stream_wake(e->stream);
  }
  pthread_mutex_unlock(&e->lock);
  free(bytes);
  free(next);
  tx_db_outcome_free(&o);
}

/* Waited too long for a worker (TIANXING_DB_POOL_TIMEOUT_MS): a request would be refused 503
 * now, but a long export half sent is worth a wait; it queues again, at the back, a few times
 * before it is cut (a service that stays overloaded must not keep exports open forever). */
static void page_shed(struct tx_work *w)
{
  struct export *e = (struct export *)(void *)((char *)w - offsetof(struct export, work));
  pthread_mutex_lock(&e->lock);
  e->busy = false;
  if (e->gone) {
    pthread_mutex_unlock(&e->lock);
    export_free(e);
    return;
  }
  if (e->shed++ < CSV_SHED_RETRIES)
    queue_page(e);
  else
    cut(e, CUT_OVERLOAD, "every request worker stayed busy");
  pthread_mutex_unlock(&e->lock);
}

/* Network thread: never blocks, never touches the database. */
static long stream_read(void *cls, char *buf, size_t max)
{
  struct export *e = cls;
  long n;
  pthread_mutex_lock(&e->lock);
  /* Draining: a drain must not wait for a long download; one fully fetched is let finish. */
  if (!e->done && __atomic_load_n(&tx_app.draining, __ATOMIC_RELAXED))
    cut(e, CUT_SHUTDOWN, NULL);
  if (e->failed) {
    n = TX_STREAM_FAILED;
  } else if (e->out.len) {
    n = (long)tx_byte_queue_take(&e->out, buf, max);
    if (!e->busy && !e->done && e->out.len < CSV_LOW_WATER)
      queue_page(e); /* drained below the mark: the next page (backpressure) */
  } else {
    n = e->done ? TX_STREAM_END : 0;
  }
  pthread_mutex_unlock(&e->lock);
  return n;
}

static void stream_closed(void *cls)
{
  struct export *e = cls;
  pthread_mutex_lock(&e->lock);
  e->gone = true;
  e->stream = NULL;
  if (!e->done && !e->failed)
    tx_log(TX_LOG_INFO, "csv export %s of %s: the client left after %lld rows", e->request_id,
           e->route, e->rows);
  bool last = !e->busy;
  pthread_mutex_unlock(&e->lock);
  if (last)
    export_free(e);
}

/* `attachment; filename="<last literal segment of the route>.csv"`: a browser saves the export
 * under a name that says what it is. */
static void csv_disposition(struct tx_req *r)
{
  const char *path = r->route ? r->route->path : "";
  const char *seg = "export";
  size_t seg_len = strlen(seg);
  for (const char *p = path; (p = strchr(p, '/')) != NULL;) {
    p++;
    size_t n = strcspn(p, "/");
    if (n && *p != '{')
      seg = p, seg_len = n;
  }
  char value[128];
  snprintf(value, sizeof value, "attachment; filename=\"%.*s.csv\"", (int)seg_len, seg);
  tx_reply_header(r, "Content-Disposition", value);
}

/* The export's own copy of the request: arguments, claims, expiry. -1 when memory ran out. */
static int copy_request(struct export *e, struct tx_req *r, const struct tx_call *call,
                        const char **params)
{
  e->call = (struct tx_call){.sql = call->sql, .read_only = call->read_only,
                             .replica = call->replica, .timeout_ms = call->timeout_ms};
  e->f = r->route->formats;
  e->route = r->route->path;
  e->cursor = -1;
  for (int i = 0; i < call->sql->nparams && i < TX_CALL_MAX_ARGS; i++) {
    const struct tx_arg *a = &call->args[i];
    if (a->kind == TX_ARG_QUERY_TEXT && !strcmp(a->name, "cursor"))
      e->cursor = i;
    const char *v = params[i];
    if (a->kind == TX_ARG_QUERY_INT && !strcmp(a->name, "limit") && !v)
      v = CSV_PAGE; /* fewer round trips; a given limit is the page size */
    if (v && !(e->owned[i] = strdup(v)))
      return -1;
    e->params[i] = e->owned[i];
  }
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  e->has_sub = claims.sub != NULL;
  e->has_roles = claims.roles != NULL;
  snprintf(e->sub, sizeof e->sub, "%s", claims.sub ? claims.sub : "");
  snprintf(e->roles, sizeof e->roles, "%s", claims.roles ? claims.roles : "");
  snprintf(e->request_id, sizeof e->request_id, "%s", r->request_id);
  /* Anonymous (no list route allows it today): no token to outlive, a day is plenty. */
  e->exp = r->user ? r->principal.exp : (long long)time(NULL) + 86400;
  return 0;
}

int tx_csv_export(struct tx_req *r, const struct tx_call *call, const char **params)
{
  if (__atomic_add_fetch(&g.open, 1, __ATOMIC_SEQ_CST) > g.max_open) {
    __atomic_sub_fetch(&g.open, 1, __ATOMIC_SEQ_CST);
    tx_reply_header(r, "Retry-After", "5");
    return tx_reply_problem(r, TX_E_SERVICE_BUSY, "Too many CSV exports are running; try again "
                            "shortly.", NULL);
  }
  struct export *e = calloc(1, sizeof *e);
  if (!e) {
    __atomic_sub_fetch(&g.open, 1, __ATOMIC_SEQ_CST);
    return tx_reply_problem(r, TX_E_SERVICE_BUSY, NULL, NULL);
  }
  pthread_mutex_init(&e->lock, NULL);
  e->work.run = page_run;
  e->work.shed = page_shed;
  if (copy_request(e, r, call, params)) {
    export_free(e);
    return tx_reply_problem(r, TX_E_SERVICE_BUSY, NULL, NULL);
  }

  /* The first page, before anything is promised. */
  FILE *out = open_memstream(&e->out.buf, &e->out.len);
  if (!out) {
    export_free(e);
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  }
  tx_csv_header(out, e->f->csv, e->f->ncsv);
  size_t n;
  char *next;
  struct tx_db_outcome o;
  int rc = fetch_page(e, out, &n, &next, &o);
  if (fclose(out) && !rc)
    rc = -2;
  e->out.cap = e->out.len + 1; /* open_memstream's buffer holds at least len + 1 bytes */
  if (rc == -1) {
    tx_reply_db_error(r, &o);
  } else if (rc) {
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  } else if ((long long)n > g.max_rows) {
    char detail[160];
    snprintf(detail, sizeof detail, "A CSV export holds at most %ld rows; narrow the filters (or "
             "page the JSON list).", g.max_rows);
    tx_reply_problem(r, TX_E_EXPORT_TOO_LARGE, detail, NULL);
  } else if (next && e->cursor < 0) {
    /* More pages and no way to ask for them: a bug, never a silently cut list. */
    tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  } else if (!next) {
    /* One page is the whole list: answered at once, with a Content-Length. */
    __atomic_add_fetch(&g.rows_total, n, __ATOMIC_RELAXED);
    csv_disposition(r);
    tx_reply_raw(r, 200, TX_CSV_CONTENT_TYPE, e->out.buf, e->out.len);
  } else {
    e->rows = (long long)n;
    __atomic_add_fetch(&g.rows_total, n, __ATOMIC_RELAXED);
    free(e->owned[e->cursor]);
    e->owned[e->cursor] = next;
    e->params[e->cursor] = next;
    next = NULL;
    struct tx_stream_source src = {stream_read, stream_closed, e};
    pthread_mutex_lock(&e->lock);
    e->stream = tx_reply_stream(r, 200, TX_CSV_CONTENT_TYPE, &src);
    if (e->stream) {
      __atomic_add_fetch(&g.streamed, 1, __ATOMIC_RELAXED);
      csv_disposition(r);
      if (e->out.len < CSV_LOW_WATER && may_go_on(e))
        queue_page(e);
      pthread_mutex_unlock(&e->lock);
      return r->status; /* the stream owns e now: stream_closed frees it */
    }
    pthread_mutex_unlock(&e->lock);
  }
  free(next);
  tx_db_outcome_free(&o);
  export_free(e);
  return r->status;
}

static void render_metrics(FILE *f)
{
  fprintf(f,
          "# HELP tianxing_csv_exports_open CSV exports running now (text/csv of a list).\n"
          "# TYPE tianxing_csv_exports_open gauge\ntianxing_csv_exports_open %d\n"
          "# HELP tianxing_csv_exports_max CSV exports allowed at once (TIANXING_CSV_EXPORTS).\n"
          "# TYPE tianxing_csv_exports_max gauge\ntianxing_csv_exports_max %d\n"
          "# HELP tianxing_csv_exports_streamed_total CSV exports answered as a stream (more than "
          "one page).\n"
          "# TYPE tianxing_csv_exports_streamed_total counter\n"
          "tianxing_csv_exports_streamed_total %llu\n"
          "# HELP tianxing_csv_rows_total CSV rows written by exports.\n"
          "# TYPE tianxing_csv_rows_total counter\ntianxing_csv_rows_total %llu\n"
          "# HELP tianxing_csv_exports_cut_total CSV exports cut after their 200 (the client saw "
          "an incomplete transfer), by reason.\n"
          "# TYPE tianxing_csv_exports_cut_total counter\n",
          __atomic_load_n(&g.open, __ATOMIC_RELAXED), g.max_open,
          __atomic_load_n(&g.streamed, __ATOMIC_RELAXED),
          __atomic_load_n(&g.rows_total, __ATOMIC_RELAXED));
  for (int i = 0; i < CUT_N; i++)
    fprintf(f, "tianxing_csv_exports_cut_total{reason=\"%s\"} %llu\n", cut_label[i],
            __atomic_load_n(&g.cut[i], __ATOMIC_RELAXED));
}

int tx_csv_export_init(const struct tx_config *cfg)
{
  g.max_rows = cfg->csv_max_rows;
  g.max_open = cfg->csv_exports;
  return tx_metrics_add_source(render_metrics);
}
