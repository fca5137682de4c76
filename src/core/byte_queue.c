/**
 * @file core/byte_queue.c
 * @brief See core/byte_queue.h. The buffer grows by doubling and is compacted (the unsent bytes
 * moved to its start) before it grows, so a queue that is read as fast as it is filled stays the
 * size of what is unsent at once.
 */
#include "core/byte_queue.h"

#include <stdlib.h>
#include <string.h>

int tx_byte_queue_append(struct tx_byte_queue *q, const char *s, size_t n)
{
  if (q->start && q->start + q->len + n > q->cap) {
    memmove(q->buf, q->buf + q->start, q->len);
    q->start = 0;
  }
  if (q->len + n > q->cap) {
    size_t cap = q->cap ? q->cap : 4096;
    while (cap < q->len + n)
      cap *= 2;
    char *grown = realloc(q->buf, cap);
    if (!grown)
      return -1;
    q->buf = grown;
    q->cap = cap;
  }
  memcpy(q->buf + q->start + q->len, s, n);
  q->len += n;
  return 0;
}

size_t tx_byte_queue_take(struct tx_byte_queue *q, char *out, size_t max)
{
  size_t take = q->len < max ? q->len : max;
  memcpy(out, q->buf + q->start, take);
  q->start += take;
  q->len -= take;
  if (!q->len)
    q->start = 0;
  return take;
}

void tx_byte_queue_free(struct tx_byte_queue *q)
{
  free(q->buf);
  *q = (struct tx_byte_queue){0};
}
