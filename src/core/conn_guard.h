/**
 * @file core/conn_guard.h
 * @brief Keeps slow or idle connections from holding every connection slot (slow-header attacks,
 * issue 10 item 1).
 *
 * libmicrohttpd's own timeout is an idle timeout: a client that sends one header line every few
 * seconds keeps its connection forever, and enough of them fill TIANXING_MAX_CONNECTIONS so that
 * nobody else is accepted. The guard follows every connection (MHD_OPTION_NOTIFY_CONNECTION) and
 * knows whether it is waiting for a request header or serving a request. A thread closes
 *  - any connection whose header is not complete TIANXING_HEADER_TIMEOUT seconds after it opened
 *    or after its previous answer: a deadline that activity does not extend;
 *  - every 100 ms, when the open connections reach nine tenths of the limit, the connections that
 *    have waited longest for a header, until eight tenths remain: a new client then finds a free
 *    slot at once, ahead of the attacker's reconnections in the listen queue.
 * A connection whose header is complete (its request is being read or answered) is never touched.
 * Closing is shutdown(2) of the socket, which libmicrohttpd notices like a client hang-up.
 */
#ifndef TX_CORE_CONN_GUARD_H
#define TX_CORE_CONN_GUARD_H

#include "core/config.h"

#include <microhttpd.h>

/** @brief Starts the guard thread for the limits in @p cfg; 0 or -1. */
int tx_conn_guard_start(const struct tx_config *cfg);

/** @brief Stops the guard thread (before MHD_stop_daemon). */
void tx_conn_guard_stop(void);

/** @brief The MHD_OPTION_NOTIFY_CONNECTION callback: a connection opened or closed. */
void tx_conn_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code);

/** @brief The request header of @p c is complete: its request is now being served. */
void tx_conn_guard_busy(struct MHD_Connection *c);

/** @brief The answer on @p c is done: it now waits for the next request's header. */
void tx_conn_guard_idle(struct MHD_Connection *c);

/** @brief Connections closed by the guard so far (deadline, shed), for tests and metrics. */
void tx_conn_guard_counts(unsigned long *expired, unsigned long *shed);

#endif
