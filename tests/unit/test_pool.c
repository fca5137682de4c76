/* Unit tests: the pool's writer turns (db/pool.h, TIANXING_DB_WRITERS). Writers at once are
 * limited apart from the pool's size, so that writes queue in the service instead of holding
 * connections while they wait for the audit chain's lock, and reads keep the whole pool. Against
 * the test cluster: the pool opens real connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "db/pool.h"

static char url[512];

static int find_cluster(void **state)
{
  const char *host = getenv("TX_TEST_PGHOST"), *port = getenv("TX_TEST_PGPORT"),
             *user = getenv("TX_TEST_PGUSER");
  if (host && port && user)
    snprintf(url, sizeof url, "host=%s port=%s user=%s dbname=postgres", host, port, user);
  return 0;
}

static struct tx_pool *pool(int size, int writers, int wait_ms)
{
  if (!url[0])
    skip(); /* outside tests/run: no cluster */
  struct tx_pool_options o = {url, "test-pool", size, wait_ms, 5, 10000, 0, writers};
  struct tx_pool *p = tx_pool_create(&o);
  assert_non_null(p);
  return p;
}

static struct tx_pool_stats stats(struct tx_pool *p)
{
  struct tx_pool_stats s;
  tx_pool_stats(p, &s);
  return s;
}

static void writers_wait_for_a_turn_and_readers_do_not(void **state)
{
  struct tx_pool *p = pool(3, 1, 100);
  assert_int_equal(stats(p).writers, 1);
  struct tx_conn *w, *other, *r1, *r2;
  assert_int_equal(tx_pool_acquire(p, true, &w), TX_POOL_OK);
  /* two connections are free, but the one writer turn is taken */
  assert_int_equal(tx_pool_acquire(p, true, &other), TX_POOL_BUSY);
  assert_int_equal(stats(p).timeouts, 1);
  assert_int_equal(tx_pool_acquire(p, false, &r1), TX_POOL_OK);
  assert_int_equal(tx_pool_acquire(p, false, &r2), TX_POOL_OK);
  struct tx_pool_stats s = stats(p);
  assert_int_equal(s.in_use, 3);
  assert_int_equal(s.writers_in_use, 1);
  /* the turn comes back with the writer's connection, broken or not */
  tx_pool_release(w, true);
  assert_int_equal(stats(p).writers_in_use, 0);
  assert_int_equal(tx_pool_acquire(p, true, &w), TX_POOL_OK);
  assert_int_equal(stats(p).writers_in_use, 1);
  tx_pool_release(w, false);
  tx_pool_release(r1, false);
  tx_pool_release(r2, false);
  s = stats(p);
  assert_int_equal(s.in_use, 0);
  assert_int_equal(s.writers_in_use, 0);
  assert_int_equal(s.waiting, 0);
  tx_pool_destroy(p);
}

static void no_limit_means_the_pool_size(void **state)
{
  for (int writers = 0; writers <= 5; writers += 5) { /* 0, and more than the size */
    struct tx_pool *p = pool(2, writers, 100);
    assert_int_equal(stats(p).writers, 2);
    struct tx_conn *a, *b, *c;
    assert_int_equal(tx_pool_acquire(p, true, &a), TX_POOL_OK);
    assert_int_equal(tx_pool_acquire(p, true, &b), TX_POOL_OK);
    assert_int_equal(tx_pool_acquire(p, false, &c), TX_POOL_BUSY);
    tx_pool_release(a, false);
    tx_pool_release(b, false);
    tx_pool_destroy(p);
  }
}

struct waiter {
  struct tx_pool *p;
  bool writer;
  enum tx_pool_rc rc;
  struct tx_conn *c;
  double waited_s;
  int done; /* set once rc and c are */
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *wait_for_one(void *arg)
{
  struct waiter *w = arg;
  double t0 = now_s();
  w->rc = tx_pool_acquire(w->p, w->writer, &w->c);
  w->waited_s = now_s() - t0;
  __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* Until @p n are waiting (the threads are inside tx_pool_acquire). */
static void until_waiting(struct tx_pool *p, int n)
{
  for (int i = 0; i < 2000 && stats(p).waiting < n; i++)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  assert_int_equal(stats(p).waiting, n);
}

/* A returned connection goes to a waiter who can take it, at once: a reader's to a waiting reader
 * while the writer turn is taken, a writer's to a waiting writer. A wake-up sent to the wrong queue
 * would leave the waiter asleep until its wait ran out (20 s here: the waits are checked against
 * half of it, so only a lost wake-up fails them). */
static void a_returned_connection_wakes_who_can_take_it(void **state)
{
  const int wait_ms = 20000;
  struct tx_pool *p = pool(2, 1, wait_ms);
  struct tx_conn *w, *r;
  assert_int_equal(tx_pool_acquire(p, true, &w), TX_POOL_OK);
  assert_int_equal(tx_pool_acquire(p, false, &r), TX_POOL_OK);
  struct waiter ww = {.p = p, .writer = true}, rw = {.p = p, .writer = false};
  pthread_t tw, tr;
  assert_int_equal(pthread_create(&tw, NULL, wait_for_one, &ww), 0);
  until_waiting(p, 1);
  assert_int_equal(pthread_create(&tr, NULL, wait_for_one, &rw), 0);
  until_waiting(p, 2);
  assert_int_equal(stats(p).writers_waiting, 1);
  tx_pool_release(r, false); /* the writer may not take it: the reader gets it */
  pthread_join(tr, NULL);
  assert_int_equal(rw.rc, TX_POOL_OK);
  assert_true(rw.waited_s < wait_ms / 2000.0);
  assert_false(rw.c->writer);
  tx_pool_release(w, false); /* the turn and a connection: the writer gets them */
  pthread_join(tw, NULL);
  assert_int_equal(ww.rc, TX_POOL_OK);
  assert_true(ww.waited_s < wait_ms / 2000.0);
  assert_true(ww.c->writer);
  struct tx_pool_stats s = stats(p);
  assert_int_equal(s.writers_in_use, 1);
  assert_int_equal(s.waiting, 0);
  assert_int_equal(s.writers_waiting, 0);
  assert_int_equal(s.timeouts, 0);
  tx_pool_release(ww.c, false);
  tx_pool_release(rw.c, false);
  tx_pool_destroy(p);
}

/* The thread of @p a or @p b that has its connection, once one has it. */
static struct waiter *first_done(struct waiter *a, struct waiter *b)
{
  for (int i = 0; i < 5000; i++) {
    if (__atomic_load_n(&a->done, __ATOMIC_ACQUIRE))
      return a;
    if (__atomic_load_n(&b->done, __ATOMIC_ACQUIRE))
      return b;
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  fail_msg("neither waiter got a connection");
  return NULL;
}

/* Two connections come back before a woken writer runs: the first wakes a writer, the second
 * (the writer turn still looks free) another writer, who then finds the turn taken. The reader
 * waiting behind them must still get that second connection, passed on by the writer who cannot
 * take it. Whether the two returns beat the first writer is up to the scheduler, so the scene is
 * played ten times; a lost wake-up shows as a wait that ran out. */
static void a_writer_passes_on_a_connection_it_cannot_take(void **state)
{
  const int wait_ms = 2000;
  for (int round = 0; round < 10; round++) {
    struct tx_pool *p = pool(3, 1, wait_ms);
    struct tx_conn *a, *b, *c;
    assert_int_equal(tx_pool_acquire(p, false, &a), TX_POOL_OK);
    assert_int_equal(tx_pool_acquire(p, false, &b), TX_POOL_OK);
    assert_int_equal(tx_pool_acquire(p, false, &c), TX_POOL_OK);
    struct waiter w1 = {.p = p, .writer = true}, w2 = w1, rd = {.p = p, .writer = false};
    pthread_t t1, t2, tr;
    assert_int_equal(pthread_create(&t1, NULL, wait_for_one, &w1), 0);
    assert_int_equal(pthread_create(&t2, NULL, wait_for_one, &w2), 0);
    until_waiting(p, 2);
    assert_int_equal(pthread_create(&tr, NULL, wait_for_one, &rd), 0);
    until_waiting(p, 3);
    tx_pool_release(a, false);
    tx_pool_release(b, false);
    pthread_join(tr, NULL);
    assert_int_equal(rd.rc, TX_POOL_OK);
    assert_true(rd.waited_s < wait_ms / 2000.0);
    /* one writer has the turn, the other waits for it and gets it when it comes back */
    struct waiter *got = first_done(&w1, &w2), *next = got == &w1 ? &w2 : &w1;
    assert_int_equal(got->rc, TX_POOL_OK);
    assert_int_equal(stats(p).writers_waiting, 1);
    tx_pool_release(got->c, false);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(next->rc, TX_POOL_OK);
    assert_true(next->writer && next->c->writer);
    tx_pool_release(next->c, false);
    tx_pool_release(rd.c, false);
    tx_pool_release(c, false);
    assert_int_equal(stats(p).timeouts, 0);
    tx_pool_destroy(p);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(writers_wait_for_a_turn_and_readers_do_not),
    cmocka_unit_test(no_limit_means_the_pool_size),
    cmocka_unit_test(a_returned_connection_wakes_who_can_take_it),
    cmocka_unit_test(a_writer_passes_on_a_connection_it_cannot_take),
  };
  return cmocka_run_group_tests(tests, find_cluster, NULL);
}
