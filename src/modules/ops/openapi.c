/**
 * @file modules/ops/openapi.c
 * @brief GET /openapi.yaml: the contract this binary was built with (embedded at build time).
 */
#include "base/embedded.h"
#include "modules/ops/ops.h"

int tx_ops_openapi(struct tx_req *r)
{
  return tx_reply_raw(r, 200, "application/yaml; charset=utf-8", tx_embedded_openapi.data,
                      tx_embedded_openapi.len);
}
