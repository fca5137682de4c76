/**
 * @file modules/assessment/charts.c
 * @brief Module Q, part E: two charts, each a route that is one SQL API function
 * (sql/code/assessment/070_charts.sql) answering JSON, drawn here as SVG 1.1 when Accept asks for
 * image/svg+xml (core/formats.h). The SQL decides what the caller may see; this file only draws.
 *
 * Every chart is readable without sight: role="img", a <title> and a <desc> (aria-labelledby
 * names both) where the desc says in words every value the picture shows; each point or bar has
 * its own <title> (a tooltip). No script, no external reference; every text from the data is
 * escaped (tx_xml_text).
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "core/svg.h"
#include "modules/assessment/assessment.h"

#include <string.h>

static const struct tx_sql sql_assessment_trend = {
  "assessment_trend", TX_CALL_ROW_UNVERSIONED "api.assessment_trend($1::uuid, $2::int) j", 2};
static const struct tx_sql sql_grade_distribution = {
  "grade_distribution", TX_CALL_ROW_UNVERSIONED "api.grade_distribution($1::uuid, $2::uuid) j", 2};

/* The indicators of Q1 in the order the SQL lists them: the label a reader sees, a colour and a
 * dash pattern (the lines differ by more than colour). */
static const struct {
  const char *key, *label, *colour, *dash;
} indicators[] = {
  {"completion_rate", "業務完成率 completion", "#1f77b4", "none"},
  {"satisfaction", "客戶滿意度 satisfaction", "#d62728", "6 3"},
  {"accuracy", "業務準確率 accuracy", "#2ca02c", "2 3"},
  {"efficiency", "工作效率 efficiency", "#9467bd", "8 3 2 3"},
  {"teamwork", "團隊協作 teamwork", "#ff7f0e", "12 4"},
};
#define NIND (sizeof indicators / sizeof indicators[0])

/* Trend geometry: 12 month slots across, 0-100 up. */
#define T_W 760
#define T_H 420
#define T_LEFT 50
#define T_TOP 50
#define T_PW 480
#define T_PH 300

static double month_x(int m)
{
  return T_LEFT + (m - 0.5) * T_PW / 12.0;
}

static const struct tx_svg_axis score_axis = {
  .lo = 0, .hi = 100, .step = 20, .left = T_LEFT, .top = T_TOP, .width = T_PW, .height = T_PH};

static double score_y(double v)
{
  return tx_svg_axis_y(&score_axis, v);
}

/* The figure of indicator @p key in month entry @p j_m, or -1 with *marked set (a gap). */
static double figure(const json_t *j_m, const char *key, const char **marked)
{
  json_t *j_v = json_object_get(json_object_get(j_m, "values"), key);
  json_t *j_f = json_object_get(j_v, "figure");
  *marked = json_string_value(json_object_get(j_v, "marked"));
  if (!json_is_number(j_f))
    return -1;
  double f = json_number_value(j_f);
  return f < 0 ? 0 : f > 100 ? 100 : f;
}

int tx_chart_trend_svg(const json_t *j_doc, FILE *out)
{
  const json_t *j_months = json_object_get(j_doc, "months");
  json_t *j_year = json_object_get(j_doc, "year");
  if (json_array_size(j_months) != 12 || !json_is_integer(j_year))
    return -1;
  const char *name = json_string_value(json_object_get(j_doc, "employee_name"));
  char suffix[32];
  snprintf(suffix, sizeof suffix, ", %lld", (long long)json_integer_value(j_year));
  tx_svg_open(out, T_W, T_H, "考核趨勢 Assessment trend: ", name ? name : "", suffix, NULL);

  /* The words: every indicator, every month, its figure or why it has none. */
  fputs("<desc id=\"chart-desc\">Monthly assessment indicators on a scale of 0 to 100, one line "
        "per indicator; a month without a figure is a gap in its line (its reason in brackets).",
        out);
  for (size_t i = 0; i < NIND; i++) {
    fputs(" ", out);
    tx_xml_text(out, indicators[i].label);
    fputs(":", out);
    for (int m = 1; m <= 12; m++) {
      const char *marked;
      double f = figure(json_array_get(j_months, (size_t)m - 1), indicators[i].key, &marked);
      if (f >= 0)
        fprintf(out, " %02d %.2f%s", m, f, m < 12 ? "," : ".");
      else {
        fprintf(out, " %02d none (", m);
        tx_xml_text(out, marked ? marked : "no_data");
        fprintf(out, ")%s", m < 12 ? "," : ".");
      }
    }
  }
  fputs("</desc>\n", out);
  tx_svg_group_open(out);
  tx_svg_axis_draw(out, &score_axis);
  for (int m = 1; m <= 12; m++) {
    const json_t *j_m = json_array_get(j_months, (size_t)m - 1);
    /* a month with no assessment the caller may read: shaded */
    if (json_is_null(json_object_get(j_m, "assessment_id")))
      fprintf(out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f2f2f2\"/>\n",
              month_x(m) - T_PW / 24.0, T_TOP, T_PW / 12.0, T_PH);
    fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%02d</text>\n", month_x(m),
            T_TOP + T_PH + 18, m);
  }
  fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">月 month</text>\n",
          T_LEFT + T_PW / 2.0, T_TOP + T_PH + 38);

  /* one line per indicator, broken where a month has no figure */
  for (size_t i = 0; i < NIND; i++) {
    fprintf(out, "<g stroke=\"%s\" fill=\"%s\">\n", indicators[i].colour, indicators[i].colour);
    bool pen_down = false, any = false;
    for (int m = 1; m <= 12; m++) {
      const char *marked;
      double f = figure(json_array_get(j_months, (size_t)m - 1), indicators[i].key, &marked);
      if (f < 0) {
        pen_down = false;
        continue;
      }
      if (!any) /* no path element without a point: empty path data is an error in SVG */
        fprintf(out, "<path fill=\"none\" stroke-width=\"2\" stroke-dasharray=\"%s\" d=\"",
                indicators[i].dash);
      fprintf(out, "%s%s%.1f %.1f", any ? " " : "", pen_down ? "L" : "M", month_x(m), score_y(f));
      pen_down = any = true;
    }
    if (any)
      fputs("\"/>\n", out);
    for (int m = 1; m <= 12; m++) {
      const char *marked;
      double f = figure(json_array_get(j_months, (size_t)m - 1), indicators[i].key, &marked);
      if (f < 0)
        continue;
      fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>", month_x(m), score_y(f));
      tx_xml_text(out, indicators[i].label);
      fprintf(out, " %02d: %.2f</title></circle>\n", m, f);
    }
    /* legend */
    double ly = T_TOP + 10 + 22.0 * (double)i;
    fprintf(out,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke-width=\"2\""
            " stroke-dasharray=\"%s\"/><text x=\"%d\" y=\"%.1f\" stroke=\"none\" fill=\"#222\">",
            T_LEFT + T_PW + 20, ly, T_LEFT + T_PW + 50, ly, indicators[i].dash,
            T_LEFT + T_PW + 56, ly + 4);
    tx_xml_text(out, indicators[i].label);
    fputs("</text>\n</g>\n", out);
  }
  tx_svg_close(out);
  return 0;
}

/* Distribution geometry */
#define G_W 560
#define G_H 380
#define G_LEFT 50
#define G_TOP 50
#define G_PW 460
#define G_PH 260

int tx_chart_grades_svg(const json_t *j_doc, FILE *out)
{
  const json_t *j_grades = json_object_get(j_doc, "grades");
  if (!json_is_array(j_grades))
    return -1;
  const char *dept = json_string_value(json_object_get(j_doc, "department_name"));
  const char *label = json_string_value(json_object_get(j_doc, "period_label"));
  char suffix[64];
  snprintf(suffix, sizeof suffix, ", %s", label ? label : "");
  tx_svg_open(out, G_W, G_H, "等級分佈 Grade distribution: ", dept ? dept : "", suffix, NULL);

  size_t n = json_array_size(j_grades);
  long long most = 0, ungraded = json_integer_value(json_object_get(j_doc, "ungraded"));
  fputs("<desc id=\"chart-desc\">Number of assessments per grade, one bar per grade:", out);
  for (size_t i = 0; i < n; i++) {
    const json_t *j_g = json_array_get(j_grades, i);
    long long c = json_integer_value(json_object_get(j_g, "count"));
    most = c > most ? c : most;
    fputs(i ? ", " : " ", out);
    tx_xml_text(out, json_string_value(json_object_get(j_g, "grade")));
    fprintf(out, " %lld", c);
  }
  fprintf(out, "; without a grade yet %lld; total %lld.</desc>\n", ungraded,
          (long long)json_integer_value(json_object_get(j_doc, "total")));
  tx_svg_group_open(out);

  /* y axis: whole numbers up to the tallest bar (at least 1), five steps at most */
  struct tx_svg_axis axis = {.left = G_LEFT, .top = G_TOP, .width = G_PW, .height = G_PH};
  tx_svg_axis_counts(&axis, most);
  tx_svg_axis_draw(out, &axis);
  double slot = n ? (double)G_PW / (double)n : G_PW;
  for (size_t i = 0; i < n; i++) {
    const json_t *j_g = json_array_get(j_grades, i);
    const char *grade = json_string_value(json_object_get(j_g, "grade"));
    long long c = json_integer_value(json_object_get(j_g, "count"));
    double h = G_TOP + G_PH - tx_svg_axis_y(&axis, (double)c);
    double x = G_LEFT + slot * (double)i + slot * 0.2;
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f77b4\">"
                 "<title>",
            x, G_TOP + G_PH - h, slot * 0.6, h);
    tx_xml_text(out, grade);
    fprintf(out, ": %lld</title></rect>\n", c);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%lld</text>\n",
            x + slot * 0.3, G_TOP + G_PH - h - 4, c);
    fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x + slot * 0.3,
            G_TOP + G_PH + 18);
    tx_xml_text(out, grade);
    fputs("</text>\n", out);
  }
  fprintf(out, "<text x=\"%d\" y=\"%d\">未評等級 without a grade: %lld</text>\n", G_LEFT,
          G_TOP + G_PH + 44, ungraded);
  tx_svg_close(out);
  return 0;
}

/* Both charts aggregate a year or a period of assessments: reports, on the read replica. */
static const struct tx_route routes[] = {
  /* Q1, Q2.1, Q2.2: an employee's monthly indicators over a year; as assessments: the employee,
   * their supervisor, hr, auditor (sql: assessment.trend). */
  {"GET", "/v1/employees/{id}/assessment-trend", "staff,supervisor,hr,auditor", "Q1,Q2.1,Q2.2",
   .call = TX_CALL(.sql = &sql_assessment_trend, .read_only = true, .replica = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_QUERY_INT, "year"}}),
   .formats = TX_FORMATS(.svg = tx_chart_trend_svg)},
  /* Q2.2, Q4: how a department's grades are spread in a period; hr, auditor, the department's
   * supervisors (sql: assessment.grade_distribution). */
  {"GET", "/v1/departments/{id}/grade-distribution", "supervisor,hr,auditor", "Q2.2,Q4",
   .call = TX_CALL(.sql = &sql_grade_distribution, .read_only = true, .replica = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}, {TX_ARG_QUERY_UUID, "period_id"}}),
   .formats = TX_FORMATS(.svg = tx_chart_grades_svg)},
};

const struct tx_module tx_module_assessment_charts = {
  .name = "assessment_charts",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
