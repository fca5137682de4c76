/**
 * @file base/log.c
 * @brief Structured logs. Lines are written with one locked fwrite so that lines from pool threads
 * never interleave, and flushed at once so a crash loses nothing already logged.
 */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_level = TX_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

int tx_log_level_parse(const char *s)
{
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, level_names[i]))
      return i;
  return -1;
}

void tx_log_set_level(int level) { log_level = level; }

void tx_log_now(char *buf, size_t len)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_line(FILE *f, json_t *j_line)
{
  char *s = json_dumps(j_line, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (!s)
    return;
  pthread_mutex_lock(&log_lock);
  fputs(s, f);
  fputc('\n', f);
  fflush(f);
  pthread_mutex_unlock(&log_lock);
  free(s);
}

void tx_log(int level, const char *fmt, ...)
{
  if (level > log_level)
    return;
  char msg[1024], now[40];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  tx_log_now(now, sizeof now);
  /* The message may quote external text (a libpq error): never let it break the JSON. */
  json_t *j_msg = json_string(msg);
  if (!j_msg)
    j_msg = json_string("(message not valid UTF-8)");
  json_t *j_line = json_pack("{sssssO}", "time", now, "level", level_names[level], "msg", j_msg);
  write_line(stderr, j_line);
  json_decref(j_msg);
  json_decref(j_line);
}

void tx_log_access(json_t *j_line) { write_line(stdout, j_line); }
