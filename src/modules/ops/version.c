/**
 * @file modules/ops/version.c
 * @brief GET /v1/version: build version, API (contract) version and commit.
 */
#include "modules/ops/ops.h"

int tx_ops_version(struct tx_req *r)
{
  json_t *j_body = json_pack("{ssssssss}", "name", "tianxingd", "version", TX_VERSION,
                             "api_version", TX_API_VERSION, "commit", TX_COMMIT);
  tx_reply_json(r, 200, j_body);
  json_decref(j_body);
  return r->status;
}
