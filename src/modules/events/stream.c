/**
 * @file modules/events/stream.c
 * @brief GET /v1/events: business events as Server-Sent Events (issue 16), resumable with
 * Last-Event-ID, filtered by what the caller may see.
 *
 * One feeder thread serves every open stream of the process. An open stream holds no request
 * worker and no database connection: its connection sleeps (core/server.c suspends it) until the
 * feeder has something for it. The feeder polls the outbox's head (one row) a few times a second;
 * when it moved, it reads the new events for each stream in a short read-only transaction as that
 * stream's caller (events.after, sql/code/events: row-level security decides what each caller
 * may see, the same rules as the resources). Positions are taken in commit order (migration 0041),
 * so "after N" never misses an event that commits late, and the position is the SSE id: a client
 * that reconnects with Last-Event-ID gets exactly what it has not seen.
 *
 * Memory per stream is bounded: the feeder stops reading for a stream whose unsent bytes exceed
 * PENDING_MAX and resumes where it stopped once the client has caught up (nothing is dropped; a
 * client that never reads is closed by the connection timeout).
 */
#include "modules/events/stream.h"
#include "base/log.h"
#include "core/app.h"
#include "core/byte_queue.h"
#include "core/metrics.h"
#include "core/request.h"
#include "db/tx.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ulfius.h>

#define POLL_MS 250
#define PAGE "100"
/* Past this many unsent bytes a stream gets no more events until it drains (one page may still
 * arrive on top: at most 100 envelopes of ids, codes and states). */
#define PENDING_MAX 16384

struct client {
  struct client *next;
  struct tx_stream *stream;
  char sub[TX_SUB_MAX + 1];
  char roles[TX_ROLES_MAX];
  char request_id[TX_REQUEST_ID_MAX + 1];
  long long exp;       /* the token's: the stream ends with it (reconnect with a fresh one) */
  long long position;  /* the last position read for this caller (sent or pending) */
  struct tx_byte_queue unsent; /* what the feeder wrote and the client has not read yet */
  time_t last_write;   /* for heartbeats */
  bool ended;          /* no more data: the reader ends the answer once buf is sent */
  bool gone;           /* the connection is over; the feeder frees the client */
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  struct client *clients;
  int open, max_streams, heartbeat_s;
  bool running, stopping;
  pthread_t thread;
} hub = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static const struct tx_sql sql_head = {"events_stream_head",
                                       "SELECT position::text FROM events.head", 0};
static const struct tx_sql sql_after = {"events_stream_after",
                                        "SELECT events.after($1::bigint, $2::int)::text", 2};

/* Network thread (core/server.c's content reader). */
static long stream_read(void *cls, char *buf, size_t max)
{
  struct client *c = cls;
  long n;
  pthread_mutex_lock(&hub.lock);
  if (c->unsent.len) {
    n = (long)tx_byte_queue_take(&c->unsent, buf, max);
    if (c->unsent.len < PENDING_MAX / 2)
      pthread_cond_signal(&hub.wake); /* caught up: the feeder may read on for it */
  } else {
    n = c->ended ? -1 : 0;
  }
  pthread_mutex_unlock(&hub.lock);
  return n;
}

static void stream_closed(void *cls)
{
  struct client *c = cls;
  pthread_mutex_lock(&hub.lock);
  c->gone = true;
  c->stream = NULL;
  pthread_cond_signal(&hub.wake);
  pthread_mutex_unlock(&hub.lock);
}

/* Ends @p c's answer once what is pending is sent (hub lock held). */
static void end_stream(struct client *c)
{
  c->ended = true;
  if (c->stream)
    tx_stream_wake(c->stream);
}

/* The events after @p c's position that its caller may see, as SSE bytes (no hub lock held: a
 * database call). Returns 0, 1 when the caller is no longer allowed (end the stream), -1 on a
 * failure worth retrying at the next poll. */
static int fetch(const struct client *snap, long long *position, char **out, size_t *outlen)
{
  char after[24];
  snprintf(after, sizeof after, "%lld", *position);
  const char *params[] = {after, PAGE};
  struct tx_query q = {&sql_after, params};
  struct tx_claims claims = {snap->sub, snap->roles, snap->request_id};
  struct tx_db_outcome o;
  PGresult *res = NULL;
  json_t *j_page = NULL;
  FILE *f = NULL;
  int rc = -1;
  *out = NULL;
  *outlen = 0;
  if (tx_db_run(&claims, true, &q, 1, &res, &o)) {
    rc = o.code == TX_E_UNAUTHORIZED || o.code == TX_E_FORBIDDEN ? 1 : -1;
    if (rc < 0)
      tx_log(TX_LOG_WARN, "event stream %s: reading events failed (%s)", snap->request_id,
             o.sqlstate);
    tx_db_outcome_free(&o);
    return rc;
  }
  tx_db_outcome_free(&o);
  j_page = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
  json_t *j_items = json_object_get(j_page, "items");
  json_t *j_last = json_object_get(j_page, "last_position");
  if (!json_is_array(j_items) || !json_is_integer(j_last))
    goto out;
  f = open_memstream(out, outlen);
  if (!f)
    goto out;
  size_t i;
  json_t *j_e;
  json_array_foreach(j_items, i, j_e)
  {
    char *text = json_dumps(j_e, JSON_COMPACT); /* one line: JSON escapes every newline */
    json_t *j_type = json_object_get(j_e, "type");
    if (!text || !json_is_string(j_type)) {
      free(text);
      goto out;
    }
    fprintf(f, "id: %lld\nevent: %s\ndata: %s\n\n",
            (long long)json_integer_value(json_object_get(j_e, "position")),
            json_string_value(j_type), text);
    free(text);
  }
  if (fclose(f)) {
    f = NULL;
    goto out;
  }
  f = NULL;
  *position = (long long)json_integer_value(j_last);
  rc = 0;
out:
  if (f)
    fclose(f);
  if (rc) {
    free(*out);
    *out = NULL;
    *outlen = 0;
  }
  json_decref(j_page);
  PQclear(res);
  return rc;
}

/* The outbox's head, or -1 when the database did not answer. */
static long long head_position(void)
{
  struct tx_query q = {&sql_head, NULL};
  struct tx_claims claims = {NULL, NULL, "events-stream"};
  struct tx_db_outcome o;
  PGresult *res = NULL;
  long long v = -1;
  if (!tx_db_run(&claims, true, &q, 1, &res, &o) && PQntuples(res) == 1)
    v = tx_parse_decimal(PQgetvalue(res, 0, 0));
  tx_db_outcome_free(&o);
  PQclear(res);
  return v;
}

/* One round: free what is gone, end what must end, read new events for each stream that is
 * behind and has room, heartbeat the quiet ones. Called with the hub lock held; drops it around
 * database calls. */
static void round_once(long long head, bool draining)
{
  time_t now = time(NULL);
  for (struct client **pp = &hub.clients; *pp;) {
    struct client *c = *pp;
    if (c->gone) {
      *pp = c->next;
      hub.open--;
      tx_byte_queue_free(&c->unsent);
      free(c);
      continue;
    }
    pp = &c->next;
    if (c->ended)
      continue;
    if (draining || now >= c->exp) {
      end_stream(c);
      continue;
    }
    if (head > c->position && c->unsent.len < PENDING_MAX) {
      struct client snap = *c; /* claims, read without the lock */
      long long position = c->position;
      char *bytes;
      size_t n;
      pthread_mutex_unlock(&hub.lock);
      int rc = fetch(&snap, &position, &bytes, &n);
      pthread_mutex_lock(&hub.lock);
      /* c is still in the list (only this thread frees), maybe gone meanwhile. */
      if (rc == 1) {
        end_stream(c);
      } else if (rc == 0 && !c->gone) {
        if (n && tx_byte_queue_append(&c->unsent, bytes, n)) {
          end_stream(c); /* out of memory: the client resumes with Last-Event-ID */
        } else {
          c->position = position;
          if (n) {
            c->last_write = now;
            tx_stream_wake(c->stream);
          }
        }
      }
      free(bytes);
      continue;
    }
    if (now - c->last_write >= hub.heartbeat_s) {
      static const char beat[] = ": heartbeat\n\n";
      /* Also how a client that went away is noticed: its connection sleeps otherwise. */
      if (!tx_byte_queue_append(&c->unsent, beat, sizeof beat - 1)) {
        c->last_write = now;
        tx_stream_wake(c->stream);
      }
    }
  }
}

static void *feeder(void *arg)
{
  (void)arg;
  long long head = 0;
  pthread_mutex_lock(&hub.lock);
  while (!hub.stopping || hub.clients) {
    bool draining = hub.stopping || __atomic_load_n(&tx_app.draining, __ATOMIC_RELAXED);
    if (hub.clients && !draining) {
      pthread_mutex_unlock(&hub.lock);
      long long h = head_position();
      pthread_mutex_lock(&hub.lock);
      if (h >= 0)
        head = h;
    }
    round_once(head, draining);
    if (hub.stopping && !hub.clients)
      break;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += POLL_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&hub.wake, &hub.lock, &until);
  }
  pthread_mutex_unlock(&hub.lock);
  return NULL;
}

static void render_metrics(FILE *f)
{
  pthread_mutex_lock(&hub.lock);
  int n = hub.open;
  pthread_mutex_unlock(&hub.lock);
  fprintf(f,
          "# HELP tianxing_event_streams_open Server-Sent Events streams open now (GET /v1/events).\n"
          "# TYPE tianxing_event_streams_open gauge\ntianxing_event_streams_open %d\n"
          "# HELP tianxing_event_streams_max Streams allowed at once (TIANXING_EVENT_STREAMS).\n"
          "# TYPE tianxing_event_streams_max gauge\ntianxing_event_streams_max %d\n",
          n, hub.max_streams);
}

int tx_events_stream_start(int max_streams, int heartbeat_s)
{
  if (tx_metrics_add_source(render_metrics))
    return -1;
  hub.max_streams = max_streams;
  hub.heartbeat_s = heartbeat_s;
  hub.stopping = false;
  if (pthread_create(&hub.thread, NULL, feeder, NULL))
    return -1;
  hub.running = true;
  return 0;
}

void tx_events_stream_stop(void)
{
  if (!hub.running)
    return;
  pthread_mutex_lock(&hub.lock);
  hub.stopping = true;
  pthread_cond_signal(&hub.wake);
  pthread_mutex_unlock(&hub.lock);
  pthread_join(hub.thread, NULL);
  hub.running = false;
}

/* Where the stream starts: Last-Event-ID (a reconnecting EventSource sends it), else ?after=,
 * else the head (only what happens from now on). -1: malformed (answered), -2: use the head. */
static long long start_position(struct tx_req *r)
{
  const char *last = u_map_get_case(r->u->map_header, "Last-Event-ID");
  const char *after = u_map_get(r->u->map_url, "after");
  const char *given = last ? last : after;
  if (!given)
    return -2;
  long long v = tx_parse_decimal(given);
  if (v < 0) {
    json_t *j_errors = json_pack("[{ssssss}]", "field", last ? "Last-Event-ID" : "after", "code",
                                 "invalid", "message", "must be an event position (0 or more)");
    tx_reply_problem(r, TX_E_VALIDATION_FAILED, "The position to resume from is not valid.",
                     j_errors);
  }
  return v;
}

int tx_events_stream(struct tx_req *r)
{
  struct client *c = NULL;
  long long from = start_position(r);
  if (from == -1)
    return r->status;
  /* The caller's first transaction: checks the employee is still active (401 otherwise) before
   * anything is promised, and reads the head to start from. */
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  struct tx_query q = {&sql_head, NULL};
  struct tx_db_outcome o;
  PGresult *res = NULL;
  if (tx_db_run(&claims, true, &q, 1, &res, &o))
    return tx_reply_db_error(r, &o);
  tx_db_outcome_free(&o);
  long long head = tx_parse_decimal(PQgetvalue(res, 0, 0));
  PQclear(res);
  if (from == -2)
    from = head;
  else if (from > head)
    return tx_reply_problem(r, TX_E_VALIDATION_FAILED,
                            "The position to resume from is beyond the newest event.", NULL);

  c = calloc(1, sizeof *c);
  if (!c)
    return tx_reply_problem(r, TX_E_SERVICE_BUSY, NULL, NULL);
  snprintf(c->sub, sizeof c->sub, "%s", r->principal.sub);
  snprintf(c->roles, sizeof c->roles, "%s", r->principal.roles);
  snprintf(c->request_id, sizeof c->request_id, "%s", r->request_id);
  c->exp = r->principal.exp;
  c->position = from;
  c->last_write = time(NULL);
  /* The reconnection delay for EventSource, and a first chunk so the client knows it is open. */
  static const char hello[] = "retry: 2000\n: open\n\n";

  pthread_mutex_lock(&hub.lock);
  if (!hub.running || hub.open >= hub.max_streams) {
    pthread_mutex_unlock(&hub.lock);
    free(c);
    tx_reply_header(r, "Retry-After", "5");
    return tx_reply_problem(r, TX_E_SERVICE_BUSY, "Too many event streams are open.", NULL);
  }
  if (tx_byte_queue_append(&c->unsent, hello, sizeof hello - 1)) {
    pthread_mutex_unlock(&hub.lock);
    free(c);
    return tx_reply_problem(r, TX_E_SERVICE_BUSY, NULL, NULL);
  }
  struct tx_stream_source src = {stream_read, stream_closed, c};
  c->stream = tx_reply_stream(r, 200, "text/event-stream; charset=utf-8", &src);
  if (!c->stream) {
    pthread_mutex_unlock(&hub.lock);
    tx_byte_queue_free(&c->unsent);
    free(c);
    return r->status;
  }
  c->next = hub.clients;
  hub.clients = c;
  hub.open++;
  pthread_cond_signal(&hub.wake);
  pthread_mutex_unlock(&hub.lock);
  return r->status;
}
