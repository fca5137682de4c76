/* Unit tests: the shared SVG pieces (core/svg.c), the chart of cases by week
 * (modules/cases/charts.c) and an indicator's trend (modules/risk/kri_trend.c), from hand-made
 * JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg_render.h"

#include "core/svg.h"
#include "modules/cases/cases.h"
#include "modules/risk/risk.h"

/* How many times @p needle occurs in @p s. */
static int count(const char *s, const char *needle)
{
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  return n;
}

static void axes(void **state)
{
  (void)state;
  struct tx_svg_axis a = {.left = 10, .top = 20, .width = 100, .height = 200};
  tx_svg_axis_counts(&a, 0);
  assert_true(a.lo == 0 && a.hi == 1 && a.step == 1);
  tx_svg_axis_counts(&a, 7); /* step 2, up to 8 */
  assert_true(a.lo == 0 && a.hi == 8 && a.step == 2);
  tx_svg_axis_counts(&a, 23); /* step 5, up to 25 */
  assert_true(a.hi == 25 && a.step == 5);
  assert_true(tx_svg_axis_y(&a, 0) == 220 && tx_svg_axis_y(&a, 25) == 20);

  tx_svg_axis_range(&a, 3, 21); /* 18 / 5 = 3.6: step 5, 0 to 25 */
  assert_true(a.lo == 0 && a.hi == 25 && a.step == 5);
  tx_svg_axis_range(&a, -0.3, 0.7); /* step 0.2 */
  assert_true(a.step > 0.19 && a.step < 0.21 && a.lo <= -0.3 && a.hi >= 0.7);
  tx_svg_axis_range(&a, 5, 5); /* one value: room around it */
  assert_true(a.lo < 5 && a.hi > 5);

  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tx_svg_axis_range(&a, -0.3, 0.7);
  tx_svg_axis_draw(f, &a);
  fclose(f);
  /* -0.4 to 0.8 by 0.2: seven lines, a plain 0 (no -0, no rounding noise), the top one drawn */
  assert_int_equal(count(buf, "<line"), 7);
  assert_non_null(strstr(buf, ">0</text>"));
  assert_null(strstr(buf, "-0<"));
  assert_non_null(strstr(buf, ">0.8</text>"));
  assert_null(strstr(buf, "0000"));
  free(buf);
}

#define WEEK(w, d, o, c, x)                                                                       \
  "{\"week\": \"" w "\", \"starts_on\": \"" d "\", \"opened\": " #o ", \"closed\": " #c           \
  ", \"overdue\": " #x "}"

static void weekly(void **state)
{
  (void)state;
  int rc;
  char *svg = svg_render(tx_case_weekly_svg,
                         "{\"from\": \"2026-11-23\", \"to\": \"2026-12-06\", \"time_zone\": "
                         "\"Asia/Taipei\", \"business_type_name\": \"年度審計 <A&B>\", \"weeks\": [" WEEK(
                           "2026-W48", "2026-11-23", 3, 1, 0) ", " WEEK("2026-W49", "2026-12-01", 0, 2, 5)
                         "], \"totals\": {\"opened\": 3, \"closed\": 3, \"overdue\": 5}}",
                         &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, "width=\"820\" height=\"440\" viewBox=\"0 0 820 440\" role=\"img\""));
  assert_non_null(strstr(svg, "<title id=\"chart-title\">案件週統計 Cases by week, 2026-11-23 to "
                              "2026-12-06, 業務類型 business type 年度審計 &lt;A&amp;B&gt;</title>"));
  assert_non_null(strstr(svg, "(Monday to Sunday, time zone Asia/Taipei)"));
  assert_non_null(strstr(svg, " 2026-W48: opened 3, closed 1, overdue 0; 2026-W49: opened 0, "
                              "closed 2, overdue 5. Totals: opened 3, closed 3, overdue 5.</desc>"));
  /* each bar and point has its title */
  assert_non_null(strstr(svg, "<title>2026-W48 opened: 3</title>"));
  assert_non_null(strstr(svg, "<title>2026-W49 closed: 2</title>"));
  assert_non_null(strstr(svg, "<title>2026-W49 overdue: 5</title>"));
  assert_int_equal(count(svg, "<title>"), 3 * 2); /* the chart's own is <title id=...> */
  /* the axis holds the largest number (5): 0 to 5 */
  assert_non_null(strstr(svg, ">5</text>"));
  /* the overdue line: two points */
  assert_non_null(strstr(svg, "stroke-dasharray=\"6 3\" d=\"M"));
  assert_null(strstr(svg, "<script"));
  assert_null(strstr(svg, "<A&B>"));
  free(svg);

  /* many weeks: at most about 14 labels under the axis */
  char json[16384];
  size_t used = (size_t)snprintf(json, sizeof json,
                                 "{\"from\": \"2025-01-06\", \"to\": \"2026-12-27\", \"time_zone\": "
                                 "\"UTC\", \"weeks\": [");
  for (int i = 0; i < 104; i++)
    used += (size_t)snprintf(json + used, sizeof json - used,
                             "%s{\"week\": \"X-W%02d\", \"starts_on\": \"d\", \"opened\": %d, "
                             "\"closed\": 0, \"overdue\": 0}",
                             i ? "," : "", i % 53 + 1, i);
  snprintf(json + used, sizeof json - used, "], \"totals\": {}}");
  svg = svg_render(tx_case_weekly_svg, json, &rc);
  assert_int_equal(rc, 0);
  assert_true(count(svg, "text-anchor=\"middle\">W") <= 15);
  free(svg);

  const char *bad[] = {
    "{}",
    "{\"from\": \"a\", \"to\": \"b\", \"time_zone\": \"UTC\", \"weeks\": []}",
    "{\"from\": \"a\", \"to\": \"b\", \"time_zone\": \"UTC\", \"weeks\": [{\"week\": \"W1\"}]}",
    "{\"from\": \"a\", \"to\": \"b\", \"time_zone\": \"UTC\", \"weeks\": [" WEEK("W", "d", -1, 0, 0) "]}",
    "{\"to\": \"b\", \"time_zone\": \"UTC\", \"weeks\": [" WEEK("W", "d", 1, 0, 0) "]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    svg = svg_render(tx_case_weekly_svg, bad[i], &rc);
    assert_int_equal(rc, -1);
    assert_null(strstr(svg, "<svg"));
    free(svg);
  }
}

#define KRI                                                                                       \
  "\"kri\": {\"code\": \"complaints\", \"name\": \"客訴 <件數>\", \"unit\": \"件\", "             \
  "\"thresholds\": {\"warning\": 10, \"critical\": 20, \"rearm\": 1, \"frequency\": \"daily\"}}, " \
  "\"from\": \"2026-11-01\", \"to\": \"2026-11-30\", \"starts_at\": \"2026-10-31T16:00:00.000Z\", " \
  "\"ends_at\": \"2026-11-30T16:00:00.000Z\""

static void kri_trend(void **state)
{
  (void)state;
  int rc;
  char *svg = svg_render(tx_kri_trend_svg,
                         "{" KRI ", \"total\": 3, \"points\": ["
                         "{\"measured_at\": \"2026-10-31T16:00:00.000Z\", \"value\": 4, \"band\": \"normal\"},"
                         "{\"measured_at\": \"2026-11-15T04:00:00.000Z\", \"value\": 12.5, \"band\": \"warning\"},"
                         "{\"measured_at\": \"2026-11-30T16:00:00.000Z\", \"value\": 21, \"band\": \"critical\"}]}",
                         &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, "width=\"860\" height=\"440\" viewBox=\"0 0 860 440\""));
  assert_non_null(strstr(svg, "<title id=\"chart-title\">風險指標趨勢 Indicator trend: 客訴 &lt;件數&gt; "
                              "(complaints), 2026-11-01 to 2026-11-30</title>"));
  assert_non_null(strstr(svg, "thresholds today: warning 10, critical 20. 3 measurements: "
                              "2026-10-31T16:00:00.000Z 4 (normal); 2026-11-15T04:00:00.000Z 12.5 "
                              "(warning); 2026-11-30T16:00:00.000Z 21 (critical).</desc>"));
  /* the first point at the left edge, the last at the right; the axis 0 to 25 */
  assert_non_null(strstr(svg, "d=\"M70.0 "));
  assert_non_null(strstr(svg, " L630.0 "));
  assert_non_null(strstr(svg, ">25</text>"));
  /* shapes by band, each with its title; the thresholds drawn and labelled */
  assert_non_null(strstr(svg, "fill=\"#1f77b4\"><title>2026-10-31T16:00:00.000Z: 4 (normal)</title></circle>"));
  assert_non_null(strstr(svg, "fill=\"#ff7f0e\"><title>2026-11-15T04:00:00.000Z: 12.5 (warning)</title></path>"));
  assert_non_null(strstr(svg, "fill=\"#d62728\"><title>2026-11-30T16:00:00.000Z: 21 (critical)</title></rect>"));
  assert_non_null(strstr(svg, ">預警 warning 10</text>"));
  assert_non_null(strstr(svg, ">嚴重 critical 20</text>"));
  assert_int_equal(count(svg, "<title>"), 3); /* none in the legend */
  free(svg);

  /* more measurements than points, and no thresholds */
  svg = svg_render(tx_kri_trend_svg,
                   "{\"kri\": {\"code\": \"c\", \"name\": \"n\", \"unit\": \"u\", \"thresholds\": null}, "
                   "\"from\": \"2026-11-01\", \"to\": \"2026-11-30\", \"starts_at\": "
                   "\"2026-10-31T16:00:00.000Z\", \"ends_at\": \"2026-11-30T16:00:00.000Z\", "
                   "\"total\": 900, \"points\": [{\"measured_at\": \"2026-11-02T00:00:00.000Z\", "
                   "\"value\": 1, \"band\": \"unset\"}]}",
                   &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, "no thresholds set today. The latest 1 of 900 measurements:"));
  assert_null(strstr(svg, "stroke-dasharray=\"4 3\"/>")); /* no threshold line */
  free(svg);

  /* nothing measured in the range */
  svg = svg_render(tx_kri_trend_svg, "{" KRI ", \"total\": 0, \"points\": []}", &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(svg, ". No measurement in the range.</desc>"));
  assert_null(strstr(svg, "d=\"\""));
  free(svg);

  const char *bad[] = {
    "{}",
    "{" KRI ", \"points\": [{\"measured_at\": \"yesterday\", \"value\": 1, \"band\": \"normal\"}]}",
    "{" KRI ", \"points\": [{\"measured_at\": \"2026-11-02T00:00:00.000Z\", \"value\": \"1\", \"band\": \"normal\"}]}",
    "{" KRI ", \"points\": {}}",
    "{\"kri\": {\"code\": \"c\", \"name\": \"n\", \"unit\": \"u\"}, \"from\": \"a\", \"to\": \"b\", "
    "\"starts_at\": \"2026-11-30T16:00:00.000Z\", \"ends_at\": \"2026-11-30T16:00:00.000Z\", \"points\": []}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    svg = svg_render(tx_kri_trend_svg, bad[i], &rc);
    assert_int_equal(rc, -1);
    assert_null(strstr(svg, "<svg"));
    free(svg);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(axes), cmocka_unit_test(weekly),
                                     cmocka_unit_test(kri_trend)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
