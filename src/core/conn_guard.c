/**
 * @file core/conn_guard.c
 * @brief Header deadline and shedding of connections waiting for a header (see core/conn_guard.h).
 *
 * Safety of closing from another thread: libmicrohttpd calls the CLOSED notification before it
 * closes the socket (MHD_cleanup_connections, 0.9.75), and that callback takes the same lock as
 * the guard thread. So a socket the guard shuts down is always still the connection's own, never
 * a number the kernel has handed to someone else. The guard calls nothing of libmicrohttpd while
 * holding the lock, so the lock cannot deadlock with the library's.
 */
#include "core/conn_guard.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define TICK_MS 100

struct conn {
  struct conn *prev, *next;
  int fd;
  bool waiting;  /* for a request header (new, or idle after an answer) */
  bool closing;  /* shut down by the guard; the CLOSED notification will follow */
  bool linked;   /* in the list (not when the socket was unknown) */
  double since;  /* when it started waiting, monotonic seconds */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct conn *head;
static size_t open_count;
static unsigned long expired_total, shed_total;
static bool stopping;
static pthread_t thread;
static bool running;
static int header_timeout, max_connections;

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void tx_conn_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
  (void)cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct conn *k = calloc(1, sizeof *k);
    *socket_context = k;
    if (!k || !fd)
      return; /* not followed: it still has libmicrohttpd's idle timeout */
    k->fd = fd->connect_fd;
    k->waiting = true;
    k->since = now_s();
    k->linked = true;
    pthread_mutex_lock(&lock);
    k->next = head;
    if (head)
      head->prev = k;
    head = k;
    open_count++;
    pthread_mutex_unlock(&lock);
    return;
  }
  struct conn *k = *socket_context;
  if (!k)
    return;
  pthread_mutex_lock(&lock);
  if (k->linked) {
    if (k->prev)
      k->prev->next = k->next;
    else if (head == k)
      head = k->next;
    if (k->next)
      k->next->prev = k->prev;
    open_count--;
  }
  pthread_mutex_unlock(&lock);
  free(k);
  *socket_context = NULL;
}

static struct conn *record_of(struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i ? i->socket_context : NULL;
}

void tx_conn_guard_busy(struct MHD_Connection *c)
{
  struct conn *k = record_of(c);
  if (!k)
    return;
  pthread_mutex_lock(&lock);
  k->waiting = false;
  pthread_mutex_unlock(&lock);
}

void tx_conn_guard_idle(struct MHD_Connection *c)
{
  struct conn *k = record_of(c);
  if (!k)
    return;
  pthread_mutex_lock(&lock);
  k->waiting = true;
  k->since = now_s();
  pthread_mutex_unlock(&lock);
}

void tx_conn_guard_counts(unsigned long *expired, unsigned long *shed)
{
  pthread_mutex_lock(&lock);
  *expired = expired_total;
  *shed = shed_total;
  pthread_mutex_unlock(&lock);
}

static int by_since(const void *a, const void *b)
{
  double x = (*(struct conn *const *)a)->since, y = (*(struct conn *const *)b)->since;
  return (x > y) - (x < y);
}

/* One pass, under the lock: the deadline first, then shedding; adds what it closed to the counts. */
static void sweep(double t, unsigned long *expired, unsigned long *shed)
{
  size_t waiting = 0, closing = 0;
  for (struct conn *k = head; k; k = k->next) {
    if (k->closing) {
      closing++;
      continue;
    }
    if (!k->waiting)
      continue;
    if (t - k->since >= header_timeout) {
      shutdown(k->fd, SHUT_RDWR);
      k->closing = true;
      closing++;
      (*expired)++;
      continue;
    }
    waiting++;
  }
  /* Near the limit: free a tenth of the slots from the connections that waited longest. What
   * is closing still counts until libmicrohttpd has let it go. */
  size_t reserve = (size_t)max_connections / 10 > 2 ? (size_t)max_connections / 10 : 2;
  size_t high = (size_t)max_connections > reserve ? (size_t)max_connections - reserve : 0;
  size_t low = high > reserve ? high - reserve : 0;
  size_t live = open_count - closing;
  if (live < high || !waiting)
    return;
  struct conn **list = malloc(waiting * sizeof *list);
  if (!list)
    return;
  size_t n = 0;
  for (struct conn *k = head; k && n < waiting; k = k->next)
    if (k->waiting && !k->closing)
      list[n++] = k;
  qsort(list, n, sizeof *list, by_since);
  for (size_t i = 0; i < n && live > low; i++, live--) {
    shutdown(list[i]->fd, SHUT_RDWR);
    list[i]->closing = true;
    (*shed)++;
  }
  free(list);
}

static void *guard_main(void *unused)
{
  (void)unused;
  double last_log = 0;
  unsigned long logged_expired = 0, logged_shed = 0;
  pthread_mutex_lock(&lock);
  while (!stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += TICK_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    int rc = pthread_cond_timedwait(&wake, &lock, &until);
    if (stopping)
      break;
    if (rc && rc != ETIMEDOUT)
      continue;
    double t = now_s();
    sweep(t, &expired_total, &shed_total);
    /* At most one line every 10 s while it is happening: an attack must not flood the log. */
    if ((expired_total != logged_expired || shed_total != logged_shed) && t - last_log >= 10) {
      unsigned long e = expired_total - logged_expired, s = shed_total - logged_shed;
      size_t open = open_count;
      logged_expired = expired_total;
      logged_shed = shed_total;
      last_log = t;
      pthread_mutex_unlock(&lock);
      tx_log(TX_LOG_WARN,
             "closed %lu connections past the header deadline and shed %lu waiting ones (%zu open)",
             e, s, open);
      pthread_mutex_lock(&lock);
    }
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

int tx_conn_guard_start(const struct tx_config *cfg)
{
  header_timeout = cfg->header_timeout;
  max_connections = cfg->max_connections;
  stopping = false;
  if (pthread_create(&thread, NULL, guard_main, NULL) != 0)
    return -1;
  running = true;
  return 0;
}

void tx_conn_guard_stop(void)
{
  if (!running)
    return;
  pthread_mutex_lock(&lock);
  stopping = true;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  running = false;
}
