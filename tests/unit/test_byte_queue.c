/* Unit tests: the unsent bytes of a streamed answer (core/byte_queue.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/byte_queue.h"

/* What goes in comes out, in order, in pieces of any size, across growth and compaction. */
static void in_order(void **state)
{
  (void)state;
  struct tx_byte_queue q = {0};
  char want[20000], got[20000];
  for (size_t i = 0; i < sizeof want; i++)
    want[i] = (char)('a' + i % 26);
  size_t in = 0, out = 0;
  /* Appends of 700 bytes, takes of 900: the queue is read while it fills. */
  while (out < sizeof want) {
    if (in < sizeof want) {
      size_t n = sizeof want - in < 700 ? sizeof want - in : 700;
      assert_int_equal(tx_byte_queue_append(&q, want + in, n), 0);
      in += n;
    }
    out += tx_byte_queue_take(&q, got + out, 900);
    assert_int_equal(q.len, in - out);
  }
  assert_memory_equal(got, want, sizeof want);
  assert_int_equal(tx_byte_queue_take(&q, got, 10), 0);
  /* Read as fast as filled, it stays small: compaction instead of growth. */
  assert_true(q.cap <= 4096);
  tx_byte_queue_free(&q);
  assert_null(q.buf);
  assert_int_equal(q.len, 0);
}

/* One append larger than the buffer grows it to fit at once. */
static void large_append(void **state)
{
  (void)state;
  struct tx_byte_queue q = {0};
  static char big[100000];
  memset(big, 'x', sizeof big);
  assert_int_equal(tx_byte_queue_append(&q, "ab", 2), 0);
  char two[2];
  assert_int_equal(tx_byte_queue_take(&q, two, 1), 1);
  assert_int_equal(tx_byte_queue_append(&q, big, sizeof big), 0);
  assert_int_equal(q.len, 1 + sizeof big);
  assert_true(q.cap >= q.len);
  assert_int_equal(tx_byte_queue_take(&q, two, 2), 2);
  assert_memory_equal(two, "bx", 2);
  tx_byte_queue_free(&q);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(in_order), cmocka_unit_test(large_append)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
