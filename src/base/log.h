/**
 * @file base/log.h
 * @brief Structured logs: one JSON object per line. Access log on stdout, the rest on stderr.
 */
#ifndef TX_BASE_LOG_H
#define TX_BASE_LOG_H

#include <jansson.h>

enum { TX_LOG_ERROR, TX_LOG_WARN, TX_LOG_INFO, TX_LOG_DEBUG };

int tx_log_level_parse(const char *s);
void tx_log_set_level(int level);

/** @brief Logs @p msg with printf-style formatting at @p level. */
void tx_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** @brief Writes @p j_line (borrowed) as one line to stdout. */
void tx_log_access(json_t *j_line);

/** @brief RFC 3339 UTC time with milliseconds into @p buf (>= 32 bytes). */
void tx_log_now(char *buf, size_t len);

#endif
