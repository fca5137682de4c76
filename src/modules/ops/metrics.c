/**
 * @file modules/ops/metrics.c
 * @brief GET /metrics: Prometheus text exposition format 0.0.4. The backup series (issue 14,
 * C2.2) are read from the database at each scrape, so every replica tells the same; when the
 * database does not answer they are left out (absent, not zero: zero would read as "fresh").
 */
#include "core/metrics.h"
#include "modules/ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends the backup series to the rendered text; the text stays as it was when memory ran out. */
static void add_backup_series(struct tx_req *r, char **text, size_t *len)
{
  struct tx_claims claims;
  tx_req_claims(r, &claims);
  json_t *j_st = tx_ops_backup_status(&claims);
  if (!j_st)
    return;
  char *more = NULL;
  size_t more_len = 0;
  FILE *f = open_memstream(&more, &more_len);
  if (!f) {
    json_decref(j_st);
    return;
  }
  fputs("# HELP tianxing_backup_stale 1 when no backup is recorded or the newest is older than the "
        "policy backup_max_age_hours.\n# TYPE tianxing_backup_stale gauge\n",
        f);
  fprintf(f, "tianxing_backup_stale %d\n", json_is_true(json_object_get(j_st, "stale")) ? 1 : 0);
  json_t *j_max = json_object_get(j_st, "max_age_seconds");
  if (json_is_integer(j_max))
    fprintf(f,
            "# HELP tianxing_backup_max_age_seconds The policy: how old the newest backup may "
            "be.\n# TYPE tianxing_backup_max_age_seconds gauge\n"
            "tianxing_backup_max_age_seconds %lld\n",
            (long long)json_integer_value(j_max));
  json_t *j_age = json_object_get(j_st, "age_seconds");
  if (json_is_integer(j_age))
    fprintf(f,
            "# HELP tianxing_backup_age_seconds Age of the newest backup (its end).\n"
            "# TYPE tianxing_backup_age_seconds gauge\ntianxing_backup_age_seconds %lld\n",
            (long long)json_integer_value(j_age));
  json_decref(j_st);
  if (fclose(f) != 0 || !more) {
    free(more);
    return;
  }
  char *joined = realloc(*text, *len + more_len + 1);
  if (joined) {
    memcpy(joined + *len, more, more_len + 1);
    *text = joined;
    *len += more_len;
  }
  free(more);
}

int tx_ops_metrics(struct tx_req *r)
{
  size_t len = 0;
  char *text = tx_metrics_render(&len);
  if (!text)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  add_backup_series(r, &text, &len);
  tx_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
  free(text);
  return r->status;
}
