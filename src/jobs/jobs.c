/**
 * @file jobs/jobs.c
 * @brief The scheduler: kind registry, worker threads, claim / run / finish / fail / release, and
 * the jobs metrics. The rules (leases, backoff, dead, periodic occurrences) are in SQL
 * (0013_jobs.sql), so that every instance applies the same ones under the same locks.
 */
#include "jobs/jobs.h"
#include "base/log.h"
#include "db/pool.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Registry: grows with the code (no fixed limit), frozen once the workers start. */
static const struct tx_job_kind **kinds;
static size_t nkinds, cap_kinds;

/* Per kind counters (index as in kinds), allocated at start. */
struct kind_stats {
  uint64_t started, done, failed, dead, lost, released;
};
static struct kind_stats *stats;

/* Queue gauges, sampled by the workers while idle. */
static struct {
  pthread_mutex_t lock;
  long due, running, dead;
  double lag_s;
  bool valid;
  struct timespec at;
} queue = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, false, {0, 0}};

struct worker {
  int index;
  pthread_t thread;
  bool started;
  PGconn *pg;
  char name[160];
  pthread_mutex_t lock;  /* guards cancel and busy */
  PGcancel *cancel;      /* of the running job's connection, while busy */
  bool busy;
  bool cancelled;        /* the stop deadline cancelled its job */
};

static struct {
  struct tx_jobs_options opt;
  char *url;
  char *kinds_json; /* {"kind": {"lease_s":..,"max_attempts":..,...}} for jobs.claim / jobs.fail */
  struct worker *workers;
  int nworkers;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int stopping;                 /* read atomically */
  struct timespec stop_seen;    /* when a worker first saw the stop flag (monotonic) */
  bool stop_seen_set;
  bool running;
} sched = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool kind_name_valid(const char *s)
{
  /* Same rule as jobs.jobs.kind: lower-case words joined by dots. */
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 100 || s[0] < 'a' || s[0] > 'z')
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (c == '.') {
      if (i + 1 >= n || s[i + 1] < 'a' || s[i + 1] > 'z')
        return false;
    } else if (!word) {
      return false;
    }
  }
  return true;
}

int tx_jobs_register(const struct tx_job_kind *kind)
{
  if (sched.running || !kind || !kind_name_valid(kind->name) || !kind->sql == !kind->run ||
      (kind->after && !kind->run) ||
      tx_jobs_kind(kind->name) || kind->max_attempts < 0 || kind->max_attempts > 100 ||
      kind->lease_s < 0 || kind->backoff_s < 0 || kind->backoff_max_s < 0) {
    tx_log(TX_LOG_ERROR, "jobs: cannot register kind %s", kind && kind->name ? kind->name : "(null)");
    return -1;
  }
  if (nkinds == cap_kinds) {
    size_t cap = cap_kinds ? cap_kinds * 2 : 8;
    const struct tx_job_kind **k = realloc(kinds, cap * sizeof *k);
    if (!k)
      return -1;
    kinds = k;
    cap_kinds = cap;
  }
  kinds[nkinds++] = kind;
  return 0;
}

const struct tx_job_kind *tx_jobs_kind(const char *name)
{
  for (size_t i = 0; i < nkinds; i++)
    if (!strcmp(kinds[i]->name, name))
      return kinds[i];
  return NULL;
}

size_t tx_jobs_kind_count(void) { return nkinds; }

void tx_jobs_reset(void)
{
  free(kinds);
  kinds = NULL;
  nkinds = cap_kinds = 0;
}

static int kind_index(const char *name)
{
  for (size_t i = 0; i < nkinds; i++)
    if (!strcmp(kinds[i]->name, name))
      return (int)i;
  return -1;
}

static int or_default(int v, int d) { return v > 0 ? v : d; }

static char *build_kinds_json(void)
{
  json_t *j_all = json_object();
  for (size_t i = 0; i < nkinds; i++) {
    const struct tx_job_kind *k = kinds[i];
    json_object_set_new(j_all, k->name,
                        json_pack("{sisisisi}", "max_attempts",
                                  or_default(k->max_attempts, TX_JOB_DEFAULT_MAX_ATTEMPTS), "lease_s",
                                  or_default(k->lease_s, TX_JOB_DEFAULT_LEASE_S), "backoff_s",
                                  or_default(k->backoff_s, TX_JOB_DEFAULT_BACKOFF_S), "backoff_max_s",
                                  or_default(k->backoff_max_s, TX_JOB_DEFAULT_BACKOFF_MAX_S)));
  }
  char *s = json_dumps(j_all, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(j_all);
  return s;
}

static bool stop_requested(void)
{
  if (__atomic_load_n(&sched.stopping, __ATOMIC_SEQ_CST))
    return true;
  if (sched.opt.stop_flag && __atomic_load_n(sched.opt.stop_flag, __ATOMIC_SEQ_CST)) {
    pthread_mutex_lock(&sched.lock);
    if (!sched.stop_seen_set) {
      clock_gettime(CLOCK_MONOTONIC, &sched.stop_seen);
      sched.stop_seen_set = true;
    }
    pthread_mutex_unlock(&sched.lock);
    return true;
  }
  return false;
}

/* Sleeps up to ms, or until tx_jobs_stop() wakes everyone. */
static void idle_wait(int ms)
{
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&sched.lock);
  while (!__atomic_load_n(&sched.stopping, __ATOMIC_SEQ_CST)) {
    if (pthread_cond_timedwait(&sched.wake, &sched.lock, &until) == ETIMEDOUT)
      break;
  }
  pthread_mutex_unlock(&sched.lock);
}

/* Runs one statement; 0 when its status is the expected one. On failure *err gets
 * "SQLSTATE message" and *sqlstate the state (both may be NULL). */
static int exec_params(PGconn *pg, const char *sql, int n, const char *const *params, PGresult **out,
                       char *err, size_t errlen, char sqlstate[6])
{
  PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
    if (out)
      *out = res;
    else
      PQclear(res);
    return 0;
  }
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (sqlstate)
    snprintf(sqlstate, 6, "%s", state ? state : "08006");
  if (err)
    snprintf(err, errlen, "%s %s", state ? state : "08006",
             msg ? msg : (PQstatus(pg) == CONNECTION_OK ? "failed" : "connection lost"));
  PQclear(res);
  if (out)
    *out = NULL;
  return -1;
}

static void rollback(PGconn *pg)
{
  if (PQtransactionStatus(pg) != PQTRANS_IDLE)
    PQclear(PQexec(pg, "ROLLBACK"));
}

/* BEGIN and the scheduler's claims: no employee, the role system, the request id for the audit
 * trail. */
static int begin_system(PGconn *pg, const char *request_id, char *err, size_t errlen)
{
  const char *p[] = {request_id};
  if (exec_params(pg, "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL, NULL, err, errlen, NULL) ||
      exec_params(pg,
                  "SELECT set_config('tx.user_id', '', true), set_config('tx.roles', 'system', true),"
                  " set_config('tx.department_id', '', true), set_config('tx.request_id', $1, true)",
                  1, p, NULL, err, errlen, NULL)) {
    rollback(pg);
    return -1;
  }
  return 0;
}

static int commit(PGconn *pg, char *err, size_t errlen, char sqlstate[6])
{
  if (exec_params(pg, "COMMIT", 0, NULL, NULL, err, errlen, sqlstate)) {
    rollback(pg);
    return -1;
  }
  return 0;
}

static void sample_queue(struct worker *w)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  pthread_mutex_lock(&queue.lock);
  /* One sample per poll interval is plenty, whichever worker takes it. */
  long since_ms = (now.tv_sec - queue.at.tv_sec) * 1000 + (now.tv_nsec - queue.at.tv_nsec) / 1000000;
  bool take = !queue.valid || since_ms >= sched.opt.poll_ms;
  if (take)
    queue.at = now;
  pthread_mutex_unlock(&queue.lock);
  if (!take)
    return;
  char err[256];
  PGresult *res = NULL;
  if (begin_system(w->pg, "jobs:stats", err, sizeof err))
    return;
  int rc = exec_params(w->pg, "SELECT due, running, dead, lag_seconds FROM jobs.stats()", 0, NULL, &res,
                       err, sizeof err, NULL);
  if (rc == 0 && PQntuples(res) == 1) {
    pthread_mutex_lock(&queue.lock);
    queue.due = atol(PQgetvalue(res, 0, 0));
    queue.running = atol(PQgetvalue(res, 0, 1));
    queue.dead = atol(PQgetvalue(res, 0, 2));
    queue.lag_s = atof(PQgetvalue(res, 0, 3));
    queue.valid = true;
    pthread_mutex_unlock(&queue.lock);
  }
  PQclear(res);
  rollback(w->pg);
}

struct claimed {
  char id[40];
  char kind[128];
  char *payload;
  int attempt;
  char run[24];
};

/* 1: a job was claimed into *c; 0: nothing due; -1: error (logged). */
static int claim(struct worker *w, struct claimed *c)
{
  char err[512];
  PGresult *res = NULL;
  int rc = -1;
  const char *p[] = {w->name, sched.kinds_json};
  if (begin_system(w->pg, "jobs:claim", err, sizeof err))
    goto out;
  if (exec_params(w->pg, "SELECT job_id, kind, payload, attempt, run_id FROM jobs.claim($1, $2::jsonb)",
                  2, p, &res, err, sizeof err, NULL)) {
    rollback(w->pg);
    goto out;
  }
  if (commit(w->pg, err, sizeof err, NULL))
    goto out;
  if (PQntuples(res) == 0) {
    rc = 0;
    goto out;
  }
  snprintf(c->id, sizeof c->id, "%s", PQgetvalue(res, 0, 0));
  snprintf(c->kind, sizeof c->kind, "%s", PQgetvalue(res, 0, 1));
  c->payload = strdup(PQgetvalue(res, 0, 2));
  c->attempt = atoi(PQgetvalue(res, 0, 3));
  snprintf(c->run, sizeof c->run, "%s", PQgetvalue(res, 0, 4));
  rc = c->payload ? 1 : -1;
out:
  if (rc < 0)
    tx_log(TX_LOG_WARN, "jobs: %s: claim failed: %s", w->name, err);
  PQclear(res);
  return rc;
}

static void set_busy(struct worker *w, bool busy)
{
  pthread_mutex_lock(&w->lock);
  if (busy) {
    w->cancel = PQgetCancel(w->pg);
    w->cancelled = false;
  } else if (w->cancel) {
    PQfreeCancel(w->cancel);
    w->cancel = NULL;
  }
  w->busy = busy;
  pthread_mutex_unlock(&w->lock);
}

/* Second transaction after a failed run: the attempt is recorded, and the job is due again
 * later or dead. */
static void after_failure(struct worker *w, const struct claimed *c, int ki, const char *why)
{
  char err[512], rid[64];
  PGresult *res = NULL;
  const char *p[] = {c->id, c->run, why, sched.kinds_json};
  snprintf(rid, sizeof rid, "job:%s", c->id);
  if (begin_system(w->pg, rid, err, sizeof err) ||
      exec_params(w->pg, "SELECT jobs.fail($1::uuid, $2::bigint, $3, $4::jsonb)", 4, p, &res, err,
                  sizeof err, NULL) ||
      commit(w->pg, err, sizeof err, NULL)) {
    rollback(w->pg);
    tx_log(TX_LOG_WARN, "jobs: %s: could not record the failure of job %s (its lease will expire): %s",
           w->name, c->id, err);
    PQclear(res);
    return;
  }
  const char *state = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : NULL;
  if (state && !strcmp(state, "dead")) {
    __atomic_add_fetch(&stats[ki].dead, 1, __ATOMIC_RELAXED);
    tx_log(TX_LOG_ERROR, "jobs: job %s (%s) is dead after %d attempts: %s", c->id, c->kind, c->attempt,
           why);
  } else {
    tx_log(TX_LOG_WARN, "jobs: job %s (%s) attempt %d failed%s: %s", c->id, c->kind, c->attempt,
           state ? ", will retry" : " (no longer ours)", why);
  }
  PQclear(res);
}

static void release(struct worker *w, const struct claimed *c, int ki)
{
  char err[512], rid[64];
  const char *p[] = {c->id, c->run};
  snprintf(rid, sizeof rid, "job:%s", c->id);
  if (begin_system(w->pg, rid, err, sizeof err) ||
      exec_params(w->pg, "SELECT jobs.release($1::uuid, $2::bigint)", 2, p, NULL, err, sizeof err, NULL) ||
      commit(w->pg, err, sizeof err, NULL)) {
    rollback(w->pg);
    tx_log(TX_LOG_WARN, "jobs: %s: could not release job %s (its lease will expire): %s", w->name,
           c->id, err);
    return;
  }
  __atomic_add_fetch(&stats[ki].released, 1, __ATOMIC_RELAXED);
  tx_log(TX_LOG_INFO, "jobs: released job %s (%s) at shutdown", c->id, c->kind);
}

/* The job's own transaction: begin_run, the kind's work, finish, commit. */
static void run_job(struct worker *w, struct claimed *c)
{
  int ki = kind_index(c->kind);
  if (ki < 0) { /* jobs.claim returns registered kinds only */
    release(w, c, 0);
    return;
  }
  const struct tx_job_kind *k = kinds[ki];
  char err[512] = "", sqlstate[6] = "", rid[64], timeout[16];
  const char *p_job[] = {c->id, c->run};
  const char *p_to[] = {timeout};
  struct timespec t0, t1;
  int rc = -1;
  struct tx_job_ctx ctx = {w->pg, c->id, c->kind, c->payload, c->attempt, "", NULL, false};
  bool run_ok = false;

  __atomic_add_fetch(&stats[ki].started, 1, __ATOMIC_RELAXED);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  snprintf(rid, sizeof rid, "job:%s", c->id);
  /* The work must end before the lease does, or another instance could take the job while it
   * still runs (the row lock of begin_run prevents that too; the timeout bounds a hung run). */
  snprintf(timeout, sizeof timeout, "%d", or_default(k->lease_s, TX_JOB_DEFAULT_LEASE_S) * 1000);
  set_busy(w, true);
  if (begin_system(w->pg, rid, err, sizeof err))
    goto done;
  /* A C handler may also work outside the database between statements (e.g. a webhook call):
   * the connection's idle-in-transaction limit (made for requests) must not cut it short. */
  if (exec_params(w->pg,
                  "SELECT set_config('statement_timeout', $1, true),"
                  " set_config('idle_in_transaction_session_timeout', $1, true)",
                  1, p_to, NULL, err, sizeof err, sqlstate) ||
      exec_params(w->pg, "SELECT jobs.begin_run($1::uuid, $2::bigint)", 2, p_job, NULL, err, sizeof err,
                  sqlstate))
    goto done;
  if (k->sql) {
    const char *p[] = {c->payload};
    if (exec_params(w->pg, k->sql, 1, p, NULL, err, sizeof err, sqlstate))
      goto done;
  } else {
    if (k->run(&ctx)) {
      snprintf(err, sizeof err, "%s", ctx.error[0] ? ctx.error : "the handler failed");
      goto done;
    }
    run_ok = true;
  }
  if (exec_params(w->pg, "SELECT jobs.finish($1::uuid, $2::bigint)", 2, p_job, NULL, err, sizeof err,
                  sqlstate) ||
      commit(w->pg, err, sizeof err, sqlstate))
    goto done;
  rc = 0;
done:
  rollback(w->pg);
  if (run_ok && k->after) {
    /* Outside any transaction (the run's has ended either way); not cancellable by PQcancel,
     * so not busy: the stop waits for it by joining the thread, bounded by the hook's own
     * timeouts. */
    set_busy(w, false);
    ctx.committed = rc == 0;
    ctx.error[0] = '\0';
    k->after(&ctx);
  }
  pthread_mutex_lock(&w->lock);
  bool cancelled = w->cancelled;
  pthread_mutex_unlock(&w->lock);
  set_busy(w, false);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (rc == 0) {
    __atomic_add_fetch(&stats[ki].done, 1, __ATOMIC_RELAXED);
    tx_log(TX_LOG_INFO, "jobs: job %s (%s) done in %.3f s (attempt %d)", c->id, c->kind, secs,
           c->attempt);
    return;
  }
  if (PQstatus(w->pg) != CONNECTION_OK) {
    /* Whether it committed is unknown: the lease decides (finish is in the same transaction). */
    tx_log(TX_LOG_WARN, "jobs: %s: connection lost running job %s: %s", w->name, c->id, err);
    PQfinish(w->pg);
    w->pg = NULL;
    return;
  }
  if (!strcmp(sqlstate, "TXLSE")) {
    __atomic_add_fetch(&stats[ki].lost, 1, __ATOMIC_RELAXED);
    tx_log(TX_LOG_WARN, "jobs: job %s (%s): %s", c->id, c->kind, err);
    return;
  }
  if (cancelled || (stop_requested() && !strcmp(sqlstate, "57014"))) {
    release(w, c, ki);
    return;
  }
  __atomic_add_fetch(&stats[ki].failed, 1, __ATOMIC_RELAXED);
  after_failure(w, c, ki, err);
}

int tx_jobs_system_call(struct tx_job_ctx *ctx, const char *sql, int nparams,
                        const char *const *params, char **out_text)
{
  char rid[64];
  PGresult *res = NULL;
  int rc = -1;
  if (out_text)
    *out_text = NULL;
  snprintf(rid, sizeof rid, "job:%s", ctx->job_id);
  if (!ctx->pg || PQstatus(ctx->pg) != CONNECTION_OK) {
    snprintf(ctx->error, sizeof ctx->error, "no database connection");
    return -1;
  }
  if (begin_system(ctx->pg, rid, ctx->error, sizeof ctx->error))
    return -1;
  if (exec_params(ctx->pg, sql, nparams, params, &res, ctx->error, sizeof ctx->error, NULL))
    goto out;
  if (out_text && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0)) {
    *out_text = strdup(PQgetvalue(res, 0, 0));
    if (!*out_text) {
      snprintf(ctx->error, sizeof ctx->error, "out of memory");
      goto out;
    }
  }
  if (commit(ctx->pg, ctx->error, sizeof ctx->error, NULL)) {
    if (out_text) {
      free(*out_text);
      *out_text = NULL;
    }
    goto out;
  }
  rc = 0;
out:
  PQclear(res);
  rollback(ctx->pg);
  return rc;
}

static void *worker_main(void *arg)
{
  struct worker *w = arg;
  int connect_failures = 0;
  while (!stop_requested()) {
    if (!w->pg) {
      char err[512];
      w->pg = tx_db_connect(sched.url, "tianxingd-jobs", sched.opt.connect_timeout_s,
                            sched.opt.statement_timeout_ms, err, sizeof err);
      if (!w->pg) {
        if (connect_failures++ % 30 == 0)
          tx_log(TX_LOG_WARN, "jobs: %s: cannot connect: %s", w->name, err);
        idle_wait(sched.opt.poll_ms < 1000 ? 1000 : sched.opt.poll_ms);
        continue;
      }
      connect_failures = 0;
    }
    struct claimed c = {0};
    int got = claim(w, &c);
    if (got == 1) {
      if (stop_requested()) {
        /* Claimed as the stop came: hand it straight back. */
        release(w, &c, kind_index(c.kind));
      } else {
        run_job(w, &c);
      }
      free(c.payload);
      continue;
    }
    if (got < 0 && PQstatus(w->pg) != CONNECTION_OK) {
      PQfinish(w->pg);
      w->pg = NULL;
    }
    if (w->pg)
      sample_queue(w);
    idle_wait(sched.opt.poll_ms);
  }
  if (w->pg)
    PQfinish(w->pg);
  w->pg = NULL;
  return NULL;
}

int tx_jobs_start(const struct tx_jobs_options *opt)
{
  if (sched.running || opt->workers < 1 || opt->poll_ms < 1)
    return -1;
  sched.opt = *opt;
  sched.url = strdup(opt->database_url);
  sched.kinds_json = build_kinds_json();
  stats = calloc(nkinds ? nkinds : 1, sizeof *stats);
  sched.workers = calloc((size_t)opt->workers, sizeof *sched.workers);
  if (!sched.url || !sched.kinds_json || !stats || !sched.workers)
    return -1;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&sched.wake, &attr);
  pthread_condattr_destroy(&attr);
  char host[64] = "host";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  sched.nworkers = opt->workers;
  sched.running = true;
  for (int i = 0; i < opt->workers; i++) {
    struct worker *w = &sched.workers[i];
    w->index = i;
    pthread_mutex_init(&w->lock, NULL);
    snprintf(w->name, sizeof w->name, "%s:%ld:%d", host, (long)getpid(), i + 1);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      tx_log(TX_LOG_ERROR, "jobs: cannot start worker %d", i + 1);
      tx_jobs_stop(0);
      return -1;
    }
    w->started = true;
  }
  tx_log(TX_LOG_INFO, "jobs: %d workers, %zu kinds, polling every %d ms", opt->workers, nkinds,
         opt->poll_ms);
  return 0;
}

static bool any_busy(void)
{
  for (int i = 0; i < sched.nworkers; i++) {
    struct worker *w = &sched.workers[i];
    pthread_mutex_lock(&w->lock);
    bool b = w->busy;
    pthread_mutex_unlock(&w->lock);
    if (b)
      return true;
  }
  return false;
}

void tx_jobs_stop(int grace_s)
{
  if (!sched.running)
    return;
  struct timespec now, deadline;
  clock_gettime(CLOCK_MONOTONIC, &now);
  pthread_mutex_lock(&sched.lock);
  deadline = sched.stop_seen_set ? sched.stop_seen : now;
  __atomic_store_n(&sched.stopping, 1, __ATOMIC_SEQ_CST);
  pthread_cond_broadcast(&sched.wake);
  pthread_mutex_unlock(&sched.lock);
  deadline.tv_sec += grace_s;
  /* Running jobs finish within the grace period, or are cancelled: the database rolls their
   * work back and the worker releases the claim. */
  for (;;) {
    if (!any_busy())
      break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > deadline.tv_sec ||
        (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) {
      for (int i = 0; i < sched.nworkers; i++) {
        struct worker *w = &sched.workers[i];
        pthread_mutex_lock(&w->lock);
        if (w->busy && w->cancel && !w->cancelled) {
          char buf[256];
          w->cancelled = true;
          if (!PQcancel(w->cancel, buf, sizeof buf))
            tx_log(TX_LOG_WARN, "jobs: %s: cancel failed: %s", w->name, buf);
          else
            tx_log(TX_LOG_WARN, "jobs: %s: grace period over, cancelling its job", w->name);
        }
        pthread_mutex_unlock(&w->lock);
      }
      break;
    }
    usleep(20000);
  }
  for (int i = 0; i < sched.nworkers; i++) {
    struct worker *w = &sched.workers[i];
    if (w->started)
      pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
  }
  free(sched.workers);
  sched.workers = NULL;
  sched.nworkers = 0;
  free(sched.url);
  free(sched.kinds_json);
  sched.url = sched.kinds_json = NULL;
  pthread_cond_destroy(&sched.wake);
  sched.running = false;
  tx_log(TX_LOG_INFO, "jobs: stopped");
}

void tx_jobs_metrics_render(FILE *f)
{
  fprintf(f, "# HELP tianxing_jobs_workers Job worker threads of this instance (0: TIANXING_JOBS=off).\n"
             "# TYPE tianxing_jobs_workers gauge\ntianxing_jobs_workers %d\n",
          sched.running ? sched.nworkers : 0);
  if (!sched.running || !stats)
    return;
  static const struct {
    const char *name, *help;
    size_t off;
  } counters[] = {
    {"tianxing_jobs_started_total", "Job attempts this instance started, by kind.",
     offsetof(struct kind_stats, started)},
    {"tianxing_jobs_done_total", "Jobs this instance ran to completion, by kind.",
     offsetof(struct kind_stats, done)},
    {"tianxing_jobs_failed_total", "Job attempts that failed here (retried or dead), by kind.",
     offsetof(struct kind_stats, failed)},
    {"tianxing_jobs_dead_total", "Jobs that used up their attempts here, by kind.",
     offsetof(struct kind_stats, dead)},
    {"tianxing_jobs_lost_total", "Job attempts whose claim had expired and passed on, by kind.",
     offsetof(struct kind_stats, lost)},
    {"tianxing_jobs_released_total", "Job claims handed back at shutdown, by kind.",
     offsetof(struct kind_stats, released)},
  };
  for (size_t c = 0; c < sizeof counters / sizeof counters[0]; c++) {
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help,
            counters[c].name);
    for (size_t i = 0; i < nkinds; i++) {
      uint64_t *v = (uint64_t *)((char *)&stats[i] + counters[c].off);
      fprintf(f, "%s{kind=\"%s\"} %lu\n", counters[c].name, kinds[i]->name,
              (unsigned long)__atomic_load_n(v, __ATOMIC_RELAXED));
    }
  }
  pthread_mutex_lock(&queue.lock);
  if (queue.valid)
    fprintf(f,
            "# HELP tianxing_jobs_due Jobs due now and not started (all instances).\n"
            "# TYPE tianxing_jobs_due gauge\ntianxing_jobs_due %ld\n"
            "# HELP tianxing_jobs_running Jobs claimed and running (all instances).\n"
            "# TYPE tianxing_jobs_running gauge\ntianxing_jobs_running %ld\n"
            "# HELP tianxing_jobs_dead Jobs dead, waiting for an operator.\n"
            "# TYPE tianxing_jobs_dead gauge\ntianxing_jobs_dead %ld\n"
            "# HELP tianxing_jobs_lag_seconds How long the oldest due job has waited.\n"
            "# TYPE tianxing_jobs_lag_seconds gauge\ntianxing_jobs_lag_seconds %.3f\n",
            queue.due, queue.running, queue.dead, queue.lag_s);
  pthread_mutex_unlock(&queue.lock);
}
