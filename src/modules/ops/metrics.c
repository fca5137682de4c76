/**
 * @file modules/ops/metrics.c
 * @brief GET /metrics: Prometheus text exposition format 0.0.4.
 */
#include "core/metrics.h"
#include "modules/ops/ops.h"

#include <stdlib.h>

int tx_ops_metrics(struct tx_req *r)
{
  size_t len = 0;
  char *text = tx_metrics_render(&len);
  if (!text)
    return tx_reply_problem(r, TX_E_INTERNAL_ERROR, NULL, NULL);
  tx_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
  free(text);
  return r->status;
}
