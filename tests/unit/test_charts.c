/* Unit tests: the SVG charts of module Q (modules/assessment/charts.c) from hand-made JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg_render.h"

#include "modules/assessment/assessment.h"

static void trend(void **state)
{
  (void)state;
  char json[8192];
  size_t used = (size_t)snprintf(json, sizeof json,
                                 "{\"employee_name\": \"王<小>明 & co\", \"year\": 2026, \"months\": [");
  for (int m = 1; m <= 12; m++) {
    if (m == 3) /* marked: a gap */
      used += (size_t)snprintf(json + used, sizeof json - used,
                               "%s{\"month\": 3, \"assessment_id\": \"x\", \"values\": {"
                               "\"completion_rate\": {\"figure\": null, \"marked\": \"no_data\"}}}",
                               m > 1 ? "," : "");
    else
      used += (size_t)snprintf(json + used, sizeof json - used,
                               "%s{\"month\": %d, \"assessment_id\": %s, \"values\": {"
                               "\"completion_rate\": {\"figure\": %d.5, \"marked\": null}}}",
                               m > 1 ? "," : "", m, m > 6 ? "null" : "\"x\"", 50 + m);
  }
  snprintf(json + used, sizeof json - used, "]}");
  int rc;
  char *svg = svg_render(tx_chart_trend_svg, json, &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, "role=\"img\""));
  assert_non_null(strstr(svg, "aria-labelledby=\"chart-title chart-desc\""));
  assert_non_null(strstr(svg, "<title id=\"chart-title\">考核趨勢 Assessment trend: 王&lt;小&gt;明 &amp; co, 2026</title>"));
  assert_non_null(strstr(svg, " 03 none (no_data),"));
  assert_non_null(strstr(svg, " 02 52.50,"));
  assert_null(strstr(svg, "<script"));
  /* the line breaks at March: a new M after it */
  assert_non_null(strstr(svg, "d=\"M"));
  char *d = strstr(svg, "d=\"M");
  assert_non_null(strchr(d + 4, 'M'));
  /* only completion_rate has figures: one path; the others have none (no empty path data) */
  assert_null(strstr(d + 4, "<path"));
  assert_null(strstr(svg, "d=\"\""));
  free(svg);
  /* not a trend */
  svg = svg_render(tx_chart_trend_svg, "{\"months\": []}", &rc);
  assert_int_equal(rc, -1);
  free(svg);
}

static void grades(void **state)
{
  (void)state;
  int rc;
  char *svg = svg_render(tx_chart_grades_svg,
                     "{\"department_name\": \"業務一部\", \"period_label\": \"2026-11\","
                     " \"grades\": [{\"grade\": \"A\", \"count\": 2}, {\"grade\": \"<B>\", \"count\": 0}],"
                     " \"ungraded\": 1, \"total\": 3}",
                     &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, "等級分佈 Grade distribution: 業務一部, 2026-11</title>"));
  assert_non_null(strstr(svg, "A 2, &lt;B&gt; 0; without a grade yet 1; total 3.</desc>"));
  assert_non_null(strstr(svg, "<title>A: 2</title>"));
  free(svg);
  svg = svg_render(tx_chart_grades_svg, "{}", &rc);
  assert_int_equal(rc, -1);
  free(svg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(trend), cmocka_unit_test(grades)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
