/* Unit tests: the 5x5 risk heat map (modules/risk/reports.c) from hand-made JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg_render.h"

#include "modules/risk/risk.h"

#define LEVELS                                                                                    \
  "[[\"low\",\"low\",\"low\",\"medium\",\"medium\"],[\"low\",\"low\",\"medium\",\"medium\","      \
  "\"high\"],[\"low\",\"medium\",\"medium\",\"high\",\"high\"],[\"medium\",\"medium\",\"high\","  \
  "\"high\",\"critical\"],[\"medium\",\"high\",\"high\",\"critical\",\"<odd & level>\"]]"
#define COUNTS "[[0,0,0,0,0],[0,2,0,0,0],[0,0,0,0,0],[0,0,0,0,1],[0,0,0,0,0]]"

static char *render(const char *json, int *rc)
{
  return svg_render(tx_risk_heatmap_svg, json, rc);
}

/* A stored report: the map is in its body. */
static void report(void **state)
{
  (void)state;
  int rc;
  char *svg = render("{\"id\": \"x\", \"body\": {\"as_of\": \"2026-12-01T00:00:00.000Z\", \"heatmap\": "
                     "{\"counts\": " COUNTS ", \"levels\": " LEVELS ", \"total\": 3}}}",
                     &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, "role=\"img\""));
  assert_non_null(strstr(svg, "aria-labelledby=\"chart-title chart-desc\""));
  assert_non_null(
    strstr(svg, "<title id=\"chart-title\">風險熱力圖 Risk heat map, as of 2026-12-01T00:00:00.000Z</title>"));
  /* the words: the occupied cells, from the top row down, and the total */
  assert_non_null(strstr(svg, " likelihood 4 impact 5 (critical): 1; likelihood 2 impact 2 (low): 2."));
  assert_non_null(strstr(svg, "Total on the map: 3.</desc>"));
  /* each cell has its title; the level is lettered, not only coloured */
  assert_non_null(strstr(svg, "<title>likelihood 4, impact 5: critical, 1 risk</title>"));
  assert_non_null(strstr(svg, "<title>likelihood 2, impact 2: low, 2 risks</title>"));
  assert_non_null(strstr(svg, ">C</text>"));
  /* a level from the data is escaped, drawn grey and lettered ? */
  assert_non_null(strstr(svg, "<title>likelihood 5, impact 5: &lt;odd &amp; level&gt;, 0 risks</title>"));
  assert_non_null(strstr(svg, "fill=\"#e0e0e0\""));
  assert_null(strstr(svg, "<odd"));
  assert_null(strstr(svg, "<script"));
  free(svg);
}

/* The live map (GET /v1/risk-heatmap): the map at the top; an empty one says so. */
static void live_empty(void **state)
{
  (void)state;
  int rc;
  char *svg = render("{\"as_of\": \"2026-12-06T08:00:00.000Z\", \"open\": 0, \"heatmap\": {\"counts\": "
                     "[[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0]], "
                     "\"levels\": " LEVELS ", \"total\": 0}}",
                     &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, "as of 2026-12-06T08:00:00.000Z</title>"));
  assert_non_null(strstr(svg, "gives it. No assessed open risk. Total on the map: 0.</desc>"));
  free(svg);
}

/* Not a map's shape: -1 (the route answers 500), nothing of a map drawn. */
static void malformed(void **state)
{
  (void)state;
  const char *bad[] = {
    "{}",
    "{\"heatmap\": {\"counts\": [[0,0,0,0,0]], \"levels\": " LEVELS "}}",
    "{\"heatmap\": {\"counts\": " COUNTS ", \"levels\": [[\"low\"],[],[],[],[]]}}",
    "{\"body\": {\"heatmap\": {\"counts\": [1,2,3,4,5], \"levels\": " LEVELS "}}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc;
    char *svg = render(bad[i], &rc);
    assert_int_equal(rc, -1);
    assert_null(strstr(svg, "<svg"));
    free(svg);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(report), cmocka_unit_test(live_empty),
                                     cmocka_unit_test(malformed)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
