/* libFuzzer target: the pure gate helpers and the route matcher on hostile strings. The input is
 * split on NUL into: method, path, and a header value used for every header helper. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/request.h"
#include "core/routes.h"
#include "crypto/encoding.h"
#include "modules/modules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The matcher is fuzzed against the real table: the modules main.c registers (modules.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  char err[512];
  if (tx_modules_register_all(err, sizeof err))
    abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *buf = malloc(size + 3);
  memcpy(buf, data, size);
  buf[size] = buf[size + 1] = buf[size + 2] = '\0';
  const char *method = buf;
  const char *path = method + strlen(method) + 1;
  if (path > buf + size)
    path = buf + size;
  const char *value = path + strlen(path) + 1;
  if (value > buf + size)
    value = buf + size;

  tx_request_id_valid(value);
  tx_media_type_is_json(value);
  tx_cors_origin_allowed("https://a.example.com,http://localhost:5173", value);
  tx_prefers_chinese(value);
  tx_parse_decimal(value);
  size_t len;
  free(tx_b64_decode(value, strlen(value), true, &len));

  struct tx_req r;
  memset(&r, 0, sizeof r);
  const struct tx_route *route = NULL;
  char allow[64];
  if (tx_route_match(method, path, &route, allow, sizeof allow, &r) == TX_MATCH_OK && !route)
    __builtin_trap();
  tx_route_params_free(&r);
  free(buf);
  return 0;
}
