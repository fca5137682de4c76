/**
 * @file core/byte_queue.h
 * @brief The unsent bytes of a streamed answer (core/http.h, tx_reply_stream): appended by its
 * producer, taken by the stream's reader, in order. Not locked: its owner's lock guards it.
 */
#ifndef TX_CORE_BYTE_QUEUE_H
#define TX_CORE_BYTE_QUEUE_H

#include <stddef.h>

/** Zero-initialised is empty. Bytes buf[start .. start + len) are unsent. */
struct tx_byte_queue {
  char *buf;
  size_t start, len, cap;
};

/** @brief Appends @p n bytes; 0, or -1 when memory ran out (nothing appended). */
int tx_byte_queue_append(struct tx_byte_queue *q, const char *s, size_t n);

/** @brief Moves up to @p max bytes from the front into @p out; returns how many. */
size_t tx_byte_queue_take(struct tx_byte_queue *q, char *out, size_t max);

/** @brief Releases the memory (the queue is empty after). */
void tx_byte_queue_free(struct tx_byte_queue *q);

#endif
