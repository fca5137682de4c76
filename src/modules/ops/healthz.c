/**
 * @file modules/ops/healthz.c
 * @brief GET /healthz: the process is alive and answering. Touches nothing else on purpose: a
 * database outage must not make an orchestrator restart healthy processes.
 */
#include "modules/ops/ops.h"

#include <string.h>

int tx_ops_healthz(struct tx_req *r)
{
  static const char body[] = "{\"status\":\"ok\"}";
  return tx_reply_json_text(r, 200, body, strlen(body));
}
