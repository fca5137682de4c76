/* Unit tests of the SVG renderers (core/formats.h tx_svg_renderer): a renderer run on JSON text
 * into a string. Included by the chart tests; not a test of its own (no test_ prefix). */
#ifndef TX_TEST_SVG_RENDER_H
#define TX_TEST_SVG_RENDER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* The SVG @p fn writes for @p json (which must parse), its return code in *rc; free() it. */
static inline char *svg_render(int (*fn)(const json_t *, FILE *), const char *json, int *rc)
{
  json_t *j = json_loads(json, 0, NULL);
  assert_non_null(j);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  *rc = fn(j, f);
  fclose(f);
  json_decref(j);
  return buf;
}

#endif
