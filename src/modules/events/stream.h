/**
 * @file modules/events/stream.h
 * @brief GET /v1/events: the outbox as Server-Sent Events for front-ends (issue 16).
 */
#ifndef TX_MODULES_EVENTS_STREAM_H
#define TX_MODULES_EVENTS_STREAM_H

#include "core/http.h"

/** @brief The route's handler (modules/events/routes.c). */
int tx_events_stream(struct tx_req *r);

/**
 * @brief Starts the thread that feeds every open stream: at most @p max_streams at once,
 * a heartbeat after @p heartbeat_s seconds without an event. 0, or -1.
 */
int tx_events_stream_start(int max_streams, int heartbeat_s);

/** @brief Ends every stream and stops the thread (after the server has drained). */
void tx_events_stream_stop(void);

#endif
